"""Every sentence of the report, written from the run's records.

The notebooks (banners, conclusions) and the note (its sections) take their words from here, and
every number in them comes from ``reports/metrics.json`` (the run's records), the figure registry or
``decision.ORIGINAL`` (the original note's claims, always labelled as the note's): the string
literals of this module hold no digit (a test reads its source to check), so a number cannot
enter the text any other way. Functions take the metrics (or one of its sections) and return
Markdown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import figures
from .decision import ORIGINAL_SETTINGS, VERDICTS
from .formatting import (
    interval,
    listing,
    ms,
    pct,
    plural,
    points,
    points_interval,
    pvalue,
    seconds,
)

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
            f"{what} could not run here: {listing(f'`{n}`' for n in skipped)} "
            f"{'needs' if len(skipped) == 1 else 'need'} weights that are not on this machine "
            "(see the banner).\n"
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


def _section(key: str) -> str:
    """``section 9``: a note section by its key (its number comes from ``note.SECTIONS``)."""
    from .note import BY_KEY

    return "section " + BY_KEY[key].title.split(".")[0]


def _fig(key: str) -> str:
    return figures.get(key).label


def _alpha(ev: dict) -> float:
    return 1 - ev.get("intervals", {}).get("level", 1 - ev.get("alpha", 0))


def _level(ev: dict) -> str:
    return pct(ev.get("intervals", {}).get("level", np.nan), 0)


def _n_classes(m: dict) -> int:
    return len(m.get("evaluation", {}).get("classes") or m.get("data", {}).get("categories", {}))


# --------------------------------------------------------------------------- banners
def stand_in_warning(stand: dict[str, str], real: list[str] | None = None) -> str:
    """The stand-in sentence of banners and note sections (empty when every encoder is real)."""
    if not stand:
        return ""
    names = {"clip": "CLIP", "vgg16": "VGG16"}
    what = "; ".join(f"{names.get(k, k)}: {v}" for k, v in stand.items())
    text = (
        f"**Stand-in weights** ({what}). Every number that reads "
        f"{('this encoder', 'these encoders')[len(stand) > 1]} is a stand-in "
        "for timing and plumbing and says nothing about CLIP or VGG16."
    )
    if real:
        text += f" Numbers of {listing(real)}, which read no encoder, are real."
    return text


def banner(number: str, metrics: dict, stand: dict[str, str], names: list[str] | None) -> str:
    """A notebook's first output: stand-in weights, subsample, what was not run, a CLIP that does
    not behave like a pretrained one. Empty when there is nothing to warn about."""
    from .candidates import encoder_kinds

    lines = []
    real = [n for n in (names or []) if not encoder_kinds([n])]
    if stand:
        lines.append(stand_in_warning(stand, real))
    data = metrics.get("data", {})
    if data.get("dataset") == "sample":
        lines.append(
            f"**Data: {data['source']}.** This run checks the pipeline; its numbers support no "
            "conclusion about the catalog."
        )
    split = metrics.get("split", {})
    if split.get("max_per_category") and number not in ("01",):
        lines.append(subsample_sentence(split, metrics.get("data", {})))
    skipped = metrics.get("features", {}).get("skipped") or {}
    if skipped:
        lines.append(not_run_text(skipped))
    check = metrics.get("features", {}).get("pretrained_check")
    if check and check.get("warning"):
        lines.append(pretrained_warning(check))
    return "\n\n".join(f"> {line}" for line in lines if line)


def subsample_sentence(split: dict, data: dict) -> str:
    usable = data.get("usable")
    of = f" of the {usable} usable ones" if usable else ""
    return (
        f"**Subsample.** This run keeps at most {split['max_per_category']} photos per category "
        f"(`max_per_category`): {split['images']} photos{of}."
    )


def not_run_text(skipped: dict[str, str]) -> str:
    """The candidates this run could not run, grouped by the reason (what to download, where)."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped.items():
        by_reason.setdefault(why, []).append(f"`{name}`")
    items = " ".join(f"{listing(names)}: {why}" for why, names in by_reason.items())
    return (
        f"**Not run: {plural(len(skipped), 'candidate')} whose weights are not on this machine.** "
        + items
    )


def _check_facts(check: dict) -> str:
    return (
        f"`{check.get('model', '?')}` names {check['correct']} of the {check['images']} validation "
        f"photos correctly with the category prompts, zero-shot: {pct(check['accuracy'])} (Wilson "
        f"CI {pct(check['ci_low'])}–{pct(check['ci_high'])}), against {pct(check['chance'])} by "
        f"chance (one-sided binomial {_p_is(check['p_value'])}; temperature "
        f"{check['temperature']:.3g}, {check.get('temperature_source', 'the checkpoint')})"
    )


