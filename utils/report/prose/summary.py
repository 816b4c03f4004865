"""The note's summary: the original note's claims checked against this run, the choice and why,
and the main limits.
"""

from __future__ import annotations

import pandas as pd

from ...evaluation.decision import VERDICTS
from ..formatting import (
    interval,
    listing,
    markdown_table,
    ms,
    pct,
    plural,
    points,
    points_interval,
)
from .banners import stand_in_warning, subsample_sentence
from .common import READS_WORDS, _section, boilerplate_sentence


# --------------------------------------------------------------------------- summary
def claims_table(claims: list[dict]) -> pd.DataFrame:
    """The claims of the original note beside this run's values, with verdicts."""
    rows = []
    for c in claims:
        if c.get("verdict") == "not measured":
            run = f"not measured: {c.get('why', '')}"
        elif "range" in c:
            run = f"epoch {c['value']}"
            if c.get("range_other_splits"):
                a, b = c["range_other_splits"]
                run += f" (other splits: {a}–{b})"
        elif c["key"] == "clip_beats_vgg16":
            run = points_interval(c["value"], c["low"], c["high"])
        else:
            run = interval(c["value"], c["low"], c["high"])
        note = c["note"]
        if "tolerance" in c:
            low, high = c["note_value"] - c["tolerance"], c["note_value"] + c["tolerance"]
            note += f" (read as {pct(low, 0)}–{pct(high, 0)})"
        rows.append(
            {
                "claim": c["claim"],
                "the original note": note,
                "this run": run,
                "verdict": c["verdict"],
            }
        )
    return pd.DataFrame(rows).set_index("claim")


def context(m: dict, evaluation: dict | None = None) -> dict:
    """What the answer's sentences need to know of the run besides the evaluation: the number of
    categories, stand-in weights, candidates not run, a subsample or the bundled sample."""
    from ...core.runs import run_stand_ins

    ev = evaluation if evaluation is not None else m.get("evaluation", {})
    return {
        "classes": len(ev.get("classes") or m.get("data", {}).get("categories", {})),
        "stand": bool(run_stand_ins(m)),
        "skipped": m.get("features", {}).get("skipped") or {},
        "subsample": (m.get("split") or {}).get("max_per_category"),
        "images": (m.get("split") or {}).get("images"),
        "dataset": (m.get("data") or {}).get("dataset"),
        "reads": ev.get("reads", {}),
        "costs": ev.get("costs", {}),
        "labelled": ev.get("labelled", {}),
    }


def answer(claims: list[dict], rec: dict, ctx: dict) -> str:
    """Notebook 05's opening: the question, the claims table, the recommendation."""

    text = (
        "**The question.** Does a frozen CLIP encoder with a small head classify these product "
        "photos better than the VGG16 transfer-learning baseline, and what should a team deploy?"
        "\n\n"
    )
    text += claims_text(claims, markdown_table)
    text += "**What to deploy.** " + " ".join(recommendation_lines(rec, ctx))
    if rec:
        text += f"\n\n*The rule*: {rec['rule']}."
    return text


def claims_text(claims: list[dict], markdown_table) -> str:
    """The claims table with the legend of the verdicts it uses; one line when none is measured."""
    if not claims:
        return ""
    if all(c["verdict"] == "not measured" for c in claims):
        kinds: dict[str, list[str]] = {}
        for c in claims:
            names = kinds.setdefault(c.get("why_kind", c.get("why", "")), [])
            names += [n for n in c.get("why_names", []) if n not in names]
        why = "; ".join(f"{k} ({listing(v)})" if v else k for k, v in kinds.items())
        return (
            f"**The original note's claims cannot be checked in this run**: {why}. It claimed: "
            + "; ".join(f"{c['claim'].replace(': ', ', ')}: {c['note']}" for c in claims)
            + ".\n\n"
        )
    used = list(dict.fromkeys(c["verdict"] for c in claims))
    return (
        "**The original note's claims, checked.**\n\n"
        + markdown_table(claims_table(claims))
        + "\nVerdicts: "
        + "; ".join(f"*{k}*: {VERDICTS[k]}" for k in used)
        + ".\n\n"
    )


def _tie_reason(rec: dict, ctx: dict) -> str:
    tied = [n for n in rec["tied"] if n != rec["candidate"]]
    if not tied:
        return ""
    labels = ctx.get("labelled", {})
    chosen = rec["candidate"]
    cost = lambda n: ctx.get("costs", {}).get(n, {}).get("inference_s_per_item")  # noqa: E731
    if all(labels.get(n, 0) == labels.get(chosen, 0) for n in tied):
        why = "as many labels; chosen as the fastest, " + listing(
            f"{ms(cost(n))} for `{n}`" for n in [chosen, *tied]
        )
    else:
        why = "chosen as it needs the fewest labelled products"
    return f" (tied within one validation product: {listing(f'`{n}`' for n in tied)}; {why})"


