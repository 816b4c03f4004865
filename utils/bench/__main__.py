"""``python -m utils.bench``: ``make bench``."""

from .cli import main

main()
