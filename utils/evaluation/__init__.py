"""The evaluation stage (notebook 05): metrics with cluster-bootstrap intervals, paired tests,
refits on other splits and label budgets, costs, the original note's claims and the choice.
Imports ``core``, ``data``, ``models``.
"""
