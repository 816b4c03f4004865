"""A leak-free, stratified train / validation / test split.

Near-duplicate groups (``dedup``) always fall on one side. The test rows are locked: the ``Split``
object hands them out only through ``test_for_final_evaluation()``, which the final evaluation
calls once. Also written as a Hugging Face ``DatasetDict``; ``other_splits`` draws the repeated
splits of notebook 05.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from .dedup import leak_groups

SPLITS = ("train", "val", "test")


class TestSetLocked(RuntimeError):
    """Raised when the test rows are read anywhere but in the final evaluation."""


def subsample(rows: pd.DataFrame, per_category: int | None, seed: int) -> pd.DataFrame:
    """At most ``per_category`` rows per label (the smoke profile); ``None`` keeps everything."""
    if not per_category:
        return rows.reset_index(drop=True)
    shuffled = rows.sample(frac=1, random_state=seed)
    return shuffled.groupby("label").head(per_category).sort_values("row").reset_index(drop=True)


# --------------------------------------------------------------------------- the split
def assign(
    labels: np.ndarray,
    groups: np.ndarray,
    seed: int,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> np.ndarray:
    """``"train"``, ``"val"`` or ``"test"`` per row, stratified by label, groups kept whole.

    ``StratifiedGroupKFold`` with ``1/test_fraction`` folds takes one fold as test, then again on
    the rest for validation. Same seed, same split.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)

    def one_fold(index: np.ndarray, fraction: float) -> np.ndarray:
        n_splits = max(2, round(1 / fraction))
        if len(np.unique(groups[index])) < n_splits:
            raise ValueError(
                f"{len(np.unique(groups[index]))} groups cannot be split {n_splits} ways: "
                "too few images (or near-duplicate groups) for this split"
            )
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        _, held = next(folds.split(np.zeros(len(index)), labels[index], groups[index]))
        return index[held]

    test = one_fold(np.arange(len(labels)), test_fraction)
    rest = np.setdiff1d(np.arange(len(labels)), test)
    val = one_fold(rest, val_fraction / (1 - test_fraction))
    out = np.full(len(labels), "train", dtype=object)
    out[val] = "val"
    out[test] = "test"
    return out


COLUMNS = ["row", "image", "path", "label", "product_name", "description", "sha256", "phash"]


def make_split(
    rows: pd.DataFrame,
    seed: int = 42,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    max_distance: int = 4,
    text_threshold: float = 0.9,
) -> pd.DataFrame:
    """Assign each usable row to train, val or test, stratified by label and grouped against leaks.

    Returns the rows with ``image_group``, ``text_group``, ``group`` and ``split`` columns.
    """
    out = rows[[c for c in COLUMNS if c in rows.columns]].reset_index(drop=True).copy()
    if "description" not in out:
        out["description"] = ""
    out = pd.concat([out, leak_groups(out, max_distance, text_threshold)], axis=1)
    out["split"] = assign(
        out["label"].to_numpy(), out["group"].to_numpy(), seed, val_fraction, test_fraction
    )
    return out


def other_splits(
    rows: pd.DataFrame,
    seed: int,
    n: int,
    val_fraction: float,
    test_fraction: float,
    max_tries: int = 1000,
) -> dict[int, np.ndarray]:
    """``n`` further splits of the same rows and groups (repeated-split evaluation), none equal to
    the headline.

    Seeds start after ``seed`` (the headline split's) and any seed that happens to give the
    headline's test rows again is skipped, so no "other" split reproduces the headline test.
    Returns ``{seed: split names per row}``.
    """
    labels, groups = rows["label"].to_numpy(), rows["group"].to_numpy()
    headline = set(np.flatnonzero(rows["split"].to_numpy() == "test"))
    out: dict[int, np.ndarray] = {}
    s = seed
    while len(out) < n and s < seed + max_tries:
        s += 1
        parts = assign(labels, groups, s, val_fraction, test_fraction)
        if set(np.flatnonzero(parts == "test")) != headline:
            out[s] = parts
    return out


def straddling_groups(split_rows: pd.DataFrame) -> list[int]:
    """Groups found in more than one split (must be empty)."""
    per_group = split_rows.groupby("group")["split"].nunique()
    return per_group[per_group > 1].index.tolist()


class Split:
    """The split of one run. ``train`` and ``val`` are open; the test rows are locked.

    ``inputs()`` lists every row's photo and text without its label or split (enough for
    label-free work such as feature extraction); the test rows, and all rows with labels, are
    handed out only by the two ``..._for_final_evaluation()`` methods.
    """

    def __init__(self, rows: pd.DataFrame, split_id: str = "") -> None:
        self._rows = rows.reset_index(drop=True)
        self.split_id = split_id

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def train(self) -> pd.DataFrame:
        return self._part("train")

    @property
    def val(self) -> pd.DataFrame:
        return self._part("val")

    @property
    def test(self) -> pd.DataFrame:
        raise TestSetLocked(
            "The test split is read once, by the final evaluation: call "
            "split.test_for_final_evaluation()."
        )

    def inputs(self) -> pd.DataFrame:
        """Every row's ``image``, ``path``, ``sha256``, ``product_name`` and ``description``: no
        labels, no split."""
        return self._rows[["image", "path", "sha256", "product_name", "description"]].copy()

    def test_for_final_evaluation(self) -> pd.DataFrame:
        """The test rows: only the final evaluation (notebook 05) and post-hoc analyses call it."""
        return self._part("test")

    def all_rows_for_final_evaluation(self) -> pd.DataFrame:
        """Every row with its label and split (the final evaluation's repeated splits)."""
        return self._rows.copy()

    def labels(self) -> list[str]:
        """Class names in a fixed (sorted) order; index i is class id i."""
        return sorted(self._rows["label"].unique())

    def counts(self) -> pd.DataFrame:
        """Images per category and split (counts only: no test content is exposed)."""
        table = pd.crosstab(self._rows["label"], self._rows["split"]).reindex(
            columns=list(SPLITS), fill_value=0
        )
        table.loc["total"] = table.sum()
        return table

    def _part(self, name: str) -> pd.DataFrame:
        return self._rows[self._rows["split"] == name].reset_index(drop=True)


