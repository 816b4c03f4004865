"""utils.note: the note names missing figures instead of dropping them, and embeds what exists."""
from __future__ import annotations

import matplotlib.pyplot as plt

from utils import note, plots


def test_note_from_partial_metrics_names_missing_figures(tmp_path) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plots.save_figure(fig, "fig03_split", tmp_path / "figures")
    metrics = {"split": {"images": 10, "fractions": "60% / 20% / 20%", "seed": 1, "groups_straddling": 0,
                         "counts": {"train": {"a": 6, "total": 6}, "val": {"a": 2, "total": 2}, "test": {"a": 2, "total": 2}}}}
    md, html = note.build(metrics, tmp_path / "figures", tmp_path / "reports")
    text = md.read_text()
    assert "The 10 images are split 60% / 20% / 20% with seed 1" in text
    assert "](../figures/fig03_split.png)" in text
    assert "`fig07_lime.png` is missing" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 1 and "dataset.imagesBroken" in page
    assert set(note.missing_figures(tmp_path / "figures")) == set(note.FIGURES) - {"fig03_split"}
