"""Shared fixtures: the real dataset ($DATA_SOURCE, else the bundled sample data/sample/), small
real images, tiny models, and the notebook chain run once in the smoke profile (every candidate)
for the notebook tests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from utils.data import acquire, catalog, split

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items) -> None:
    """The tiers: every test that needs the note's full data (the ``full_dataset_dir`` fixture,
    directly or through another fixture) is marked ``full``, the real-data tier of ``make
    test-full``; ``make test`` runs the rest."""
    for item in items:
        if "full_dataset_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.full)


@pytest.fixture(scope="session", autouse=True)
def _precision_decisions_of_this_session(tmp_path_factory):
    """``precision="auto"`` remembers its decisions in a folder of this test session (the kernels
    that papermill starts inherit it), never in the user's cache."""
    folder = tmp_path_factory.mktemp("precision-cache")
    before = os.environ.get("CLIP_POC_CACHE")
    os.environ["CLIP_POC_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("CLIP_POC_CACHE", None)
    else:
        os.environ["CLIP_POC_CACHE"] = before


@pytest.fixture(autouse=True)
def _no_recorder_left_running():
    """A test that starts a notebook session in this process (``notebook.start`` starts its step
    recorder) leaves no recorder collecting the next tests' steps."""
    from utils.core import timing

    before = list(timing._ACTIVE)
    yield
    for recorder in [r for r in timing._ACTIVE if r not in before]:
        recorder.stop()


@pytest.fixture(scope="session")
def dataset_dir() -> Path:
    """The real data the tests run on: the folder of $DATA_SOURCE (the full Flipkart sample in CI),
    else the bundled sample (data/sample/: 10 real photos per category, committed), so that a fresh
    clone with nothing downloaded runs them."""
    source = os.environ.get("DATA_SOURCE")
    if not source:
        assert acquire.sample_manifest(acquire.SAMPLE_DIR), (
            f"the bundled sample {acquire.SAMPLE_DIR} is gone"
        )
        return acquire.SAMPLE_DIR
    folder = acquire.find_dataset_dir(Path(source))
    if folder is None:
        pytest.skip(f"DATA_SOURCE={source} holds no catalog CSV beside Images/")
    return folder


@pytest.fixture(scope="session")
def full_dataset_dir(dataset_dir: Path) -> Path:
    """The note's full dataset (all 1050 rows), for the tests whose claim is about all of it; they
    are skipped, with the reason, on the bundled sample or another catalog."""
    if acquire.identify(dataset_dir)["kind"] != "note":
        pytest.skip(
            "needs the note's full Flipkart sample (1050 rows): set DATA_SOURCE to its folder "
            f"(CSV + Images/); {dataset_dir} holds {acquire.identify(dataset_dir)['csv']}"
        )
    return dataset_dir


@pytest.fixture(scope="session")
def real_csv(dataset_dir: Path) -> pd.DataFrame:
    rows = pd.read_csv(acquire.find_csv(dataset_dir), dtype=str, keep_default_na=False)
    rows["label"] = rows["product_category_tree"].map(catalog.parse_category)
    rows["present"] = [(dataset_dir / "Images" / n).exists() for n in rows["image"]]
    return rows


@pytest.fixture(scope="session")
def real_images(dataset_dir: Path, real_csv: pd.DataFrame) -> list[Path]:
    """A few real product photos, one per category (small and fast)."""
    picks = real_csv[real_csv["present"]].groupby("label").head(1)
    return [dataset_dir / "Images" / name for name in picks["image"]]


@pytest.fixture(scope="session")
def real_rows(dataset_dir: Path, real_csv: pd.DataFrame) -> pd.DataFrame:
    """Catalog-like rows of real products: 6 per category (42), path, sha256, texts and label."""
    picks = real_csv[real_csv["present"]].groupby("label").head(6).reset_index(drop=True)
    paths = [dataset_dir / "Images" / n for n in picks["image"]]
    return pd.DataFrame(
        {
            "row": range(len(picks)),
            "image": picks["image"],
            "path": [str(p) for p in paths],
            "sha256": [acquire._sha256(p) for p in paths],
            "label": picks["label"],
            "product_name": picks["product_name"],
            "description": picks["description"],
        }
    )


def make_own_catalog(dataset_dir: Path, real_csv: pd.DataFrame, folder: Path) -> Path:
    """A team's catalog of the note's schema: a long tail of categories built from real photos
    (renamed; category sizes 10, 10, 10, 10, 10, 3 and 1, as many as the bundled sample holds,
    so that five categories are kept at min_per_category=10 and two are rare), extra columns, and
    faulty rows (traversal, absolute, empty and duplicated names, a missing and a broken photo).
    The duplicated name is a photo of a rare category, so every kept category keeps its 10."""
    images = folder / "Images"
    images.mkdir(parents=True)
    present = real_csv[real_csv["present"]]
    sizes = {
        "Watches": 10,
        "Kitchen & Dining": 10,
        "Computers": 10,
        "Baby Care": 10,
        "Home Furnishing": 10,
        "Beauty and Personal Care": 3,
        "Home Decor & Festive Needs": 1,
    }
    rows = []
    for label, n in sizes.items():
        photos = present[present["label"] == label].head(n)
        assert len(photos) == n, f"{dataset_dir} has {len(photos)} photos of {label!r}, {n} needed"
        for _, r in photos.iterrows():
            name = f"own_{len(rows):03d}.jpg"
            shutil.copy(dataset_dir / "Images" / r["image"], images / name)
            rows.append(
                {**r.drop(["label", "present"]).to_dict(), "image": name, "warehouse": "B7"}
            )
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    template = dict(rows[0])
    rare = next(
        r["image"]
        for r in rows
        if catalog.parse_category(r["product_category_tree"]) == "Beauty and Personal Care"
    )
    faulty = {
        "../escape.jpg": "traversal",
        "/etc/passwd": "absolute",
        "": "empty",
        rare: "duplicate",
        "absent.jpg": "missing",
        "broken.jpg": "broken",
    }
    for name in faulty:
        rows.append({**template, "image": name, "uniq_id": f"faulty-{faulty[name]}"})
    pd.DataFrame(rows).to_csv(folder / "our_catalog.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def own_catalog(tmp_path_factory, dataset_dir: Path, real_csv: pd.DataFrame) -> Path:
    return make_own_catalog(dataset_dir, real_csv, tmp_path_factory.mktemp("own") / "catalog")


# The smoke chain's settings other than the profile's defaults: the note must state what the run
# used (test_the_note_states_the_settings_the_run_used), so some differ from the defaults.
SMOKE_OVERRIDES = {
    "seed": 7,
    "num_samples": 30,
    "global_per_category": 3,
    "repeat_seeds": 2,
    "n_boot": 150,
}


def smoke_settings() -> dict:
    """What the smoke chain ran with: the smoke profile and ``SMOKE_OVERRIDES``."""
    import yaml

    return {**yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text()), **SMOKE_OVERRIDES}


def fresh_copy(folder: Path) -> Path:
    """The project as a fresh clone holds it: tracked files and files git does not ignore."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The one notebook chain of ``make test``: a fresh copy of the project (what git holds),
    DATA_SOURCE unset and no network, ``make smoke``'s command with ``SMOKE_OVERRIDES``: every
    notebook in order, every candidate, tiny models, on the bundled sample (data/sample/), its
    data, reports and figures in the copy's own folders. Every test of an executed notebook reads
    this run."""
    import subprocess
    import sys

    clone = fresh_copy(tmp_path_factory.mktemp("smoke"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_SOURCE", "PYTHONPATH")}
    env.update(PYTHONPATH=str(clone), HF_HUB_OFFLINE="1")
    args = [a for k, v in SMOKE_OVERRIDES.items() for a in ("-p", k, json.dumps(v))]
    done = subprocess.run(
        [sys.executable, "-m", "utils.report", "--profile", "smoke", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    (clone / "reports").mkdir(exist_ok=True)
    (clone / "reports" / "run.log").write_text(done.stdout + done.stderr)  # each notebook's time
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return clone


def metrics_of(run: Path) -> dict:
    return json.loads((run / "reports" / "metrics.json").read_text())


@pytest.fixture(scope="module")
def small_split(real_rows, tmp_path_factory):
    """A split of ``real_rows`` (6 real products per category) with random photo hashes and no
    text grouping, so every row is its own group: the candidates' tests fit on it."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = real_rows.assign(
        phash=[f"{int(x):016x}" for x in rng.integers(0, 2**63, len(real_rows), dtype=np.uint64)]
    )
    path = tmp_path_factory.mktemp("split") / "split.csv"
    split.save_split(split.make_split(rows, seed=3, text_threshold=1.1), path)
    return split.load_split(path)
