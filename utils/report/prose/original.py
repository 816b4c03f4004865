"""The note's sections 1-8, in the original note's order: the dataset, CLIP before training, split
and architecture, loss, optimiser, results, local and global importance, limits and improvements.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...evaluation.decision import ORIGINAL_SETTINGS
from ..formatting import (
    interval,
    listing,
    markdown_table,
    ms,
    pct,
    plural,
    points,
    points_interval,
    pvalue,
    seconds,
)
from .banners import (
    _check_facts,
    decode_sentence,
    pretrained_sentence,
    subsample_sentence,
)
from .common import (
    _absent,
    _alpha,
    _dagger_note,
    _fig,
    _level,
    _marked,
    _n_classes,
    _p_is,
    _section,
    faithfulness_words,
)
from .summary import limits


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
        f"({_fig('categories')}, {_fig('examples')}). {d['usable']} photos are usable "
        f"({_fig('sizes')} gives their sizes); {d['rows'] - d['usable']} rows are excluded and "
        f"listed in notebook 01 ({status})."
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
        text += "Before any training, notebook 03 checked the loaded CLIP: " + (
            f"{_check_facts(check)}: it does not behave like a pretrained one (the warning at "
            "the top). "
            if check.get("warning")
            else pretrained_sentence(check) + " "
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
            f"; temperature {zs['temperature']:.3g}: "
            f"{zs.get('temperature_source') or 'where it came from was not recorded'}"
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
        + f", {s['groups_straddling']} straddling two parts. No candidate and no setting is "
        "chosen on the test part: notebook 05 evaluates on it, notebook 06 explains some of its "
        "products, notebook 07 scores labelling strategies and cleaned labels on it. The "
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


def section_loss(m: dict) -> str:
    ll = m.get("evaluation", {}).get("log_loss")
    c = _n_classes(m)
    text = (
        "The note's heads and the logistic regressions are fitted to minimise the cross-entropy, "
        "−log of the probability given to the true class"
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

    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t, iv = ev["table"], ev["intervals"]
    exact = [n for n, r in t.items() if str(r.get("accuracy_interval", "")).startswith("Clopper")]
    text = (
        f"{_fig('results')} shows every candidate on the locked test split and over other "
        f"group-aware splits. Intervals: {iv['method']}, {_level(ev)}, {iv['resamples']} "
        f"resamples over {ev['test_groups']} groups of the {ev['n_test']} test products"
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
    text += errors_text(ev, m)
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
            f"run (the panel in {_section('beyond', {'evaluation': ev})} has what did)."
        )
    mc = pair["mcnemar"]
    diff, lo, hi = -pair["accuracy_difference"], -pair["difference_high"], -pair["difference_low"]
    alpha = _alpha(ev)
    significant = mc["p_value"] < alpha
    excludes = lo > 0 or hi < 0
    span = (
        "a single value (every resample gives the same difference: too few products where the "
        "two disagree)"
        if lo == hi
        else f"{points(lo)} to {points(hi)}"
    )
    text = (
        f"{a} minus {b}: {points(diff)} points, paired {_level(ev)} interval {span}. "
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


def errors_text(ev: dict, m: dict | None = None) -> str:
    """Each shown candidate's errors: how many, the pairs confused more than once (a figure of the
    confusions names only the candidates it draws), the category its errors land in most, and
    that some test "errors" may be the catalogue's labels."""
    err = ev.get("errors")
    if not err:
        return ""
    classes, parts = ev.get("classes") or [], []
    for name, e in err["models"].items():
        pairs = [p for p in e.get("most_confused", []) if p["count"] > 1]
        s = f"{name} gets {e['errors']} of {ev['n_test']} test products wrong"
        drawn = ev.get("confusions_shown", ev.get("headline", []))
        where = f" ({_fig('confusion')})" if name in drawn else ""
        if pairs:
            grid = np.asarray((ev.get("details", {}).get(name) or {}).get("confusion") or [])
            off = grid[~np.eye(len(grid), dtype=bool)] if grid.size else grid
            more = int((off > 1).sum()) > len(pairs)  # the record keeps the top pairs only
            s += (
                f"; most often confused{where}: " if more else f"; confused more than once{where}: "
            ) + listing(f"{p['true']} taken for {p['predicted']} ({p['count']})" for p in pairs)
        elif e["errors"]:
            s += f"; no pair of categories is confused more than once{where}"
        confusion = np.asarray((ev.get("details", {}).get(name) or {}).get("confusion") or [])
        if confusion.size and e["errors"] > 1:
            wrong_into = confusion.sum(axis=0) - np.diag(confusion)
            k = int(wrong_into.argmax())
            if wrong_into[k] * 2 >= e["errors"] and k < len(classes):
                s += f"; {wrong_into[k]} of its errors are predicted {classes[k]}"
        parts.append(s)
    text = f"{'. '.join(parts)}; the most confident errors are shown in {_fig('errors')}."
    if (m or {}).get("labels", {}).get("audit"):
        text += (
            " Some of these errors may be the catalogue's labels rather than the model's: the "
            f"label audit ({_section('labels', m)}) flags likely wrong labels among the training "
            "and validation products; the test labels are neither audited nor changed."
        )
    return text + "\n"


