"""The note's section on labels (notebook 07): which products to label next (active learning,
simulated on the locked split, and what each strategy saves) and which labels look wrong (the
audit by confident learning, and what dropping or relabelling the flagged products does).
"""

from __future__ import annotations

import pandas as pd

from ..formatting import listing, markdown_table, pct, plural, points_interval
from .common import _fig, _p_is

ABOUT = {
    "random": "products drawn at random, the baseline",
    "uncertainty": "the products whose two most probable categories are closest",
    "diversity": "k-center greedy on the candidate's own features, each pick the product farthest "
    "from every labelled one",
    "hybrid": "k-center greedy among the most uncertain products",
}


def _n(v) -> str:
    return f"{v:,.0f}"


def _ratio(r: dict, level: float) -> str:
    """``0.60× random's (95% interval 0.50–0.67)`` or a bound, from a savings row."""
    if r["bound"] == "exact":
        return (
            f"{r['ratio']:.2f}× random's ({pct(level, 0)} interval {r['low']:.2f}–{r['high']:.2f})"
        )
    if r["bound"] == "at most":
        return f"at most {r['ratio']:.2f}× random's (random did not reach it in every seed)"
    if r["bound"] == "at least":
        return f"at least {r['ratio']:.2f}× random's"
    return "no ratio (neither reached it in every seed)"


def _strategy_name(r: dict) -> str:
    return r["strategy"] + ("" if r["start"] == "labels" else " from zero-shot pseudo-labels")


def _needs(r: dict, level: float) -> str:
    """What one strategy needs to reach the target, in words, with its ratio to random."""
    name = _strategy_name(r)
    if r["reached"] == r["seeds"]:
        seeds = f" (mean over {plural(r['seeds'], 'seed')})" if r["seeds"] > 1 else ""
        return f"{name} needs {_n(r['labels'])} labels{seeds}, {_ratio(r, level)}"
    missed = r["seeds"] - r["reached"]
    return (
        f"{name} does not reach it within {_n(r['budget'])} labels in {missed} of "
        f"{plural(r['seeds'], 'seed')} (censored: no number is given for those), "
        + _ratio(r, level)
    )


def _random_needs(rows: list[dict]) -> str:
    r = rows[0]
    if r["random_reached"] == 0:
        return f"random does not reach it within {_n(r['budget'])} labels"
    if r["random_reached"] < r["random_seeds"]:
        return (
            f"random reaches it in {r['random_reached']} of {plural(r['random_seeds'], 'seed')} "
            f"(mean {_n(r['random_labels'])} labels where it does)"
        )
    return f"random needs {_n(r['random_labels'])} labels (mean over the same seeds)"


def _beats(r: dict) -> bool:
    return (r["bound"] == "exact" and r["high"] < 1) or (r["bound"] == "at most" and r["ratio"] < 1)


def savings_text(lab: dict) -> str:
    """Per candidate: the full-data accuracy, the target, the labels each strategy needs against
    random's; then the one-sentence answer, and where no strategy beats random."""
    rows = lab.get("savings") or []
    if not rows:
        return "No candidate could be simulated in this run.\n"
    out = []
    answers = []
    for name in lab["candidates"]:
        mine = [r for r in rows if r["candidate"] == name]
        if not mine:
            continue
        full, target = lab["full"][name]["accuracy"], mine[0]["target"]
        out.append(
            f"**{name}**: trained on all {_n(lab['full'][name]['labels'])} pool labels (notebook "
            f"{lab['fitted_by']}'s fit), it reaches {pct(full)} on the test split; "
            f"{pct(lab['share'], 0)} of that is {pct(target)}. To reach it, "
            f"{_random_needs(mine)}; " + "; ".join(_needs(r, lab["level"]) for r in mine) + "."
        )
        better = sorted([r for r in mine if _beats(r)], key=lambda r: r["ratio"])
        if better:
            b = better[0]
            random = (
                _n(b["random_labels"])
                if b["random_reached"] == b["random_seeds"]
                else f"more than {_n(b['budget'])} in {b['random_seeds'] - b['random_reached']} "
                f"of {plural(b['random_seeds'], 'seed')}"
            )
            answers.append(
                f"for {name}, to reach {pct(target)}, {_strategy_name(b)} needs "
                f"{_n(b['labels'])} labels, random {random}"
            )
        else:
            fewer = [r for r in mine if r["bound"] == "exact" and r["ratio"] < 1]
            answers.append(
                f"for {name}, no strategy beats random: "
                + (
                    f"{listing(_strategy_name(r) for r in fewer)} needed fewer labels on average "
                    "but with an interval that includes random's"
                    if fewer
                    else "none needed fewer labels than random"
                )
            )
    return (
        "\n\n".join(out)
        + "\n\nIn one sentence: "
        + "; ".join(answers)
        + ". A seed's count is the first point of the schedule at which its curve reaches the "
        "target (counts between two points are not tried), so ratios move in the schedule's "
        "steps.\n"
    )


