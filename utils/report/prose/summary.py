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
    upper_first,
)
from .banners import subsample_sentence
from .common import READS_WORDS, _choice, _fig, _section, called
from .template import template_limit


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
        "repeats": (ev.get("repeats") or {}).get("summary") or {},
        "training_info": (m.get("training") or {}).get("info") or {},
        "n_repeats": (ev.get("repeats") or {}).get("n_splits"),
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
    among = ", among the candidates with real numbers" if rec.get("excluded") else ""
    return f" (tied within one validation product{among}: {listing(f'`{n}`' for n in tied)}; {why})"


CAVEATS = {
    "sample": "This run reads {what} ({images} photos): the choice only exercises the rule; it "
    "recommends nothing for the catalog.",
    "subsample": "This run reads {what} ({images} photos): the choice only exercises the rule; it "
    "recommends nothing for the catalog.",
    "stand-ins only": "Every candidate of this run reads stand-in encoders: the choice only "
    "exercises the rule.",
    "stand-ins set aside": "The {excluded} reading stand-in encoders were set aside: rerun with "
    "the pretrained weights before deciding between text, photo and fusion.",
    "not run": "Chosen among the {run} of {total} candidates that ran; the {skipped} others need "
    "pretrained weights this run did not have ({where}), so the photo question (CLIP against "
    "VGG16) is unanswered here: rerun with them before deploying.",
}


def recommendation_lines(
    rec: dict, ctx: dict, where: str = "the note's list of what did not run names them"
) -> list[str]:
    """At most three lines: the choice and why, what it needs and its test accuracy (reported
    once), and the caveat that keeps it from being a recommendation (``rec["caveat"]``, decided
    by ``decision.recommend``)."""
    if not rec:
        return ["No candidate was evaluated in this run: there is nothing to recommend."]
    reads = READS_WORDS.get(ctx.get("reads", {}).get(rec["candidate"]), "")
    run, skipped = len(ctx.get("reads", {})), ctx.get("skipped", {})
    caveat = rec.get("caveat")
    third = (
        CAVEATS[caveat].format(
            what="the bundled sample" if caveat == "sample" else "a subsample",
            images=ctx.get("images"),
            excluded=plural(len(rec.get("excluded") or []), "candidate"),
            run=run,
            total=run + len(skipped),
            skipped=len(skipped),
            where=where,
        )
        if caveat
        else ""
    )
    status = rec.get("status", "provisional" if caveat else "recommended")
    first = (
        (
            f"**Recommended: `{rec['candidate']}`**"
            if status == "recommended"
            else f"**{upper_first(rec.get('called', 'the chosen candidate'))}, not yet a "
            f"recommendation: `{rec['candidate']}`**"
        )
        + (f" (reads the {reads})" if reads else "")
        + f": the highest validation accuracy, {pct(rec['val_accuracy'])} of {rec['n_val']} "
        f"validation products{_tie_reason(rec, ctx)}."
    )
    second = (
        f"It needs {rec['labelled']} labelled products of "
        f"{plural(ctx['classes'], 'category', 'categories')}{fitted_on(rec['candidate'], ctx)} "
        "and takes "
        f"{ms(rec['s_per_product'])} per product "
        f"({rec.get('device') or 'cpu'}, reading the file and predicting); its test accuracy, "
        "reported once: "
        f"{interval(rec['test_accuracy'], rec['test_low'], rec['test_high'])}"
        + _repeated(rec["candidate"], ctx)
        + "."
    )
    return [line for line in (first, second, third) if line]


def fitted_on(name: str, ctx: dict) -> str:
    """`` (629 to fit it, 209 to choose its settings)``: how its labels were used (notebook 04)."""
    info = (ctx.get("training_info") or {}).get(name) or {}
    train, val = info.get("labelled_train"), info.get("labelled_val")
    if not train:
        return ""
    return f" ({train} to fit it" + (f", {val} to choose its settings)" if val else ")")


def _repeated(name: str, ctx: dict) -> str:
    """``; over 10 other group-aware splits, 94.0% on average (90.9% to 97.1%)``: the spread of
    the one locked split's number, read beside it (empty without repeated splits)."""
    r = (ctx.get("repeats") or {}).get(name)
    if not r or not ctx.get("n_repeats"):
        return ""
    return (
        f"; over {ctx['n_repeats']} other group-aware splits it averages {pct(r['mean'])} "
        f"({pct(r['min'])} to {pct(r['max'])}), the steadier figure"
    )