def pretrained_warning(check: dict) -> str:
    """The warning of banners and the note when the loaded CLIP is far from pretrained behaviour."""
    why = {
        "chance": "indistinguishable from chance: random or tiny weights, or a wrong or damaged "
        "model folder",
        "weak": f"above chance but entirely below {pct(check.get('floor', np.nan), 0)}, far from "
        "a pretrained CLIP on these categories: check clip_model (a wrong folder, another model, "
        "a damaged checkpoint)",
    }.get(check.get("verdict"), "far from a pretrained CLIP")
    return (
        f"**The loaded CLIP does not behave like a pretrained one.** {_check_facts(check)}: {why}. "
        "Every CLIP number of this run says nothing about CLIP."
    )


def pretrained_sentence(check: dict) -> str:
    """Notebook 03's reading of the pretrained-behaviour check."""
    if not check:
        return ""
    if check.get("warning"):
        return pretrained_warning(check)
    return f"{_check_facts(check)}: it behaves like a pretrained CLIP."


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
    from .runs import stand_ins

    ev = evaluation if evaluation is not None else m.get("evaluation", {})
    return {
        "classes": len(ev.get("classes") or m.get("data", {}).get("categories", {})),
        "stand": bool(stand_ins(m.get("run", {}).get("weights") or {})),
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
    from .note import markdown_table

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
    from .runs import stand_ins

    ev = m.get("evaluation", {})
    stand = stand_ins(m.get("run", {}).get("weights") or {})
    text = (
        "**The question.** Does a frozen CLIP encoder with a small head classify these product "
        "photos better than the classic VGG16 transfer-learning baseline, and what should a team "
        "deploy?\n\n"
    )
    from .note import markdown_table

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


def section_data(m: dict) -> str:
    d = m.get("data")
    if not d:
        return "Notebook 01 did not record the data in this run.\n"
    cats = d["categories"]
    status = ", ".join(f"{k}: {v}" for k, v in d["status"].items() if k != "ok" and v) or "none"
    text = f"The data: {d['source']}. " if d.get("source") else ""
    sizes = (
        f"{min(cats.values())} photos each"
        if min(cats.values()) == max(cats.values())
        else f"{min(cats.values())} to {max(cats.values())} photos"
    )
    text += (
        f"The catalog has {d['rows']} products; at category level {d['category_level']} they fall "
        f"into {plural(len(cats), 'usable category', 'usable categories')} of {sizes} "
        f"({_fig('categories')}, {_fig('examples')}). {d['usable']} photos are usable; "
        f"{d['rows'] - d['usable']} rows are excluded and listed in notebook 01 ({status})."
    )
    if d.get("rare_categories"):
        text += (
            f" {len(d['rare_categories'])} categories have fewer than {d['min_per_category']} "
            "usable images and are excluded as too small to split."
        )
    text += (
        f" Perceptual hashing finds {plural(d['duplicate_groups'], 'group')} of near-identical "
        f"photos ({d['duplicate_images']} images, {_fig('near_duplicates')}), and TF-IDF "
        f"{plural(d['text_groups'], 'group')} of near-identical descriptions "
        f"({d['text_group_images']} products, cosine ≥ {d['text_threshold']:g})"
        + (f", e.g. {d['text_group_example']}." if d["text_groups"] else ".")
    )
    return text + "\n"


def section_clip(m: dict) -> str:
    ev = m.get("evaluation", {})
    check = m.get("features", {}).get("pretrained_check")
    text = ""
    if check:
        text += (
            "Before any training, notebook 03 checked the loaded CLIP: "
            + (pretrained_warning(check) if check.get("warning") else pretrained_sentence(check))
            + " "
        )
    t = ev.get("table", {})
    if "clip-zeroshot" not in t:
        return text + _absent(m, ["clip-zeroshot"], "Zero-shot CLIP")
    zs, z = ev.get("zeroshot") or {}, t["clip-zeroshot"]
    text += (
        f"CLIP embeds photos and texts in one space ({_fig('similarity')}). Classifying without "
        f"a single labelled photo, by the cosine similarity of each photo to the category names "
        f"put in {len(zs.get('prompts', []))} prompt templates (averaged, as in the CLIP paper"
        + (
            f"; temperature {zs['temperature']:.3g}, the checkpoint's"
            if zs.get("temperature")
            else ""
        )
        + f"), gives {interval(z['accuracy'], z['accuracy_low'], z['accuracy_high'])} test "
        f"accuracy on the {int(z['n_test'])} test photos; chance is {pct(1 / _n_classes(m))}."
    )
    photo = [n for n, r in ev.get("reads", {}).items() if r == "image" and n != "clip-zeroshot"]
    if photo:
        best = max(photo, key=lambda n: t[n]["accuracy"])
        b = t[best]
        text += (
            f" Among the supervised candidates that also read only the photo "
            f"({_fig('zeroshot')}), {best} reaches "
            f"{interval(b['accuracy'], b['accuracy_low'], b['accuracy_high'])} with "
            f"{ev['labelled'].get(best, 0)} labelled products."
        )
    return text + "\n"


def section_split(m: dict) -> str:
    s = m.get("split")
    if not s:
        return ""
    from .note import markdown_table

    text = ""
    if s.get("max_per_category"):
        text += subsample_sentence(s, m.get("data", {})) + " "
    text += (
        f"The {s['images']} photos are split {s['fractions']} (training / validation / test) "
        f"with seed {s['seed']}, stratified by category ({_fig('split')}). Two rows are kept on "
        f"the same side when their photos are near-identical (hashes within "
        f"{s['max_distance']} bits) or their descriptions are (TF-IDF cosine ≥ "
        f"{s['text_threshold']:g}), transitively: {s['groups']} groups of two or more rows"
        + (" among these photos" if s.get("max_per_category") else "")
        + f", {s['groups_straddling']} straddling two parts. Nothing is chosen on the test "
        "part: notebook 05 evaluates on it and notebook 06 explains some of its products. The "
        f"split is also saved as a Hugging Face `DatasetDict` (`{s['datasets_path']}`).\n\n"
    )
    text += markdown_table(pd.DataFrame(s["counts"])) + "\n"
    tr = m.get("training", {})
    enc = m.get("features", {}).get("encoders", {})
    lines = []
    for name in ("clip-head", "vgg16-head"):
        cfg = tr.get("configs", {}).get(name)
        if cfg:
            kind = name.split("-")[0]
            e = enc.get(kind, {})
            lines.append(
                f"- **{name}**: frozen {kind} encoder (`{e.get('name', '?')}`, "
                f"{e.get('parameters', 0):,} parameters, {e.get('dim', '?')}-d features), then "
                f"{cfg['description']}."
            )
    if lines:
        text += (
            f"Both encoders are frozen; only a small head is trained on their cached features "
            f"({_fig('architecture')}; {_fig('feature_space')} maps the features):\n\n"
            + "\n".join(lines)
            + "\n"
        )
    decode = m.get("features", {}).get("decode")
    if decode:
        text += "\n" + decode_sentence(decode) + "\n"
    return text


def decode_sentence(decode: dict) -> str:
    """How photos are decoded, and how far that input is from the reference pipelines'."""
    size = decode.get("min_side")
    what = (
        "in full"
        if not size
        else f"at a reduced size where the file is large (JPEG draft mode, both sides kept at "
        f"{size} px or more; smaller photos in full)"
    )
    text = f"Photos are decoded {what} before each encoder's own resize and crop"
    parity = decode.get("parity") or {}
    if parity:
        text += (
            "; against the reference pipeline on a full decode, the normalised input differs by "
            + listing(
                f"{k}: {pct(v['rel_l2_median'], 2)} median and {pct(v['rel_l2_p95'], 2)} at the "
                f"95th percentile (relative L2, {int(v['images'])} photos)"
                for k, v in parity.items()
            )
        )
    return text + "."


def section_loss(m: dict) -> str:
    ll = m.get("evaluation", {}).get("log_loss")
    c = _n_classes(m)
    text = (
        "The note's heads minimise the cross-entropy, −log of the probability given to the true "
        "class"
        + (f"; a uniform guess over {c} categories costs ln {c} = {np.log(c):.3f}." if c else ".")
    )
    if ll:
        uniform = np.log(c) if c else np.nan
        side = "below" if ll["mean"] < uniform else "above"
        text += (
            f" On the test split, {ll['candidate']}'s mean loss is {ll['mean']:.3f} (median "
            f"{ll['median']:.3f}), {side} the uniform guess"
            + ("" if side == "below" else ": it has learned nothing a guess would not give")
            + f"; {ll['confident_errors']} of {ll['images']} test products get less than "
            f"{pct(ll.get('confident_threshold', np.nan), 0)} on their true class "
            f"({_fig('log_loss')})."
        )
    return text + "\n"


def section_optimiser(m: dict) -> str:
    from .note import markdown_table

    tr = m.get("training", {})
    opt = tr.get("optimizers")
    text = ""
    if opt:
        ranked = sorted(opt["chosen"].items(), key=lambda kv: kv[1]["best_val_loss"])
        text += (
            "The note chose Adam. The same head, data and seed with each optimiser, its learning "
            "rate chosen on validation among "
            + "; ".join(f"{k}: {', '.join(f'{r:g}' for r in v)}" for k, v in opt["grid"].items())
            + f" ({_fig('optimizers')}): "
            + "; ".join(
                f"{k} (lr {v['lr']:g}) reaches a validation loss of {v['best_val_loss']:.3f} at "
                f"epoch {v['best_epoch']}"
                for k, v in ranked
            )
            + ".\n\n"
        )
    else:
        text += _absent(m, ["clip-head"], "The optimiser comparison (on clip-head)") + "\n"
    summ = tr.get("summary", {})
    if summ:
        shown = pd.DataFrame(summ).T
        table = pd.DataFrame(
            {
                "kept (chosen on validation)": shown["chosen"],
                "validation accuracy": [pct(v) for v in shown["val_accuracy"]],
                "labelled (train + val)": shown["labelled (train + val)"],
                "training time": [
                    seconds(v) if v == v and v is not None else "—" for v in shown["train_seconds"]
                ],
            }
        )
        curves = (
            f" ({_fig('learning_curves')} shows the heads' curves)" if tr.get("history") else ""
        )
        text += (
            f"What each candidate kept, chosen on the validation split only{curves}:\n\n"
            + markdown_table(_marked(table, m))
            + _dagger_note(m)
        )
    return text


def section_results(m: dict) -> str:
    from .note import markdown_table

    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t, iv = ev["table"], ev["intervals"]
    exact = [n for n, r in t.items() if str(r.get("accuracy_interval", "")).startswith("Clopper")]
    text = (
        f"Intervals: {iv['method']}, {_level(ev)}, {iv['resamples']} resamples over "
        f"{ev['test_groups']} groups of the {ev['n_test']} test products"
        + (
            f"; for {listing(exact)}, right on all or none of them, every resample agrees, and "
            "the accuracy interval is the exact binomial (Clopper-Pearson) one instead"
            if exact
            else ""
        )
        + ".\n\n"
    )
    names = [n for n in ev["headline"] if n in t]
    rep = ev.get("repeats", {}).get("summary", {})
    if not names:
        text += headline(ev) + "\n\n"
    if names:
        rows = {}
        for n in names:
            rows[n] = {
                "accuracy (CI)": interval(
                    t[n]["accuracy"], t[n]["accuracy_low"], t[n]["accuracy_high"]
                ),
                "macro-F1 (CI)": interval(
                    t[n]["macro_f1"], t[n]["macro_f1_low"], t[n]["macro_f1_high"], percent=False
                ),
                "per product": ms(ev["costs"][n]["inference_s_per_item"]),
            }
            if n in rep:
                rows[n][f"mean ± SD over {ev['repeats']['n_splits']} other splits"] = (
                    f"{pct(rep[n]['mean'])} ± {pct(rep[n]['std'])}"
                )
        text += (
            markdown_table(_marked(pd.DataFrame(rows).T, m))
            + _dagger_note(m)
            + headline(ev)
            + "\n\n"
        )
    text += errors_text(ev)
    return text


def headline(ev: dict) -> str:
    """The note's comparison, CLIP head against VGG16 head, from the paired numbers."""
    a, b = ev["headline"]
    t, rep = ev["table"], ev.get("repeats", {})
    pair = ev["paired"].get(b)
    if pair is None or a not in t or b not in t:
        missing = [n for n in (a, b) if n not in t]
        return (
            f"The note's comparison of {a} and {b} is not in this run: {listing(missing)} did not "
            f"run (the panel in {_section('beyond')} has what did)."
        )
    mc = pair["mcnemar"]
    diff, lo, hi = -pair["accuracy_difference"], -pair["difference_high"], -pair["difference_low"]
    alpha = _alpha(ev)
    significant = mc["p_value"] < alpha
    excludes = lo > 0 or hi < 0
    text = (
        f"{a} minus {b}: {points(diff)} points, paired {_level(ev)} interval {points(lo)} to "
        f"{points(hi)}. "
        f"{a} alone is right on {mc['a_wrong_b_right']} test products, {b} alone on "
        f"{mc['a_right_b_wrong']}; McNemar's exact test gives {_p_is(mc['p_value'])}. "
    )
    if rep and a in rep.get("summary", {}) and b in rep.get("summary", {}):
        w = rep["versus_reference"].get(b, {})
        text += (
            f"On {rep['n_splits']} other group-aware splits, {a} is ahead on {w.get('behind', 0)}, "
            f"level on {w.get('tied', 0)} and behind on {w.get('ahead', 0)}. "
        )
    better, worse = (a, b) if diff > 0 else (b, a)
    if diff == 0 and not excludes:
        text += f"On this data, the test split cannot tell {a} and {b} apart."
    elif significant and excludes:
        text += f"On this data, {better} beats {worse}."
    elif significant or excludes:
        text += (
            f"On this data, {better} is ahead of {worse}, but the test and the interval "
            "disagree on whether the gap is larger than chance: suggestive only."
        )
    else:
        text += f"On this data, the test split cannot tell {better} and {worse} apart."
    return text


def errors_text(ev: dict) -> str:
    err = ev.get("errors")
    if not err:
        return ""
    parts = []
    for name, e in err["models"].items():
        pairs = e.get("most_confused", [])
        s = f"{name} gets {e['errors']} of {ev['n_test']} test products wrong"
        if pairs:
            s += f"; most confused ({_fig('confusion')}): " + listing(
                f"{p['true']} taken for {p['predicted']} ({p['count']})" for p in pairs
            )
        parts.append(s)
    return f"{'. '.join(parts)}; the most confident errors are shown in {_fig('errors')}.\n"


def section_explanations(m: dict) -> str:
    ex = m.get("explanations", {}).get("image", {})
    if not ex:
        return "Notebook 06 did not explain a photo candidate in this run.\n"
    if ex.get("skipped"):
        return ex["skipped"] + "\n"
    st = ex["settings"]
    text = "### Local importance: LIME and SHAP\n\n"
    text += (
        f"LIME explains {ex['candidate']} as a whole (pixels → encoder → classifier) on "
        f"{st['segmentation'].upper()} superpixels ({st['n_segments']} asked for; the examples "
        f"below have {listing(str(e['superpixels']) for e in ex['examples'])}), each perturbed "
        f"copy through the encoder, hidden superpixels filled with "
        f"{fill_words(st.get('hide_color'))}. {_fig('lime')} uses {ex['lime_samples']} perturbed "
        "copies per image ("
        + (
            "the smallest count the stability check found stable"
            if ex["stability"]["reached"]
            else "the largest count tried: none reached the stability threshold"
        )
        + f"), beside the {st['note_samples']} copies of `num_samples`"
        + (
            " (the original note's setting). "
            if st["note_samples"] == ORIGINAL_SETTINGS["lime_samples"]
            else f" (the original note used {ORIGINAL_SETTINGS['lime_samples']}). "
        )
    )
    for e in ex["examples"]:
        text += (
            f"The {e['true']} example ({e['product'][:60].strip()}) is predicted {e['predicted']} "
            f"with p = {e['probability']:.2f} ({e['superpixels']} superpixels; LIME surrogate R² "
            f"{e['r2_note']:.2f} at {st['note_samples']} copies, {e['r2']:.2f} at "
            f"{ex['lime_samples']}). "
        )
    r2 = ex.get("r2")
    if r2:
        few = any(ex["lime_samples"] <= e["superpixels"] for e in ex["examples"])
        text += (
            f"Over the {r2['explanations']} LIME explanations of the figures the surrogate's R² "
            f"has median {r2['median']:.2f} (range {r2['min']:.2f}–{r2['max']:.2f}); "
            + (
                "with no more perturbed copies than superpixels, the linear surrogate can fit "
                "its own samples exactly, so R² says nothing here. "
                if few
                else "a linear surrogate fitted on its own samples, R² is a ceiling on fidelity, "
                "not a measure of it. "
            )
        )
    if ex.get("lime_seconds_per_image"):
        text += (
            f"SHAP ({_fig('shap')}: Partition explainer, {ex.get('shap', {}).get('masker', 'blur')}"
            f", {st.get('shap_max_evals', '?')} evaluations per image) explains one image per "
            "category. One "
            f"LIME explanation took {seconds(ex['lime_seconds_per_image'])} and one SHAP "
            f"explanation {seconds(ex['shap_seconds_per_image'])}."
        )
    text += "\n\n### Global importance per category\n\n" + global_text(ex)
    text += (
        "\n\n### How far to trust them\n\n" + explanation_verdict(ex) + (f" ({_fig('trust')}.)\n")
    )
    return text


def image_study_intro(name: str, n_test: int, correct: int, kernels: str) -> str:
    return (
        f"Explaining **{name}** on the {n_test} test products, {correct} of them correctly "
        f"classified (explanation passes: {kernels})."
    )


def fill_words(hide_color) -> str:
    return "each superpixel's mean colour" if hide_color is None else f"grey level {hide_color}"


def global_text(ex: dict) -> str:
    g = ex["global"]
    only = ex["settings"].get("only_correct")
    correct = ex.get("global_correct", {})
    which = (
        "correctly classified test images only"
        if only
        else "test images of each category, correctly classified ones first (`only_correct` is "
        "off), each explained for the class the model predicted"
    )
    text = (
        f"Each panel of {_fig('global_importance')} averages, pixel by pixel, the LIME maps "
        f"(scaled to [−1, 1]) of up to {ex['settings']['global_per_category']} {which}: "
        + ", ".join(
            f"{c} ({n}" + (f", {correct[c]} correct" if not only and c in correct else "") + ")"
            for c, n in g.items()
        )
        + f". {_fig('averaging')} shows how one panel is made. Averaging pixel by pixel assumes "
        "centred products photographed alike; where framing varies the average fades towards zero."
    )
    if not only and correct and sum(correct.values()) == 0:
        text += (
            " None of the averaged images is correctly classified here: the maps show what "
            "drives wrong predictions, not what characterises a category."
        )
    if ex.get("global_left_out"):
        text += f" Categories not drawn: {', '.join(ex['global_left_out'])}."
    return text


def explanation_verdict(summary: dict) -> str:
    """Plain-language reading of the photo explanations' stability and faithfulness."""
    st = summary["stability"]
    k, thr = summary["settings"]["top_k"], summary["stability_threshold"]
    medians = st["median_jaccard"]
    counts = sorted(medians, key=int)
    cats = len(st["categories"])
    parts = [
        f"Across {len(st['seeds'])} LIME seeds on {plural(st['images'], 'image')} from "
        f"{plural(cats, 'category', 'categories')}, the median top-{k} superpixel overlap is "
        + ", ".join(f"{medians[c]:.2f} at {c} copies" for c in counts)
        + "."
    ]
    chosen, note = summary["lime_samples"], summary["settings"]["note_samples"]
    if st["reached"]:
        parts.append(
            f"The figures use {chosen} perturbed copies, the smallest count whose median overlap "
            f"reaches {thr:g}"
            + (
                " (the setting of `num_samples`)."
                if chosen == note
                else f"; the {note} copies of `num_samples` stay beside them in {_fig('lime')}."
            )
        )
    else:
        parts.append(
            f"No count reached a median overlap of {thr:g}: the figures use the largest, {chosen}, "
            "and their top superpixels should be read as indicative only."
        )
    parts += faithfulness_words(summary["deletion"], "superpixels", _alpha(summary), "images")
    agree = summary.get("agreement")
    if agree:
        parts.append(
            f"On {agree['agree']} of {agree['images']} explained images the prediction on the "
            f"explained pixels equals the evaluated prediction ({pct(agree['rate'], 0)})."
        )
    return " ".join(parts)


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


def improvements_text(evaluation: dict, training: dict) -> str:
    """The improvements' verdicts (notebook 05), as the note's section writes them."""
    return section_improvements({"evaluation": evaluation, "training": training})


def precision_sentence(check: dict) -> str:
    """The bfloat16 check of notebook 03 (empty when every encoder runs in float32)."""
    if not check:
        return "Every encoder runs in float32 here."
    return (
        "bfloat16 against float32: "
        + "; ".join(
            f"{k}: embedding cosine {v['cosine_min']:.5f} at worst, {v['cosine_median']:.5f} "
            "median, "
            f"on {v['images']} photos"
            for k, v in check.items()
        )
        + " (notebook 05 compares the heads' predictions on them)."
    )


def section_improvements(m: dict) -> str:
    from .note import markdown_table
    from .runs import stand_ins

    ev, tr = m.get("evaluation", {}), m.get("training", {})
    items = limits(m, stand_ins(m.get("run", {}).get("weights") or {}))
    text = (
        "**Limits of this study.**\n\n" + "".join(f"- {i}\n" for i in items) + "\n" if items else ""
    )
    frozen = ev.get("versus_frozen", {})
    text += (
        "**The proposed improvements.** The original note proposes fine-tuning and augmentation; "
        + (
            "both are measured here against the frozen head they extend, on the same test "
            "products.\n\n"
            if frozen
            else "this run would measure each against the frozen head it extends.\n\n"
        )
    )
    if not frozen:
        return text + _absent(
            m,
            ["clip-finetune", "vgg16-finetune", "clip-head-aug", "vgg16-head-aug"],
            "Fine-tuning and augmentation",
        )
    ft, t = tr.get("finetune", {}), ev["table"]
    text += (
        f"Fine-tuning trains the last {plural(ft.get('blocks', 0), 'block')} of the encoder with "
        "the "
        f"head (AdamW, encoder learning rate {ft.get('encoder_lr', '?')}, head "
        f"{ft.get('head_lr', '?')}) on cached activations of the frozen part; augmentation adds "
        f"{ft.get('views', '?')} views per training photo ({_fig('augmentation')}; "
        f"{_fig('finetune')} shows their training).\n\n"
    )
    rows, words = {}, {}
    for n, p in frozen.items():
        lo, hi = p["difference_low"], p["difference_high"]
        word = "better" if lo > 0 else "worse" if hi < 0 else "not resolved"
        words[n] = word
        extra = (ev["costs"].get(n, {}).get("train_seconds") or 0) - (
            ev["costs"].get(p["vs"], {}).get("train_seconds") or 0
        )
        rows[n] = {
            "accuracy (CI)": interval(
                t[n]["accuracy"], t[n]["accuracy_low"], t[n]["accuracy_high"]
            ),
            "against": p["vs"],
            "Δ accuracy (paired CI)": points_interval(p["accuracy_difference"], lo, hi),
            "McNemar p (Holm)": f"{pvalue(p['mcnemar']['p_value'])} "
            f"({pvalue(p['mcnemar'].get('holm_p'))})",
            "extra training": f"{'+' if extra >= 0 else '−'}{seconds(abs(extra))}",
            "objective": ft.get(n, {}).get("objective", "head"),
            "verdict": word,
        }
    table = pd.DataFrame(rows).T
    if table["objective"].nunique() == 1:
        table = table.drop(columns="objective")
    text += markdown_table(_marked(table, m)) + _dagger_note(m)
    counts = pd.Series(words).value_counts()
    phrase = {
        "better": "measurably better",
        "worse": "measurably worse",
        "not resolved": "not resolved (the paired interval includes zero)",
    }
    text += (
        "Read from the paired intervals: "
        + listing(f"{plural(int(v), 'change')} {phrase[k]}" for k, v in counts.items())
        + ". Not shown to help on this split is not the same as shown not to help: the upper end "
        "of each interval is the gain the data still allow.\n"
    )
    return text


def section_beyond(m: dict) -> str:
    from .note import markdown_table

    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t, paired, costs, labelled = ev["table"], ev["paired"], ev["costs"], ev["labelled"]
    ref = ev["reference"]
    rows = {}
    for n in sorted(t, key=lambda n: (-t[n]["accuracy"], n)):
        p = paired.get(n)
        rows[n] = {
            "reads": READS_WORDS.get(ev["reads"][n], ev["reads"][n]),
            "accuracy (CI)": interval(
                t[n]["accuracy"], t[n]["accuracy_low"], t[n]["accuracy_high"]
            ),
            "macro-F1": f"{t[n]['macro_f1']:.3f}",
            f"Δ vs {ref} (paired CI)": points_interval(
                p["accuracy_difference"], p["difference_low"], p["difference_high"]
            )
            if p
            else "—",
            "McNemar p (Holm)": (
                f"{pvalue(p['mcnemar']['p_value'])} ({pvalue(p['mcnemar'].get('holm_p'))})"
            )
            if p
            else "—",
            "labelled": labelled.get(n, 0),
            "per product": ms(costs[n]["inference_s_per_item"]) if n in costs else "—",
        }
    text = (
        f"Every candidate on the same test products, ranked by test accuracy: a description only "
        f"(the recommendation in the summary is chosen on validation). Paired intervals and "
        f"McNemar's test are against {ref}"
        + ("" if ref == "clip-head" else " (the reference, since the note's clip-head did not run)")
        + (
            f"; Holm-adjusted p-values, in parentheses, account for the {len(paired)} comparisons"
            if len(paired) > 1
            else "; with one comparison, Holm's adjustment leaves its p-value unchanged"
        )
        + f" ({_fig('results')}, {_fig('cost')}).\n\n"
    )
    text += markdown_table(_marked(pd.DataFrame(rows).T, m)) + _dagger_note(m)
    text += budget_text(ev)
    return text


def budget_text(ev: dict) -> str:
    from .note import markdown_table

    lb = ev.get("label_budget")
    if not lb or not lb.get("summary"):
        return ""
    frame = pd.DataFrame(lb["summary"])
    table = frame.pivot_table(index="candidate", columns="k", values="mean", sort=False)
    ks = [k for k in lb["ks"] if k in table.columns]
    labels = frame.groupby("k")["labelled"].max().to_dict() if "labelled" in frame else {}
    table = table[ks]
    table.columns = [f"k = {k}" + (f" ({labels[k]:.0f} labels)" if k in labels else "") for k in ks]
    text = (
        f"\n{_fig('label_budget')} refits {listing(lb['candidates'])} with k labelled products per "
        "category for training and up to k more, from the validation split, for choosing their "
        f"settings (all: the whole training and validation parts); {lb['draws']} random draws per "
        "k; the test accuracy is the mean over the draws, and the column says how many labelled "
        "products each refit read in all:\n\n" + markdown_table(table.map(pct)) + "\n"
    )
    return text


SECTION_WRITERS = {
    "summary": section_summary,
    "data": section_data,
    "clip": section_clip,
    "split": section_split,
    "loss": section_loss,
    "optimiser": section_optimiser,
    "results": section_results,
    "explanations": section_explanations,
    "improvements": section_improvements,
    "beyond": section_beyond,
}


# --------------------------------------------------------------------------- what the recommended
# model looks at
def _agreement_word(rho: float) -> str:
    if rho >= 0.7:
        return "closely"
    if rho >= 0.4:
        return "moderately"
    if rho > 0.1:
        return "weakly"
    return "not"


def text_verdict(summary: dict, alpha: float = 0.05) -> str:
    """Plain-language reading of the word explanations' checks and of the fusions' photo/text
    split (notebook 06, the note): one paragraph per candidate."""
    return "\n\n".join(text_verdicts(summary, alpha))


def text_verdicts(summary: dict, alpha: float = 0.05) -> list[str]:
    from .explain_text import reads

    paragraphs = []
    for name, s in summary.get("text", {}).items():
        parts = []
        paragraphs.append(parts)
        st = s["stability"]
        k, thr = st["settings"]["top_k"], st["settings"]["threshold"]
        medians = st["median_jaccard"]
        counts = sorted(medians, key=int)
        parts.append(
            f"**{name}** (reads the {reads(name)}): across {len(st['settings']['seeds'])} LIME "
            f"seeds on {plural(len(st['products']), 'product')} from "
            f"{plural(len(st['categories']), 'category', 'categories')}, the median top-{k} word "
            "overlap is " + ", ".join(f"{medians[c]:.2f} at {c} copies" for c in counts) + "."
        )
        if st["reached"]:
            parts.append(
                f"The word figures use {st['chosen']} perturbed copies, the smallest count whose "
                f"median overlap reaches {thr:g}."
            )
        else:
            parts.append(
                f"No count reached a median overlap of {thr:g}: the word figures use the largest, "
                f"{st['chosen']}, and their top words should be read as indicative only."
            )
        parts += faithfulness_words(s["deletion"], "words", alpha, "products")
        co = s.get("coefficients")
        if co and co["overall"]["spearman"] is not None:
            rhos = [v["spearman"] for v in co["per_category"].values() if v["spearman"] is not None]
            rho = co["overall"]["spearman"]
            span = f" (per category {min(rhos):.2f} to {max(rhos):.2f})" if rhos else ""
            parts.append(
                f"LIME's per-category word averages agree {_agreement_word(rho)} with the logistic "
                f"regression's own coefficients, which are exact for this model: Spearman "
                f"{rho:.2f} over {co['overall']['pairs']} (category, word) pairs{span}."
            )
            floor = co.get("noise_floor") or {}
            if floor.get("unread_mean_abs_weight") is not None and floor.get("read_words"):
                parts.append(
                    f"Words it cannot read (outside its vocabulary) still get a mean |weight| of "
                    f"{floor['unread_mean_abs_weight']:.4f}, against "
                    f"{floor['read_mean_abs_weight']:.4f} for the words it reads: LIME's noise "
                    "floor."
                )
        err = s.get("errors")
        if err:
            line = f"It misclassifies {err['misclassified']} of {err['tested']} test products"
            right = sorted((err.get("photo_right") or {}).items(), key=lambda kv: -kv[1])
            if err["misclassified"] and right:
                best = [(n, v) for n, v in right[: len(right[:3])] if v]
                line += (
                    (
                        "; on those, the photo candidates right most often are "
                        + listing(f"{n} ({v})" for n, v in best)
                        if len(right) > 1
                        else f"; {best[0][0]}, the only photo candidate, gets {best[0][1]} of "
                        "them right"
                    )
                    if best
                    else "; no photo candidate gets any of them right"
                )
            parts.append(line + ".")
        t = s.get("timing")
        if t and t.get("median_seconds") is not None:
            parts.append(
                f"One explanation takes {seconds(t['median_seconds'])} (median over "
                f"{plural(t['products'], 'product')}, at most {seconds(t['max_seconds'])}) at "
                f"{t['num_samples']} copies."
            )
    for name, f in summary.get("fusion", {}).items():
        parts = []
        paragraphs.append(parts)
        per = f["per_category"]
        lo = min(per, key=lambda c: per[c]["photo_share"]) if per else None
        hi = max(per, key=lambda c: per[c]["photo_share"]) if per else None
        d = f["disagreements"]
        line = (
            f"**{name}** ({f['method']}): on {f['products']} test products the photo carries "
            f"{pct(f['photo_share'], 0)} of the decision on average"
        )
        if lo is not None and lo != hi:
            line += (
                f", from {pct(per[lo]['photo_share'], 0)} ({lo}) to "
                f"{pct(per[hi]['photo_share'], 0)} ({hi})"
            )
        w = f.get("settings", {}).get("weight")
        if w in (0, 1):
            line += (
                f". Its validation chose w = {w:g}: it is {d['sides'][1 - int(w)]} alone, the "
                f"{('photo', 'text')[int(w)]} is ignored"
            )
        line += (
            f". The photo side ({d['sides'][0]}) and the text side ({d['sides'][1]}) disagree on "
            f"{plural(d['products'], 'product')}"
        )
        if d["products"]:
            line += (
                f"; the fusion sides with the text on {d['fused_with_text']}, with the photo on "
                f"{d['fused_with_photo']}, and is right on {d['fused_right']}"
            )
        parts.append(line + ".")
    return [" ".join(p) for p in paragraphs]


def boilerplate_sentence(name: str, bp: dict) -> str:
    return (
        f"{name} partly reads each category's description template: {pct(bp['share'], 0)} of its "
        f"top-{bp['top_k']} words per category are generic words, found in more than "
        f"{pct(bp['threshold'], 0)} of all the test products' texts (e.g. "
        f"{listing(f'“{w}”' for w in bp['examples'])}), which tell categories apart only through "
        "how often each category's template uses them; a catalogue written differently would "
        "lose that signal."
    )


def section_deployed(m: dict) -> str:
    """What the recommended model looks at: words, the photo/text split, and how far to trust it."""
    ex = m.get("explanations", {})
    rec = m.get("evaluation", {}).get("recommendation") or {}
    text_part, fusion = ex.get("text") or {}, ex.get("fusion") or {}
    out = ""
    if rec:
        out += f"The recommended candidate is `{rec['candidate']}`. "
    if not (text_part.get("text") or fusion):
        return out + "No text or fusion candidate was explained in this run.\n"
    if text_part.get("text"):
        out += (
            f"Text candidates are explained word by word with LIME's text explainer on the very "
            f"strings they read ({_fig('text_words')}); per category, the words with the largest "
            f"mean weight are set beside the TF-IDF model's own coefficients "
            f"({_fig('word_importance')}); then LIME's stability across seeds and a deletion "
            f"check ({_fig('text_trust')}). "
        )
    if fusion:
        out += (
            f"The fusion candidates are split between photo and text ({_fig('modality')}, "
            f"{_fig('disagreements')}). "
        )
    else:
        out += _absent(m, ["fusion-late", "fusion-early"], "The photo/text split of the fusions")
    out += "\n\n"
    out += text_verdict({**text_part, "fusion": fusion}) + "\n"
    for name, t in (text_part.get("text") or {}).items():
        bp = t.get("boilerplate")
        if bp and bp.get("share", 0) > 0:
            out += "\n" + boilerplate_sentence(name, bp) + "\n"
    return out


SECTION_WRITERS["deployed"] = section_deployed
