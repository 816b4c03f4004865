"""utils.report.figures: one registry of figures, numbered in the note's reading order, that the
notebooks, the note, the README, the figure sheet and the tests all read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from utils.report import figures, note

ROOT = Path(__file__).resolve().parents[1]


def test_figures_are_numbered_in_the_order_the_note_shows_them() -> None:
    order = [s.key for s in note.SECTIONS]
    positions = [order.index(f.section) for f in figures.FIGURES]
    assert positions == sorted(positions), "FIGURES must list the figures in the note's order"
    assert [f.number for f in figures.FIGURES] == list(range(1, len(figures.FIGURES) + 1))
    for f in figures.FIGURES:
        assert f.name == f"fig{f.number:02d}_{f.key}"


def test_each_of_the_original_nine_figures_is_redrawn_once_and_says_so() -> None:
    originals = sorted(f.original for f in figures.FIGURES if f.original)
    assert originals == list(range(1, 10))
    for f in figures.FIGURES:
        if f.original:
            assert f"Figure {f.original} of the original note" in f.full_caption
        else:
            assert "of the original note, redrawn" not in f.full_caption


def test_keys_are_unique_and_unknown_keys_are_refused() -> None:
    keys = [f.key for f in figures.FIGURES]
    assert len(keys) == len(set(keys))
    with pytest.raises(KeyError, match="register it there first"):
        figures.get("no_such_figure")


def test_notebooks_save_only_registered_figures_and_every_figure_is_saved_somewhere() -> None:
    import nbformat

    saved = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code")
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "figure":
                key = node.args[1].value
                saved[key] = path.name[:2]
    assert set(saved) == {f.key for f in figures.FIGURES}
    for f in figures.FIGURES:
        assert saved[f.key] == f.notebook, f"{f.key} is drawn by notebook {saved[f.key]}"


def test_the_readme_table_is_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split(figures.START)[1].split(figures.END)[0].strip()
    assert table == figures.markdown_table(), "run `make figures-table`"


def test_the_figure_sheet_shows_every_figure_or_names_it_missing(tmp_path) -> None:
    import matplotlib.pyplot as plt

    from utils.report import plots

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plots.save_figure(fig, "split", tmp_path)
    page = figures.sheet(tmp_path, tmp_path / "sheet.html").read_text()
    assert page.count("data:image/png;base64,") == 1
    assert page.count("is missing") == len(figures.FIGURES) - 1
    assert f"{figures.get('split').name}.png" in page
