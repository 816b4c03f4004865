"""``python -m utils.data`` (``make data``): get the dataset and write the catalog."""

from .catalog import main

main()
