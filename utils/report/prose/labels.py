"""The note's section on labels (notebook 07): which products to label next (active learning,
simulated on the locked split, and what each strategy saves) and which labels look wrong (the
audit by confident learning, and what dropping or relabelling the flagged products does).
"""

from __future__ import annotations

import pandas as pd

from ..formatting import listing, markdown_table, pct, plural, points, points_interval
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


# what a savings row measured against random (``labels.active.verdict``), in words
VERDICT = {
    "fewer": "fewer labels than random",
    "more": "more labels than random: worse than random",
    "no difference": "no detectable difference from random",
    "not measured": "not compared with random",
}


def _verdict(r: dict) -> str:
    """``labels.active.verdict`` on a recorded savings row (kept here so the prose reads only
    the record)."""
    low, high = r.get("low"), r.get("high")
    if r["bound"] == "exact":
        return "fewer" if high < 1 else ("more" if low > 1 else "no difference")
    if r["bound"] == "at most" and high is not None and high < 1:
        return "fewer"
    if r["bound"] == "at least" and low is not None and low > 1:
        return "more"
    return "not measured"


def _strategy_name(r: dict) -> str:
    return r["strategy"] + ("" if r["start"] == "labels" else " from zero-shot pseudo-labels")


def _reach(reached: int, seeds: int, labels, budget: int) -> str:
    """How many seeds reached the target, with the mean label count of those that did and the
    censored rest said as such."""
    if reached == seeds:
        if seeds == 1:
            return f"reaches it with {_n(labels)} labels"
        every = "both seeds" if seeds == 2 else f"all {seeds} seeds"
        return f"reaches it in {every}, with {_n(labels)} labels on average"
    if reached == 0:
        return (
            f"does not reach it within {_n(budget)} labels in any of its "
            f"{plural(seeds, 'seed')} (censored)"
        )
    where = "labels" if reached == 1 else "labels on average where it does"
    rest = "the other seed" if seeds - reached == 1 else f"the other {seeds - reached} seeds"
    return (
        f"reaches it in {reached} of {plural(seeds, 'seed')} ({_n(labels)} {where}) and not "
        f"within {_n(budget)} labels in {rest} (censored)"
    )


def _ratio(r: dict) -> str:
    """The ratio of a savings row to random's labels, with its interval or as a bound, and what
    it says."""
    verdict = VERDICT[_verdict(r)]
    if r["bound"] in ("at most", "at least") and _verdict(r) == "not measured":
        verdict = "no detectable difference from random (its interval reaches one)"
    if r["bound"] == "exact":
        interval = f"{r['low']:.2f}–{r['high']:.2f}"
        return f"{r['ratio']:.2f}× random's labels (interval {interval}): {verdict}"
    if r["bound"] == "at most":
        return (
            f"at most {r['ratio']:.2f}× random's labels (interval up to {r['high']:.2f}), "
            f"counting random's censored seeds at {_n(r['budget'])}: {verdict}"
        )
    if r["bound"] == "at least":
        return (
            f"at least {r['ratio']:.2f}× random's labels (interval from {r['low']:.2f}), "
            f"counting its censored seeds at {_n(r['budget'])}: {verdict}"
        )
    return f"{verdict}: neither it nor random reached the target in every seed"


def _gap(d: float) -> str:
    """A gap in points without its sign (the words say which way)."""
    return points(abs(d)).lstrip("+")


def _span(values: list[int]) -> str:
    return _n(values[0]) if len(values) == 1 else f"{_n(values[0])}–{_n(values[-1])}"


