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
    sig,
)

READS_WORDS = {"image": "photo", "text": "text", "image+text": "photo + text"}


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
        f"chance (one-sided binomial p = {pvalue(check['p_value'])}; temperature "
        f"{check['temperature']:.4g}, {check.get('temperature_source', 'the checkpoint')})"
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


def answer(claims: list[dict], rec: dict, stand: bool, classes: int) -> str:
    """Notebook 05's opening: the question, the claims table, the recommendation."""
    from .note import markdown_table

    text = (
        "**The question.** Does a frozen CLIP encoder with a small head classify these product "
        "photos better than the VGG16 transfer-learning baseline, and what should a team deploy?"
        "\n\n"
    )
    if claims:
        text += markdown_table(claims_table(claims)) + "\n"
    text += "**What to deploy.** " + " ".join(recommendation_lines(rec, stand, classes))
    if rec:
        text += f"\n\n*The rule*: {rec['rule']}."
    return text


def recommendation_lines(rec: dict, stand: bool, classes: int) -> list[str]:
    """At most three lines: what to deploy and why, what it needs, its test accuracy (once)."""
    if not rec:
        return ["No candidate was evaluated in this run: there is nothing to recommend."]
    tied = [n for n in rec["tied"] if n != rec["candidate"]]
    first = (
        f"**Deploy `{rec['candidate']}`**: the highest validation accuracy, "
        f"{pct(rec['val_accuracy'])} of {rec['n_val']} validation products"
        + (
            f" (tied within one product: {listing(f'`{n}`' for n in tied)}; it needs the fewest "
            "labels, then the least time)"
            if tied
            else ""
        )
        + "."
    )
    second = (
        f"It needs {rec['labelled']} labelled products "
        f"({plural(classes, 'category', 'categories')}) "
        f"and {ms(rec['s_per_product'])} per product ({rec.get('device') or 'cpu'}, whole "
        f"prediction from the file); its test accuracy, reported once: "
        f"{interval(rec['test_accuracy'], rec['test_low'], rec['test_high'])}."
    )
    lines = [first, second]
    if rec.get("among_stand_ins"):
        lines.append(
            "Every candidate of this run reads stand-in encoders: this choice only "
            "exercises the rule."
        )
    elif rec.get("excluded"):
        lines.append(
            f"The {plural(len(rec['excluded']), 'candidate')} reading stand-in encoders "
            "were set aside: rerun with the pretrained weights before deciding between text, "
            "photo and fusion."
        )
    return lines


