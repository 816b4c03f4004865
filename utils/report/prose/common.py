"""Helpers shared by every writer: p-values, what did not run, stand-in daggers, section and
figure names, and the sentences several sections use (faithfulness, boilerplate words).

The string literals of ``utils.report.prose`` hold no digit (a test reads its source to check):
every number comes from ``reports/metrics.json``, the figure registry or ``decision.ORIGINAL``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import figures
from ..formatting import (
    listing,
    pct,
    pvalue,
)
from ..sections import BY_KEY

NEGLIGIBLE_GAIN = 0.05  # a deletion gain under this share of the random orders' area is negligible


def _p_is(p: float) -> str:
    """``p = 0.0156`` or ``p < 0.001``."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


READS_WORDS = {"image": "photo", "text": "text", "image+text": "photo + text"}


def _absent(m: dict, names: list[str], what: str) -> str:
    """Why ``what`` is not in the note: its candidates could not run here, or were not asked for."""
    skipped = [n for n in names if n in (m.get("features", {}).get("skipped") or {})]
    if skipped:
        return (
            f"{what} could not run: {listing(f'`{n}`' for n in skipped)} "
            f"{'needs' if len(skipped) == 1 else 'need'} pretrained weights this run did not "
            "have.\n"
        )
    return f"{what} was not part of this run's panel.\n"


DAGGER = "†"


def _stand_in_names(m: dict) -> set[str]:
    return set(m.get("evaluation", {}).get("stand_in") or [])


def _marked(table: pd.DataFrame, m: dict) -> pd.DataFrame:
    """The table with a dagger after every candidate whose numbers read stand-in weights."""
    stand = _stand_in_names(m)
    return table.rename(index=lambda n: f"{n} {DAGGER}" if n in stand else n)


def _dagger_note(m: dict) -> str:
    return (
        f"\n{DAGGER} reads stand-in (random or tiny) weights: its numbers are not CLIP's or "
        "VGG16's.\n"
        if _stand_in_names(m)
        else "\n"
    )


def _choice(m: dict) -> dict:
    """The choice recorded by notebook 05 (``decision.recommend``), with ``called``, the one phrase
    every sentence and caption uses for it (empty when nothing was evaluated)."""
    rec = dict((m.get("evaluation") or {}).get("recommendation") or {})
    if rec:
        rec.setdefault("called", "the chosen candidate")
    return rec


def called(m: dict) -> str:
    """``the recommended candidate (`clip-probe`)`` or ``the best candidate of this run
    (`text-tfidf`)``: the choice as every sentence names it."""
    rec = _choice(m)
    return f"{rec['called']} (`{rec['candidate']}`)" if rec else "the chosen candidate"


def _section(key: str, m: dict | None = None) -> str:
    """``section 9``: a note section by its key, numbered as in the run's note (``m``: its
    metrics; sections that could not run are left out, ``sections.numbers``)."""
    from ..sections import numbers

    number = numbers(m).get(key)
    return f"section {number}" if number else f"the section '{BY_KEY[key].title}'"


def _fig(key: str) -> str:
    return figures.get(key).label


def _alpha(ev: dict) -> float:
    return 1 - ev.get("intervals", {}).get("level", 1 - ev.get("alpha", 0))


def _level(ev: dict) -> str:
    return pct(ev.get("intervals", {}).get("level", np.nan), 0)


def _n_classes(m: dict) -> int:
    return len(m.get("evaluation", {}).get("classes") or m.get("data", {}).get("categories", {}))


def faithfulness_words(deletion: dict, unit: str, alpha: float, items: str) -> list[str]:
    fill = deletion.get("fill")
    parts = [f"Deleted {unit} are filled with {fill}." if fill else ""]
    random_area = (deletion.get("auc") or {}).get("random")
    for method, f in deletion["faithfulness"].items():
        gain = (
            f"{f['mean_gain']:+.3f} ({pct(f['level'], 0) + ' ' if 'level' in f else ''}"
            f"bootstrap CI {f['gain_low']:+.3f} to "
            f"{f['gain_high']:+.3f})"
        )
        relative = f["mean_gain"] / random_area if random_area else None
        if (
            f["gain_low"] > 0
            and f["wilcoxon_p"] < alpha
            and relative is not None
            and (relative < NEGLIGIBLE_GAIN)
        ):
            word = (
                f"detectably but negligibly more faithful than a random order of the same {unit} "
                f"(the gain is {pct(relative)} of the random orders' area)"
            )
        elif f["gain_low"] > 0 and f["wilcoxon_p"] < alpha:
            word = f"more faithful than a random order of the same {unit}"
        elif f["gain_high"] < 0 and f["wilcoxon_p"] < alpha:
            word = f"less faithful than a random order of the same {unit}"
        else:
            word = f"not distinguishable from a random order of the same {unit}"
        parts.append(
            f"{method}: deleting its most important {unit} first, the area under the deletion "
            f"curve is smaller than with random orders by {gain}, a gain (positive: more "
            f"faithful); better on {f['better_on']} of the "
            f"{f['images']} {items} of the deletion check, Wilcoxon {_p_is(f['wilcoxon_p'])}: "
            f"{word}."
        )
    return [p for p in parts if p]


def boilerplate_sentence(name: str, bp: dict, m: dict | None = None) -> str:
    return (
        f"{name} partly reads each category's description template: {pct(bp['share'], 0)} of its "
        f"top-{bp['top_k']} words per category are generic words, found in more than "
        f"{pct(bp['threshold'], 0)} of all the test products' texts (e.g. "
        f"{listing(f'“{w}”' for w in bp['examples'])}), which tell categories apart only through "
        "how often each category's template uses them. What a catalogue written differently would "
        f"lose is measured in {_section('template', m)}."
    )
