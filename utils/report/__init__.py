"""The report (every notebook's output, notebook 08): the figure registry and drawing, every
sentence (``prose``), the note, notebook sessions, table formatting, and the runner behind
``make report`` (``python -m utils.report``). May import every stage below it: ``core``,
``data``, ``models``, ``evaluation``, ``explain``, ``labels``.
"""
