"""Every figure's caption, written from what the figure drew (its ``facts``: the candidates shown,
how many items of how many, which panels), so a caption never speaks of what the run did not
draw. The registry (``figures.FIGURES``) holds each figure's caption in general terms, used for
the README's table and for any figure without a writer here.
"""

from __future__ import annotations

from ..figures import get
from ..formatting import listing


def _names(facts: dict, key: str = "names") -> str:
    return listing(f"{n}" for n in facts.get(key, []))


CAPTIONS: dict = {}


def caption(key: str, facts: dict | None = None) -> str:
    """The caption of figure ``key`` for what it drew (``facts``), else the registry's."""
    writer = CAPTIONS.get(key)
    text = writer(facts or {}) if writer and facts else None
    return text or get(key).caption
