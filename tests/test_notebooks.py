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


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, dataset_dir: Path) -> Path:
    """Execute every notebook in order, smoke profile, everything written under one scratch folder."""
    run = tmp_path_factory.mktemp("smoke")
    report.run("smoke", run / "reports", data_dir=str(run / "data"), figures_dir=str(run / "figures"),
               reports_dir=str(run / "reports"), data_source=str(dataset_dir))
    return run


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
    assert len(s.rows) == 7 * SMOKE["max_per_category"]
    assert split_mod.straddling_groups(s.rows) == []
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
