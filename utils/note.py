"""The methodological note, assembled from this run's metrics and figures (notebook 07).

``build`` writes ``note.md`` (figures linked) and ``note.html`` (figures embedded, one self-contained
page). The sections follow the original note's order (CLIP, data and split, architecture, loss,
optimiser, results, local and global importance, limits and improvements), with the report's
additions after the parts they extend. Every number comes from ``metrics.json``, which must hold
one consistent run (``runs.assert_consistent``); every figure comes from the registry
(``utils.figures``), appears once, under its number, and a figure this run did not produce is
named as missing rather than silently left out. The page carries a small script that counts,
once loaded, the images the browser could not display (``data-images-broken`` on ``<body>``),
which the tests read from headless Chromium.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import markdown
import pandas as pd

from . import runs
from .evaluate import conclusion, panel_conclusion, pct
from .explain import verdict
from .figures import FIGURES, Figure

SECTIONS = {
    "clip": "1. CLIP, and what it knows before any training",
    "data": "2. Data",
    "split": "3. A leak-free split",
    "architecture": "4. Architecture",
    "loss": "5. Loss",
    "optimiser": "6. Optimiser",
    "training": "7. Training",
    "results": "8. Results on the test split",
    "local": "9. Local importance: LIME and SHAP",
    "global": "10. Global importance per category",
    "trust": "11. How far to trust the explanations",
    "panel": "12. Beyond the note: a panel of candidates",
    "improvements": "13. The note's proposed improvements, measured",
    "limits": "14. Limits",
    "reproducibility": "Reproducibility",
}

CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var broken = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  document.body.dataset.imagesTotal = imgs.length;
  document.body.dataset.imagesBroken = broken.length;
});
</script>"""

STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; } figure { margin: 1.5rem 0; } figcaption { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; } th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } .warning { background: #fff3cd; padding: 0.6rem 1rem; border-left: 4px solid #e0a800; }
</style>"""


def _figure(f: Figure, figures_dir: Path, link_dir: Path) -> str:
    path = figures_dir / f"{f.name}.png"
    caption = f"{f.label}. {f.caption}"
    if not path.exists():
        return f"*{caption} (not produced by this run: `{f.name}.png` is missing.)*\n"
    rel = os.path.relpath(path, link_dir)
    return f"![{caption}]({rel})\n\n*{caption}*\n"


def _table(df: pd.DataFrame) -> str:
    """A Markdown table without extra dependencies."""
    head = "| | " + " | ".join(map(str, df.columns)) + " |"
    sep = "|---" * (len(df.columns) + 1) + "|"
    rows = [
        "| " + str(i) + " | " + " | ".join(map(str, r)) + " |"
        for i, r in zip(df.index, df.to_numpy())
    ]
    return "\n".join([head, sep, *rows]) + "\n"


def _ci(r: dict, metric: str = "accuracy", percent: bool = True) -> str:
    if percent:
        return f"{pct(r[metric])} ({pct(r[metric + '_low'])}–{pct(r[metric + '_high'])})"
    return f"{r[metric]:.3f} ({r[metric + '_low']:.3f}–{r[metric + '_high']:.3f})"


# --------------------------------------------------------------------------- section texts
def _clip(m: dict) -> str:
    ev = m.get("evaluation", {})
    zs = ev.get("zeroshot")
    if not zs or "clip-zeroshot" not in ev.get("table", {}):
        return "Zero-shot CLIP was not part of this run's panel.\n"
    t = ev["table"]["clip-zeroshot"]
    best = max(
        (n for n in ev["table"] if n != "clip-zeroshot"),
        key=lambda n: ev["table"][n]["accuracy"],
        default=None,
    )
    text = (
        f"CLIP embeds photos and texts in one space. Classifying without a single labelled photo, by the cosine "
        f"similarity of each photo to the category names put in {len(zs['prompts'])} prompt templates (averaged, as in "
        f"the CLIP paper), gives {_ci(t)} test accuracy on the {int(t['n_test'])} test photos."
    )
    if best:
        text += f" The best supervised candidate, {best}, reaches {_ci(ev['table'][best])}."
    return text + "\n"


def _data(m: dict) -> str:
    d = m.get("data")
    if not d:
        return ""
    status = ", ".join(f"{k}: {v}" for k, v in d["status"].items() if k != "ok" and v) or "none"
    text = (
        f"The catalog has {d['rows']} products; at category level {d['category_level']} they fall into "
        f"{len(d['categories'])} usable categories. {d['usable']} photos are usable; {d['rows'] - d['usable']} rows are "
        f"excluded and listed in notebook 01 ({status})."
    )
    if d.get("rare_categories"):
        text += (
            f" {len(d['rare_categories'])} categories have fewer than {d['min_per_category']} usable images and are "
            f"excluded as too small to split."
        )
    text += (
        f" {d['duplicate_groups']} groups of near-identical photos ({d['duplicate_images']} images) were found by "
        f"perceptual hashing, and {d['text_groups']} groups of near-identical descriptions ({d['text_group_images']} "
        f"products, TF-IDF cosine ≥ {d['text_threshold']:g}), e.g. {d['text_group_example']}."
    )
    return text + "\n"


def _split(m: dict) -> str:
    s = m.get("split")
    if not s:
        return ""
    text = (
        f"The {s['images']} images are split {s['fractions']} with seed {s['seed']}, stratified by category. "
        f"Two rows are kept on one side when their photos are near-identical (hashes within {s['max_distance']} bits) "
        f"or their descriptions are (TF-IDF cosine ≥ {s['text_threshold']:g}), transitively: {s['groups']} groups of "
        f"2+ rows, {s['groups_straddling']} straddling two splits. The test split is read only by the final evaluation. "
        f"The split is also saved as a Hugging Face `DatasetDict` ({s['datasets_path']}).\n"
    )
    return text + "\n" + _table(pd.DataFrame(s["counts"]))


def _architecture(m: dict) -> str:
    tr = m.get("training", {})
    enc = m.get("features", {}).get("encoders", {})
    configs = tr.get("configs", {})
    lines = []
    for name in ("clip-head", "vgg16-head"):
        if name in configs:
            kind = name.split("-")[0]
            e = enc.get(kind, {})
            lines.append(
                f"- **{name}**: frozen {kind} encoder (`{e.get('name', '?')}`, {e.get('parameters', 0):,} "
                f"parameters, {e.get('dim', '?')}-d features), then {configs[name]['description']}."
            )
    if not lines:
        return "The note's two heads were not part of this run's panel.\n"
    return (
        "Both encoders are frozen; only a small head is trained on their cached features:\n\n"
        + "\n".join(lines)
        + "\n"
    )


def _loss(m: dict) -> str:
    ll = m.get("evaluation", {}).get("log_loss")
    text = "Both heads minimise the cross-entropy, −log of the probability given to the true class."
    if ll:
        text += (
            f" On the test split, {ll['candidate']}'s mean loss is {ll['mean']:.3f} (median {ll['median']:.3f}); "
            f"{ll['confident_errors']} of {ll['images']} test images get less than 10% on their true class."
        )
    return text + "\n"


def _optimiser(m: dict) -> str:
    opt = m.get("training", {}).get("optimizers")
    if not opt:
        return "The optimiser comparison needs clip-head in the panel.\n"
    ranked = sorted(opt["chosen"].items(), key=lambda kv: kv[1]["best_val_loss"])
    return (
        "The note chose Adam. The same head, data and seed with each optimiser, its learning rate chosen on "
        "validation among "
        + ", ".join(f"{k}: {v}" for k, v in opt["grid"].items())
        + ": "
        + "; ".join(
            f"{k} (lr {v['lr']:g}) reaches a validation loss of {v['best_val_loss']:.3f} at epoch {v['best_epoch']}"
            for k, v in ranked
        )
        + ".\n"
    )


def _training(m: dict) -> str:
    tr = m.get("training", {})
    summ = tr.get("summary", {})
    if not summ:
        return ""
    shown = pd.DataFrame(summ).T[["chosen", "val_accuracy", "train_seconds"]]
    shown["val_accuracy"] = [
        pct(v) if v is not None and v == v else "" for v in shown["val_accuracy"]
    ]
    return "What each candidate kept, chosen on the validation split only:\n\n" + _table(shown)


def _results(m: dict) -> str:
    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t = ev["table"]
    names = [n for n in ev["headline"] if n in t]
    iv = ev["intervals"]
    text = (
        f"Intervals: {iv['method']}, {int(100 * iv['level'])}%, {iv['resamples']} resamples over "
        f"{ev['test_groups']} groups of the {ev['n_test']} test images.\n\n"
    )
    if names:
        rows = {
            n: {
                "accuracy (95% CI)": _ci(t[n]),
                "macro-F1 (95% CI)": _ci(t[n], "macro_f1", False),
                "inference per image": f"{1000 * ev['costs'][n]['inference_s_per_item']:.0f} ms",
            }
            for n in names
        }
        rep = ev.get("repeats", {}).get("summary", {})
        for n in names:
            if n in rep:
                rows[n][f"accuracy over {ev['repeats']['n_splits']} other splits"] = (
                    f"{pct(rep[n]['mean'])} ± {pct(rep[n]['std'])}"
                )
        text += _table(pd.DataFrame(rows).T) + "\n" + conclusion(ev) + "\n"
    return text


def _local(m: dict) -> str:
    ex = m.get("explanations", {})
    if not ex:
        return ""
    if ex.get("skipped"):
        return ex["skipped"] + "\n"
    st = ex["settings"]
    text = (
        f"LIME explains {ex['candidate']} as a whole (pixels → encoder → classifier): about {st['n_segments']} "
        f"{st['segmentation'].upper()} superpixels, each perturbed copy through the encoder. The figures use "
        f"{ex['lime_samples']} perturbed copies per image (the note used {st['note_samples']}; see section 11). "
    )
    for e in ex["examples"]:
        text += (
            f"The {e['true']} example ({e['product'][:50]}) is predicted {e['predicted']} with p = {e['probability']:.2f} "
            f"({e['superpixels']} superpixels; LIME surrogate R² {e['r2_note']:.2f} at {st['note_samples']} copies, "
            f"{e['r2']:.2f} at {ex['lime_samples']}). "
        )
    r2 = ex.get("r2")
    if r2:
        text += (
            f"Over all {r2['explanations']} LIME explanations of this run the surrogate's R² has median {r2['median']:.2f} "
            f"(range {r2['min']:.2f}–{r2['max']:.2f}); with about as many samples as superpixels a linear surrogate "
            "fits its own samples easily, so R² is a ceiling on fidelity, not a measure of it. "
        )
    if ex.get("lime_seconds_per_image"):
        text += (
            f"One LIME explanation took {ex['lime_seconds_per_image']:.1f} s and one SHAP explanation "
            f"{ex['shap_seconds_per_image']:.1f} s in this run."
        )
    return text + "\n"


def _global(m: dict) -> str:
    ex = m.get("explanations", {})
    if not ex or ex.get("skipped"):
        return ""
    text = (
        "Each panel of Figure 9 averages, pixel by pixel, the LIME maps (scaled to [−1, 1]) of up to "
        f"{ex['settings']['global_per_category']} correctly classified test images of a category: "
        + ", ".join(f"{n} ({c})" for c, n in ex["global"].items())
        + ". Averaging pixel by pixel assumes centred products photographed alike; where framing varies the "
        "average fades towards zero."
    )
    if ex.get("global_left_out"):
        text += f" Categories not drawn: {', '.join(ex['global_left_out'])}."
    return text + "\n"


def _trust(m: dict) -> str:
    ex = m.get("explanations", {})
    if not ex or ex.get("skipped"):
        return ""
    st, de = ex["stability"], ex["deletion"]
    return (
        verdict(ex)
        + f" Stability images: {', '.join(f'{c} ({i})' for i, c in st['images_used'])}. "
        f"Deletion: {de['images']} images from {len(de['categories'])} categories, {de['random_orders']} random "
        f"orders per image, {de['steps']} steps.\n"
    )


def _panel(m: dict) -> str:
    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t, paired, costs, labelled = ev["table"], ev["paired"], ev["costs"], ev["labelled"]
    ref = ev["reference"]
    rows = {}
    for n in sorted(t, key=lambda n: -t[n]["accuracy"]):
        p = paired.get(n)
        rows[n] = {
            "reads": ev["reads"][n],
            "accuracy (95% CI)": _ci(t[n]),
            "macro-F1 (95% CI)": _ci(t[n], "macro_f1", False),
            f"Δ vs {ref} (paired 95% CI)": (
                f"{100 * p['accuracy_difference']:+.1f} ({100 * p['difference_low']:+.1f} "
                f"to {100 * p['difference_high']:+.1f})"
            )
            if p
            else "—",
            "McNemar p": f"{p['mcnemar']['p_value']:.3g}" if p else "—",
            "labelled images": labelled.get(n, 0),
            "ms per product": f"{1000 * costs[n]['inference_s_per_item']:.1f}"
            if n in costs
            else "—",
        }
    text = _table(pd.DataFrame(rows).T) + "\n" + panel_conclusion(ev) + "\n"
    lb = ev.get("label_budget")
    if lb:
        text += (
            f"\nFigure 11 refits {', '.join(lb['candidates'])} on k labelled training images per category "
            f"(k in {', '.join(map(str, lb['ks']))}; {lb['draws']} random draws per k, settings chosen on the "
            "validation split) and reads the test accuracy of each.\n"
        )
    return text


def _improvements(m: dict) -> str:
    ev, tr = m.get("evaluation", {}), m.get("training", {})
    t = ev.get("table", {})
    new = [
        n
        for n in (
            "clip-head-aug",
            "vgg16-head-aug",
            "clip-finetune",
            "vgg16-finetune",
            "clip-finetune-aug",
            "vgg16-finetune-aug",
        )
        if n in t
    ]
    if not new:
        return "Neither fine-tuning nor augmentation was part of this run's panel.\n"
    ft = tr.get("finetune", {})
    rows = {}
    frozen = ev.get("versus_frozen", {})
    for n in new:
        p = frozen.get(n)
        rows[n] = {
            "accuracy (95% CI)": _ci(t[n]),
            "frozen head": f"{p['vs']}: {_ci(t[p['vs']])}" if p else "—",
            "Δ vs frozen head (paired 95% CI), McNemar p": (
                f"{100 * p['accuracy_difference']:+.1f} ({100 * p['difference_low']:+.1f} to "
                f"{100 * p['difference_high']:+.1f}), p = {p['mcnemar']['p_value']:.3g}"
            )
            if p
            else "—",
            "objective": ft.get(n, {}).get("objective", "head (cross-entropy)"),
            "training": f"{tr['summary'][n]['train_seconds']:.1f} s",
        }
    text = (
        f"Fine-tuning trains the last {ft.get('blocks', 1)} block(s) of the encoder with the head (AdamW, encoder "
        f"learning rate {ft.get('encoder_lr', '?')}, head {ft.get('head_lr', '?')}) on cached activations of the frozen "
        f"part; augmentation adds {ft.get('views', '?')} views per training photo. "
        + ev.get("improvements_verdict", "")
        + "\n\n"
        + _table(pd.DataFrame(rows).T)
    )
    return text


def _limits(m: dict) -> str:
    ev, run = m.get("evaluation", {}), m.get("run", {})
    items = []
    if ev:
        widths = [t["accuracy_high"] - t["accuracy_low"] for t in ev["table"].values()]
        items.append(
            f"One test split of {ev['n_test']} images: accuracy intervals are {100 * min(widths):.0f} to "
            f"{100 * max(widths):.0f} points wide; differences smaller than that are not established."
        )
        items.append(
            "McNemar's test treats test images as independent; near-duplicate groups make it optimistic, which "
            "is why every difference also gets a paired cluster-bootstrap interval."
        )
    if m.get("explanations", {}).get("stability"):
        items.append(
            "Explanations are checked on a few images per category; LIME's top superpixels depend on its "
            "random perturbations (section 11)."
        )
    if run.get("profile") == "smoke":
        items.append(
            "This is a smoke run: tiny random encoders; no number here says anything about CLIP or VGG16."
        )
    return "\n".join(f"- {i}" for i in items) + "\n"


def _reproducibility(m: dict) -> str:
    run = m.get("run", {})
    enc = m.get("features", {}).get("encoders", {})
    text = (
        f"Run `{run.get('id', '?')}` (profile {run.get('profile')}, seed {run.get('seed')}, code "
        f"`{run.get('code_version')}`, started {run.get('started')}). "
    )
    if enc:
        text += (
            "Encoders: "
            + "; ".join(
                f"{n}: `{e['name']}` ({e['parameters']:,} parameters, weights hash `{e['identity']}`, {e['device']}, "
                f"{e['precision']}"
                + (
                    f", random weights from seed {e['random_seed']}"
                    if e.get("random_seed") is not None
                    else ""
                )
                + ")"
                for n, e in enc.items()
            )
            + ". "
        )
    pa = m.get("evaluation", {}).get("precision_agreement")
    if pa:
        text += (
            "Test predictions under float32 and bfloat16 features agree on "
            + "; ".join(f"{n}: {v['agree']} of {v['images']}" for n, v in pa.items())
            + ". "
        )
    return (
        text
        + "Regenerate with `make report` (or `make smoke`); every knob is a notebook parameter.\n"
    )


WRITERS = {
    "clip": _clip,
    "data": _data,
    "split": _split,
    "architecture": _architecture,
    "loss": _loss,
    "optimiser": _optimiser,
    "training": _training,
    "results": _results,
    "local": _local,
    "global": _global,
    "trust": _trust,
    "panel": _panel,
    "improvements": _improvements,
    "limits": _limits,
    "reproducibility": _reproducibility,
}


def markdown_text(metrics: dict, figures_dir: Path, link_dir: Path) -> str:
    """The note as Markdown, numbers from ``metrics``, figures linked relative to ``link_dir``."""
    run = metrics.get("run", {})
    out = [
        "# Classifying e-commerce product photos: CLIP against a VGG16 baseline, and a panel of alternatives\n",
        "*A methodological note, regenerated by `make report`: every figure and number below comes from this run.*\n",
    ]
    if run.get("profile") == "smoke":
        out.append(
            '<p class="warning"><b>Smoke profile.</b> Tiny randomly initialised encoders on a few images per '
            "category: this run checks the pipeline end to end; its numbers say nothing about CLIP or VGG16.</p>\n"
        )
    elif metrics.get("evaluation", {}).get("random_weights"):
        out.append(
            '<p class="warning"><b>Random weights.</b> Full-size encoders with random weights ('
            + ", ".join(metrics["evaluation"]["random_weights"])
            + "): a stand-in for timing the report; the "
            "numbers of candidates that read them say nothing about CLIP or VGG16.</p>\n"
        )
    for key, title in SECTIONS.items():
        out.append(f"## {title}\n")
        out.append(WRITERS[key](metrics))
        for f in FIGURES:
            if f.section == key:
                out.append(_figure(f, figures_dir, link_dir))
    return "\n".join(out)


def to_html(md_text: str, md_dir: Path) -> str:
    """Self-contained HTML: images embedded as data URIs (paths resolved from ``md_dir``)."""
    body = markdown.markdown(md_text, extensions=["tables"])

    def embed(match: re.Match) -> str:
        src = match.group(1)
        path = (md_dir / src).resolve()
        if not path.exists():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', embed, body)
    title = re.search(r"<h1>(.*?)</h1>", body)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title.group(1) if title else 'note'}</title>{STYLE}</head>\n<body>\n{body}\n{CHECK_SCRIPT}\n</body></html>\n"
    )


def build(
    metrics: dict, figures_dir: str | os.PathLike, out_dir: str | os.PathLike, check: bool = True
) -> tuple[Path, Path]:
    """Write ``note.md`` and ``note.html`` into ``out_dir``; return both paths.

    ``check``: refuse (``runs.MixedRuns``) a metrics file that mixes runs or holds stale sections.
    """
    if check:
        runs.assert_consistent(metrics)
    out_dir, figures_dir = Path(out_dir), Path(figures_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown_text(metrics, figures_dir.resolve(), out_dir.resolve())
    md_path, html_path = out_dir / "note.md", out_dir / "note.html"
    md_path.write_text(text)
    html_path.write_text(to_html(text, out_dir.resolve()))
    return md_path, html_path


def missing_figures(figures_dir: str | os.PathLike) -> list[str]:
    """Registered figures that are not in ``figures_dir``."""
    return [f.name for f in FIGURES if not (Path(figures_dir) / f"{f.name}.png").exists()]
