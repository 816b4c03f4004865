"""``make publish``: copy a finished run into ``reports/reference/``, the run anyone can read in the
repository without running anything.

What is copied: the executed notebooks, the note (``note.md``, its figure links pointing at the
copied figures), the figures the note shows, and the model card; a ``README.md`` header names the
run, its profile, the commit it ran and when it was published. The run must be whole (every
notebook, a note built from one consistent run) and made by committed code: a run of uncommitted
changes cannot be checked out again, so it is refused. ``stale_cells`` says which published cells
no longer equal the source notebooks' (a test reads it): a changed notebook asks for a republish.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from .note import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reports" / "reference"
INJECTED = "injected-parameters"  # papermill's cell of the run's parameters


class NotPublishable(RuntimeError):
    """The run cannot be published as the reference (one sentence says why)."""


PALETTE = 256  # colours of the images embedded in a published notebook


def _copy_with_lighter_images(src: Path, dest: Path) -> None:
    """``src`` copied to ``dest`` with each embedded PNG stored in ``PALETTE`` colours (a third of
    the bytes, the same drawing), so that no published notebook passes 2 MB in git; the note's
    figures are copied at full colour."""
    import base64
    import io

    from PIL import Image

    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                image = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
                buffer = io.BytesIO()
                image.convert("RGB").quantize(PALETTE).save(buffer, "PNG", optimize=True)
                data["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    nbformat.write(nb, dest)


def _run_info(reports_dir: Path) -> dict:
    metrics = reports_dir / "metrics.json"
    if not metrics.exists():
        raise NotPublishable(f"{metrics} is missing: run `make report` first, then `make publish`.")
    return json.loads(metrics.read_text()).get("run", {})


def _cells(path: Path) -> list[tuple[str, str]]:
    """``(type, source)`` of a notebook's code and markdown cells, without papermill's injected
    parameters."""
    nb = nbformat.read(path, as_version=4)
    return [
        (c.cell_type, c.source.strip())
        for c in nb.cells
        if c.cell_type in ("code", "markdown") and INJECTED not in c.metadata.get("tags", [])
    ]


def stale_cells(published: Path, source: Path) -> list[str]:
    """Where the published notebook's cells differ from the source notebook's (empty: fresh)."""
    a, b = _cells(published), _cells(source)
    out = [f"{len(a)} cells published, {len(b)} in the source"] if len(a) != len(b) else []
    out += [
        f"cell {i} ({kind}): {src[:60]!r}"
        for i, ((kind, src), other) in enumerate(zip(b, a, strict=False))
        if (kind, src) != other
    ]
    return out


def _note_with_local_figures(note: str, figures_dir: Path, reports_dir: Path) -> tuple[str, list]:
    """The note's figure links rewritten to ``figures/<name>``, and the figures it links."""
    shown = []

    def local(match: re.Match) -> str:
        target = (reports_dir / match.group(2)).resolve()
        if target.parent != figures_dir.resolve():
            return match.group(0)
        shown.append(target)
        return f"{match.group(1)}(figures/{target.name})"

    return re.sub(r"(!\[[^\]]*\])\(([^)\s]+\.png)\)", local, note), shown


def publish(
    reports_dir: Path | str = ROOT / "reports",
    figures_dir: Path | str = ROOT / "figures",
    dest: Path | str = REFERENCE,
    allow_dirty: bool = False,
) -> Path:
    """Copy the run in ``reports_dir`` (figures in ``figures_dir``) into ``dest`` (replaced)."""
    reports_dir, figures_dir, dest = Path(reports_dir), Path(figures_dir), Path(dest)
    run = _run_info(reports_dir)
    missing = [n for n in NOTEBOOKS if not (reports_dir / f"{n}.ipynb").exists()]
    for name in ("note.md", "model_card.md"):
        if not (reports_dir / name).exists():
            missing.append(name)
    if missing:
        raise NotPublishable(
            f"the run in {reports_dir} is not whole ({', '.join(missing)} missing): run "
            "`make report` to the end, then `make publish`."
        )
    version = str(run.get("code_version", ""))
    if version.endswith("-dirty") and not allow_dirty:
        raise NotPublishable(
            f"run {run.get('id')} ran uncommitted changes ({version}): commit, run `make report` "
            "again, then `make publish` (a reference must be reproducible from a commit)."
        )
    stale = {
        n: stale_cells(reports_dir / f"{n}.ipynb", ROOT / "notebooks" / f"{n}.ipynb")
        for n in NOTEBOOKS
    }
    stale = {n: s for n, s in stale.items() if s}
    if stale:
        raise NotPublishable(
            "the run's notebooks differ from notebooks/ ("
            + "; ".join(f"{n}: {s[0]}" for n, s in stale.items())
            + "): run `make report` again, then `make publish`."
        )
    note, shown = _note_with_local_figures(
        (reports_dir / "note.md").read_text(), figures_dir, reports_dir
    )
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "figures").mkdir(parents=True)
    for n in NOTEBOOKS:
        _copy_with_lighter_images(reports_dir / f"{n}.ipynb", dest / f"{n}.ipynb")
    for path in shown:
        shutil.copy2(path, dest / "figures" / path.name)
    (dest / "note.md").write_text(note)
    card = (reports_dir / "model_card.md").read_text()
    (dest / "model_card.md").write_text(
        card.replace("(`reports/note.html`)", "([note.md](note.md))")
    )
    (dest / "README.md").write_text(_header(run, shown))
    return dest


def _header(run: dict, shown: list[Path]) -> str:
    links = " · ".join(f"[{n}]({n}.ipynb)" for n in NOTEBOOKS)
    return (
        "# The reference run\n\n"
        f"Run `{run.get('id')}`: profile **{run.get('profile')}**, seed {run.get('seed')}, code "
        f"`{run.get('code_version')}` (the commit it ran), started {run.get('started')}; "
        f"published {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `make publish`.\n\n"
        "- [The note](note.md) (its figures in `figures/`) and "
        "[the model card](model_card.md).\n"
        f"- The executed notebooks: {links}.\n\n"
        "Read it as what `make report` gives on this repository's data (the run's header says "
        "which weights it had: a run without the pretrained weights answers only for the "
        "candidates that need none). To regenerate: `make report`, then `make publish`; "
        "`tests/test_publish.py` fails when a notebook in `notebooks/` no longer equals its "
        "published copy.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports-dir", default=str(ROOT / "reports"))
    parser.add_argument("--figures-dir", default=str(ROOT / "figures"))
    parser.add_argument("--dest", default=str(REFERENCE))
    parser.add_argument("--allow-dirty", action="store_true")
    args = parser.parse_args(argv)
    try:
        dest = publish(args.reports_dir, args.figures_dir, args.dest, args.allow_dirty)
    except NotPublishable as exc:
        raise SystemExit(f"make publish: {exc}") from None
    print(f"published into {dest}")


if __name__ == "__main__":
    main()