def label_noise(m: dict, name: str | None) -> list[str]:
    """What the label audit (notebook 07) found for ``name`` (else its first audited candidate):
    the labels flagged as likely wrong, by category, and how the test accuracy moved when they
    were dropped or relabelled."""
    audit = (m.get("labels") or {}).get("audit") or {}
    per = audit.get("per_candidate") or {}
    if not per:
        return []
    who = name if name in per else next(iter(per))
    a = per[who]
    cats = ", ".join(f"{c} {n}" for c, n in (a.get("per_category") or {}).items() if n)
    pool = (m.get("labels") or {}).get("pool", "?")
    kinds = a.get("kinds") or {}
    split_kinds = (
        f": {kinds.get('likely error', 0)} likely errors and "
        f"{kinds.get('taxonomy boundary', 0)} on a taxonomy boundary (a category path that "
        "supports the label, naming what the product is with a word that the suggested category "
        "files products under too)"
        if kinds
        else " as likely wrong"
    )
    line = (
        f"Label noise: confident learning on {who}'s out-of-fold probabilities flags "
        f"{a['flagged']} of the {pool} training and validation labels"
        + (f" ({cats})" if cats else "")
        + split_kinds
        + f"; {_section('labels', m)} shows them."
    )
    cleaning = ((m.get("labels") or {}).get("cleaning") or {}).get(who) or {}
    moves = [
        f"{how.replace('flagged ', '')}, {points_interval(p['difference'], p['low'], p['high'])}"
        for how, p in (cleaning.get("paired") or {}).items()
    ]
    if moves:
        line += (
            " Refitted with the flagged labels dropped or relabelled, its test accuracy moves by: "
            + "; ".join(moves)
            + "."
        )
    return [line]


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
        names = {"clip": "CLIP", "vgg16": "VGG16"}
        items.append(
            f"Stand-in weights for {listing(names.get(k, k) for k in stand)}: the numbers that "
            "read them say nothing about CLIP or VGG16 (the warning at the top)."
        )
    skipped = m.get("features", {}).get("skipped")
    if skipped:
        run = len(m.get("features", {}).get("models") or [])
        items.append(
            f"{plural(len(skipped), 'candidate')} of {run + len(skipped)} did not run (their "
            "weights are not on this machine; the note's list of what did not run says what to "
            "download)."
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
            f"The loaded CLIP does not behave like a pretrained one ({_section('clip', m)}): its "
            "numbers say nothing about CLIP."
        )
    items += template_limit(m)
    items += label_noise(m, (ev.get("recommendation") or {}).get("candidate"))
    image = m.get("explanations", {}).get("image", {})
    if image.get("stability") and not image["stability"].get("reached"):
        items.append(
            "The photo explanations did not reach the stability threshold: read their top "
            "superpixels as indicative only."
        )
    return items


# --------------------------------------------------------------------------- the note's title
TITLE_BOTH = (
    "Classifying e-commerce product photos: CLIP against a VGG16 baseline, and what to deploy"
)
RAN_WORDS = {"text": "text", "image": "classical pixels", "image+text": "text and photo"}


def _ran(m: dict) -> list[str]:
    features = m.get("features") or {}
    skipped = features.get("skipped") or {}
    names = features.get("models") or list((m.get("evaluation") or {}).get("table") or {})
    return [n for n in names if n not in skipped]


def title(m: dict) -> str:
    """The note's title: the question this run can answer. The original note's (CLIP against
    VGG16) only when both its heads ran; on stand-in weights, a check of that pipeline; when no
    pretrained photo encoder ran, what the candidates that did run read, and that the CLIP
    question needs the weights; with one of the two encoders, that the comparison needs both."""
    from ...core.runs import run_stand_ins
    from ...models.candidates import HEADLINE, encoder_kinds

    ran = _ran(m)
    if not ran:
        return TITLE_BOTH
    kinds = encoder_kinds(ran)
    if run_stand_ins(m) and kinds:
        return (
            "Classifying e-commerce product photos: the CLIP against VGG16 pipeline, run on "
            "stand-in weights (its numbers answer nothing)"
        )
    if all(h in ran for h in HEADLINE):
        return TITLE_BOTH
    if not kinds:
        reads = (m.get("evaluation") or {}).get("reads") or {}
        what = listing(
            dict.fromkeys(RAN_WORDS.get(reads.get(n), "their inputs") for n in ran if n in reads)
        )
        return (
            f"What this catalogue's {what or 'product data'} give; the CLIP question needs the "
            "pretrained weights"
        )
    names = {"clip": "CLIP", "vgg16": "VGG16"}
    have = listing(names[k] for k in sorted(kinds))
    return (
        f"Classifying e-commerce product photos with {have} and the other candidates that ran; "
        "CLIP against VGG16 needs both pretrained encoders"
    )