def _curve(v: dict | None) -> str:
    """Where a strategy's mean curve lies against random's along the schedule (``labels.active.
    versus_random``): ahead, behind or level over runs of label counts, the largest gap of each
    run, and the mean gap over the schedule's points."""
    if not v:
        return ""
    runs: list[tuple[str, list[int], list[float]]] = []
    for labels, diff, state in zip(v["labels"], v["difference"], v["state"]):
        if runs and runs[-1][0] == state:
            runs[-1][1].append(labels)
            runs[-1][2].append(diff)
        else:
            runs.append((state, [labels], [diff]))
    parts = []
    for state, labels, diffs in runs:
        if state == "level":
            parts.append(f"level at {_span(labels)} labels")
        else:
            gap = max(abs(d) for d in diffs)
            parts.append(f"{state} at {_span(labels)} labels (by up to {_gap(gap)} points)")
    mean = v["mean_difference"]
    average = (
        "level with it on average"
        if abs(mean) <= v["tolerance"]
        else f"on average {_gap(mean)} points {'above' if mean > 0 else 'below'} it"
    )
    return f"against random's curve, {', '.join(parts)}; {average} over the schedule's points"


def _versus(lab: dict) -> dict:
    return {(v["candidate"], v["start"], v["strategy"]): v for v in lab.get("versus_random") or []}


def _one_sentence(name: str, mine: list[dict]) -> str:
    """The answer for one candidate: the strategy that needed fewer labels, or that every one
    needed more, or what could not be measured, never a winner that was not measured."""
    verdicts = {_strategy_name(r): _verdict(r) for r in mine}
    fewer = sorted([r for r in mine if _verdict(r) == "fewer"], key=lambda r: r["ratio"])
    if fewer:
        b = fewer[0]
        missed = b["random_seeds"] - b["random_reached"]
        random = (
            _n(b["random_labels"])
            if not missed
            else f"more than {_n(b['budget'])} in {missed} of {plural(b['random_seeds'], 'seed')}"
            + (f" ({_n(b['random_labels'])} in the others)" if b["random_reached"] else "")
        )
        after = (
            f", the fewest of the {len(mine)} strategies compared with random (picked after the "
            "fact; the intervals allow for that many comparisons)"
            if len(mine) > 1
            else ""
        )
        return (
            f"for {name}, to reach {pct(b['target'])}, {_strategy_name(b)} needs "
            f"{_n(b['labels'])} labels, random {random}{after}"
        )
    if all(v == "more" for v in verdicts.values()):
        return f"for {name}, every strategy was worse than random: " + listing(
            f"{_strategy_name(r)} needed {r['ratio']:.2f}× its labels" for r in mine
        )
    if all(v == "not measured" for v in verdicts.values()):
        return (
            f"for {name}, no strategy could be compared with random: in every comparison, seeds "
            f"did not reach the target within {_n(mine[0]['budget'])} labels, so none is called "
            "better or worse"
        )
    more = [n for n, v in verdicts.items() if v == "more"]
    unmeasured = [n for n, v in verdicts.items() if v == "not measured"]
    return (
        f"for {name}, no strategy needed detectably fewer labels than random"
        + (f"; {listing(more)} needed more (worse than random)" if more else "")
        + (f"; {listing(unmeasured)} could not be compared (censored seeds)" if unmeasured else "")
    )


def _intervals_clause(rows: list[dict], lab: dict) -> str:
    """How the ratios' intervals were built, in one clause (only where a ratio has one)."""
    exact = [r for r in rows if r.get("low") is not None or r.get("high") is not None]
    if not exact:
        return ""
    kinds = sorted({(r["comparisons"], r["level_each"]) for r in exact if r.get("comparisons")})
    widened = "; ".join(
        f"each at {pct(each)} so that {m} comparisons with random hold together at "
        f"{pct(lab['level'], 0)} (Bonferroni)"
        for m, each in kinds
        if m > 1
    )
    seeds = sorted({r["seeds"] for r in exact})
    return (
        f" Intervals: percentile bootstrap over the {listing(str(n) for n in seeds)} seeds, "
        "paired (a strategy and random from the same start draws)"
        + (f", {widened}" if widened else "")
        + "."
    )


