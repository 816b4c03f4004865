"""Near-duplicate groups: rows that would leak across the split.

- near-identical photos (the same USB charger photo for three products...): perceptual hashes
  within a few bits of each other;
- near-identical descriptions (the same template, the same product in another colour): TF-IDF
  cosine similarity of the descriptions above a threshold.

Groups are transitive (connected components). Two ways to find the pairs, with the same pairs:

- ``"index"`` (the default of ``leak_groups``): the hashes in a FAISS binary multi-hash index
  (``hamming_pairs_index``: for 4 bits, 3 tables of 21 bits probed with one bit flipped, so by the
  pigeonhole rule every pair within 4 bits meets in a table, then exact distances); the
  descriptions through an inverted index of each one's rarest terms (``text_pairs_index``, prefix
  filtering: two descriptions at cosine >= t share one of their prefix terms, ``prefix_terms``;
  only such pairs are compared, exactly).
  Time grows with the pairs the indexes propose, not with all pairs (``make bench ARGS='--sections
  dedup'`` measures 10^5 and 10^6 rows);
- ``"exact"``: every pair, packed 64-bit hashes and sparse products in chunks (memory linear, time
  quadratic), kept to check the index against.

``vector_pairs`` searches dense vectors (embeddings, or a small vocabulary's TF-IDF) with a FAISS
inner-product index. Why not the descriptions' TF-IDF by default: dense, it needs rows x
vocabulary floats (the real data's 1,050 rows hold 5,843 terms: 24 MB; the synthetic bench's 10^5
rows hold 92,571: 400 GB at 10^6 rows), and an approximate index or a projection would change the
groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# bytes of pairwise work per chunk: memory stays bounded whatever the number of rows
CHUNK_ELEMENTS = 4_000_000
METHODS = ("index", "exact")
NO_PAIRS = np.zeros((0, 2), dtype=np.int64)


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "near-duplicate search needs faiss-cpu (in requirements.txt): `make env` installs it, "
            "or pass method='exact'."
        ) from None
    return faiss


def _ordered_pairs(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Unique pairs ``(min, max)`` of ``i``, ``j`` without self pairs, sorted. One 64-bit key per
    pair (``min * 2^32 + max``): ``np.unique`` on a 1-D array, not on rows (several times
    faster)."""
    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
    keep = i != j
    if not keep.any():
        return NO_PAIRS
    lo, hi = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    keys = np.unique((lo << 32) | hi)
    return np.stack([keys >> 32, keys & 0xFFFFFFFF], axis=1)


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


def hash_codes(hashes: list[str]) -> np.ndarray:
    """64-bit hex hashes as FAISS binary codes: 8 bytes per hash (big-endian: bit order does not
    change a Hamming distance)."""
    return np.frombuffer(pack_hashes(hashes).astype(">u8").tobytes(), dtype=np.uint8).reshape(-1, 8)