def savings_table(lab: dict) -> str:
    rows = lab.get("savings") or []
    if not rows:
        return ""
    table = {}
    for r in rows:
        table[(r["candidate"], _strategy_name(r))] = {
            "target": pct(r["target"]),
            "labels (mean)": _n(r["labels"]) if r["reached"] == r["seeds"] else "not reached",
            "random (mean)": _n(r["random_labels"])
            if r["random_reached"] == r["random_seeds"]
            else "not reached",
            f"ratio to random ({pct(lab['level'], 0)} interval)": (
                f"{r['ratio']:.2f} ({r['low']:.2f}–{r['high']:.2f})"
                if r["bound"] == "exact"
                else (f"{r['bound']} {r['ratio']:.2f}" if r["bound"] != "none" else "—")
            ),
            "seeds reaching": f"{r['reached']} of {r['seeds']}",
        }
    frame = pd.DataFrame(table).T
    frame.index = [f"{c}: {s}" for c, s in frame.index]
    return markdown_table(frame)


def suggest_text(lab: dict) -> str:
    s = lab.get("suggest") or {}
    if not s or s.get("skipped"):
        return ""
    return (
        f"**What to label next.** `make suggest-labels ARGS='--pool new_products.csv'` "
        "(`python -m utils.labels.suggest`) ranks a team's unlabelled products for the "
        "recommended candidate by the strategy that saved most labels for it, and writes a CSV: "
        "rank, whether it is in the batch to label next, the current prediction, its probability "
        "and the margin to the second most probable category. For "
        f"`{s['candidate']}` that is **{s['strategy']}** ({s['why']}). As a demonstration, this "
        f"run's {_n(s['pool'])} pool products are ranked as if only {_n(s['labelled'])} were "
        f"labelled (`reports/{s['csv']}`): the first batch of {s['batch']} spans "
        f"{plural(s['batch_categories'], 'category', 'categories')}, and the current model "
        f"misclassifies {s['batch_wrong']} of them.\n"
    )


def audit_text(lab: dict) -> str:
    a = lab.get("audit") or {}
    if not a:
        return ""
    per = a["per_candidate"]
    names = a["candidates"]
    parts = [
        f"**Which labels look wrong.** Each audited candidate ({listing(f'`{n}`' for n in names)}) "
        f"is refitted on {a['folds']} group-aware folds of the {_n(lab['pool'])} training and "
        "validation products (near-duplicates kept in one fold, settings chosen inside each "
        "fold; the test split is not read), so that every product gets probabilities from a "
        "model that never saw it; confident learning (cleanlab's `find_label_issues`) then flags "
        "the products whose given label those probabilities contradict beyond what each "
        "category's own confusion explains."
    ]
    for n in names:
        p = per[n]
        split = p.get("per_split") or {}
        where = listing(f"{v} in {k}" for k, v in sorted(split.items()) if v)
        parts.append(
            f"`{n}` (out-of-fold accuracy {pct(p['oof_accuracy'])}) flags "
            f"{plural(p['flagged'], 'product')}" + (f" ({where})" if where else "") + "."
        )
    if len(names) > 1:
        parts.append(f"{plural(a['both'], 'product is', 'products are')} flagged by all of them.")
    weak = min(names, key=lambda n: per[n]["oof_accuracy"])
    if len(names) > 1:
        parts.append(
            f"A candidate flags where it disagrees with a label, so the weaker it is, the more of "
            f"its flags are its own errors: read `{weak}`'s as a list to check, not as errors."
        )
    planted = {n: per[n]["planted"] for n in names if per[n].get("planted")}
    if planted:
        parts.append(
            "With labels flipped on purpose, the same audit finds "
            + listing(
                f"{v['found']} of {v['flipped']} for `{n}` ({plural(v['flagged'], 'product')} "
                "flagged in all)"
                for n, v in planted.items()
            )
            + ": a measure of how much a real error can hide from it."
        )
    g = lab.get("gallery") or {}
    if g:
        parts.append(
            f"{_fig('label_issues')} shows {g['shown']} of the {g['of']} flagged products, "
            f"flagged by more candidates first; every flagged product is in `reports/{a['csv']}`."
        )
    table = pd.DataFrame({n: per[n]["per_category"] for n in names}).fillna(0).astype(int)
    table.columns = [f"flagged by {n}" for n in names]
    return " ".join(parts) + "\n\n" + markdown_table(table)


