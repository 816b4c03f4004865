"""utils.figures: one registry of figures that the note, the README and the tests read."""

from __future__ import annotations

from pathlib import Path

from utils import figures, note

ROOT = Path(__file__).resolve().parents[1]


def test_numbers_and_names_are_unique_and_the_notes_figures_keep_their_numbers() -> None:
    numbers = [f.number for f in figures.FIGURES]
    assert len(numbers) == len(set(numbers)) and len({f.name for f in figures.FIGURES}) == len(
        numbers
    )
    assert sorted(f.number for f in figures.FIGURES if f.note) == list(range(1, 10))
    assert all(f.number >= 10 for f in figures.FIGURES if not f.note)
    for f in figures.FIGURES:
        assert f.name.startswith(f"fig{f.number:02d}_") and f.section in note.SECTIONS
    assert (
        figures.get("fig11_label_budget").number == 11
        and figures.get("fig12_augmentation").number == 12
    )


def test_the_readme_table_is_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split(figures.START)[1].split(figures.END)[0].strip()
    assert table == figures.markdown_table(), "run `python -m utils.figures --update-readme`"
