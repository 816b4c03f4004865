"""The label audit: which of the catalogue's labels look wrong, by confident learning.

- ``out_of_fold``: every training and validation product's predicted probabilities from a refit
  that never saw it (group-aware stratified folds, near-duplicates kept in one fold; in each fold
  the candidate chooses its settings on a validation part of the other folds, as in notebook 04).
  The test split is never read.
- ``issues``: cleanlab's ``find_label_issues`` (confident learning, Northcutt et al., 2021;
  cleanlab 2.9, Apache-2.0) flags the products whose given label the out-of-fold probabilities
  contradict beyond what each category's own noise rate explains; each flagged product gets the
  suggested label (the most probable one) and its probability.
- ``planted``: the same audit after flipping some labels on purpose: how many it finds.
- ``cleaning``: the candidate refitted with the flagged products dropped or relabelled (their
  suggested label), scored on the test split against the fit on the labels as given, with the
  paired cluster-bootstrap intervals and McNemar's test of ``evaluation.metrics.compare``. The
  test split's labels are never changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import parallel, timing
from ..evaluation import metrics

SHOWN = [
    "uniq_id",
    "image",
    "path",
    "product_name",
    "category_path",
    "split",
    "given",
    "suggested",
    "confidence",
    "given_p",
]


def _check(rows: pd.DataFrame, classes: list[str], n_folds: int) -> None:
    if n_folds < 2:
        raise ValueError(f"the audit needs at least two folds, not {n_folds}.")
    counts = rows["label"].value_counts()
    missing = [c for c in classes if counts.get(c, 0) == 0]
    if missing:
        raise ValueError(
            f"{', '.join(repr(c) for c in missing)} {'has' if len(missing) == 1 else 'have'} no "
            "labelled product: the audit cannot judge a category it never sees."
        )
    small = [f"{c!r} ({counts[c]})" for c in classes if counts[c] < n_folds]
    if small:
        raise ValueError(
            f"{', '.join(small)}: fewer labelled products than the {n_folds} folds of the audit; "
            "use fewer folds or label more products."
        )


def folds(rows: pd.DataFrame, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(fit positions, held-out positions)`` per fold: stratified by label, near-duplicate
    groups (``group``) kept whole, seeded."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = rows["group"].to_numpy() if "group" in rows else np.arange(len(rows))
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(rows)), rows["label"].to_numpy(), groups))


def _inner(rows: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A quarter of ``rows`` (group-aware, stratified) to choose settings on, the rest to train."""
    fit_pos, val_pos = folds(rows, 4, seed)[0]
    return rows.iloc[fit_pos], rows.iloc[val_pos]


def _fold(panel, name: str, rows: pd.DataFrame, fit_pos, held_pos, seed: int) -> np.ndarray:
    from ..models.fitting import fit

    train, val = _inner(rows.iloc[fit_pos], seed)
    with parallel.limited(parallel.SMALL_FIT_THREADS):
        fitted = fit(name, panel, train, val)
        return fitted.predict_proba(panel, rows.iloc[held_pos])


def out_of_fold(
    panel, name: str, rows: pd.DataFrame, n_folds: int = 5, seed: int = 0, n_jobs=None
) -> np.ndarray:
    """Each row's probabilities from candidate ``name`` refitted on the other folds (``rows``:
    training and validation products with ``label`` and ``group``)."""
    from ..models.panel import CachedPanel

    rows = rows.reset_index(drop=True)
    _check(rows, list(panel.classes), n_folds)
    parts = folds(rows, n_folds, seed)
    with timing.step(f"audit {name}"):
        cached = CachedPanel.from_panel(panel, [name], rows)
        done, _ = parallel.run(_fold, [(cached, name, rows, f, h, seed) for f, h in parts], n_jobs)
    proba = np.zeros((len(rows), len(panel.classes)))
    for (_, held), p in zip(parts, done):
        proba[held] = p
    return proba


