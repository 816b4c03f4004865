"""utils.note: the note names missing figures instead of dropping them, and embeds what exists."""

from __future__ import annotations

import matplotlib.pyplot as plt

from utils import figures, note, plots, runs


def test_note_from_partial_metrics_names_missing_figures(tmp_path) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plots.save_figure(fig, "fig03_split", tmp_path / "figures")
    path = tmp_path / "metrics.json"
    runs.start(path, "full", 1)
    runs.record(
        path,
        "split",
        {
            "images": 10,
            "fractions": "60% / 20% / 20%",
            "seed": 1,
            "groups_straddling": 0,
            "groups": 2,
            "max_distance": 4,
            "text_threshold": 0.9,
            "datasets_path": "data/hf",
            "counts": {
                "train": {"a": 6, "total": 6},
                "val": {"a": 2, "total": 2},
                "test": {"a": 2, "total": 2},
            },
        },
        split_id="s1",
    )
    md, html = note.build(runs.load(path), tmp_path / "figures", tmp_path / "reports")
    text = md.read_text()
    assert "The 10 images are split 60% / 20% / 20% with seed 1" in text
    assert "](../figures/fig03_split.png)" in text and "Figure 3. How the images" in text
    assert "`fig07_lime.png` is missing" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 1 and "dataset.imagesBroken" in page
    assert set(note.missing_figures(tmp_path / "figures")) == {f.name for f in figures.FIGURES} - {
        "fig03_split"
    }


def test_unregistered_figures_cannot_be_saved(tmp_path) -> None:
    import pytest

    fig, _ = plt.subplots()
    with pytest.raises(KeyError, match="register"):
        plots.save_figure(fig, "fig99_unlisted", tmp_path)
