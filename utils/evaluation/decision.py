"""The answer: the original note's claims checked against this run, and what to deploy.

- ``ORIGINAL``: what the original methodological note claimed, in its own terms (the only numbers
  of this project that are not measured by the run; the note always labels them as the note's).
- ``claims``: one row per claim with the note's value, this run's value and interval, and a
  verdict read from the interval (``VERDICTS``), or "not measured" when the encoders are stand-ins
  or the candidate was not run.
- ``recommend``: the candidate to deploy, chosen without the test split (``RULE``), with the labels
  and the cost per product it needs; its test accuracy is reported once, beside the choice. The
  validation accuracies it compares are not equally optimistic (each is the best of however many
  configurations were tried on the same validation rows: ``validation_tuning``), so the choice
  also records each candidate's mean test accuracy over the repeated splits (each split tunes
  afresh on its own validation part) and whether that mean contradicts it.
"""

from __future__ import annotations

import numpy as np

ORIGINAL = {
    "clip_accuracy": {
        "claim": "CLIP head: test accuracy",
        "note": "about 90%",
        "candidate": "clip-head",
        "value": 0.90,
        "tolerance": 0.05,
    },
    "vgg16_accuracy": {
        "claim": "VGG16 head: test accuracy",
        "note": "about 80%",
        "candidate": "vgg16-head",
        "value": 0.80,
        "tolerance": 0.05,
    },
    "clip_epoch": {
        "claim": "CLIP head: best epoch",
        "note": "3",
        "candidate": "clip-head",
        "range": (3, 3),
    },
    "vgg16_epoch": {
        "claim": "VGG16 head: best epoch",
        "note": "5 to 8",
        "candidate": "vgg16-head",
        "range": (5, 8),
    },
    "clip_beats_vgg16": {
        "claim": "CLIP head ahead of VGG16 head",
        "note": "yes, by about 10 points",
        "candidate": "clip-head",
        "other": "vgg16-head",
    },
}

# The original note's settings the report shows beside its own (labelled as the note's).
ORIGINAL_SETTINGS = {"lime_samples": 100}

VERDICTS = {
    "confirmed": "the run's 95% interval lies inside the note's value ± its tolerance "
    "(accuracies), "
    "the run's epoch lies in the note's range (epochs), or the paired interval of the difference "
    "lies above zero (the comparison: the direction the note claims)",
    "contradicted": "the interval lies entirely outside the note's value ± tolerance, the epoch "
    "outside the note's range, or the paired interval lies below zero",
    "not resolved at this sample size": "the interval overlaps the note's value ± tolerance "
    "without lying inside it, or the paired interval includes zero",
    "not measured": "the candidate was not run, or its encoder has stand-in (random or tiny) "
    "weights",
}

# The one word for the choice, decided here and used by every sentence and caption: a complete
# run on the full data with real weights recommends; any caveat makes it the best of this run.
CALLED = {
    "recommended": "the recommended candidate",
    "provisional": "the best candidate of this run",
}

RULE = (
    "highest validation accuracy (the test split is not read); candidates within one validation "
    "product of the best count as tied, and among those the one needing the fewest labelled "
    "products, then the cheapest prediction, is chosen"
)


def _accuracy_verdict(low: float, high: float, value: float, tolerance: float) -> str:
    lo, hi = value - tolerance, value + tolerance
    if lo <= low and high <= hi:
        return "confirmed"
    if high < lo or low > hi:
        return "contradicted"
    return "not resolved at this sample size"