# --------------------------------------------------------------------------- the note's sections
QUESTION = (
    "**The question.** Does a frozen CLIP encoder with a small head classify these product photos "
    "better than the classic VGG16 transfer-learning baseline, and what should a team deploy?"
)


def question_part(m: dict) -> str:
    """Which part of the question this run answers: both, only what to deploy among the
    candidates that ran, or neither (the bundled sample, a subsample, stand-in weights)."""
    from ...models.candidates import HEADLINE, encoder_kinds

    ev, rec = m.get("evaluation") or {}, _choice(m)
    if not ev:
        return "**What this run answers.** Nothing yet: notebook 05 did not evaluate any candidate."
    caveat = rec.get("caveat")
    if caveat in ("sample", "subsample", "stand-ins only"):
        why = {
            "sample": "it reads the bundled sample",
            "subsample": "it reads a subsample",
            "stand-ins only": "its encoders have stand-in weights",
        }[caveat]
        return (
            f"**What this run answers.** Neither part: {why}, so it checks that every step runs "
            "and that the report is written from its records."
        )
    headline = [n for n in HEADLINE if n in ev.get("table", {}) and n not in ev.get("stand_in", [])]
    run = len(ev.get("table", {}))
    if len(headline) == len(HEADLINE) and not caveat:
        return (
            "**What this run answers.** Both parts: whether CLIP beats VGG16 (both heads ran on "
            f"pretrained weights) and what to deploy among the {plural(run, 'candidate')} that "
            "ran."
        )
    if len(headline) == len(HEADLINE):
        return (
            "**What this run answers.** The first part, CLIP against VGG16 (both heads ran on "
            "pretrained weights); what to deploy stays provisional, for the reason below."
        )
    ran = _ran(m)
    if not encoder_kinds(ran):
        reads = ev.get("reads") or {}
        what = listing(
            f"`{n}` ({RAN_WORDS.get(reads.get(n), 'its inputs')})" for n in ran if n in reads
        )
        return (
            f"**What this run answers.** What {what} give on this catalogue, and which is best on "
            "validation. Not the note's question below: no pretrained photo encoder ran, so "
            "whether CLIP beats VGG16 is not answered here, and no number below is CLIP's or "
            "VGG16's; the note's list of what did not run (at its end) says which weights to "
            "download."
        )
    return (
        f"**What this run answers.** Neither part fully: it names the best of the "
        f"{plural(run, 'candidate')} that ran, but the photo question (CLIP against VGG16) and a "
        "deployment answer need the pretrained weights the note's list of what did not run names "
        "(at its end)."
    )


def _against_claims(low: float, high: float) -> list[str]:
    """Where an interval lies against each of the original note's accuracy claims, read with
    the tolerance its "about" is given (``decision.ORIGINAL``)."""
    from ...evaluation.decision import ORIGINAL

    found = []
    for c in (c for c in ORIGINAL.values() if "value" in c):
        lo, hi = c["value"] - c["tolerance"], c["value"] + c["tolerance"]
        where = "lies above" if low > hi else "lies below" if high < lo else "overlaps"
        found.append(
            f"{where} the {c['claim'].split(':')[0]}'s ({c['note']}, read as "
            f"{pct(lo, 0)}–{pct(hi, 0)})"
        )
    return found


