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
from .figures import FIGURES, Figure, not_drawn_by_design
from .figures import state as figure_state
from .sections import SECTIONS, Section, numbers, shown

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
    """The section's title, numbered as in the run's note (``sections.numbers``: a section that
    could not run is left out and the next ones numbered on), naming the run's choice where it
    does (``{choice}``), and marked † when its numbers read stand-in encoders (the warning at the
    top says what † means, once)."""
    rec = (metrics.get("evaluation") or {}).get("recommendation") or {}
    text = section.title.format(choice=rec.get("called", "the chosen candidate"))
    number = numbers(metrics).get(section.key)
    if number:
        text = f"{number}. {text}"
    if section.encoders and section.key != "summary" and runs.run_stand_ins(metrics):
        text += f" {STAND_IN_MARK}"
    return text


STAND_IN_MARK = "†"
# "Zero-shot CLIP could not run: `clip-zeroshot` needs pretrained weights this run did not have."
NOT_RUN = re.compile(
    r"(?:^|(?<=\. ))[A-Z][^.\n]*? could not run: [^.\n]*?pretrained weights this run did not "
    r"have\.[ ]?",
    re.M,
)


def split_not_run(text: str) -> tuple[str, list[str]]:
    """``text`` without its sentences saying a part could not run for want of weights, and those
    sentences (the note lists them once, after what did run)."""
    found = [m.group(0).strip() for m in NOT_RUN.finditer(text)]
    kept = NOT_RUN.sub("", text)
    blocks = [b.rstrip() for b in kept.split("\n\n")]
    return "\n\n".join(b for b in blocks if b.strip()) + "\n", found


def not_run_section(metrics: dict, parts: list[tuple[str, list[str], list[str]]]) -> str:
    """The note's one list of what did not run: the candidates, what to download and where to
    put it, then per section of the note what it would add (the sentences and figures left out);
    ``parts``: ``(where, sentences, figures)``. Empty when everything ran."""
    table = prose.not_run_table(metrics)
    items = [
        f"- {where}: "
        + " ".join(sentences)
        + (" " if sentences and figures else "")
        + (f"Not drawn: {'; '.join(figures)}." if figures else "")
        for where, sentences, figures in parts
        if sentences or figures
    ]
    if not table and not items:
        return ""
    out = "## What did not run here\n\n" + (table + "\n" if table else "")
    if items:
        out += (
            "\nWhat they would add to this note, section by section (the figure numbers they "
            "would take are skipped above):\n\n" + "\n".join(items) + "\n"
        )
    return out


def title(metrics: dict) -> str:
    """The note's title: the question this run answers (``prose.title``)."""
    return prose.title(metrics)


def markdown_text(metrics: dict, figures_dir: Path, link_dir: Path) -> str:
    """The note as Markdown, numbers from ``metrics``, figures linked relative to ``link_dir``.

    What ran comes first: the sections of this run, numbered without a gap; what could not run
    (for want of pretrained weights) is one list at the end, before the reproducibility notes."""
    stand = runs.run_stand_ins(metrics)
    run_id = metrics.get("run", {}).get("id")
    out = [
        f"# {title(metrics)}\n",
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
        if stand:  # the warning comes first (``banner``): the mark is explained with it
            first, _, rest = top.partition("\n\n")
            top = (
                f"{first} Sections marked {STAND_IN_MARK} hold numbers that read these stand-in "
                "encoders." + (f"\n\n{rest}" if rest else "")
            )
        out.append(top + "\n")
    present = {s.key for s in shown(metrics)}
    absent: list[tuple[str, list[str], list[str]]] = []
    why = {"missing": "", "stale": ": an earlier run's file, not shown"}
    by_design = not_drawn_by_design(metrics)  # left out on purpose: the text says why
    for section in SECTIONS:
        figs = [f for f in FIGURES if f.section == section.key and f.key not in by_design]
        states = {f.key: figure_state(f, figures_dir, run_id) for f in figs}
        missing = [
            f"{f.label}, {_short_caption(f)}{why[states[f.key]]}"
            for f in figs
            if states[f.key] != "drawn"
        ]
        text, sentences = split_not_run(_writer(section.key)(metrics))
        plain = section.title.format(
            choice=((metrics.get("evaluation") or {}).get("recommendation") or {}).get(
                "called", "the chosen candidate"
            )
        )
        if section.key not in present:
            absent.append((f"**{plain}** (left out of this note)", sentences, missing))
            continue
        if section.key == "reproducibility":
            out.append(not_run_section(metrics, absent))
        title_ = section_title(section, metrics)
        out.append(f"## {title_}\n")
        if sentences or missing:
            absent.append((f"**{title_.rstrip(' ' + STAND_IN_MARK)}**", sentences, missing))
        drawn = [(f.label, _figure(f, figures_dir, link_dir)) for f in figs]
        drawn = [(label, md) for (label, md), f in zip(drawn, figs) if states[f.key] == "drawn"]
        out.append(place_figures(text, drawn))
    return "\n".join(o for o in out if o)


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
