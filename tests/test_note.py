"""utils.report.note: the document's structure (answer first, the original's order, a table of
contents, the run's header), missing figures named instead of dropped, stand-in sections flagged."""

from __future__ import annotations

import matplotlib.pyplot as plt

from utils.core import runs
from utils.report import figures, note, plots


def _partial_run(tmp_path, weights=None):
    path = tmp_path / "metrics.json"
    run = runs.start(
        path,
        "full",
        1,
        weights=weights or {"clip": "openai/clip-vit-base-patch32", "vgg16": "IMAGENET1K_V1"},
    )
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plots.save_figure(fig, "split", tmp_path / "figures", run_id=run["id"])
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
    lime = figures.get("lime")
    assert "## What did not run here" in text and f"{lime.label}, LIME on two test images" in text
    assert ".png` is missing" not in text, "no file names in the note's prose"
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 1 and "dataset.imagesBroken" in page
    assert set(note.missing_figures(tmp_path / "figures")) == {f.name for f in figures.FIGURES} - {
        split.name
    }


def test_an_earlier_runs_figure_never_passes_for_this_runs(tmp_path) -> None:
    """A figure left in figures/ by another run (a smoke run before a full one, a candidate that
    did not run this time) is named, not shown; a new run starts by removing the registered ones."""
    earlier = plots.save_figure(plt.figure(), "lime", tmp_path / "figures", run_id="earlier-run")
    (tmp_path / "figures" / "notes.txt").write_text("the user's own file")
    metrics = _partial_run(tmp_path)
    assert figures.run_of(earlier) == "earlier-run"
    assert (
        figures.run_of(tmp_path / "figures" / f"{figures.get('split').name}.png")
        == (metrics["run"]["id"])
    )
    text = note.build(metrics, tmp_path / "figures", tmp_path / "reports")[0].read_text()
    lime = figures.get("lime").name
    assert f"]({'../figures/' + lime}.png)" not in text
    label = figures.get("lime").label
    assert f"{label}, LIME on two test images: an earlier run's file, not shown" in text
    assert lime in note.missing_figures(tmp_path / "figures", metrics["run"]["id"])
    assert lime not in note.missing_figures(tmp_path / "figures")  # any run's
    renumbered = tmp_path / "figures" / "fig99_lime.png"  # an earlier registry's name
    renumbered.write_bytes(b"")
    assert sorted(figures.remove_drawn(tmp_path / "figures")) == sorted(
        [lime, figures.get("split").name, "fig99_lime"]
    )
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["notes.txt"]


def test_the_html_opens_with_the_run_a_table_of_contents_and_the_answer(tmp_path) -> None:
    _, html = note.build(_partial_run(tmp_path), tmp_path / "figures", tmp_path / "reports")
    page = html.read_text()
    header, toc = page.index('class="header"'), page.index('<nav class="toc">')
    summary = page.index("Summary: the answer first</h2>")
    assert header < toc < summary < page.index("1. The dataset</h2>")
    assert 'href="05_evaluate.ipynb"' in page and "profile <b>full</b>" in page
    titles = [note.section_title(s, {}) for s in note.SECTIONS]
    positions = [page.index(f">{t}</h2>") for t in titles]
    assert positions == sorted(positions)
    assert page.count('href="#') >= len(titles)


def test_the_stand_in_warning_comes_once_then_a_short_mark(tmp_path) -> None:
    metrics = _partial_run(tmp_path, {"clip": "tiny-random", "vgg16": "tiny-random"})
    text = note.markdown_text(metrics, tmp_path / "figures", tmp_path)
    warning = "**Stand-in weights** (CLIP: tiny random weights; VGG16: tiny random weights)"
    assert text.count(warning) == 1 and text.index(warning) < text.index("## Summary")
    # said once, at the top; each section whose numbers read them carries a brief mark (†)
    assert "Sections marked † hold numbers that read these stand-in encoders." in text
    assert "the numbers here that read them are stand-ins" not in text  # no line per section
    flagged = [s for s in note.SECTIONS if s.encoders and s.key != "summary"]
    for section in flagged:
        title = note.section_title(section, metrics)
        assert title.endswith(" †") and f"## {title}\n" in text, title
    assert "## 1. The dataset\n" in text  # reads no encoder: no mark


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


