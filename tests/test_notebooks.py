"""The notebook chain, executed through papermill in the smoke profile on real images.

Like recommenders' notebook tests: inject small parameters, then check what the run recorded
(catalog, split, figures, metrics), not just that it did not crash.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from utils import report, split as split_mod
from utils.paths import Layout

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = report.notebooks()
SMOKE = yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text())

pytestmark = pytest.mark.notebooks


def test_every_notebook_executed(smoke_run: Path) -> None:
    assert sorted(p.name for p in (smoke_run / "reports").glob("*.ipynb")) == [nb.name for nb in NOTEBOOKS]


def test_01_catalog_lists_every_row(smoke_run: Path) -> None:
    import pandas as pd

    catalog = pd.read_csv(Layout(smoke_run / "data").catalog)
    assert len(catalog) == 1050
    assert (catalog["status"] == "missing").sum() == 3
    for name in ("fig01_categories", "fig02_examples"):
        assert (smoke_run / "figures" / f"{name}.png").stat().st_size > 1000


def test_02_split_is_small_stratified_and_leak_free(smoke_run: Path) -> None:
    s = split_mod.load_split(Layout(smoke_run / "data").split)
    assert len(s) == 7 * SMOKE["max_per_category"]
    assert split_mod.straddling_groups(s.all_rows_for_final_evaluation()) == []
    assert set(s.counts().columns) == {"train", "val", "test"}
    assert (smoke_run / "figures" / "fig03_split.png").stat().st_size > 1000


def test_source_notebooks_have_no_outputs_and_one_parameters_cell() -> None:
    import nbformat

    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{nb_path.name} has outputs"
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{nb_path.name} needs exactly one cell tagged 'parameters'"


def _metrics(run: Path) -> dict:
    from utils.evaluate import load_metrics

    return load_metrics(run / "reports" / "metrics.json")


def test_03_features_cached_for_every_image(smoke_run: Path) -> None:
    m = _metrics(smoke_run)["features"]
    n = 7 * SMOKE["max_per_category"]
    for name in ("CLIP", "VGG16"):
        stats = m["extraction"][name]
        assert stats["cached"] + stats["computed"] == n
    folders = [p for p in (Layout(smoke_run / "data").features).iterdir() if p.is_dir()]
    assert sorted(len(list(f.glob("*.npy"))) for f in folders) == [n, n]


def test_04_training_selected_on_validation(smoke_run: Path) -> None:
    m = _metrics(smoke_run)["training"]
    for name in ("CLIP", "VGG16"):
        history = m["history"][name]
        best = m["summary"][name]["best_epoch"]
        assert 1 <= best <= SMOKE["epochs"]
        assert min(history["val_loss"]) == history["val_loss"][best - 1]
    assert (smoke_run / "figures" / "fig05_learning_curves.png").exists()


def test_05_evaluation_recorded_with_intervals_and_paired_test(smoke_run: Path) -> None:
    ev = _metrics(smoke_run)["evaluation"]
    n_test = len(split_mod.load_split(Layout(smoke_run / "data").split).test_for_final_evaluation())
    for name in ("CLIP", "VGG16"):
        row = ev["table"][name]
        assert row["n_test"] == n_test
        assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
        assert np.sum(ev["details"][name]["confusion"]) == n_test
        assert ev["costs"][name]["inference_s_per_image"] > 0
    mc = ev["mcnemar"]
    assert mc["a_right_b_wrong"] + mc["a_wrong_b_right"] + mc["both_right"] + mc["both_wrong"] == n_test
    assert ev["repeats"]["n_splits"] == SMOKE["repeat_seeds"]
    for name in ("fig06_results", "fig06b_confusion"):
        assert (smoke_run / "figures" / f"{name}.png").exists()


def test_06_explanations_recorded(smoke_run: Path) -> None:
    ex = _metrics(smoke_run)["explanations"]
    assert len(ex["examples"]) == 2 and ex["examples"][0]["true"] == "Watches"
    assert set(ex["deletion"]["auc"]) == {"LIME", "SHAP", "random"}
    assert set(ex["stability"]) == {str(n) for n in SMOKE["stability_samples"]}
    assert sum(ex["global"].values()) > 0
    for name in ("fig07_lime", "fig08_shap", "fig09_global_importance", "fig10_trust"):
        assert (smoke_run / "figures" / f"{name}.png").exists()


def test_07_note_has_every_figure_and_the_run_numbers(smoke_run: Path) -> None:
    from utils import note

    assert note.missing_figures(smoke_run / "figures") == []
    text = (smoke_run / "reports" / "note.md").read_text()
    ev = _metrics(smoke_run)["evaluation"]
    assert f"{100 * ev['table']['CLIP']['accuracy']:.1f}%" in text
    assert "not produced by this run" not in text
    html = (smoke_run / "reports" / "note.html").read_text()
    assert html.count("data:image/png;base64,") == len(note.FIGURES)


def test_07_note_renders_in_headless_chromium(smoke_run: Path, tmp_path: Path) -> None:
    """A real browser opens the page: every image must load; a screenshot is kept beside the note."""
    import re
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=10000"]
    page = (smoke_run / "reports" / "note.html").resolve().as_uri()
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'a'}", "--dump-dom", page],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "chromium returned no page"
    total = int(re.search(r'data-images-total="(\d+)"', body.group(1)).group(1))
    broken = int(re.search(r'data-images-broken="(\d+)"', body.group(1)).group(1))
    from utils import note

    assert (total, broken) == (len(note.FIGURES), 0)
    shot = smoke_run / "reports" / "note_screenshot.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'b'}", "--window-size=1200,4000", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000


def test_full_profile_offline_stops_with_one_clear_sentence(smoke_run: Path, tmp_path: Path, monkeypatch) -> None:
    """Without the pretrained weights, `make report` stops at notebook 03 saying what to download."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(report.NotebookFailed) as info:
        report.run("full", tmp_path, only=["03"], data_dir=str(smoke_run / "data"), reports_dir=str(tmp_path),
                   figures_dir=str(tmp_path))
    message = str(info.value)
    assert message.startswith("03_features.ipynb stopped: ModelUnavailableError:")
    assert "hf download openai/clip-vit-base-patch32" in message