def against_original(m: dict) -> str:
    """The chosen candidate's test accuracy beside the original note's accuracy claims, with its
    interval, and the run's best photo candidate beside them when the chosen one reads no photo
    (the claims are about photos); what the descriptions are worth, measured (the same test
    products with the descriptions removed); what a team can take from it."""
    ev, rec = m.get("evaluation") or {}, _choice(m)
    if not rec or rec.get("caveat") in ("sample", "subsample", "stand-ins only"):
        return ""  # nothing here to set beside the note's claims (question_part says why)
    name, low, high = rec["candidate"], rec["test_low"], rec["test_high"]
    reads = ev.get("reads", {})
    if reads.get(name) == "image":
        text = (
            f"**Against the original note.** {upper_first(called(m))}, which reads the "
            f"photo, reaches {interval(rec['test_accuracy'], low, high)} on this split: its "
            f"interval {listing(_against_claims(low, high))} accuracy claim."
        )
    else:  # the claims are about photos: a text candidate is never set against them
        text = (
            f"**Against the original note.** Its claims are about photos; {called(m)} reads the "
            f"{READS_WORDS.get(reads.get(name), '')} ({interval(rec['test_accuracy'], low, high)}"
            " on this split), so it is not set against them."
        )
        table, stand = ev.get("table", {}), set(ev.get("stand_in") or [])
        photo = [n for n, r in reads.items() if r == "image" and n not in stand and n in table]
        text += " "
        if photo:
            best = max(photo, key=lambda n: table[n]["accuracy"])
            t = table[best]
            text += (
                f"The best photo candidate of this run, {best}, reaches "
                f"{interval(t['accuracy'], t['accuracy_low'], t['accuracy_high'])}: its interval "
                f"{listing(_against_claims(t['accuracy_low'], t['accuracy_high']))} claim "
                "(the note's numbers come from another split)."
            )
    missing = (ev.get("missing_descriptions") or {}).get(name)
    if missing:
        acc = interval(missing["accuracy"], missing["accuracy_low"], missing["accuracy_high"])
        lo, hi = missing["difference_low"], missing["difference_high"]
        drop = points_interval(missing["difference"], lo, hi)
        resolved = "resolved" if hi < 0 or lo > 0 else "not resolved: the interval includes zero"
        text += (
            f" Without the product descriptions (the same test products, the name alone) "
            f"{name} gets "
            f"{acc}, {drop} against the full text ({resolved}). For a team: on a catalogue "
            "written like this one, the product text carries the category"
            + (
                f"; the name alone may cost up to {100 * abs(lo):.1f} points, a loss this split "
                "cannot rule out"
                if lo <= 0 <= hi
                else ""
            )
            + ". Whether photos help where the text is poor is not measured here; to measure it, "
            "score the photo and fusion candidates on such products (the catalogue's products "
            "without a usable name or description) and compare them with the text candidate, "
            "paired, product by product."
        )
    return text


def not_run_table(m: dict) -> str:
    """The candidates this run could not run: per missing encoder, which candidates need it, what
    to download and where to put it (paths relative to the project); empty when everything ran."""
    features = m.get("features") or {}
    missing, skipped = features.get("missing_weights") or {}, features.get("skipped") or {}
    if not skipped:
        return ""
    rows = {
        w["what"]: {
            "not run": listing(f"`{n}`" for n in w["candidates"]),
            "download": f"`{w['download']}`",
            "put it in": f"`{w['put_in']}`",
        }
        for w in missing.values()
    } or {"weights": {"not run": listing(f"`{n}`" for n in skipped), "download": "see notebook 03"}}
    return (
        f"**Not run here: {plural(len(skipped), 'candidate')}.** Their pretrained weights are not "
        "on this machine; put them where the table says and run `make report` again.\n\n"
        + markdown_table(pd.DataFrame(rows).T)
    )


def section_summary(m: dict) -> str:
    from ...core.runs import run_stand_ins

    ev = m.get("evaluation", {})
    stand = run_stand_ins(m)
    part = question_part(m)
    # what this run answers comes first, unless it answers the question (then the question does)
    both = part.startswith("**What this run answers.** Both parts")
    text = (QUESTION + "\n\n" + part if both else part + "\n\n" + QUESTION) + "\n\n"
    text += claims_text(ev.get("claims") or [], markdown_table)
    rec = ev.get("recommendation")
    if ev:
        text += (
            "**What to deploy.** "
            + " ".join(recommendation_lines(rec or {}, context(m)))
            + f" {_fig('headline')} sets every candidate of the run on the test split"
            + (
                ", the original note's photo claims beside the candidates that read the photo "
                "only.\n\n"
                if "image" in (ev.get("reads") or {}).values()
                else " (no candidate read the photo: the original note's photo claims are not "
                "drawn).\n\n"
            )
        )
        versus = against_original(m)
        text += versus + "\n\n" if versus else ""
        text += f"*The rule, recorded by notebook 05*: {rec['rule']}.\n\n" if rec else ""
    items = limits(m, stand)
    if items:
        text += "**The limits of this run.**\n\n" + "\n".join(f"- {i}" for i in items) + "\n\n"
    return text