def claims(evaluation: dict, training: dict, stand_in_candidates: set[str]) -> list[dict]:
    """One row per claim of ``ORIGINAL``: ``key``, ``claim``, ``note``, ``tolerance``/``range``,
    this run's ``value`` (and ``low``, ``high``, ``range_other_splits`` where measured),
    ``verdict`` and ``why`` (when not measured). ``stand_in_candidates``: candidates whose
    encoders have stand-in weights (their numbers are not measurements of CLIP or VGG16)."""
    table, info = evaluation.get("table", {}), training.get("info", {})
    epochs_other = evaluation.get("repeats", {}).get("best_epochs", {})
    rows = []
    for key, c in ORIGINAL.items():
        row = {"key": key, "claim": c["claim"], "note": c["note"]}
        row.update({k: c[k] for k in ("tolerance", "range") if k in c})
        if "value" in c:
            row["note_value"] = c["value"]
        names = [c["candidate"], *([c["other"]] if "other" in c else [])]
        missing = [n for n in names if n not in table]
        standin = [n for n in names if n in stand_in_candidates]
        if missing:
            row.update(
                verdict="not measured",
                why=f"{', '.join(missing)} not run",
                why_kind="not run",
                why_names=missing,
            )
        elif "value" in c:
            t = table[c["candidate"]]
            row.update(value=t["accuracy"], low=t["accuracy_low"], high=t["accuracy_high"])
            row["verdict"] = _accuracy_verdict(
                t["accuracy_low"], t["accuracy_high"], c["value"], c["tolerance"]
            )
        elif "range" in c:
            epoch = info.get(c["candidate"], {}).get("best_epoch")
            row["value"] = epoch
            other = epochs_other.get(c["candidate"])
            if other:
                row["range_other_splits"] = [int(min(other)), int(max(other))]
            a, b = c["range"]
            row["verdict"] = (
                "confirmed" if epoch is not None and a <= epoch <= b else "contradicted"
            )
        else:
            p = evaluation["paired"].get(c["other"])  # other minus reference
            if p is None:
                row.update(verdict="not measured", why="no paired comparison")
            else:
                d, low, high = (
                    -p["accuracy_difference"],
                    -p["difference_high"],
                    -p["difference_low"],
                )
                row.update(value=d, low=low, high=high)
                row["verdict"] = (
                    "confirmed"
                    if low > 0
                    else "contradicted"
                    if high < 0
                    else "not resolved at this sample size"
                )
        if standin and not missing:
            row.update(
                verdict="not measured",
                why=f"stand-in weights ({', '.join(standin)})",
                why_kind="stand-in weights",
                why_names=standin,
            )
        rows.append(row)
    return rows


def caveat(context: dict, among_stand_ins: bool, excluded: list[str]) -> str | None:
    """What stops the choice from being a recommendation, the most consequential first: the run
    reads the bundled sample or a subsample, only stand-in encoders, some candidates set aside as
    stand-ins, or candidates that did not run (their weights are missing); None: none."""
    if context.get("dataset") == "sample":
        return "sample"
    if context.get("subsample"):
        return "subsample"
    if among_stand_ins:
        return "stand-ins only"
    if excluded:
        return "stand-ins set aside"
    if context.get("skipped"):
        return "not run"
    return None


def validation_tuning(infos: dict[str, dict]) -> dict[str, dict]:
    """Per candidate of ``infos`` (each fitted candidate's ``info``): how many configurations its
    validation accuracy is the best of, all compared on the same validation rows, and what they
    were (``configurations``, ``what``). A head's or a fine-tuning's epoch (early stopping: one
    checkpoint per epoch run), a probe's ``C`` (one per value of the grid), zero-shot nothing (0),
    a late fusion its photo weight times its members' own choices (a member missing from
    ``infos``: None). The more configurations, the more the validation accuracy flatters."""
    from ..models.candidates import CANDIDATES

    def one(name: str) -> tuple[int | None, str]:
        c, i = CANDIDATES.get(name), infos.get(name)
        if c is None or i is None:
            return None, "not recorded"
        if c.family in ("head", "finetune"):
            n = i.get("epochs_run")
            return n, f"the epoch (early stopping: {n} epochs compared)"
        if c.family in ("probe", "tfidf"):
            n = len(i.get("sweep") or [])
            return n, f"C ({n} values)"
        if c.family == "zeroshot":
            return 0, "nothing (fixed prompts, the checkpoint's temperature)"
        if c.family == "late-fusion":
            w = len(i.get("sweep") or [])
            members = {m: one(m) for m in c.members}
            counts = [n for n, _ in members.values()]
            total = None if None in counts else int(w * np.prod([max(n, 1) for n in counts]))
            parts = "; ".join(f"{m}: {what}" for m, (_, what) in members.items())
            return total, f"the photo weight ({w} values) × its members' choices ({parts})"
        return None, f"unknown family {c.family}"

    out = {}
    for name in infos:
        n, what = one(name)
        out[name] = {"configurations": n, "what": what}
    return out


