"""The explanation stage (notebook 06): LIME and SHAP on photos, LIME on words, the photo/text split
of the fusions, their trust checks, and the catalogue's template phrases with each text
candidate's accuracy without them (``template``). Imports ``core``, ``data``, ``models``,
``evaluation``.
"""
