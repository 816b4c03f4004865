"""utils.data.dedup's index search (FAISS binary multi-hash for the photo hashes, an inverted
index of the rarest terms for the descriptions, a FAISS inner-product index for dense vectors)
against the exact all-pairs method: the same pairs and the same groups, on the real data too."""

from __future__ import annotations

import sys

import numpy as np
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