def issues(rows: pd.DataFrame, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """The products whose label confident learning flags, most confidently wrong first: given and
    suggested label, the probability of the suggested one (``confidence``) and of the given one
    (``given_p``), with the product's ``position`` in ``rows``."""
    from cleanlab.filter import find_label_issues

    rows = rows.reset_index(drop=True)
    y = rows["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    flagged = find_label_issues(
        y, np.asarray(proba), return_indices_ranked_by="self_confidence", n_jobs=1
    )
    suggested = np.asarray(proba).argmax(1)
    out = pd.DataFrame(
        {
            "position": np.asarray(flagged, dtype=int),
            "given": [classes[y[i]] for i in flagged],
            "suggested": [classes[suggested[i]] for i in flagged],
            "confidence": [float(proba[i, suggested[i]]) for i in flagged],
            "given_p": [float(proba[i, y[i]]) for i in flagged],
        }
    )
    for column in ("image", "path", "product_name", "split", "uniq_id", "category_path"):
        if column in rows:
            out[column] = rows[column].to_numpy()[out["position"]] if len(out) else []
    return out[["position", *[c for c in SHOWN if c in out]]]


def per_category(flagged: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Flagged products and labelled products per given category."""
    counts = rows["label"].value_counts().rename("products")
    table = pd.concat([flagged["given"].value_counts().rename("flagged"), counts], axis=1)
    table = table.fillna(0).astype(int).sort_index()
    table["share"] = (table["flagged"] / table["products"].clip(lower=1)).round(4)
    return table


def confusion(rows: pd.DataFrame, proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """Counts of (given label, out-of-fold prediction): where the candidate's real mistakes go."""
    y = rows["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    out = np.zeros((len(classes), len(classes)))
    np.add.at(out, (y, np.asarray(proba).argmax(1)), 1)
    return out


def plant(
    rows: pd.DataFrame, n: int, classes: list[str], seed: int, confusions: np.ndarray | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows`` with ``n`` labels flipped (seeded) and the flipped positions: what the audit must
    find. Each flipped product moves to another category drawn in proportion to ``confusions``'
    row for its label (``confusion``: where real mistakes go), or uniformly where it is None or
    that row has no mistake."""
    rng = np.random.default_rng([seed, 7])
    rows = rows.reset_index(drop=True).copy()
    if n > len(rows):
        raise ValueError(f"cannot flip {n} labels of {len(rows)} products.")
    where = np.sort(rng.choice(len(rows), size=n, replace=False))
    index = {c: i for i, c in enumerate(classes)}
    for i in where:
        g = index[rows.at[i, "label"]]
        weights = np.ones(len(classes)) if confusions is None else confusions[g].astype(float)
        weights = weights.copy()
        weights[g] = 0
        if weights.sum() <= 0:
            weights = np.ones(len(classes))
            weights[g] = 0
        rows.at[i, "label"] = classes[int(rng.choice(len(classes), p=weights / weights.sum()))]
    return rows, where


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k`` / ``n``."""
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def planted(
    panel,
    name: str,
    rows: pd.DataFrame,
    n: int,
    n_folds: int,
    seed: int,
    n_jobs=None,
    draws: int = 1,
    confusions: np.ndarray | None = None,
    level: float = 0.95,
) -> dict:
    """Recall on planted flips: over ``draws`` draws of ``n`` labels flipped on purpose (as
    ``confusions`` says real mistakes go, or uniformly), how many the audit of ``name`` flags,
    with a Wilson interval (``level``), and how many other products it flags."""
    found = flagged = 0
    per_draw = []
    for d in range(int(draws)):
        flipped, where = plant(rows, n, list(panel.classes), seed + 1000 * d, confusions)
        proba = out_of_fold(panel, name, flipped, n_folds, seed, n_jobs)
        hits = issues(flipped, proba, list(panel.classes))
        k = int(np.isin(where, hits["position"]).sum())
        per_draw.append(k)
        found, flagged = found + k, flagged + int(len(hits))
    total = int(n) * int(draws)
    low, high = wilson(found, total, level)
    return {
        "kind": "confusion" if confusions is not None else "uniform",
        "draws": int(draws),
        "flipped": total,
        "found": found,
        "per_draw": per_draw,
        "recall": found / total if total else float("nan"),
        "low": low,
        "high": high,
        "level": level,
        "flagged": flagged,
    }


# --------------------------------------------------------------------------- overlap or error
SMALL_WORDS = {"and", "for", "with", "other", "more", "accessories", "sets", "combo"}


def _kind_words(path: str) -> set[str]:
    """The words naming what a product is in its category path: levels 2 and 3 (level 1 is the
    category itself, deeper levels name brands and products), lower case, a plural's final s
    dropped, short and generic words left out."""
    import re

    levels = str(path).split(" >> ")[1:3]
    words = re.findall(r"[a-z]+", " ".join(levels).lower())
    return {w.rstrip("s") for w in words if len(w) >= 4 and w not in SMALL_WORDS}


def boundaries(flagged: pd.DataFrame, rows: pd.DataFrame, min_support: int = 3) -> pd.DataFrame:
    """Each flag as a ``taxonomy boundary`` or a ``likely error``.

    A flag is on a taxonomy boundary when both categories file products of its kind: its own
    category path supports its given label (its sub-category, the path's first two levels, holds
    at least ``min_support`` other products of that label in ``rows``), and a word naming what it
    is (``_kind_words``: "blanket", "towel") names at least ``min_support`` products of the
    suggested category too, a word found in at most half of the categories (not a generic one).
    Towels filed under Baby Care and under Home Furnishing: an overlap of the taxonomy, not a
    wrong label. Other flags are likely errors. Adds ``sub_category``, ``supported``,
    ``shared`` (the words both categories use) and ``kind``."""
    out = flagged.copy()
    if out.empty or "category_path" not in rows:
        out["kind"] = "likely error"
        out["supported"] = False
        out["shared"] = ""
        return out
    rows = rows.reset_index(drop=True)
    paths = rows["category_path"].fillna("")
    sub = paths.map(lambda p: " >> ".join(p.split(" >> ")[:2]))
    counts = pd.Series(list(zip(rows["label"], sub))).value_counts()
    words = paths.map(_kind_words)
    per_label: dict[str, dict[str, int]] = {}
    for label, ws in zip(rows["label"], words):
        table = per_label.setdefault(label, {})
        for w in ws:
            table[w] = table.get(w, 0) + 1
    spread = pd.Series([w for t in per_label.values() for w in t]).value_counts()
    generic = set(spread[spread > len(per_label) / 2].index)
    out["sub_category"] = sub.to_numpy()[out["position"]]
    out["supported"] = [
        counts.get((g, s), 0) - 1 >= min_support and " >> " in s
        for g, s in zip(out["given"], out["sub_category"])
    ]
    shared = []
    for pos, h in zip(out["position"], out["suggested"]):
        there = per_label.get(h, {})
        both = sorted(w for w in words.iloc[pos] - generic if there.get(w, 0) >= min_support)
        shared.append(", ".join(both))
    out["shared"] = shared
    out["kind"] = [
        "taxonomy boundary" if sup and both else "likely error"
        for sup, both in zip(out["supported"], out["shared"])
    ]
    return out


def boundary_pairs(flagged: pd.DataFrame, examples: int = 2) -> list[dict]:
    """Per pair of categories of the taxonomy-boundary flags: the flags each way and examples
    (product name, category path)."""
    if flagged.empty or "kind" not in flagged:
        return []
    part = flagged[flagged["kind"] == "taxonomy boundary"]
    pairs = {}
    for r in part.itertuples():
        key = tuple(sorted((r.given, r.suggested)))
        entry = pairs.setdefault(key, {"pair": list(key), "flags": 0, "ways": {}, "examples": []})
        entry["flags"] += 1
        way = f"{r.given} → {r.suggested}"
        entry["ways"][way] = entry["ways"].get(way, 0) + 1
        if len(entry["examples"]) < examples:
            entry["examples"].append(
                {
                    "product_name": r.product_name,
                    "category_path": " >> ".join(str(r.category_path).split(" >> ")[:3]),
                    "given": r.given,
                    "shared": r.shared,
                }
            )
    return sorted(pairs.values(), key=lambda e: -e["flags"])


# --------------------------------------------------------------------------- cleaning
def cleaned(rows: pd.DataFrame, flagged: pd.DataFrame, how: str) -> pd.DataFrame:
    """``rows`` (positions as in the audit) with the flagged products dropped (``how="drop"``) or
    given their suggested label (``"relabel"``)."""
    rows = rows.reset_index(drop=True)
    if how == "drop":
        return rows.drop(index=flagged["position"]).reset_index(drop=True)
    if how == "relabel":
        out = rows.copy()
        out.loc[flagged["position"].to_numpy(), "label"] = flagged["suggested"].to_numpy()
        return out
    raise ValueError(f"how={how!r}: use 'drop' or 'relabel'.")


HOW = {"drop": "flagged dropped", "relabel": "flagged relabelled"}
AS_GIVEN = "labels as given"


def cleaning(
    panel,
    name: str,
    rows: pd.DataFrame,
    test: pd.DataFrame,
    flagged: pd.DataFrame,
    n_boot: int,
    seed: int = 0,
    recorded: dict | None = None,
) -> dict:
    """Candidate ``name`` refitted on ``rows`` (training and validation products, ``split``
    column) as given, without the flagged ones, and with them relabelled; each scored on ``test``
    (labels untouched) against the fit on the labels as given: accuracy with its cluster-bootstrap
    interval, the paired interval of the difference and McNemar's test.

    ``seed``: the bootstrap's (notebook 05's, so the resamples are the ones its intervals used).
    ``recorded``: notebook 05's row for ``name`` (``evaluation.table`` of ``metrics.json``); when
    the refit on the labels as given scores the recorded accuracy, its interval is the recorded
    one (one interval per quantity), not a second estimate of it."""
    from ..models.fitting import fit

    y_test = panel.y(test)
    predictions, labelled = {}, {}
    with timing.step(f"cleaning {name}"), parallel.limited(parallel.SMALL_FIT_THREADS):
        for key, data in [
            (AS_GIVEN, rows.reset_index(drop=True)),
            *[(HOW[h], cleaned(rows, flagged, h)) for h in HOW],
        ]:
            train, val = data[data["split"] == "train"], data[data["split"] == "val"]
            predictions[key] = fit(name, panel, train, val).predict_proba(panel, test).argmax(1)
            labelled[key] = len(data)
    groups = test["group"].to_numpy() if "group" in test else None
    table, _, paired = metrics.compare(
        y_test, predictions, list(panel.classes), groups, AS_GIVEN, n_boot, seed=seed
    )
    table = table[["accuracy", "accuracy_low", "accuracy_high"]].to_dict("index")
    source = "this refit (cluster bootstrap)"
    if recorded and abs(recorded.get("accuracy", -1) - table[AS_GIVEN]["accuracy"]) < 1e-12:
        table[AS_GIVEN] = {k: float(recorded[k]) for k in table[AS_GIVEN]}
        source = "notebook 05's recorded interval"
    return {
        "as_given_interval": source,
        "labelled": labelled,
        "flagged": int(len(flagged)),
        "table": table,
        "paired": {
            k: {
                "difference": p["accuracy_difference"],
                "low": p["difference_low"],
                "high": p["difference_high"],
                "mcnemar_p": p["mcnemar"]["p_value"],
                "changed_right": p["mcnemar"]["a_right_b_wrong"],
                "changed_wrong": p["mcnemar"]["a_wrong_b_right"],
            }
            for k, p in paired.items()
        },
    }
