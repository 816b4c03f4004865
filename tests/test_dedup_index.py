"""utils.data.dedup's index search (FAISS binary multi-hash for the photo hashes, an inverted
index of the rarest terms for the descriptions, a FAISS inner-product index for dense vectors)
against the exact all-pairs method: the same pairs and the same groups, on the real data too."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from utils.data import dedup
from utils.data.catalog import build_catalog, usable


def _hashes(n: int = 2000, seed: int = 1) -> list[str]:
    """Random hashes and, for 150 of them, neighbours 0 to 7 bits away (some bits may repeat)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    parts = [base]
    for d in range(8):
        near = base[:150].copy()
        for _ in range(d):
            near ^= np.uint64(1) << rng.integers(0, 64, 150).astype(np.uint64)
        parts.append(near)
    return [f"{int(x):016x}" for x in np.concatenate(parts)]


def _pairs(p: np.ndarray) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in p}


def test_every_multi_hash_plan_keeps_the_pigeonhole_guarantee() -> None:
    for d in range(32):
        tables, bits, flips = dedup.multi_hash_plan(d)
        assert (flips + 1) * tables > d and tables * bits <= 64 and flips <= 2, d
    assert dedup.multi_hash_plan(4) == (3, 21, 1)


@pytest.mark.parametrize("max_distance", [0, 1, 3, 4, 6, 9])
def test_the_binary_index_finds_exactly_the_pairs_within_the_distance(max_distance) -> None:
    hashes = _hashes()
    exact = _pairs(dedup.hamming_pairs(hashes, max_distance))
    assert len(exact) > 150  # the planted neighbours at least
    assert _pairs(dedup.hamming_pairs_index(hashes, max_distance)) == exact


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_the_text_indexes_find_the_exact_pairs_on_real_descriptions(real_csv, threshold) -> None:
    texts = real_csv["description"].tolist()
    exact = _pairs(dedup.text_pairs(texts, threshold))
    assert exact  # the data has near-identical descriptions at every threshold tested
    assert _pairs(dedup.text_pairs_index(texts, threshold)) == exact
    assert _pairs(dedup.vector_pairs(dedup.tfidf(texts), threshold)) == exact


def test_the_prefix_keeps_fewer_terms_than_the_rows_hold(real_csv) -> None:
    """The inverted index's point: it indexes a part of each description, not all of it."""
    X = dedup.tfidf(real_csv["description"].tolist())
    prefix = dedup.prefix_terms(X, 0.9)
    assert prefix.nnz < 0.8 * X.nnz and (prefix.getnnz(axis=1) > 0).all()
    assert (prefix.multiply(X) != 0).sum() == prefix.nnz  # prefix terms are the row's own


def test_index_groups_equal_the_exact_groups_on_the_real_data(dataset_dir) -> None:
    rows = usable(build_catalog(dataset_dir, workers=2, progress=False))
    index = dedup.leak_groups(rows, 4, 0.9)
    exact = dedup.leak_groups(rows, 4, 0.9, method="exact")
    assert index.equals(exact)
    for column in ("image_group", "text_group", "group"):
        assert index[column].nunique() < len(rows)  # some groups of 2+, each kind


def test_vector_pairs_match_brute_force_on_embeddings() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 32)).astype(np.float32)
    X[300:320] = X[:20] + 0.05 * rng.normal(size=(20, 32))  # close copies
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    sims = X @ X.T
    i, j = np.nonzero(np.triu(sims >= 0.95, k=1))
    assert len(i) >= 20
    assert _pairs(dedup.vector_pairs(X, 0.95, chunk_rows=64)) == _pairs(np.stack([i, j], 1))


def test_an_unknown_method_or_missing_faiss_is_one_sentence(real_csv, monkeypatch) -> None:
    rows = real_csv.head(5).assign(phash="0" * 16)
    with pytest.raises(ValueError, match="use one of index, exact"):
        dedup.leak_groups(rows, method="faster")
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="needs faiss-cpu .* `make env` installs it"):
        dedup.hamming_pairs_index(_hashes(), 4)
    assert dedup.leak_groups(rows, method="exact")["image_group"].nunique() == 1


