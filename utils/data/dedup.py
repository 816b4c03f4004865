"""Near-duplicate groups: rows that would leak across the split.

- near-identical photos (the same USB charger photo for three products...): perceptual hashes
  within a few bits of each other;
- near-identical descriptions (the same template, the same product in another colour): TF-IDF
  cosine similarity of the descriptions above a threshold.

Groups are transitive (connected components). Both searches keep memory linear in the number of
rows (packed 64-bit hashes and sparse products, in chunks), so a catalog of 20,000 products is
grouped in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# bytes of pairwise work per chunk: memory stays bounded whatever the number of rows
CHUNK_ELEMENTS = 4_000_000


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
