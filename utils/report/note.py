"""The methodological note, assembled from this run's metrics and figures (notebook 08).

``build`` writes ``note.md`` (figures linked) and ``note.html`` (figures embedded, one
self-contained page with a table of contents, a header naming the run, its profile and weights,
and links to the executed notebooks). The answer comes first (the original note's claims checked,
the recommendation, the main limits); the sections then follow the original note's order
(dataset; CLIP; split and architecture; loss; optimiser; results; local and global importance;
limits and improvements), then what lies beyond it. Every sentence comes from ``utils.prose``,
every number from ``metrics.json`` (which must hold one consistent run,
``runs.assert_consistent``), every figure from the registry (``utils.figures``), once, numbered
in reading order; a figure this run did not produce is named as missing, not left out. A
section whose numbers read stand-in encoders opens with the stand-in warning. The page carries a
small script that counts, once loaded, the images the browser could not display
(``data-images-broken`` on ``<body>``), which the tests read from headless Chromium.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

import markdown

from ..core import runs
from . import prose
from .figures import FIGURES, Figure
from .figures import state as figure_state
from .sections import SECTIONS, Section

CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var broken = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  document.body.dataset.imagesTotal = imgs.length;
  document.body.dataset.imagesBroken = broken.length;
});
</script>"""

STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; } figure { margin: 1.5rem 0; }
p em:only-child { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
blockquote { background: #fff3cd; margin: 1rem 0; padding: 0.4rem 1rem; border-left: 4px solid
#e0a800; }
.header { color: #444; font-size: 0.9rem; border-bottom: 1px solid #ddd; padding-bottom: 0.5rem; }
.toc { font-size: 0.9rem; background: #f6f8fa; padding: 0.5rem 1rem; }
.toc ul { margin: 0.2rem 0; }
</style>"""

NOTEBOOKS = (
    "01_explore",
    "02_split",
    "03_features",
    "04_train",
    "05_evaluate",
    "06_explain",
    "07_labels",
    "08_note",
)


def _short_caption(f: Figure) -> str:
    """The caption's first clause, for naming a figure in a sentence (names keep their case)."""
    text, depth = "", 0
    for ch in f.caption:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and ch in ".:;":
            break
        text += ch
    text = re.sub(r"\s*\([^()]*\)$", "", text)
    first = text.split(" ")[0]
    return text[0].lower() + text[1:] if first[1:] == first[1:].lower() else text


def _figure(f: Figure, figures_dir: Path, link_dir: Path) -> str:
    path = figures_dir / f"{f.name}.png"
    caption = f"{f.label}. {f.caption_in(figures_dir)}"
    rel = os.path.relpath(path, link_dir)
    return f"![{caption}]({rel})\n\n*{caption}*\n"


def make_command(profile: str) -> str:
    """The command that regenerates a run of ``profile``."""
    return {"full": "make report", "smoke": "make smoke"}.get(
        profile, f"make report PROFILE={profile}"
    )


def _reproducibility(m: dict) -> str:
    run = m.get("run", {})
    enc = m.get("features", {}).get("encoders", {})
    text = (
        f"Run `{run.get('id', '?')}` (profile {run.get('profile')}, seed {run.get('seed')}, code "
        f"`{run.get('code_version')}`"
        + (
            ": uncommitted changes, so this exact code cannot be checked out again"
            if str(run.get("code_version", "")).endswith("-dirty")
            else ""
        )
        + f", started {run.get('started')}). "
    )
    if enc:
        text += (
            "Encoders: "
            + "; ".join(
                f"{n}: `{e['name']}` ({e['parameters']:,} parameters, weights hash "
                f"`{e['identity']}`, "
                f"{e['device']}, {e['precision']})"
                for n, e in enc.items()
            )
            + ". "
        )
    check = m.get("features", {}).get("precision_check")
    if check:
        text += (
            "bfloat16 against float32 on a sample of photos: "
            + "; ".join(
                f"{k}: embedding cosine ≥ {v['cosine_min']:.5f} on {v['images']} photos"
                for k, v in check.items()
            )
            + ". "
        )
    pa = m.get("evaluation", {}).get("precision_agreement")
    if pa:
        text += (
            "The heads' predictions under float32 and bfloat16 features agree on "
            + "; ".join(f"{n}: {v['agree']} of {v['images']}" for n, v in pa.items())
            + ". "
        )
    command = make_command(run.get("profile", "full"))
    return text + (
        f"Regenerate this run with `{command}` (seed and settings as recorded in "
        "`reports/metrics.json`); every knob is a notebook parameter.\n"
    )


def _writer(key: str):
    if key == "reproducibility":
        return _reproducibility
    return prose.SECTION_WRITERS[key]


def header(m: dict) -> str:
    """The run's id, profile and weights, and links to the executed notebooks (HTML)."""
    run = m.get("run", {})
    weights = run.get("weights") or {}
    stand = runs.run_stand_ins(m)
    names = {"clip": "CLIP", "vgg16": "VGG16"}
    from ..models.candidates import encoder_kinds

    skipped = list((m.get("features") or {}).get("skipped") or {})
    ran = [n for n in (m.get("features") or {}).get("models") or [] if n not in skipped]
    absent = encoder_kinds(skipped) - encoder_kinds(ran) if skipped else set()
    w = ", ".join(
        f"{names.get(k, k)}: <code>{html.escape(str(v))}</code>"
        + (f" ({stand[k]})" if k in stand else "")
        + (" (not on this machine: not run)" if k in absent else "")
        for k, v in weights.items()
        if v
    )
    links = " · ".join(f'<a href="{n}.ipynb">{n}</a>' for n in NOTEBOOKS)
    return (
        f'<div class="header">Run <code>{html.escape(str(run.get("id", "?")))}</code> · profile '
        f"<b>{html.escape(str(run.get('profile', '?')))}</b> · {w or 'weights not recorded'}<br>"
        f"Executed notebooks: {links}</div>\n"
    )


def place_figures(text: str, figures: list[tuple[str, str]]) -> str:
    """``text`` (a section's Markdown) with each figure (``(label, markdown)``, in reading order)
    right after the first paragraph that cites it ("Figure 7"), so a figure is shown where the
    text discusses it; a figure the text does not cite goes at the end."""
    blocks = text.rstrip("\n").split("\n\n")
    after: dict[int, list[str]] = {}
    for label, md in figures:
        cited = re.compile(re.escape(label) + r"(?!\d)")
        at = next((i for i, b in enumerate(blocks) if cited.search(b)), len(blocks) - 1)
        after.setdefault(at, []).append(md)
    out = []
    for i, block in enumerate(blocks):
        out.append(block)
        out += [md.rstrip("\n") for md in after.get(i, [])]
    return "\n\n".join(out) + "\n"


def section_title(section: Section, metrics: dict) -> str:
    """The section's title, naming the run's choice where it does (``{choice}``)."""
    rec = (metrics.get("evaluation") or {}).get("recommendation") or {}
    return section.title.format(choice=rec.get("called", "the chosen candidate"))


def markdown_text(metrics: dict, figures_dir: Path, link_dir: Path) -> str:
    """The note as Markdown, numbers from ``metrics``, figures linked relative to ``link_dir``."""
    stand = runs.run_stand_ins(metrics)
    run_id = metrics.get("run", {}).get("id")
    out = [
        "# Classifying e-commerce product photos: CLIP against a VGG16 baseline, and what to "
        "deploy\n",
        header(metrics),
        "*A methodological note, regenerated by "
        f"`{make_command(metrics.get('run', {}).get('profile', 'full'))}`: every figure and number "
        "below "
        "comes from this run, except the original note's claims, which are quoted as the "
        "note's.*\n",
        "<!-- toc -->\n",
    ]
    top = prose.banner("08", metrics, stand, metrics.get("evaluation", {}).get("models"), False)
    if top:
        out.append(top + "\n")
    for section in SECTIONS:
        out.append(f"## {section_title(section, metrics)}\n")
        if section.encoders and stand and section.key != "summary":
            out.append(f"*{prose.stand_in_mark(stand)}*\n")
        shown = [f for f in FIGURES if f.section == section.key]
        states = {f.key: figure_state(f, figures_dir, run_id) for f in shown}
        drawn = [(f.label, _figure(f, figures_dir, link_dir)) for f in shown]
        drawn = [(label, md) for (label, md), f in zip(drawn, shown) if states[f.key] == "drawn"]
        out.append(place_figures(_writer(section.key)(metrics), drawn))
        missing = [f for f in shown if states[f.key] != "drawn"]
        why = {"missing": "", "stale": ": an earlier run's file, not shown"}
        if missing:
            out.append(
                "*Not drawn in this run (the candidates they show did not run): "
                + "; ".join(f"{f.label}, {_short_caption(f)}{why[states[f.key]]}" for f in missing)
                + ".*\n"
            )
    return "\n".join(out)


def to_html(md_text: str, md_dir: Path) -> str:
    """Self-contained HTML: images embedded as data URIs (paths resolved from ``md_dir``)."""
    md = markdown.Markdown(
        extensions=["tables", "toc"], extension_configs={"toc": {"toc_depth": "2-3"}}
    )
    body = md.convert(md_text)
    toc = md.toc.replace('<div class="toc">', '<nav class="toc"><b>Contents</b>', 1)
    toc = toc[: toc.rfind("</div>")] + "</nav>" if toc.rstrip().endswith("</div>") else toc
    body = body.replace("<!-- toc -->", toc, 1)

    def embed(match: re.Match) -> str:
        src = match.group(1)
        path = (md_dir / src).resolve()
        if not path.exists():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', embed, body)
    title = re.search(r"<h1[^>]*>(.*?)</h1>", body)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title.group(1) if title else 'note'}</title>{STYLE}</head>\n<body>\n{body}\n"
        f"{CHECK_SCRIPT}\n</body></html>\n"
    )


def build(
    metrics: dict,
    figures_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    check: bool = True,
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


def missing_figures(figures_dir: str | os.PathLike, run_id: str | None = None) -> list[str]:
    """Registered figures not drawn by run ``run_id`` in ``figures_dir`` (absent, or an earlier
    run's; any run when ``run_id`` is None)."""
    return [f.name for f in FIGURES if figure_state(f, figures_dir, run_id) != "drawn"]


def section_text(key: str, metrics: dict) -> str:
    """One section of the note as Markdown (notebook 08 shows the summary)."""
    return _writer(key)(metrics)
