"""The note's section on labels (notebook 07): which products to label next (active learning,
simulated on the locked split, and what each strategy saves) and which labels look wrong (the
audit by confident learning, and what dropping or relabelling the flagged products does).
"""

from __future__ import annotations

import pandas as pd

from ..formatting import listing, markdown_table, pct, plural, points_interval, pvalue
from .common import _fig, _p_is, called

ABOUT = {
    "random": "products drawn at random, the baseline",
    "uncertainty": "the products whose two most probable categories are closest",
    "diversity": "k-center greedy on the candidate's own features, each pick the product farthest "
    "from every labelled one",
    "hybrid": "k-center greedy among the most uncertain products",
}


def _n(v) -> str:
    return f"{v:,.0f}"


def _strategy_name(r: dict) -> str:
    return r["strategy"] + ("" if r["start"] == "labels" else " from zero-shot pseudo-labels")


LIKELY_SHOWN = 5  # likely errors named in the text (all are in the CSV)


def _median(r: dict, random: bool = False) -> str:
    """The median labels over seeds; censored seeds count at the schedule's end (a floor), so
    with half of them censored the median is a floor ("at least"), with more "more than" the
    schedule's end."""
    key, reached = (
        ("random_median_labels", "random_reached") if random else ("median_labels", "reached")
    )
    if r[reached] * 2 < r["seeds"]:
        return f"more than {_n(r['budget'])} labels (most seeds never reach it)"
    if r[reached] * 2 == r["seeds"]:
        return f"at least {_n(r[key])} labels (half of the seeds never reach it)"
    return f"{_n(r[key])} labels"


def _labels_finding(name: str, mine: list[dict], lab: dict) -> str:
    """The finding for one candidate in one sentence: random's labels to the target and whether
    any strategy needs fewer (or more), as the exact paired tests say."""
    r0 = mine[0]
    full = lab["full"][name]["accuracy"]
    target = (
        f"{pct(r0['target'])} test accuracy ({pct(lab['share'], 0)} of the {pct(full)} it "
        f"reaches with all {_n(lab['full'][name]['labels'])} training and validation labels)"
    )
    if r0["random_reached"] * 2 < r0["seeds"]:
        random = (
            f"random labelling does not reach {target} within {_n(r0['budget'])} labels in "
            f"{r0['seeds'] - r0['random_reached']} of its {r0['seeds']} seeds"
        )
    else:
        random = f"random labelling needs a median of {_median(r0, True)} to reach {target}"
    fewer = [r for r in mine if r["labels_verdict"] == "fewer"]
    more = [r for r in mine if r["labels_verdict"] == "more"]
    if fewer:
        best = min(fewer, key=lambda r: r["ratio"])
        said = (
            f"{listing(_strategy_name(r) for r in fewer)} "
            f"{'needs' if len(fewer) == 1 else 'need'} fewer ({_strategy_name(best)}: "
            f"{best['ratio']:.2f}× random's, exact paired test, Holm-adjusted "
            f"{_p_is(best['p_labels_holm'])})"
        )
    else:
        said = "no strategy needs detectably fewer labels"
    if more:
        said += f"; {listing(_strategy_name(r) for r in more)} needs more (worse than random)"
    return f"For `{name}`, {random}; {said}."


def _strategy_line(r: dict) -> str:
    """One strategy against random: median labels, the ratio, seeds each way, the test and its
    verdict; the areas, their test and verdict."""
    reach = (
        f"reaches the target in {r['reached']} of {r['seeds']} seeds"
        if r["reached"] < r["seeds"]
        else f"reaches the target in all {r['seeds']} seeds"
    )
    width = " (every seed the same ratio: no spread to read)" if r.get("zero_width") else ""
    labels = (
        f"median {_median(r)} against random's {_median(r, True)}; {r['ratio']:.2f}× random's "
        f"labels (geometric mean; interval {r['ratio_low']:.2f}–{r['ratio_high']:.2f}){width}, "
        f"fewer in {plural(r['fewer_seeds'], 'seed')} and more in {r['more_seeds']}; "
        f"{_p_is(r['p_labels_holm'])}: {_labels_words(r)}"
    )
    area = (
        f"area under the curve {r['area']:.3f} against random's {r['random_area']:.3f} "
        f"(higher in {plural(r['higher_seeds'], 'seed')}, lower in {r['lower_seeds']}; "
        f"{_p_is(r['p_area_holm'])}): {_area_words(r)}"
    )
    return f"- {_strategy_name(r)}: {reach}; {labels}; {area}."


