"""The models stage (notebooks 03-04): encoders and their weights, cached features, the candidate
registry, fitting, saving and loading candidates, checks on the weights. Imports ``core``, ``data``.
"""