def savings_text(lab: dict) -> str:
    """Per candidate: the full-data accuracy, the target, how many seeds of random and of each
    strategy reached it (censored seeds said so), the ratio to random's labels where one was
    measured, where each curve lies against random's; then the one-sentence answer per
    candidate, never naming a winner that was not measured."""
    rows = lab.get("savings") or []
    if not rows:
        return "No candidate could be simulated in this run.\n"
    versus = _versus(lab)
    out = []
    answers = []
    for name in lab["candidates"]:
        mine = [r for r in rows if r["candidate"] == name]
        if not mine:
            continue
        r0 = mine[0]
        full, target = lab["full"][name]["accuracy"], r0["target"]
        head = (
            f"**{name}**: with all {_n(lab['full'][name]['labels'])} pool labels (notebook "
            f"{lab['fitted_by']}'s fit: the training labels fit it, the validation labels choose "
            f"its settings), it reaches {pct(full)} on the test split; "
            f"{pct(lab['share'], 0)} of that is {pct(target)}. Random "
            + _reach(r0["random_reached"], r0["random_seeds"], r0["random_labels"], r0["budget"])
            + "."
        )
        items = []
        for r in mine:
            curve = _curve(versus.get((name, r["start"], r["strategy"])))
            items.append(
                f"- {_strategy_name(r)}: "
                + _reach(r["reached"], r["seeds"], r["labels"], r["budget"])
                + f"; {_ratio(r)}"
                + (f"; {curve}" if curve else "")
                + "."
            )
        out.append(head + "\n\n" + "\n".join(items))
        answers.append(_one_sentence(name, mine))
    tolerance = next(iter(versus.values()), {}).get("tolerance")
    curves = (
        " Ahead or behind (a description, not a test): the mean gap over seeds larger than "
        "twice its standard error over seeds and than half a test product; level: within that."
        if tolerance
        else ""
    )
    counted = any(r["reached"] for r in rows) or any(r["random_reached"] for r in rows)
    ratios = any(r["bound"] == "exact" for r in rows)
    steps = (
        " A seed's count is the first point of the schedule at which its curve reaches the "
        "target (counts between two points are not tried), so the counts"
        + (" and ratios" if ratios else "")
        + " move in the schedule's steps."
        if counted
        else ""
    )
    return (
        "\n\n".join(out)
        + "\n\n"
        + (_intervals_clause(rows, lab) + curves).strip()
        + ("\n\n" if _intervals_clause(rows, lab) + curves else "")
        + "In one sentence: "
        + "; ".join(answers)
        + "."
        + steps
        + "\n"
    )


def savings_table(lab: dict) -> str:
    """One row per candidate and strategy, random's first: seeds reaching the target, the mean
    labels of those that did, the ratio to random's with its interval (or bound), what it says,
    and the mean gap to random's curve."""
    rows = lab.get("savings") or []
    if not rows:
        return ""
    versus = _versus(lab)
    table = {}
    for name in dict.fromkeys(r["candidate"] for r in rows):
        mine = [r for r in rows if r["candidate"] == name]
        r0 = mine[0]
        table[(name, "random")] = {
            "target": pct(r0["target"]),
            "seeds reaching": f"{r0['random_reached']} of {r0['random_seeds']}",
            "labels (mean where reached)": _n(r0["random_labels"])
            if r0["random_reached"]
            else "not reached",
            "ratio to random (interval)": "—",
            "reading": "the baseline",
            "mean gap to random's curve": "—",
        }
        for r in mine:
            v = versus.get((name, r["start"], r["strategy"]))
            table[(name, _strategy_name(r))] = {
                "target": pct(r["target"]),
                "seeds reaching": f"{r['reached']} of {r['seeds']}",
                "labels (mean where reached)": _n(r["labels"]) if r["reached"] else "not reached",
                "ratio to random (interval)": _ratio_cell(r),
                "reading": _verdict(r)
                .replace("fewer", "fewer labels")
                .replace("more", "more labels (worse)"),
                "mean gap to random's curve": f"{points(v['mean_difference'])} points"
                if v
                else "—",
            }
    frame = pd.DataFrame(table).T
    frame.index = [f"{c}: {s}" for c, s in frame.index]
    return markdown_table(frame)


