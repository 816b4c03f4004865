"""Shared fixtures: the real dataset (from $DATA_SOURCE) and a scratch catalog of real images."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from utils import data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def dataset_dir() -> Path:
    """The real Flipkart folder; tests that need it are skipped, with the reason, when it is absent."""
    source = os.environ.get("DATA_SOURCE")
    if not source:
        pytest.skip("DATA_SOURCE is not set: point it at the Flipkart folder (CSV + Images/) to run this test")
    folder = data.find_dataset_dir(Path(source))
    if folder is None:
        pytest.skip(f"DATA_SOURCE={source} holds no {data.CSV_NAME} beside Images/")
    return folder


@pytest.fixture(scope="session")
def real_images(dataset_dir: Path) -> list[Path]:
    """A few real product photos, one per category where possible (small and fast)."""
    import pandas as pd

    rows = pd.read_csv(dataset_dir / data.CSV_NAME, dtype=str)
    rows["label"] = rows["product_category_tree"].map(data.parse_category)
    picks = rows.groupby("label").head(1)
    return [dataset_dir / "Images" / name for name in picks["image"] if (dataset_dir / "Images" / name).exists()]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, dataset_dir: Path) -> Path:
    """Execute every notebook in order, smoke profile, everything written under one scratch folder."""
    from utils import report

    run = tmp_path_factory.mktemp("smoke")
    report.run("smoke", run / "reports", data_dir=str(run / "data"), figures_dir=str(run / "figures"),
               reports_dir=str(run / "reports"), data_source=str(dataset_dir))
    return run