def test_the_dedup_bench_section_finds_every_planted_pair(dataset_dir) -> None:
    from utils.bench import distributed as bench

    rows = bench.bench_dedup([3000], exact_up_to=3000, source=str(dataset_dir))
    real, synthetic = rows
    assert real["same_groups_as_exact"] and real["index_groups_of_2_plus"] > 0
    assert synthetic["planted_found"] == synthetic["planted_photo_pairs"] == 59
    assert synthetic["decoys_found"] == 0 and synthetic["decoys_5_6_bits"] > 0
    assert synthetic["same_groups_as_exact"] and synthetic["index_grouping_s"] >= 0


def _groups_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Two labelings of the same rows give the same partition."""
    return bool(
        pd.Series(a).groupby(b).nunique().eq(1).all()
        and pd.Series(b).groupby(a).nunique().eq(1).all()
    )


def test_identical_hashes_are_collapsed_to_k_minus_1_edges_with_the_same_groups() -> None:
    hashes = _hashes(600)
    rng = np.random.default_rng(3)
    copies = rng.choice(len(hashes), 300, replace=False)
    for i in copies:  # 300 rows of one hash, and near neighbours of it elsewhere
        hashes[i] = hashes[copies[0]]
    every_pair = dedup.hamming_pairs(hashes, 4)
    assert len(every_pair) >= 300 * 299 // 2  # what the old grouping handed to the components
    for method in dedup.METHODS:
        edges = dedup.photo_pairs(hashes, 4, method)
        assert len(edges) < len(every_pair) // 20
        assert _groups_equal(
            dedup.components(len(hashes), edges), dedup.components(len(hashes), every_pair)
        )
    assert np.array_equal(dedup.photo_pairs(hashes, 4), dedup.photo_pairs(hashes, 4, "exact"))
    distinct, inverse, first = dedup.collapse_identical(["0a", "ff", "0A", "0a"])
    assert (
        distinct == ["0a", "ff"] and inverse.tolist() == [0, 1, 0, 0] and first.tolist() == [0, 1]
    )


def test_every_method_decides_a_pair_at_the_threshold_the_same_way(real_csv) -> None:
    """The similarity of a pair, verified in float64 by one function (``dedup.cosines``), so a
    threshold equal to a pair's cosine (or just above it) is decided alike by the exact method,
    the inverted index and the dense index."""
    texts = real_csv["description"].head(400).tolist()
    X = dedup.tfidf(texts)
    pairs = dedup.text_pairs(texts, 0.5)
    sims = dedup.cosines(X, pairs[:, 0], pairs[:, 1])
    assert sims.dtype == np.float64
    for k in np.linspace(0, len(pairs) - 1, 4).astype(int):
        pair = (int(pairs[k, 0]), int(pairs[k, 1]))
        edge = sims[k] + dedup.TOLERANCE  # on the tolerance's edge: float32 sums would disagree
        for threshold, inside in ((sims[k], True), (edge, None), (edge + 2e-6, False)):
            found = [
                _pairs(dedup.text_pairs(texts, threshold)),
                _pairs(dedup.text_pairs_index(texts, threshold)),
                _pairs(dedup.vector_pairs(X, threshold)),
            ]
            assert found[0] == found[1] == found[2]
            assert inside is None or (pair in found[0]) == inside


def test_the_identical_hash_bench_case_finds_one_group(tmp_path) -> None:
    """``make bench``'s case of 10^6 hashes with 10^4 identical, run small."""
    from utils.bench import distributed as bench

    row = bench.bench_identical(20_000, 500)
    assert row["edges"] == 499 and row["largest_group"] == 500 and row["groups_of_2_plus"] == 1
    assert row["same_groups"] and row["every_pair_pairs"] >= 500 * 499 // 2
