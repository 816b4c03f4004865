"""The data stage (notebooks 01-02): getting the dataset, validating every row into the catalog,
near-duplicate groups, the leak-free split, the bundled sample, augmented views. Imports ``core``.
"""
