"""``make bench`` (``python -m utils.bench``): what the pipeline costs on this machine, measured,
written to ``reports/bench.json``. An entry point: it may import every stage.

Sections live by subject: ``encoding`` (pipeline, precision, options, fine-tuning, heads, LIME,
parity) and ``scale`` (synthetic catalogs, notebook 05's refits); ``cli`` parses the arguments and
writes the file.
"""