def _change_words(p: dict) -> str:
    if p["low"] > 0:
        return "higher"
    if p["high"] < 0:
        return "lower"
    return "no detectable change"


def cleaning_text(lab: dict) -> str:
    c = lab.get("cleaning") or {}
    names = [n for n in c if n != "n_boot"]
    if not names:
        return ""
    parts = [
        "**Cleaning the flagged labels.** Each audited candidate is refitted with its flagged "
        "products dropped, then with them relabelled to the suggested category, and scored on "
        "the test split, whose labels are never changed, against the fit on the labels as given "
        f"(paired cluster-bootstrap intervals, {c['n_boot']} resamples; McNemar's exact test):"
    ]
    for n in names:
        r = c[n]
        base = r["table"]["labels as given"]
        items = []
        for key, p in r["paired"].items():
            items.append(
                f"{key}, {pct(r['table'][key]['accuracy'])}, "
                f"{points_interval(p['difference'], p['low'], p['high'])}, McNemar "
                f"{_p_is(p['mcnemar_p'])}: {_change_words(p)}"
            )
        parts.append(
            f"`{n}` ({plural(r['flagged'], 'product')} flagged; {pct(base['accuracy'])} as "
            f"given): " + "; ".join(items) + "."
        )
    return " ".join(parts) + "\n"


def section_labels(m: dict) -> str:
    """Which products to label next, and which labels look wrong (notebook 07)."""
    lab = m.get("labels") or {}
    if not lab:
        return "Notebook 07 (labels) did not run in this run.\n"
    plan, totals = lab["plan"], lab.get("totals") or []
    start = lab["records"][0]["labels"] if lab.get("records") else 0
    strategies = listing(f"{k} ({ABOUT.get(k, v)})" for k, v in lab["strategies"].items())
    intro = (
        "A team that adopts this report next adds categories and products, and labelling is its "
        "real cost. The label budget above says how accuracy grows with random labels; this "
        "section measures which products to label first, and which of the catalogue's labels "
        "look wrong.\n\n"
    )
    if not lab.get("candidates"):
        skipped = lab.get("skipped") or {}
        return intro + (
            "No candidate that refits cheaply ran in this run"
            + (f" ({listing(f'`{n}`: {w}' for n, w in skipped.items())})" if skipped else "")
            + ".\n"
        )
    setup = (
        f"**Active learning, simulated on this run's split.** The pool is the "
        f"{_n(lab['pool'])} training and validation products, their labels hidden until a "
        f"strategy asks for them. Each simulation starts from "
        f"{plural(plan['start'], 'labelled product')} per category from each part "
        f"({_n(start)} labels), then refits "
        f"{listing(f'`{n}`' for n in lab['candidates'])} at {len(totals)} label counts from "
        f"{_n(totals[0])} to {_n(totals[-1])}, each refit scored on the {lab['test']} test "
        "products; a product asked for joins the part of the split it comes from, so validation "
        "labels (which choose the settings) count like training labels, as in the label budget. "
        f"Strategies, from scikit-activeml: {strategies}; {plural(plan['seeds'], 'seed')} per "
        f"strategy, each its own start ({_fig('active_learning')}).\n\n"
    )
    zs = lab.get("zeroshot_start") or {}
    if zs:
        ran = [n for n, why in zs.items() if why == "ran"]
        not_ran = {n: why for n, why in zs.items() if why != "ran"}
        setup += (
            "For candidates reading CLIP's image embedding, uncertainty sampling also starts from "
            "zero-shot CLIP's pseudo-labels (the most confident products per predicted category, "
            "costing no label; one run, its start draws nothing)"
            + (f": {listing(f'`{n}`' for n in ran)}" if ran else "")
            + ("; " + "; ".join(f"`{n}`: {why}" for n, why in not_ran.items()) if not_ran else "")
            + ".\n\n"
        )
    return (
        intro
        + setup
        + savings_text(lab)
        + "\n"
        + savings_table(lab)
        + "\n"
        + suggest_text(lab)
        + "\n"
        + audit_text(lab)
        + "\n"
        + cleaning_text(lab)
    )


def labels_note(lab: dict) -> str:
    """Notebook 07's closing summary: the savings sentence, the audit, the cleaning."""
    return "\n\n".join(t for t in (savings_text(lab), audit_text(lab), cleaning_text(lab)) if t)
