"""A leak-free, stratified train / validation / test split.

Identical or near-identical photos (the same USB charger photo for three products...) are grouped
by perceptual hash and always fall on the same side of the split. The test rows are locked: the
``Split`` object hands them out only through ``test_for_final_evaluation()``, which the final
evaluation calls once.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import StratifiedGroupKFold

SPLITS = ("train", "val", "test")


class TestSetLocked(RuntimeError):
    """Raised when the test rows are read anywhere but in the final evaluation."""


def hamming_matrix(hashes: list[str]) -> np.ndarray:
    """Pairwise Hamming distances between 64-bit hex perceptual hashes."""
    bits = np.array([[int(c, 16) for c in h] for h in hashes], dtype=np.uint8)
    bits = np.unpackbits(bits[:, :, None], axis=2)[:, :, 4:].reshape(len(hashes), -1)
    return (bits[:, None, :] != bits[None, :, :]).sum(axis=2)


def near_duplicate_groups(hashes: list[str], max_distance: int = 4) -> np.ndarray:
    """Group ids: images whose hashes differ by at most ``max_distance`` bits, transitively, share one."""
    if not len(hashes):
        return np.zeros(0, dtype=int)
    close = hamming_matrix(list(hashes)) <= max_distance
    _, labels = connected_components(csr_matrix(close), directed=False)
    return labels


def duplicate_groups_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The groups with more than one image: group, size, labels involved, and the images."""
    sizes = rows.groupby("group")["image"].transform("size")
    multi = rows[sizes > 1]
    return (multi.groupby("group")
            .agg(size=("image", "size"), labels=("label", lambda s: ", ".join(sorted(set(s)))),
                 images=("image", list))
            .sort_values("size", ascending=False).reset_index())


def subsample(rows: pd.DataFrame, per_category: int | None, seed: int) -> pd.DataFrame:
    """At most ``per_category`` rows per label (the smoke profile); ``None`` keeps everything."""
    if not per_category:
        return rows.reset_index(drop=True)
    shuffled = rows.sample(frac=1, random_state=seed)
    return shuffled.groupby("label").head(per_category).sort_values("row").reset_index(drop=True)


def make_split(rows: pd.DataFrame, seed: int = 42, val_fraction: float = 0.2, test_fraction: float = 0.2,
               max_distance: int = 4) -> pd.DataFrame:
    """Assign each usable row to train, val or test, stratified by label and grouped by near-duplicates.

    ``StratifiedGroupKFold`` with ``1/test_fraction`` folds takes one fold as test, then again on the
    rest for validation; both keep every near-duplicate group whole. Same seed, same split.
    """
    out = rows[["row", "image", "path", "label", "product_name", "sha256", "phash"]].reset_index(drop=True).copy()
    out["group"] = near_duplicate_groups(out["phash"].tolist(), max_distance)
    y, groups = out["label"].to_numpy(), out["group"].to_numpy()

    def one_fold(index: np.ndarray, fraction: float) -> np.ndarray:
        n_splits = max(2, round(1 / fraction))
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        _, held = next(folds.split(np.zeros(len(index)), y[index], groups[index]))
        return index[held]

    test = one_fold(np.arange(len(out)), test_fraction)
    rest = np.setdiff1d(np.arange(len(out)), test)
    val = one_fold(rest, val_fraction / (1 - test_fraction))
    out["split"] = "train"
    out.loc[val, "split"] = "val"
    out.loc[test, "split"] = "test"
    return out


def straddling_groups(split_rows: pd.DataFrame) -> list[int]:
    """Groups found in more than one split (must be empty)."""
    per_group = split_rows.groupby("group")["split"].nunique()
    return per_group[per_group > 1].index.tolist()


class Split:
    """The split of one run. ``train`` and ``val`` are open; the test rows are locked.

    ``images()`` lists every image without its label or split (enough for label-free work such as
    feature extraction); the test rows, and all rows with labels, are handed out only by the two
    ``..._for_final_evaluation()`` methods.
    """

    def __init__(self, rows: pd.DataFrame) -> None:
        self._rows = rows.reset_index(drop=True)

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
            "The test split is read once, by the final evaluation: call split.test_for_final_evaluation()."
        )

    def images(self) -> pd.DataFrame:
        """Every image of the split (``image``, ``path``, ``sha256``), without labels or split names."""
        return self._rows[["image", "path", "sha256"]].copy()

    def test_for_final_evaluation(self) -> pd.DataFrame:
        """The test rows. Only the final evaluation (notebook 05) and post-hoc analyses call this."""
        return self._part("test")

    def all_rows_for_final_evaluation(self) -> pd.DataFrame:
        """Every row with its label and split (the final evaluation's repeated splits)."""
        return self._rows.copy()

    def labels(self) -> list[str]:
        """Class names in a fixed (sorted) order; index i is class id i."""
        return sorted(self._rows["label"].unique())

    def counts(self) -> pd.DataFrame:
        """Images per category and split (counts only: no test content is exposed)."""
        table = pd.crosstab(self._rows["label"], self._rows["split"]).reindex(columns=list(SPLITS), fill_value=0)
        table.loc["total"] = table.sum()
        return table

    def _part(self, name: str) -> pd.DataFrame:
        return self._rows[self._rows["split"] == name].reset_index(drop=True)


def save_split(split_rows: pd.DataFrame, path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    split_rows.to_csv(path, index=False)


def load_split(path: str | os.PathLike) -> Split:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook 02 first.")
    return Split(pd.read_csv(path, dtype={"phash": str, "sha256": str, "image": str}))