def recommendation_lines(rec: dict, ctx: dict) -> list[str]:
    """At most three lines: what to deploy and why, what it needs and its test accuracy (reported
    once), and the one caveat that matters most for this run."""
    if not rec:
        return ["No candidate was evaluated in this run: there is nothing to recommend."]
    reads = READS_WORDS.get(ctx.get("reads", {}).get(rec["candidate"]), "")
    run = len(ctx.get("reads", {}))
    skipped = ctx.get("skipped", {})
    if ctx.get("dataset") == "sample" or ctx.get("subsample"):
        what = "the bundled sample" if ctx.get("dataset") == "sample" else "a subsample"
        third = (
            f"This run reads {what} ({ctx.get('images')} photos): the choice only exercises the "
            "rule; it recommends nothing for the catalog."
        )
    elif rec.get("among_stand_ins"):
        third = (
            "Every candidate of this run reads stand-in encoders: the choice only exercises the "
            "rule."
        )
    elif rec.get("excluded"):
        third = (
            f"The {plural(len(rec['excluded']), 'candidate')} reading stand-in encoders were set "
            "aside: rerun with the pretrained weights before deciding between text, photo and "
            "fusion."
        )
    elif skipped:
        third = (
            f"Chosen among the {run} of {run + len(skipped)} candidates that ran; the "
            f"{len(skipped)} others need weights not on this machine, so the photo question (CLIP "
            "against VGG16) is unanswered here: rerun with them before deploying."
        )
    else:
        third = ""
    first = (
        (
            f"**Best of this run, not yet a recommendation: `{rec['candidate']}`**"
            if third  # a caveat that stops it: only a complete, real run says deploy
            else f"**Deploy `{rec['candidate']}`**"
        )
        + (f" (reads the {reads})" if reads else "")
        + f": the highest validation accuracy, {pct(rec['val_accuracy'])} of {rec['n_val']} "
        f"validation products{_tie_reason(rec, ctx)}."
    )
    second = (
        f"It needs {rec['labelled']} labelled products "
        f"({plural(ctx['classes'], 'category', 'categories')}) and {ms(rec['s_per_product'])} per "
        f"product ({rec.get('device') or 'cpu'}, the whole prediction from the file); its test "
        "accuracy, reported once: "
        f"{interval(rec['test_accuracy'], rec['test_low'], rec['test_high'])}."
    )
    return [line for line in (first, second, third) if line]


def limits(m: dict, stand: dict[str, str]) -> list[str]:
    """The limits of this run, one line each, the most consequential first."""
    ev, items = m.get("evaluation", {}), []
    data, split = m.get("data", {}), m.get("split", {})
    if data.get("dataset") == "sample":
        items.append(
            f"The data is the bundled sample ({split.get('images')} photos in this run): "
            "the run checks the pipeline, its numbers support no conclusion."
        )
    elif split.get("max_per_category"):
        items.append(subsample_sentence(split, data).replace("**", ""))
    if stand:
        items.append(stand_in_warning(stand).replace("**", ""))
    skipped = m.get("features", {}).get("skipped")
    if skipped:
        run = len(m.get("features", {}).get("models") or [])
        items.append(
            f"{plural(len(skipped), 'candidate')} of {run + len(skipped)} did not run (their "
            "weights are not on this machine; the list is at the top)."
        )
    if ev.get("table"):
        widths = [t["accuracy_high"] - t["accuracy_low"] for t in ev["table"].values()]
        items.append(
            f"One locked test split of {ev['n_test']} products: accuracy intervals are "
            f"{points(min(widths)).lstrip('+')} to {points(max(widths)).lstrip('+')} points wide; "
            "differences between candidates are judged by the paired intervals, which resample "
            "near-duplicate groups (McNemar's test treats products as independent, so its p-values "
            "may be too small)."
        )
    check = m.get("features", {}).get("pretrained_check")
    if check and check.get("warning"):
        items.append(
            "The loaded CLIP does not behave like a pretrained one (see the CLIP section): its "
            "numbers say nothing about CLIP."
        )
    for name, t in ((m.get("explanations", {}).get("text") or {}).get("text") or {}).items():
        bp = t.get("boilerplate")
        if bp and bp.get("share", 0) > 0:
            items.append(boilerplate_sentence(name, bp))
    image = m.get("explanations", {}).get("image", {})
    if image.get("stability") and not image["stability"].get("reached"):
        items.append(
            "The photo explanations did not reach the stability threshold: read their top "
            "superpixels as indicative only."
        )
    return items


# --------------------------------------------------------------------------- the note's sections
def section_summary(m: dict) -> str:
    from ...core.runs import run_stand_ins

    ev = m.get("evaluation", {})
    stand = run_stand_ins(m)
    text = (
        "**The question.** Does a frozen CLIP encoder with a small head classify these product "
        "photos better than the classic VGG16 transfer-learning baseline, and what should a team "
        "deploy?\n\n"
    )

    text += claims_text(ev.get("claims") or [], markdown_table)
    rec = ev.get("recommendation")
    if ev:
        text += (
            "**What to deploy.** " + " ".join(recommendation_lines(rec or {}, context(m))) + "\n\n"
        )
        text += f"*The rule, recorded by notebook 05*: {rec['rule']}.\n\n" if rec else ""
    items = limits(m, stand)
    if items:
        where = (
            f"the first three; all {len(items)} in {_section('improvements')}"
            if len(items) > 3
            else f"repeated in {_section('improvements')} beside the proposed improvements"
        )
        text += f"**Main limits** ({where}).\n\n" + "\n".join(f"- {i}" for i in items[:3]) + "\n"
    return text