def test_notebook_01_starts_a_run_without_the_last_runs_figures(tmp_path) -> None:
    """Notebook 01 starts a new run; the figures it and the later notebooks save carry its id."""
    from utils.report import notebook

    params = {"figures_dir": str(tmp_path / "figures"), "reports_dir": str(tmp_path / "reports")}
    plots.save_figure(plt.figure(), "lime", tmp_path / "figures", run_id="earlier-run")
    nb = notebook.start("01", {**params, "profile": "smoke", "seed": 3}, show=False)
    nb.timer.stop()  # a notebook's recorder runs for its kernel's life; here, one test's
    assert not (tmp_path / "figures" / f"{figures.get('lime').name}.png").exists()
    path = nb.figure(plt.figure(), "categories")
    assert figures.run_of(path) == nb.metrics()["run"]["id"]
    later = notebook.start("02", {**params, "profile": "smoke", "seed": 3}, show=False)
    later.timer.stop()
    assert figures.run_of(later.figure(plt.figure(), "split")) == nb.metrics()["run"]["id"]


def test_the_header_says_which_weights_were_not_on_this_machine() -> None:
    run = {"id": "r", "profile": "full", "weights": {"clip": "openai/x", "vgg16": "IMAGENET1K_V1"}}
    clip_skipped = {
        "run": run,
        "features": {
            "models": ["text-tfidf", "vgg16-head", "clip-head"],
            "skipped": {"clip-head": "not on this machine"},
        },
    }
    text = note.header(clip_skipped)
    assert "CLIP: <code>openai/x</code> (not on this machine: not run)" in text
    assert (
        "VGG16: <code>IMAGENET1K_V1</code>," not in text
        and "not run)" not in text.split("VGG16")[1]
    )
    assert "not run" not in note.header({"run": run, "features": {"models": ["clip-head"]}})


def _ran(names: list[str], skipped: list[str], stand: bool = False) -> dict:
    """A metrics dict of a run where ``names`` ran and ``skipped`` could not (no weights)."""
    from utils.models.candidates import CANDIDATES

    reads = {"text-tfidf": "text", "pixels-classic": "image", "clip-head": "image"}
    table = {n: {"accuracy": 0.9, "accuracy_low": 0.85, "accuracy_high": 0.95} for n in names}
    assert set(names) | set(skipped) <= set(CANDIDATES)
    weights = {"clip": "tiny-random", "vgg16": "tiny-random"} if stand else {}
    return {
        "run": {"weights": weights},
        "features": {"models": names + skipped, "skipped": {n: "no weights" for n in skipped}},
        "evaluation": {"table": table, "reads": {n: reads.get(n, "image") for n in names}},
    }


def test_the_title_and_first_lines_say_what_the_run_answers() -> None:
    """The weight-free run (text-tfidf and pixels-classic, no photo encoder) is not titled as the
    CLIP note and opens with what it does answer; the CLIP title needs both heads."""
    from utils.report import prose

    free = _ran(["text-tfidf", "pixels-classic"], ["clip-head", "vgg16-head", "clip-probe"])
    title = prose.title(free)
    assert "CLIP against" not in title and "VGG16" not in title
    assert title.startswith("What this catalogue's text and classical pixels give")
    assert "the CLIP question needs the pretrained weights" in title
    part = prose.question_part(free)
    assert part.startswith("**What this run answers.** What `text-tfidf` (text) and ")
    assert "whether CLIP beats VGG16 is not answered here" in part
    both = _ran(["clip-head", "vgg16-head", "text-tfidf"], [])
    assert prose.title(both) == prose.summary.TITLE_BOTH
    assert "CLIP against a VGG16 baseline" in prose.title(both)
    one = prose.title(_ran(["clip-head", "text-tfidf"], ["vgg16-head"]))
    assert "with CLIP and the other candidates" in one and "needs both" in one
    stand = prose.title(_ran(["clip-head", "vgg16-head"], [], stand=True))
    assert "stand-in weights" in stand


def test_sections_that_could_not_run_are_left_out_and_the_rest_numbered_without_a_gap() -> None:
    from utils.report import sections

    free = _ran(["text-tfidf", "pixels-classic"], ["clip-head", "clip-zeroshot"])
    keys = [s.key for s in sections.shown(free)]
    assert "clip" not in keys and keys[0] == "summary" and keys[-1] == "reproducibility"
    numbers = sections.numbers(free)
    assert sorted(numbers.values()) == list(range(1, len(numbers) + 1))
    assert numbers["data"] == 1 and numbers["split"] == 2  # no gap where CLIP's section was
    assert sections.numbers({})["split"] == 3 and sections.numbers({})["clip"] == 2
    from utils.report.prose.common import _section

    assert _section("labels", free) == f"section {numbers['labels']}"