def multi_hash_plan(max_distance: int) -> tuple[int, int, int]:
    """``(tables, bits, flips)`` of a multi-hash index that finds every pair within
    ``max_distance`` bits: ``tables`` disjoint ranges of ``bits`` bits, each probed with up to
    ``flips`` bits flipped. Since ``(flips + 1) * tables > max_distance``, two hashes that close
    differ by at most ``flips`` bits in one of the ranges (pigeonhole), so they meet in that
    table. 4 bits: 3 tables of 21 bits, one flip (at 10^6 hashes, 6x faster than 5 tables of 12
    bits without flips, measured: buckets of ~0.5 hashes instead of ~250)."""
    tables = max(3, max_distance // 3 + 1)
    return tables, 64 // tables, max_distance // tables


def collapse_identical(hashes: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The distinct hashes (in order of first appearance), each row's distinct hash
    (``inverse``) and each distinct hash's first row (``first``): k identical hashes (placeholder
    images, reused shots) are searched once."""
    hashes = list(hashes)
    _, first, inverse = np.unique(pack_hashes(hashes), return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct hashes in order of first appearance
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    first = first[order].astype(np.int64)
    return [hashes[k] for k in first], rank[inverse.ravel()], first


def expand_edges(pairs: np.ndarray, inverse: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Edges between rows from ``pairs`` of distinct hashes (``collapse_identical``): each row
    joined to the first row of its hash (k copies: k - 1 edges, not k^2 pairs), and one edge
    between the first rows of each pair of near-identical distinct hashes. The same connected
    components as every pair of rows."""
    rows = np.arange(len(inverse), dtype=np.int64)
    copies = first[inverse] != rows
    return _ordered_pairs(
        np.concatenate([first[inverse[copies]], first[pairs[:, 0]]]),
        np.concatenate([rows[copies], first[pairs[:, 1]]]),
    )


def hamming_pairs_index(hashes: list[str], max_distance: int) -> np.ndarray:
    """``hamming_pairs`` through a FAISS binary multi-hash index (``multi_hash_plan``); every
    candidate's distance is then computed exactly (``range_search``, whose radius is exclusive).
    The same pairs as ``hamming_pairs``."""
    n = len(hashes)
    if n < 2 or max_distance < 0:
        return NO_PAIRS
    if max_distance >= 32:  # tables of a bit or two: the index would compare every pair
        return hamming_pairs(hashes, max_distance)
    faiss = _faiss()
    codes = hash_codes(list(hashes))
    tables, bits, flips = multi_hash_plan(max_distance)
    index = faiss.IndexBinaryMultiHash(64, tables, bits)
    index.nflip = flips
    index.add(codes)
    lims, _, found = index.range_search(codes, max_distance + 1)
    queries = np.repeat(np.arange(n), np.diff(lims.astype(np.int64)))
    return _ordered_pairs(queries, found.astype(np.int64))


# --------------------------------------------------------------------------- near-identical
# descriptions
def tfidf(texts: list[str]):
    """L2-normalised TF-IDF rows (English stop words removed) fitted on ``texts`` alone, or None
    when nothing is left to compare (no text, or only stop words)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not any(t.strip() for t in texts):
        return None
    try:
        return TfidfVectorizer(stop_words="english", dtype=np.float32).fit_transform(texts).tocsr()
    except ValueError:  # only stop words: nothing to compare
        return None


CANDIDATE_MARGIN = 1e-4  # candidates from float32 products: a margin far above their rounding
TOLERANCE = 1e-6  # a pair at cosine >= threshold - TOLERANCE (float64) is kept


def cosines(X, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Cosines of the pairs ``(i[k], j[k])`` of L2-normalised rows of ``X`` (sparse or dense), in
    float64, one pair at a time in the same order whatever asks: every method verifies its
    candidates through here, so the same pair gets the same number."""
    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
    if hasattr(X, "multiply"):
        a, b = X[i].astype(np.float64), X[j].astype(np.float64)
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    X = np.asarray(X)
    return np.einsum("kd,kd->k", X[i].astype(np.float64), X[j].astype(np.float64))


def similar(X, i: np.ndarray, j: np.ndarray, threshold: float) -> np.ndarray:
    """Which candidate pairs are at cosine >= ``threshold`` (within ``TOLERANCE``), by
    ``cosines``: the one check of the exact method, the inverted index and ``vector_pairs``."""
    return cosines(X, i, j) >= threshold - TOLERANCE


def text_pairs(
    texts: list[str], threshold: float, chunk_elements: int = CHUNK_ELEMENTS
) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, whose TF-IDF cosine similarity is at least ``threshold``.

    TF-IDF (English stop words removed, L2-normalised) fitted on these texts alone, no labels;
    similarities computed as sparse products one block of rows at a time. Empty texts pair with
    nothing. ``threshold`` above 1 switches the text grouping off.
    """
    texts = ["" if t is None else str(t) for t in texts]
    n = len(texts)
    X = tfidf(texts) if n >= 2 and threshold <= 1 else None
    if X is None:
        return NO_PAIRS
    step = max(1, chunk_elements // n)
    found = []
    for start in range(0, n, step):
        sims = (X[start : start + step] @ X.T).tocoo()  # float32: candidates, with a margin
        keep = (sims.data >= threshold - CANDIDATE_MARGIN) & (sims.col > sims.row + start)
        i, j = sims.row[keep].astype(np.int64) + start, sims.col[keep].astype(np.int64)
        good = similar(X, i, j, threshold)
        found.append(np.stack([i[good], j[good]], axis=1))
    return np.concatenate(found)


def prefix_terms(X, threshold: float):
    """Each row's prefix, terms ordered rarest first (one order for all rows): its terms up to the
    last one from which the remaining weight (L2 norm of that term and the later ones) is still at
    least ``threshold``; a 0/1 matrix of ``X``'s shape.

    Two L2-normalised rows ``x``, ``y`` with ``x . y >= threshold`` share a prefix term. Say the
    prefix of ``x`` ends no later in the order than that of ``y``: a common term within it would
    lie in both prefixes, so without one every common term lies after ``x``'s prefix, and
    ``x . y`` is at most the norm of ``x`` there (Cauchy-Schwarz, ``|y| = 1``), below the threshold.
    """
    from scipy.sparse import csr_matrix

    n, vocabulary = X.shape
    df = np.bincount(X.indices, minlength=vocabulary)
    rank = np.empty(vocabulary, dtype=np.int64)
    rank[np.argsort(df, kind="stable")] = np.arange(vocabulary)
    row = np.repeat(np.arange(n), np.diff(X.indptr))
    order = np.lexsort((rank[X.indices], row))  # row by row, rarest term first
    w2 = X.data[order].astype(np.float64) ** 2
    total = np.bincount(row, weights=w2, minlength=n)
    before = np.cumsum(w2) - w2  # weight of the earlier entries, all rows
    start = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    remaining = total[row] - (before - start[row])  # this term and the rarer-ordered rest
    # in the prefix: every term while what remains from it could still reach the threshold (a
    # margin below it, so float rounding can only add candidates)
    keep = remaining >= max(threshold - 1e-4, 0.0) ** 2
    return csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (row[keep], X.indices[order][keep])),
        shape=X.shape,
    )


def text_pairs_index(
    texts: list[str], threshold: float, chunk_rows: int = 20_000, chunk_pairs: int = 2_000_000
) -> np.ndarray:
    """``text_pairs`` through an inverted index of each description's prefix (``prefix_terms``):
    candidates are the pairs sharing a prefix term, then verified as ``text_pairs`` verifies its
    own (``similar``: float64, the same function). The same pairs as ``text_pairs``; memory
    bounded by ``chunk_rows`` and ``chunk_pairs``."""
    texts = ["" if t is None else str(t) for t in texts]
    n = len(texts)
    X = tfidf(texts) if n >= 2 and threshold <= 1 else None
    if X is None:
        return NO_PAIRS
    prefix = prefix_terms(X, threshold)
    index = prefix.T.tocsr()  # term -> rows holding it in their prefix
    found = []
    for start in range(0, n, chunk_rows):
        candidates = (prefix[start : start + chunk_rows] @ index).tocoo()
        i, j = candidates.row.astype(np.int64) + start, candidates.col.astype(np.int64)
        keep = i < j  # each pair once (it is found from both sides)
        i, j = i[keep], j[keep]
        for b in range(0, len(i), chunk_pairs):
            a, c = i[b : b + chunk_pairs], j[b : b + chunk_pairs]
            good = similar(X, a, c, threshold)
            found.append(np.stack([a[good], c[good]], axis=1))
    return _ordered_pairs(*np.concatenate(found).T) if found else NO_PAIRS


def vector_pairs(vectors, threshold: float, chunk_rows: int = 4096) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of L2-normalised dense ``vectors`` (embeddings; a sparse
    matrix is made dense) whose inner product (cosine) is at least ``threshold``: a FAISS
    inner-product index (exact, flat), range-searched ``chunk_rows`` queries at a time; its
    candidates verified as every method verifies them (``similar``, float64)."""
    faiss = _faiss()
    X = vectors.toarray() if hasattr(vectors, "toarray") else np.asarray(vectors)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if len(X) < 2:
        return NO_PAIRS
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    found = []
    for start in range(0, len(X), chunk_rows):
        lims, _, j = index.range_search(X[start : start + chunk_rows], threshold - CANDIDATE_MARGIN)
        i = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims.astype(np.int64)))
        j = j.astype(np.int64)
        keep = i < j
        i, j = i[keep], j[keep]
        good = similar(vectors, i, j, threshold)  # the caller's own rows, in float64
        found.append(np.stack([i[good], j[good]], axis=1))
    return _ordered_pairs(*np.concatenate(found).T)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the graph of ``n`` nodes and edges ``pairs``: a group per node."""
    if n == 0:
        return np.zeros(0, dtype=int)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    return connected_components(graph, directed=False)[1]


def near_duplicate_groups(
    hashes: list[str], max_distance: int = 4, method: str = "index"
) -> np.ndarray:
    """Group ids: images whose hashes differ by at most ``max_distance`` bits, transitively, share
    one."""
    return components(len(hashes), photo_pairs(hashes, max_distance, method))


def photo_pairs(hashes: list[str], max_distance: int, method: str = "index") -> np.ndarray:
    """Edges between rows whose hashes are within ``max_distance`` bits: identical hashes collapsed
    first (``collapse_identical``), the distinct ones searched (``method``), the edges expanded
    (``expand_edges``). Both methods give the same edges."""
    _check(method)
    distinct, inverse, first = collapse_identical(hashes)
    search = hamming_pairs_index if method == "index" else hamming_pairs
    return expand_edges(search(distinct, max_distance), inverse, first)


def description_pairs(texts: list[str], threshold: float, method: str = "index") -> np.ndarray:
    _check(method)
    return (text_pairs_index if method == "index" else text_pairs)(texts, threshold)


def _check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method={method!r}: use one of {', '.join(METHODS)}")


def leak_groups(
    rows: pd.DataFrame, max_distance: int = 4, text_threshold: float = 0.9, method: str = "index"
) -> pd.DataFrame:
    """``image_group``, ``text_group`` and ``group`` (photos **or** descriptions near-identical,
    transitively).

    ``rows`` needs ``phash`` and ``description``; the three columns come back in the same order.
    ``method``: ``"index"`` (FAISS and an inverted index) or ``"exact"`` (every pair): the same
    groups.
    """
    image_pairs = photo_pairs(rows["phash"].tolist(), max_distance, method)
    desc_pairs = description_pairs(rows["description"].tolist(), text_threshold, method)
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
