"""The explanation stage (notebook 06): LIME and SHAP on photos, LIME on words, the photo/text split
of the fusions, and their trust checks. Imports ``core``, ``data``, ``models``, ``evaluation``.
"""