def _ratio_cell(r: dict) -> str:
    if r["bound"] == "exact":
        return f"{r['ratio']:.2f} ({r['low']:.2f}–{r['high']:.2f})"
    if r["bound"] == "at most":
        return f"at most {r['ratio']:.2f} (up to {r['high']:.2f})"
    if r["bound"] == "at least":
        return f"at least {r['ratio']:.2f} (from {r['low']:.2f})"
    return "—"


def _suggest_why(s: dict) -> str:
    """Why the ranked list's strategy is the one it is (``labels.active.best_strategy``'s basis),
    and, where it was measured, that it was measured on the test split's curves."""
    basis, strategy, default = s.get("basis"), s["strategy"], s.get("default")
    if basis == "fewer labels":
        compared = s.get("compared") or 0
        return (
            "it needed the fewest labels against random among the strategies whose interval lies "
            "below one"
            + (
                f" (the best of the {compared} compared, picked after the fact; the intervals "
                "allow for that many comparisons)"
                if compared > 1
                else ""
            )
            + ". Unlike the report's other choices, this one is made on the test split's curves "
            "(the simulation scores every refit there): re-check it on a team's own data"
        )
    if basis == "every strategy more":
        return (
            "every other strategy needed more labels than random. Unlike the report's other "
            "choices, this one is made on the test split's curves (the simulation scores every "
            "refit there): re-check it on a team's own data"
        )
    if basis == "suggest_strategy":
        return "set by the labels notebook's `suggest_strategy`, not chosen from measurements"
    why = (
        "the simulation did not run this candidate"
        if basis == "not simulated"
        else "no strategy was measured to need fewer labels than random in this run"
    )
    what = (
        f"{default} (uncertain products, spread out) is the default then"
        if strategy == default
        else f"{default}, the usual default, needed more labels than random here, so random"
    )
    return f"a default, not a finding: {why}, and {what}"


def suggest_text(lab: dict, choice: str = "the chosen candidate") -> str:
    s = lab.get("suggest") or {}
    if not s or s.get("skipped"):
        return ""
    return (
        f"**What to label next.** `make suggest-labels ARGS='--pool new_products.csv'` "
        "(`python -m utils.labels.suggest`) ranks a team's unlabelled products for "
        f"{choice} by the strategy chosen for it here, and writes a CSV: "
        "rank, whether it is in the batch to label next, the current prediction, its probability "
        "and the margin to the second most probable category. For "
        f"`{s['candidate']}` that is **{s['strategy']}**: {_suggest_why(s)}. As a "
        f"demonstration, this run's {_n(s['pool'])} pool products are ranked as if only "
        f"{_n(s['labelled'])} were labelled (`reports/{s['csv']}`): the first batch of "
        f"{s['batch']} spans {plural(s['batch_categories'], 'category', 'categories')}, and the "
        f"current model misclassifies {s['batch_wrong']} of them.\n"
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
        every = "both" if len(names) == 2 else f"all {len(names)}"
        parts.append(f"{plural(a['both'], 'product is', 'products are')} flagged by {every}.")
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
        order = (
            "flagged by more candidates first, then by confidence (highest first)"
            if g.get("order") == ["votes", "confidence"]
            else "flagged by more candidates first"
        )
        parts.append(
            f"{_fig('label_issues')} shows {g['shown']} of the {g['of']} flagged products, "
            f"{order}; every flagged product is in `reports/{a['csv']}`."
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
        "The two divide a count differently (the budget takes k per category to train and up to "
        "k more to choose settings; here random draws keep about the pool's mix"
        + (
            f", {_n(parts['train'])} training to {_n(parts['val'])} validation products"
            if parts.get("train") and parts.get("val")
            else ""
        )
        + "), so their accuracies at the same count differ. "
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
        + suggest_text(lab, called(m))
        + "\n"
        + audit_text(lab)
        + "\n"
        + cleaning_text(lab)
    )


def labels_note(lab: dict) -> str:
    """Notebook 07's closing summary: the savings sentence, the audit, the cleaning."""
    return "\n\n".join(t for t in (savings_text(lab), audit_text(lab), cleaning_text(lab)) if t)
