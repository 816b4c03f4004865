"""utils.report.publish (``make publish``): the committed reference run and its freshness."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from utils.report import publish
from utils.report.note import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


def test_the_reference_run_equals_the_source_notebooks() -> None:
    """A notebook changed since the reference run was published asks for a republish."""
    ref = publish.REFERENCE
    assert (ref / "README.md").exists(), "no reference run: `make report`, then `make publish`"
    stale = {
        n: publish.stale_cells(ref / f"{n}.ipynb", ROOT / "notebooks" / f"{n}.ipynb")
        for n in NOTEBOOKS
    }
    stale = {n: s for n, s in stale.items() if s}
    assert not stale, f"notebooks changed since `make publish` ({stale}): republish"


def test_the_reference_run_is_whole_and_names_its_run() -> None:
    ref = publish.REFERENCE
    header = (ref / "README.md").read_text()
    run = re.search(r"Run `([^`]+)`: profile \*\*(\w+)\*\*.*? code `([^`]+)`", header)
    assert run, header[:300]
    assert not run.group(3).endswith("-dirty")
    note = (ref / "note.md").read_text()
    assert run.group(1) in note  # the note is the same run's
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", note)
    assert figures and all((ref / f).exists() for f in figures)
    assert all((ref / f"{n}.ipynb").exists() for n in NOTEBOOKS)
    card = (ref / "model_card.md").read_text()
    assert card.startswith("---") and "note.html" not in card  # the note published beside it
    too_large = [p.name for p in ref.rglob("*") if p.stat().st_size > 2_000_000]
    assert not too_large, f"over 2 MB in git: {too_large}"


def _fake_run(folder: Path, version: str = "abc1234") -> tuple[Path, Path]:
    reports, figures = folder / "reports", folder / "figures"
    reports.mkdir(parents=True)
    figures.mkdir()
    for n in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{n}.ipynb", as_version=4)
        injected = nbformat.v4.new_code_cell('# Parameters\nprofile = "full"\n')
        injected.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(2, injected)
        nbformat.write(nb, reports / f"{n}.ipynb")
    run = {"id": "20261207T000000-test", "profile": "full", "seed": 42, "code_version": version}
    (reports / "metrics.json").write_text(json.dumps({"run": run}))
    (figures / "fig01_headline.png").write_bytes(b"\x89PNG fake")
    (figures / "fig99_unused.png").write_bytes(b"\x89PNG fake")
    (reports / "note.md").write_text(
        "# Note\n\nRun `20261207T000000-test`.\n\n![Figure 1. A.](../figures/fig01_headline.png)\n"
    )
    (reports / "model_card.md").write_text("---\nlanguage: en\n---\n")
    return reports, figures


def test_publish_copies_the_run_with_its_figures_and_says_which_run(tmp_path) -> None:
    reports, figures = _fake_run(tmp_path)
    dest = publish.publish(reports, figures, tmp_path / "reference")
    assert (dest / "note.md").read_text().endswith("(figures/fig01_headline.png)\n")
    assert sorted(p.name for p in (dest / "figures").iterdir()) == ["fig01_headline.png"]
    assert "`20261207T000000-test`" in (dest / "README.md").read_text()
    assert all(
        not publish.stale_cells(dest / f"{n}.ipynb", ROOT / "notebooks" / f"{n}.ipynb")
        for n in NOTEBOOKS
    )


def test_publish_refuses_dirty_partial_or_stale_runs_in_one_sentence(tmp_path) -> None:
    reports, figures = _fake_run(tmp_path / "dirty", version="abc1234-dirty")
    with pytest.raises(publish.NotPublishable, match="uncommitted changes"):
        publish.publish(reports, figures, tmp_path / "out")
    reports, figures = _fake_run(tmp_path / "partial")
    (reports / "07_labels.ipynb").unlink()
    with pytest.raises(publish.NotPublishable, match="07_labels missing"):
        publish.publish(reports, figures, tmp_path / "out")
    reports, figures = _fake_run(tmp_path / "stale")
    nb = nbformat.read(reports / "05_evaluate.ipynb", as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code" and not c.metadata.get("tags"))
    code.source += "\nprint('changed')"
    nbformat.write(nb, reports / "05_evaluate.ipynb")
    with pytest.raises(publish.NotPublishable, match="05_evaluate: cell"):
        publish.publish(reports, figures, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    shutil.rmtree(tmp_path / "stale")
