"""The notebook chain, executed through papermill in the smoke profile on real images.

Like recommenders' notebook tests: inject small parameters, then check what the run recorded
(catalog, split, figures, metrics), not just that it did not crash.
"""
from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest
import yaml

from utils import split as split_mod
from utils.paths import Layout

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SMOKE = yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text())

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, dataset_dir: Path) -> Path:
    """Execute every notebook in order, smoke profile, everything written under one scratch folder."""
    run = tmp_path_factory.mktemp("smoke")
    params = {**SMOKE, "data_dir": str(run / "data"), "figures_dir": str(run / "figures"),
              "reports_dir": str(run / "reports"), "data_source": str(dataset_dir)}
    (run / "reports").mkdir()
    for nb in NOTEBOOKS:
        pm.execute_notebook(str(nb), str(run / "reports" / nb.name), parameters=params,
                            cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
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
