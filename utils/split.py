"""A leak-free, stratified train / validation / test split.

Rows that would leak across the split are grouped and always fall on the same side:
- near-identical photos (the same USB charger photo for three products...): perceptual hashes
  within a few bits of each other;
- near-identical descriptions (the same template, the same product in another colour): TF-IDF
  cosine similarity of the descriptions above a threshold.
Groups are transitive (connected components). Both searches keep memory linear in the number of
rows (packed 64-bit hashes and sparse products, in chunks), so a catalog of 20,000 products is
grouped in seconds. The test rows are locked: the ``Split`` object hands them out only through
``test_for_final_evaluation()``, which the final evaluation calls once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import StratifiedGroupKFold

SPLITS = ("train", "val", "test")
# bytes of pairwise work per chunk: memory stays bounded whatever the number of rows
CHUNK_ELEMENTS = 4_000_000


class TestSetLocked(RuntimeError):
    """Raised when the test rows are read anywhere but in the final evaluation."""


# --------------------------------------------------------------------------- near-identical photos
def pack_hashes(hashes: list[str]) -> np.ndarray:
    """64-bit hex perceptual hashes as unsigned 64-bit integers."""
    return np.array([int(h, 16) for h in hashes], dtype=np.uint64)


def hamming_pairs(
    hashes: list[str], max_distance: int, chunk_elements: int = CHUNK_ELEMENTS
) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, whose hashes differ by at most ``max_distance`` bits.

    XOR and popcount on packed hashes, one block of rows at a time against the rows after it:
    memory is ``chunk_elements`` words whatever the number of hashes.
    """
    packed = pack_hashes(list(hashes))
    n = len(packed)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    step = max(1, chunk_elements // n)
    found = []
    for start in range(0, n, step):
        block = packed[start : start + step]
        dist = np.bitwise_count(block[:, None] ^ packed[None, start:])  # rows start.. only: j >= i
        i, j = np.nonzero(dist <= max_distance)
        j = j + start
        i = i + start
        keep = j > i
        found.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(found)


# --------------------------------------------------------------------------- near-identical
# descriptions
def text_pairs(
    texts: list[str], threshold: float, chunk_elements: int = CHUNK_ELEMENTS
) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, whose TF-IDF cosine similarity is at least ``threshold``.

    TF-IDF (English stop words removed, L2-normalised) fitted on these texts alone, no labels;
    similarities computed as sparse products one block of rows at a time. Empty texts pair with
    nothing. ``threshold`` above 1 switches the text grouping off.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["" if t is None else str(t) for t in texts]
    n = len(texts)
    if n < 2 or threshold > 1 or not any(t.strip() for t in texts):
        return np.zeros((0, 2), dtype=np.int64)
    try:
        X = TfidfVectorizer(stop_words="english", dtype=np.float32).fit_transform(texts).tocsr()
    except ValueError:  # only stop words: nothing to compare
        return np.zeros((0, 2), dtype=np.int64)
    step = max(1, chunk_elements // n)
    found = []
    for start in range(0, n, step):
        sims = (X[start : start + step] @ X.T).tocoo()
        keep = (sims.data >= threshold - 1e-6) & (sims.col > sims.row + start)
        found.append(np.stack([sims.row[keep] + start, sims.col[keep]], axis=1).astype(np.int64))
    return np.concatenate(found)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the graph of ``n`` nodes and edges ``pairs``: a group per node."""
    if n == 0:
        return np.zeros(0, dtype=int)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    return connected_components(graph, directed=False)[1]


def near_duplicate_groups(hashes: list[str], max_distance: int = 4) -> np.ndarray:
    """Group ids: images whose hashes differ by at most ``max_distance`` bits, transitively, share
    one."""
    return components(len(hashes), hamming_pairs(hashes, max_distance))


def leak_groups(
    rows: pd.DataFrame, max_distance: int = 4, text_threshold: float = 0.9
) -> pd.DataFrame:
    """``image_group``, ``text_group`` and ``group`` (photos **or** descriptions near-identical,
    transitively).

    ``rows`` needs ``phash`` and ``description``; the three columns come back in the same order.
    """
    image_pairs = hamming_pairs(rows["phash"].tolist(), max_distance)
    desc_pairs = text_pairs(rows["description"].tolist(), text_threshold)
    n = len(rows)
    return pd.DataFrame(
        {
            "image_group": components(n, image_pairs),
            "text_group": components(n, desc_pairs),
            "group": components(n, np.concatenate([image_pairs, desc_pairs])),
        },
        index=rows.index,
    )


def groups_table(rows: pd.DataFrame, column: str = "group", show: str = "image") -> pd.DataFrame:
    """The groups of ``column`` with more than one row: size, labels involved, and the rows'
    ``show`` values."""
    sizes = rows.groupby(column)[show].transform("size")
    multi = rows[sizes > 1]
    return (
        multi.groupby(column)
        .agg(
            size=(show, "size"),
            labels=("label", lambda s: ", ".join(sorted(set(s)))),
            members=(show, list),
        )
        .sort_values("size", ascending=False)
        .reset_index()
    )


def describe_group(group: pd.Series, n: int = 2, width: int = 45) -> str:
    """A group of ``groups_table`` in words: its size and its first members."""
    names = [str(m)[:width] for m in group["members"][:n]]
    return (
        f"{group['size']} products such as "
        + " and ".join(f"'{m}'" for m in names)
        + f" ({group['labels']})"
    )


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


def groups_summary(
    rows: pd.DataFrame, photo_groups: pd.DataFrame, text_groups: pd.DataFrame
) -> pd.DataFrame:
    """Groups of two or more rows: near-identical photos, descriptions, and either (the split's)."""
    either = rows["group"].value_counts()
    either = either[either > 1]
    spans = lambda g: int(g["labels"].str.contains(",").sum()) if len(g) else 0  # noqa: E731
    return pd.DataFrame(
        {
            "groups of 2+": [len(photo_groups), len(text_groups), len(either)],
            "rows in them": [
                int(photo_groups["size"].sum()) if len(photo_groups) else 0,
                int(text_groups["size"].sum()) if len(text_groups) else 0,
                int(either.sum()),
            ],
            "spanning several categories": [spans(photo_groups), spans(text_groups), None],
        },
        index=["near-identical photos", "near-identical descriptions", "either (the split's)"],
    )


def members_preview(groups: pd.DataFrame, n: int = 4, width: int = 40) -> pd.DataFrame:
    """``groups_table`` with each group's first ``n`` members cut to ``width`` characters."""
    return groups.assign(members=groups["members"].map(lambda m: [str(x)[:width] for x in m[:n]]))


def summary(
    split_rows: pd.DataFrame,
    counts: pd.DataFrame,
    groups: pd.DataFrame,
    straddling: list[int],
    settings: dict,
    layout,
    usable: int,
) -> dict:
    """What notebook 02 records: sizes, settings, groups, where the DatasetDict is."""
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