def _labels_words(r: dict) -> str:
    if r["labels_verdict"] == "fewer":
        return "**fewer labels than random**"
    if r["labels_verdict"] == "more":
        return "**more labels than random** (worse)"
    if not r.get("reachable_labels", True):
        return f"not resolved ({r['seeds']} seeds cannot reach the level with this many tests)"
    return "not resolved"


def _area_words(r: dict) -> str:
    if r["area_verdict"] == "higher":
        return "**higher than random's**"
    if r["area_verdict"] == "lower":
        return "**lower than random's** (worse)"
    return "not resolved"


def savings_text(lab: dict) -> str:
    """The finding first, one sentence per candidate (random's labels to the target and whether
    any strategy needs fewer, as the tests say); then, per candidate, a line per strategy: the
    labels it needs against random's, the areas, each exact paired test and its verdict; then how
    the tests were made. Never a verdict the test did not give."""
    rows = lab.get("tests") or []
    if not rows:
        return "No candidate could be simulated in this run.\n"
    names = [n for n in lab["candidates"] if any(r["candidate"] == n for r in rows)]
    finding = " ".join(
        _labels_finding(n, [r for r in rows if r["candidate"] == n], lab) for n in names
    )
    detail = []
    for name in names:
        mine = [r for r in rows if r["candidate"] == name]
        detail.append(f"**{name}** against random:\n\n" + "\n".join(map(_strategy_line, mine)))
    r0 = rows[0]
    how = (
        f"Each strategy is paired with random seed by seed (the same {r0['seeds']} start draws). "
        "A seed's labels are where its test curve first crosses the target, interpolated between "
        "the two rounds around the crossing; a seed that never crosses it is counted at the "
        "schedule's end, a floor. The area is the area under the curve divided by the label "
        "range, the mean accuracy over the campaign. Tests: the exact sign-flip permutation test "
        "of the mean log-ratio of labels, and of the mean difference of areas, Holm-adjusted "
        f"across the {plural(r0['comparisons'], 'comparison')} of each candidate at "
        f"{pct(1 - lab['level'], 0)}; a strategy is called better or worse only where its "
        "adjusted p-value is below that, otherwise the comparison is not resolved. Intervals: "
        "percentile bootstrap over seeds of the geometric-mean ratio (a description, not the "
        "test). The ratio is the geometric mean of each seed's own ratio to random, so it can say "
        "more labels than random while the strategy's median says fewer: the two summarise "
        "different things, and only the paired test gives a verdict."
    )
    return "In one sentence: " + finding + "\n\n" + "\n\n".join(detail) + "\n\n" + how + "\n"


def savings_table(lab: dict) -> str:
    """One row per candidate and strategy: median labels to the target (random's beside it), the
    ratio, the areas, the two Holm-adjusted exact p-values and the verdicts."""
    rows = lab.get("tests") or []
    if not rows:
        return ""
    table = {}
    for r in rows:
        table[f"{r['candidate']}: {_strategy_name(r)}"] = {
            "median labels (random's)": f"{_median(r)} ({_median(r, True)})".replace(" labels", ""),
            "ratio to random": f"{r['ratio']:.2f}",
            "labels: p (Holm)": pvalue(r["p_labels_holm"]),
            "labels": r["labels_verdict"],
            "area (random's)": f"{r['area']:.3f} ({r['random_area']:.3f})",
            "area: p (Holm)": pvalue(r["p_area_holm"]),
            "area verdict": r["area_verdict"],
        }
    return markdown_table(pd.DataFrame(table).T)


def _suggest_why(s: dict) -> str:
    """Why the ranked list's strategy is the one it is (``LabelStudy.strategy_for``'s basis)."""
    basis, default = s.get("basis"), s.get("default")
    if basis == "held-out fold":
        areas = s.get("holdout_areas") or {}
        said = listing(f"{k} {v:.3f}" for k, v in sorted(areas.items(), key=lambda kv: -kv[1]))
        return (
            "its curves have the largest mean area on the fold held out of the pool "
            + (f"({said}); " if said else "; ")
            + "a choice, not a finding, made without the test split: the test curves above "
            "may rank the strategies otherwise, and the tests compare each strategy with random "
            "only, not the strategies with one another"
        )
    if basis == "suggest_strategy":
        return "set by the labels notebook's `suggest_strategy`, not chosen from measurements"
    why = (
        "the simulation did not run this candidate"
        if basis == "not simulated"
        else "no fold was held out to choose on"
    )
    return f"a default, not a finding: {why}, and {default} (uncertain products, spread out) is it"