def _repeats_check(summary: dict, val: dict, chosen: str, margin: float) -> dict:
    """The repeated-split mean test accuracy of each candidate of ``val`` (None when it was not
    refitted), the best of them, and whether it contradicts ``chosen``: another candidate's mean
    higher by more than ``margin`` (one test product of a split), None when ``chosen`` was not
    refitted."""
    means = {
        n: (float(summary[n]["mean"]) if summary.get(n, {}).get("mean") is not None else None)
        for n in val
    }
    known = {n: m for n, m in means.items() if m is not None}
    best = max(known, key=lambda n: (known[n], n == chosen)) if known else None
    contradicted = None
    if chosen in known:
        contradicted = bool(best != chosen and known[best] - known[chosen] > margin + 1e-12)
    return {
        "repeated_mean": means,
        "repeats_best": best,
        "repeats_margin": margin,
        "contradicted_by_repeats": contradicted,
    }


def recommend(
    evaluation: dict,
    training: dict,
    n_val: int,
    exclude: set[str] = frozenset(),
    context: dict | None = None,
) -> dict:
    """The candidate to deploy by ``RULE``, from validation accuracies only; returns its name,
    the tied candidates, its labels, cost per product, and (reported once) its test accuracy.
    ``exclude``: candidates whose numbers are stand-ins (random or tiny encoders), not chosen
    while a candidate with real numbers exists. ``context``: what the run read (``dataset``,
    ``subsample``, ``skipped`` candidates); with any caveat (``caveat``) the choice is
    ``status`` "provisional", else "recommended", and ``called`` is the one phrase every sentence
    and caption uses for it.

    Beside the choice, for every candidate compared: ``tuned_on_validation`` (from
    ``evaluation["tuning"]``, ``validation_tuning``), and once the repeated splits have run
    (``evaluation["repeats"]["summary"]``) ``repeated_mean``, ``repeats_best`` and
    ``contradicted_by_repeats`` (``_repeats_check``; None before the repeats, or when the chosen
    candidate is not refitted on them). The rule itself does not read them."""
    info = training.get("info", {})
    costs, labelled, table = evaluation["costs"], evaluation["labelled"], evaluation["table"]
    val = {
        n: info[n]["val_accuracy"] for n in table if info.get(n, {}).get("val_accuracy") is not None
    }
    real = {n: v for n, v in val.items() if n not in exclude}
    among_stand_ins = not real
    val = real or val
    if not val:
        return {}
    best = max(val.values())
    tie = 1.0 / max(n_val, 1)
    tied = [n for n, v in val.items() if v >= best - tie - 1e-12]
    cost = lambda n: costs.get(n, {}).get("inference_s_per_item", np.inf)  # noqa: E731
    chosen = min(tied, key=lambda n: (labelled.get(n, 0), cost(n), -val[n], n))
    t = table[chosen]
    excluded = sorted(exclude & set(table))
    why_not = caveat(context or {}, among_stand_ins, excluded)
    status = "provisional" if why_not else "recommended"
    repeats = evaluation.get("repeats") or {}
    sizes = repeats.get("test_sizes") or [evaluation.get("n_test") or 0]
    margin = 1.0 / max(float(np.mean(sizes)), 1.0)
    tuning = evaluation.get("tuning") or {}
    return {
        "rule": RULE,
        "candidate": chosen,
        "status": status,
        "called": CALLED[status],
        "caveat": why_not,
        "among_stand_ins": among_stand_ins,
        "excluded": excluded,
        "val_accuracy": val[chosen],
        "best_val_accuracy": best,
        "tied": sorted(tied, key=lambda n: -val[n]),
        "n_val": n_val,
        "labelled": labelled.get(chosen, 0),
        "s_per_product": cost(chosen),
        "device": costs.get(chosen, {}).get("device"),
        "test_accuracy": t["accuracy"],
        "test_low": t["accuracy_low"],
        "test_high": t["accuracy_high"],
        "validation": val,
        "tuned_on_validation": {n: tuning.get(n) for n in val},
        **_repeats_check(repeats.get("summary") or {}, val, chosen, margin),
    }
