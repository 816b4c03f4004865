"""utils.note: the document's structure (answer first, the original's order, a table of contents,
the run's header), missing figures named instead of dropped, stand-in sections flagged."""

from __future__ import annotations

import matplotlib.pyplot as plt

from utils import figures, note, plots, runs


def _partial_run(tmp_path, weights=None):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plots.save_figure(fig, "split", tmp_path / "figures")
    path = tmp_path / "metrics.json"
    runs.start(
        path,
        "full",
        1,
        weights=weights or {"clip": "openai/clip-vit-base-patch32", "vgg16": "IMAGENET1K_V1"},
    )
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
    return runs.load(path)


def test_note_from_partial_metrics_names_missing_figures(tmp_path) -> None:
    md, html = note.build(_partial_run(tmp_path), tmp_path / "figures", tmp_path / "reports")
    text = md.read_text()
    assert (
        "The 10 photos are split 60% / 20% / 20% (training / validation / test) with seed 1" in text
    )
    split = figures.get("split")
    assert f"](../figures/{split.name}.png)" in text and f"{split.label}. How the images" in text
    assert f"`{figures.get('lime').name}.png` is missing" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 1 and "dataset.imagesBroken" in page
    assert set(note.missing_figures(tmp_path / "figures")) == {f.name for f in figures.FIGURES} - {
        split.name
    }


def test_the_html_opens_with_the_run_a_table_of_contents_and_the_answer(tmp_path) -> None:
    _, html = note.build(_partial_run(tmp_path), tmp_path / "figures", tmp_path / "reports")
    page = html.read_text()
    header, toc = page.index('class="header"'), page.index('<nav class="toc">')
    summary = page.index("Summary: the answer first</h2>")
    assert header < toc < summary < page.index("1. The dataset</h2>")
    assert 'href="05_evaluate.ipynb"' in page and "profile <b>full</b>" in page
    titles = [s.title for s in note.SECTIONS]
    positions = [page.index(f">{t}</h2>") for t in titles]
    assert positions == sorted(positions)
    assert page.count('href="#') >= len(titles)


def test_sections_with_stand_in_numbers_carry_the_warning(tmp_path) -> None:
    metrics = _partial_run(tmp_path, {"clip": "tiny-random", "vgg16": "tiny-random"})
    text = note.markdown_text(metrics, tmp_path / "figures", tmp_path)
    warning = "**Stand-in weights** (CLIP: tiny random weights; VGG16: tiny random weights)"
    flagged = [s.title for s in note.SECTIONS if s.encoders and s.key != "summary"]
    for title in flagged:
        body = text.split(f"## {title}\n")[1].split("\n## ")[0]
        assert warning in body, title
    data = text.split("## 1. The dataset\n")[1].split("\n## ")[0]
    assert warning not in data


def test_unregistered_figures_cannot_be_saved(tmp_path) -> None:
    import pytest

    fig, _ = plt.subplots()
    with pytest.raises(KeyError, match="register"):
        plots.save_figure(fig, "fig99_unlisted", tmp_path)


def test_stand_in_figures_are_marked_inside_the_image(tmp_path) -> None:
    from PIL import Image

    sizes = {}
    for stand in (None, "tiny random weights: CLIP"):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1])
        path = plots.save_figure(fig, "results", tmp_path / str(bool(stand)), stand_in=stand)
        sizes[stand] = Image.open(path).size
        plt.close(fig)
    assert sizes["tiny random weights: CLIP"][1] > sizes[None][1]  # the red line above the plot
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1])
    path = plots.save_figure(fig, "split", tmp_path / "data", stand_in="tiny random weights: CLIP")
    assert Image.open(path).size == sizes[None]  # a figure of the data is never marked