def suggest_text(lab: dict, choice: str = "the chosen candidate") -> str:
    s = lab.get("suggest") or {}
    if not s or s.get("skipped"):
        return ""
    instead = ""
    if s.get("recommended") and s["recommended"] != s["candidate"]:
        instead = (
            f" The recommended candidate `{s['recommended']}` is not simulated here"
            + (f" ({s['recommended_skipped']})" if s.get("recommended_skipped") else "")
            + f"; the list and the demonstration below are for `{s['candidate']}`, and "
            f"`make suggest-labels` ranks for `{s['recommended']}` with the default strategy "
            f"({s.get('default')})."
        )
    return (
        f"**What to label next.** `make suggest-labels ARGS='--pool new_products.csv'` "
        "(`python -m utils.labels.suggest`) ranks a team's unlabelled products for "
        f"{choice} by the strategy chosen for it here, and writes a CSV: "
        "rank, whether it is in the batch to label next, the product id, the current prediction, "
        "its probability and the margin to the second most probable category. For "
        f"`{s['candidate']}` that is **{s['strategy']}**: {_suggest_why(s)}.{instead} As a "
        f"demonstration, this run's training and validation products are ranked as if only "
        f"{_n(s['labelled'])} were labelled ({_n(s['pool'])} ranked, `reports/{s['csv']}`): the "
        f"first batch of "
        f"{s['batch']} spans {plural(s['batch_categories'], 'category', 'categories')} by their "
        f"given labels, and the candidate fitted on those {_n(s['labelled'])} labels "
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
        kinds = p.get("kinds") or {}
        split_kinds = (
            f": {plural(kinds.get('likely error', 0), 'likely error')} and "
            f"{kinds.get('taxonomy boundary', 0)} on a taxonomy boundary"
            if kinds
            else ""
        )
        parts.append(
            f"`{n}` (out-of-fold accuracy {pct(p['oof_accuracy'])}) flags "
            f"{plural(p['flagged'], 'product')}" + (f" ({where})" if where else "")
            + split_kinds + "."
        )  # fmt: skip
    if len(names) > 1:
        every = "both" if len(names) == 2 else f"all {len(names)}"
        parts.append(f"{plural(a['both'], 'product is', 'products are')} flagged by {every}.")
    if any(per[n].get("kinds") for n in names):
        parts.append(
            "A flag is put on a taxonomy boundary when its own category path supports the given "
            "label (its sub-category, the path's first two levels, holds at least three other "
            "products of that label) and a word of that path naming what it is (a blanket, a "
            "towel) also names at least three products of the suggested category: both "
            "categories file such products, an overlap of the taxonomy rather than a wrong "
            "label; the other flags are the likely errors to check first."
        )
    pairs = {}
    for n in [n for n in names if n not in (a.get("apart") or [])]:
        for b in per[n].get("boundaries") or []:
            pairs.setdefault(tuple(b["pair"]), (n, b))
    for (x, y), (n, b) in pairs.items():
        ways = listing(f"{v} {k}" for k, v in b["ways"].items())
        examples = listing(f"“{e['product_name']}” ({e['category_path']})" for e in b["examples"])
        words = sorted(
            {w for e in b["examples"] for w in str(e.get("shared") or "").split(", ") if w}
        )
        parts.append(
            f"Taxonomy boundary {x} / {y} (`{n}`): {plural(b['flags'], 'flag')}, {ways}"
            + (f"; both categories file {listing(words)} products" if words else "")
            + f"; for example {examples}."
        )
    for n in [n for n in names if n not in (a.get("apart") or [])]:
        likely = [i for i in per[n].get("issues") or [] if i.get("kind") == "likely error"]
        if likely:
            shown = likely[:LIKELY_SHOWN]
            parts.append(
                f"The likely errors (`{n}`"
                + (f", the first {len(shown)} of {len(likely)}" if len(likely) > len(shown) else "")
                + "): "
                + listing(
                    f"“{i['product_name']}” (filed under {i['given']}, suggested "
                    f"{i['suggested']}, product `{i['uniq_id']}`)"
                    for i in shown
                )
                + "."
            )
    apart = a.get("apart") or []
    if apart:
        parts.append(
            f"{listing(f'`{n}`' for n in apart)} "
            f"{'is' if len(apart) == 1 else 'are'} more than "
            f"{a.get('weak_gap', 0) * 100:.0f} points below the best out-of-fold accuracy: a "
            "candidate flags where it disagrees with a label, so most of its flags are its own "
            "errors; they are listed apart in the CSV (column `candidate`), not in the gallery."
        )
    elif len(names) > 1:
        weak = min(names, key=lambda n: per[n]["oof_accuracy"])
        parts.append(
            f"A candidate flags where it disagrees with a label, so the weaker it is, the more of "
            f"its flags are its own errors: read `{weak}`'s as a list to check, not as errors."
        )
    planted = {n: per[n]["planted"] for n in names if per[n].get("planted")}
    for n, v in planted.items():
        real, easy = v.get("confusion"), v.get("uniform")
        if not real:
            continue
        level = pct(real.get("level", 0.95), 0)
        parts.append(
            f"Recall on planted flips for `{n}`: with {real['flipped']} labels moved where its "
            f"own out-of-fold mistakes go ({plural(real['draws'], 'draw')} of "
            f"{real['flipped'] // max(real['draws'], 1)}), the audit finds {real['found']} "
            f"({pct(real['recall'], 0)}, {level} Wilson interval {pct(real['low'], 0)}–"
            f"{pct(real['high'], 0)})"
            + (
                f"; with {easy['flipped']} moved to any other category at random (the usual "
                f"check), {easy['found']} ({pct(easy['recall'], 0)}, {pct(easy['low'], 0)}–"
                f"{pct(easy['high'], 0)})"
                if easy
                else ""
            )
            + (
                f" A candidate that flags {plural(per[n]['flagged'], 'product')} finds planted "
                "flips among its own many disagreements: its recall is not a better audit."
                if n in (a.get("apart") or [])
                else "."
            )
        )
    g = lab.get("gallery") or {}
    if g:
        order = (
            "likely errors before taxonomy boundaries, then flagged by more candidates, then by "
            "confidence (highest first)"
            if g.get("order") == ["kind", "votes", "confidence"]
            else "flagged by more candidates first, then by confidence (highest first)"
        )
        parts.append(
            f"{_fig('label_issues')} shows {g['shown']} of the {g['of']} products flagged by "
            f"{listing(f'`{n}`' for n in g.get('candidates') or names)}, {order}, each with "
            f"its category path and product id; every flagged product is in `reports/{a['csv']}`."
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
    parts = lab.get("pool_parts") or {}
    steps = plan.get("steps") or []
    fine = [k for k in steps if k <= plan.get("fine_until", 0)]
    schedule = (
        f"after every round of one label per category from {_n(totals[0])} to "
        f"{_n(fine[-1] * lab['classes'])} labels"
        if fine
        else ""
    )
    coarse = [k * lab["classes"] for k in steps if k not in fine]
    if coarse:
        schedule += (", then " if schedule else "") + f"at {listing(_n(t) for t in coarse)}"
    held = lab.get("holdout") or 0
    setup = (
        f"**Active learning, simulated on this run's split.** Of the {_n(lab['pool'])} training "
        "and validation products, "
        + (
            f"one group fold of {_n(held)} is held out to choose the ranked list's strategy "
            f"(never the test split), and the other {_n(lab['simulation_pool'])} form the pool"
            if held
            else "all form the pool"
        )
        + ", their labels hidden until a strategy asks for them. Each simulation starts from "
        f"{plural(plan['start'], 'labelled product')} per category from each part "
        f"({_n(start)} labels), then refits "
        f"{listing(f'`{n}`' for n in lab['candidates'])} {schedule} "
        f"({plural(len(totals), 'refit')} after the start), each scored on the {lab['test']} test "
        "products; a product asked for joins the part of the split it comes from, so validation "
        "labels (which choose the settings, re-chosen every "
        f"{plural(plan.get('rechoose', 1), 'round')}) count like training labels"
        + (
            f" (random draws keep about the pool's mix, {_n(parts['train'])} training to "
            f"{_n(parts['val'])} validation products). Random labelling here is therefore not "
            "the label budget's curve above, where half of each refit's labels (k per category "
            "from validation) only choose its settings: here most random labels train, so the "
            "same number of labels reaches a higher accuracy"
            if parts.get("train") and parts.get("val")
            else ""
        )
        + f". Strategies, from scikit-activeml: {strategies}; {plural(plan['seeds'], 'seed')}, "
        f"each a start draw shared by every strategy ({_fig('active_learning')}).\n\n"
    )
    zs = lab.get("zeroshot_start") or {}
    ran = [n for n, why in zs.items() if why == "ran"]
    if ran:
        setup += (
            "For candidates reading CLIP's image embedding, uncertainty sampling also runs from "
            "each seed's start plus zero-shot CLIP's pseudo-labels (the most confident products "
            "per predicted category, costing no label), paired with random on the same draws: "
            f"{listing(f'`{n}`' for n in ran)}.\n\n"
        )
    return (
        intro
        + setup
        + savings_text(lab)
        + "\n"
        + savings_table(lab)
        + "\n"
        + suggest_text(lab, called(m))
        + "\n"
        + audit_text(lab)
        + "\n"
        + cleaning_text(lab)
    )


def labels_note(lab: dict) -> str:
    """Notebook 07's closing summary: the savings sentence, the audit, the cleaning."""
    return "\n\n".join(t for t in (savings_text(lab), audit_text(lab), cleaning_text(lab)) if t)
