"""Which products to label next and which labels look wrong (notebook 07): active learning simulated
on the locked split (``strategies``, ``active``), the ranked list of products to label
(``suggest``), the label audit by confident learning (``audit``) and the notebook's study
(``study``). Imports ``core``, ``data``, ``models``, ``evaluation``.
"""
