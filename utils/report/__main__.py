"""``python -m utils.report`` (``make report``, ``make smoke``): execute the notebooks in order."""

from .runner import main

main()