def save_split(split_rows: pd.DataFrame, path: str | os.PathLike, info: dict | None = None) -> str:
    """Write the split (CSV) and, beside it, ``info`` (the settings that made it) as JSON; return
    its id.

    The id is a hash of the CSV's content: every later artefact records the split it was made on.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    split_rows.to_csv(path, index=False)
    split_id = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    info_path = path.with_suffix(".json")
    info_path.write_text(json.dumps({**(info or {}), "split_id": split_id}, indent=2))
    return split_id


def load_split(path: str | os.PathLike) -> Split:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook 02 first.")
    rows = pd.read_csv(
        path,
        dtype={
            "phash": str,
            "sha256": str,
            "image": str,
            "label": str,
            "product_name": str,
            "description": str,
        },
        keep_default_na=False,
    )
    return Split(rows, hashlib.sha256(path.read_bytes()).hexdigest()[:12])


def load_split_info(path: str | os.PathLike) -> dict:
    """The settings notebook 02 recorded beside the split (seed, fractions, grouping thresholds,
    id)."""
    info = Path(path).with_suffix(".json")
    if not info.exists():
        raise FileNotFoundError(f"{info} does not exist: run notebook 02 first.")
    return json.loads(info.read_text())


def to_datasets(split: Split, folder: str | os.PathLike):
    """Write the split as a Hugging Face ``DatasetDict`` (train / validation / test) under
    ``folder``.

    Features: the photo (``Image``), the label (``ClassLabel``, the split's class order), product
    name, description, near-duplicate group. Loadable with ``datasets.load_from_disk``. This is an
    export for other tools; the project's own code keeps reading through ``Split``.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Image, Value

    classes = split.labels()
    features = Features(
        {
            "image": Image(),
            "label": ClassLabel(names=classes),
            "product_name": Value("string"),
            "description": Value("string"),
            "group": Value("int64"),
            "image_name": Value("string"),
        }
    )
    rows = split.all_rows_for_final_evaluation()
    parts = {}
    for name, part in (("train", "train"), ("validation", "val"), ("test", "test")):
        r = rows[rows["split"] == part]
        parts[name] = Dataset.from_dict(
            {
                "image": r["path"].tolist(),
                "label": [classes.index(c) for c in r["label"]],
                "product_name": r["product_name"].tolist(),
                "description": r["description"].tolist(),
                "group": r["group"].astype(int).tolist(),
                "image_name": r["image"].tolist(),
            },
            features=features,
        )
    dataset = DatasetDict(parts)
    dataset.save_to_disk(str(folder))
    return dataset


def summary(split_rows: pd.DataFrame, settings: dict, layout, usable: int) -> dict:
    """What notebook 02 records: sizes, settings, groups, where the DatasetDict is (``usable``:
    the usable rows of the catalog, before any subsample)."""
    from .dedup import groups_table

    counts = Split(split_rows).counts()
    groups, straddling = groups_table(split_rows), straddling_groups(split_rows)
    hf = layout.hf_split
    root = layout.data_dir.parent
    val, test = settings["val_fraction"], settings["test_fraction"]
    return {
        "images": len(split_rows),
        "usable": usable,
        "counts": counts.to_dict(),
        "fractions": f"{1 - val - test:.0%} / {val:.0%} / {test:.0%}",
        "val_fraction": val,
        "test_fraction": test,
        "max_per_category": settings.get("max_per_category"),
        "max_distance": settings["near_duplicate_distance"],
        "text_threshold": settings["text_threshold"],
        "groups": len(groups),
        "groups_straddling": len(straddling),
        "datasets_path": str(hf.relative_to(root)) if hf.is_relative_to(root) else str(hf),
    }


def shares(counts: pd.DataFrame) -> pd.DataFrame:
    """Each category's share of each part (columns) and overall, as percentages."""
    parts = counts.drop(index="total")
    table = parts / counts.loc["total"]
    table["overall"] = parts.sum(axis=1) / counts.loc["total"].sum()
    return table.map(lambda v: f"{100 * v:.1f}%")


def datasets_summary(hf) -> pd.DataFrame:
    """Rows and features of each part of the exported ``DatasetDict``."""
    return pd.DataFrame(
        {
            "rows": {k: len(v) for k, v in hf.items()},
            "features": {k: ", ".join(v.features) for k, v in hf.items()},
        }
    )