def limits(m: dict, stand: dict[str, str]) -> list[str]:
    """The main limits of this run, one line each."""
    ev, items = m.get("evaluation", {}), []
    if ev.get("table"):
        widths = [t["accuracy_high"] - t["accuracy_low"] for t in ev["table"].values()]
        items.append(
            f"One locked test split of {ev['n_test']} products: accuracy intervals are "
            f"{points(min(widths)).lstrip('+')} to {points(max(widths)).lstrip('+')} points wide, "
            "and smaller differences are not established by it."
        )
    if stand:
        items.append(stand_in_warning(stand).replace("**", ""))
    skipped = m.get("features", {}).get("skipped")
    if skipped:
        items.append(f"Not run here: {listing(f'`{n}`' for n in skipped)} (see the banner above).")
    check = m.get("features", {}).get("pretrained_check")
    if check and check.get("warning"):
        items.append(
            "The loaded CLIP does not behave like a pretrained one (see the CLIP section): its "
            "numbers say nothing about CLIP."
        )
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
    if ev.get("claims"):
        text += "**The original note's claims, checked.**\n\n"
        from .note import markdown_table

        text += markdown_table(claims_table(ev["claims"])) + "\n"
        text += "Verdicts: " + "; ".join(f"*{k}*: {v}" for k, v in VERDICTS.items()) + ".\n\n"
    rec = ev.get("recommendation")
    if ev:
        text += (
            "**What to deploy.** "
            + " ".join(recommendation_lines(rec or {}, bool(stand), _n_classes(m)))
            + "\n\n"
        )
        text += f"*The rule, recorded by notebook 05*: {rec['rule']}.\n\n" if rec else ""
    items = limits(m, stand)
    if items:
        text += "**Main limits.**\n\n" + "\n".join(f"- {i}" for i in items) + "\n"
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
        return text + "Zero-shot CLIP was not part of this run's panel.\n"
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
        f"with seed {s['seed']}, stratified by category ({_fig('split')}). Two rows stay on one "
        f"side when their photos are near-identical (hashes within {s['max_distance']} bits) or "
        f"their descriptions are (TF-IDF cosine ≥ {s['text_threshold']:g}), transitively: "
        f"{s['groups']} groups of two or more rows"
        + (" among these photos" if s.get("max_per_category") else "")
        + f", {s['groups_straddling']} straddling two parts. The test part is read only by the "
        f"final evaluation. The split is also saved as a Hugging Face `DatasetDict` "
        f"(`{s['datasets_path']}`).\n\n"
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
    what = "in full" if not size else f"with both sides at least {size} px (JPEG draft mode)"
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
        "Both heads minimise the cross-entropy, −log of the probability given to the true class; "
        f"a uniform guess over {c} categories costs ln {c} = {np.log(c):.3f}."
        if c
        else "Both heads minimise the cross-entropy, −log of the probability given to the true "
        "class."
    )
    if ll:
        text += (
            f" On the test split, {ll['candidate']}'s mean loss is {ll['mean']:.3f} (median "
            f"{ll['median']:.3f}); {ll['confident_errors']} of {ll['images']} test images get less "
            f"than {pct(ll.get('confident_threshold', np.nan), 0)} on their true class "
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
        text += "The optimiser comparison needs clip-head in the panel.\n\n"
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
        text += (
            "What each candidate kept, chosen on the validation split only "
            f"({_fig('learning_curves')} "
            "shows the heads' curves):\n\n" + markdown_table(table)
        )
    return text


def section_results(m: dict) -> str:
    from .note import markdown_table

    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t, iv = ev["table"], ev["intervals"]
    text = (
        f"Intervals: {iv['method']}, {_level(ev)}, {iv['resamples']} resamples over "
        f"{ev['test_groups']} groups of the {ev['n_test']} test products.\n\n"
    )
    names = [n for n in ev["headline"] if n in t]
    rep = ev.get("repeats", {}).get("summary", {})
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
                rows[n][f"{ev['repeats']['n_splits']} other splits"] = (
                    f"{pct(rep[n]['mean'])} ± {pct(rep[n]['std'])}"
                )
        text += markdown_table(pd.DataFrame(rows).T) + "\n" + headline(ev) + "\n\n"
    text += errors_text(ev)
    return text


def headline(ev: dict) -> str:
    """The note's comparison, CLIP head against VGG16 head, from the paired numbers."""
    a, b = ev["headline"]
    t, rep = ev["table"], ev.get("repeats", {})
    pair = ev["paired"].get(b)
    if pair is None or a not in t or b not in t:
        return f"The headline comparison needs both {a} and {b} in the panel."
    mc = pair["mcnemar"]
    diff, lo, hi = -pair["accuracy_difference"], -pair["difference_high"], -pair["difference_low"]
    alpha = _alpha(ev)
    significant = mc["p_value"] < alpha
    excludes = lo > 0 or hi < 0
    text = (
        f"{a} minus {b}: {points(diff)} points, paired {_level(ev)} interval {points(lo)} to "
        f"{points(hi)}. "
        f"{a} alone is right on {mc['a_wrong_b_right']} test products, {b} alone on "
        f"{mc['a_right_b_wrong']}; McNemar's exact test gives p = {pvalue(mc['p_value'])}. "
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
            s += "; most confused: " + listing(
                f"{p['true']} taken for {p['predicted']} ({p['count']})" for p in pairs
            )
        parts.append(s)
    return f"{'. '.join(parts)} ({_fig('errors')}).\n"


def section_explanations(m: dict) -> str:
    ex = m.get("explanations", {}).get("image", {})
    if not ex:
        return "Notebook 06 did not explain a photo candidate in this run.\n"
    if ex.get("skipped"):
        return ex["skipped"] + "\n"
    st = ex["settings"]
    text = "### Local importance: LIME and SHAP\n\n"
    text += (
        f"LIME explains {ex['candidate']} as a whole (pixels → encoder → classifier): about "
        f"{st['n_segments']} {st['segmentation'].upper()} superpixels, each perturbed copy through "
        f"the encoder, hidden superpixels filled with {fill_words(st.get('hide_color'))}. "
        f"{_fig('lime')} uses {ex['lime_samples']} perturbed copies per image (the count the "
        f"stability check chose), beside the {st['note_samples']} copies of `num_samples`"
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
        text += (
            f"Over all {r2['explanations']} LIME explanations the surrogate's R² has median "
            f"{r2['median']:.2f} (range {r2['min']:.2f}–{r2['max']:.2f}); with about as many "
            "samples as superpixels a linear surrogate fits its own samples easily, so R² is a "
            "ceiling on fidelity, not a measure of it. "
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
    parts += faithfulness_words(summary["deletion"], "superpixels", _alpha(summary))
    agree = summary.get("agreement")
    if agree:
        parts.append(
            f"On {agree['agree']} of {agree['images']} explained images the prediction on the "
            f"explained pixels equals the evaluated prediction ({pct(agree['rate'], 0)})."
        )
    return " ".join(parts)


def faithfulness_words(deletion: dict, unit: str, alpha: float) -> list[str]:
    fill = deletion.get("fill")
    parts = [f"Deleted {unit} are filled with {fill}." if fill else ""]
    for method, f in deletion["faithfulness"].items():
        gain = f"{f['mean_gain']:+.3f} (CI {f['gain_low']:+.3f} to {f['gain_high']:+.3f})"
        if f["gain_low"] > 0 and f["wilcoxon_p"] < alpha:
            word = f"more faithful than a random order of the same {unit}"
        elif f["gain_high"] < 0 and f["wilcoxon_p"] < alpha:
            word = f"less faithful than a random order of the same {unit}"
        else:
            word = f"not distinguishable from a random order of the same {unit}"
        parts.append(
            f"{method}: deleting its most important {unit} first lowers the area under the "
            "deletion "
            f"curve by {gain} against random orders; better on {f['better_on']} of "
            f"{f['images']}, Wilcoxon p = "
            f"{pvalue(f['wilcoxon_p'])}: {word}."
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

    ev, tr = m.get("evaluation", {}), m.get("training", {})
    text = (
        "The original note proposes fine-tuning and augmentation as its improvements; both are "
        "measured here against the frozen head they extend, on the same test products.\n\n"
    )
    frozen = ev.get("versus_frozen", {})
    if not frozen:
        return text + "Neither fine-tuning nor augmentation was part of this run's panel.\n"
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
        word = (
            "measurably better"
            if lo > 0
            else "measurably worse"
            if hi < 0
            else "not resolved (the interval includes zero)"
        )
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
    text += markdown_table(pd.DataFrame(rows).T) + "\n"
    counts = pd.Series(words).value_counts()
    text += (
        "Read from the paired intervals: "
        + listing(f"{plural(int(v), 'change')} {k}" for k, v in counts.items())
        + ". A change whose interval includes zero is not shown to help on this split, which is "
        "not the same as shown not to help: its interval says how large a gain the data still "
        "allow.\n"
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
    for n in sorted(t, key=lambda n: -t[n]["accuracy"]):
        p = paired.get(n)
        rows[n] = {
            "reads": READS_WORDS.get(ev["reads"][n], ev["reads"][n]),
            "accuracy (CI)": interval(
                t[n]["accuracy"], t[n]["accuracy_low"], t[n]["accuracy_high"]
            ),
            "macro-F1": sig(t[n]["macro_f1"]),
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
        f"Every candidate on the same test products, ranked by test accuracy for description only "
        f"(the recommendation in the summary is chosen on validation). Paired intervals and "
        f"McNemar's test are against the note's {ref}; Holm-adjusted p-values, in brackets, "
        f"account for the {len(paired)} comparisons ({_fig('results')}, {_fig('cost')}).\n\n"
    )
    text += markdown_table(pd.DataFrame(rows).T) + "\n"
    text += budget_text(ev)
    return text


def budget_text(ev: dict) -> str:
    from .note import markdown_table

    lb = ev.get("label_budget")
    if not lb or not lb.get("summary"):
        return ""
    frame = pd.DataFrame(lb["summary"])
    table = frame.pivot_table(index="candidate", columns="k", values="mean", sort=False)
    table = table[[k for k in lb["ks"] if k in table.columns]]
    table.columns = [f"k = {k}" for k in table.columns]
    shown = table.map(pct)
    text = (
        f"\n{_fig('label_budget')} refits {listing(lb['candidates'])} with k labelled products per "
        f"category for training and k more for choosing their settings (all: the whole training "
        f"and validation parts), {lb['draws']} random draws per k, and reads the test accuracy "
        "(mean over the draws):\n\n" + markdown_table(shown) + "\n"
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
        parts += faithfulness_words(s["deletion"], "words", alpha)
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
                    "; on those, the photo candidates right most often are "
                    + listing(f"{n} ({v})" for n, v in best)
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
    out += (
        f"Text candidates are explained word by word with LIME's text explainer on the very "
        f"strings they read ({_fig('text_words')}); per category, the words with the largest mean "
        f"weight are set beside the TF-IDF model's own coefficients ({_fig('word_importance')}); "
        f"the same stability and deletion checks as for the photos follow ({_fig('text_trust')}). "
        f"The fusion candidates are split between photo and text ({_fig('modality')}, "
        f"{_fig('disagreements')}).\n\n"
    )
    return out + text_verdict({**text_part, "fusion": fusion}) + "\n"


SECTION_WRITERS["deployed"] = section_deployed