def section_explanations(m: dict) -> str:
    ex = m.get("explanations", {}).get("image", {})
    if not ex:
        return "Notebook 06 did not explain a photo candidate in this run.\n"
    if ex.get("skipped"):
        return ex["skipped"] + "\n"
    st = ex["settings"]
    pixels = ex.get("encoder_kind") == "pixels"
    through = (
        "pixels → colour histogram and edge orientations → logistic regression"
        if pixels
        else "pixels → encoder → classifier"
    )
    text = "### Local importance: LIME and SHAP\n\n"
    text += (
        f"LIME explains {ex['candidate']} as a whole ({through}) on "
        f"{st['segmentation'].upper()} superpixels ({st['n_segments']} asked for; the examples "
        f"below have {listing(str(e['superpixels']) for e in ex['examples'])}), each perturbed "
        f"copy through {'the features' if pixels else 'the encoder'}, hidden superpixels filled "
        "with "
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
            f"The {e['true']} example ({e['product'].strip()}) is predicted {e['predicted']} "
            f"with p = {e['probability']:.2f} ({e['superpixels']} superpixels; LIME surrogate R² "
            f"{e['r2_note']:.2f} at {st['note_samples']} copies, {e['r2']:.2f} at "
            f"{ex['lime_samples']}). "
        )
    r2 = ex.get("r2")
    if r2:
        few = any(ex["lime_samples"] <= e["superpixels"] for e in ex["examples"])
        text += (
            f"Over all {r2['explanations']} LIME explanations behind the figures (the "
            "per-category maps' and the examples' at both copy counts), the surrogate's R² "
            f"has median {r2['median']:.2f} (range {r2['min']:.2f}–{r2['max']:.2f}); "
            + (
                "with no more perturbed copies than superpixels, the linear surrogate can fit "
                "its own samples exactly, so R² says nothing here. "
                if few
                else "R² is a ceiling on fidelity, not a measure of it: the linear surrogate is "
                "fitted on its own samples. "
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
    if pixels:
        text += "\n\n" + pixels_against_clip(m)
    text += "\n\n### Global importance per category\n\n" + global_text(ex)
    text += (
        "\n\n### How far to trust them\n\n" + explanation_verdict(ex) + (f" ({_fig('trust')}.)\n")
    )
    return text


def pixels_against_clip(m: dict) -> str:
    """What a pre-deep-learning photo candidate looks at, against what CLIP would (measured when
    CLIP ran, stated as untested otherwise)."""
    ex = m["explanations"]["image"]
    ran = "clip-head" in (m.get("evaluation") or {}).get("table", {})
    return (
        f"**What {ex['candidate']} looks at, and what CLIP would.** It sees no object: it "
        "reads a small copy of the photo as a histogram of its colours (hue, saturation, "
        "brightness) and the orientation of its edges cell by cell (HOG). Its maps therefore "
        "mark regions by their colours and edges, whatever object they belong to, and its "
        "accuracy says how far colour and texture alone tell these categories apart. "
        "CLIP reads the photo through a network trained to match photos with their captions, so "
        "its maps are expected to follow the product itself; "
        + (
            "rerun notebook 06 with `explain_model` set to `clip-head` to compare the two maps."
            if ran
            else "that expectation is not tested here: CLIP's weights are not on this machine "
            "(the note's list of what did not run says what to download)."
        )
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
        f"{_fig('averaging')} shows how a per-category map is made: two test images, their LIME "
        "maps and their pixel-wise average. Each panel of "
        f"{_fig('global_importance')} averages so, pixel by pixel, the LIME maps "
        f"(scaled to [−1, 1]) of up to {ex['settings']['global_per_category']} {which}: "
        + ", ".join(
            f"{c} ({n}" + (f", {correct[c]} correct" if not only and c in correct else "") + ")"
            for c, n in g.items()
        )
        + ". Averaging pixel by pixel assumes centred products photographed alike; where framing "
        "varies the average fades towards zero."
    )
    if not only and correct and sum(correct.values()) == 0:
        text += (
            " None of the averaged images is correctly classified here: the maps show what "
            "drives wrong predictions, not what characterises a category."
        )
    if ex.get("global_left_out"):
        text += f" Categories not drawn: {', '.join(ex['global_left_out'])}."
    reading = global_reading_text(ex)
    return text + ("\n\n" + reading if reading else "")


def global_reading_text(ex: dict) -> str:
    """Each panel of the per-category figure read from its numbers (``global_reading``, notebook
    06): how much of the weight towards the class lies on the product, against the share of the
    photo the product covers (what an even spread would give it), and where the averaged map
    peaks; then the categories whose weight leans on the product and those leaning on the
    background."""
    reading = ex.get("global_reading") or {}
    rows = {c: r for c, r in reading.items() if r.get("on_product") is not None}
    if not rows:
        return ""
    items = []
    for c, r in rows.items():
        items.append(
            f"{c}, {pct(r['on_product'], 0)} on the product, which covers "
            f"{pct(r['product_area'], 0)} of the photo; strongest in the {r['peak']} "
            f"({pct(r['peak_share'], 0)} of the averaged map's red weight lies there)"
        )
    margin = next(iter(rows.values())).get("even_margin", 0.0)
    points = f"{100 * margin:.0f} points"
    product = [c for c, r in rows.items() if r["on_product"] > r["product_area"] + margin]
    background = [c for c, r in rows.items() if r["on_product"] < r["product_area"] - margin]
    text = (
        f"**Reading each panel of {_fig('global_importance')}** (the share of each image's weight "
        "towards its class that lies on the product, pixels that are not the near-white "
        "background, averaged over the category's images; an even spread would put on the "
        "product the share of the photo it covers): " + "; ".join(items) + "."
    )
    if product:
        text += f" The weight leans on the product (more than {points} above its area) for " + (
            listing(product)
        )
    if background:
        text += (
            ("; " if product else " ")
            + f"on the background around it (more than {points} below) for "
            + listing(background)
        )
    if product or background:
        text += "."
    even = [c for c in rows if c not in product and c not in background]
    if even:
        text += f" {listing(even)}: within {points} of an even spread."
    against = {c: r["positive_share"] for c, r in rows.items() if r.get("positive_share", 1) < 0.5}
    if against:
        text += (
            " Mostly against the class on average (most of the averaged map's weight, red and blue "
            "together, is blue): "
            + listing(f"{c} (red: {pct(v, 0)} of all its weight)" for c, v in against.items())
            + "."
        )
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
    if "SHAP" in (summary["deletion"].get("faithfulness") or {}):
        parts.append(
            "The deletion fills superpixels as LIME hid them, while SHAP's values come from its "
            "own perturbation (a blurred photo): the comparison favours LIME, whose perturbation "
            "it repeats."
        )
    agree = summary.get("agreement")
    if agree:
        parts.append(
            f"On {agree['agree']} of {agree['images']} explained images the prediction on the "
            f"explained pixels equals the evaluated prediction ({pct(agree['rate'], 0)})."
        )
    return " ".join(parts)


def improvements_text(metrics: dict) -> str:
    """The improvements' verdicts (notebook 05, from the run's records so far: what was skipped,
    the limits), as the note's section writes them."""
    return section_improvements(metrics)


def section_improvements(m: dict) -> str:
    from ...core.runs import run_stand_ins

    ev, tr = m.get("evaluation", {}), m.get("training", {})
    items = limits(m, run_stand_ins(m))
    text = (
        "**Limits.** This run's limits are listed once, in the note's summary.\n\n" if items else ""
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
        word = (
            "better"
            if lo > 0
            else "worse"
            if hi < 0
            else "not judged"
            if lo == hi
            else "not resolved"
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
    table = pd.DataFrame(rows).T
    if table["objective"].nunique() == 1:
        table = table.drop(columns="objective")
    text += markdown_table(_marked(table, m)) + _dagger_note(m)
    counts = pd.Series(words).value_counts()
    phrase = {
        "better": "measurably better",
        "worse": "measurably worse",
        "not resolved": "not resolved (the paired interval includes zero)",
        "not judged": "not judged (the interval is a single value: every resample gives the "
        "same difference, too few products where the two disagree)",
    }
    text += (
        "Read from the paired intervals: "
        + listing(f"{plural(int(v), 'change')} {phrase[k]}" for k, v in counts.items())
        + "."
    )
    if "not resolved" in counts:
        text += (
            " Not shown to help on this split is not the same as shown not to help: where the "
            "interval includes zero, its upper end is the largest gain the data still allow."
        )
    return text + "\n"
