"""utils.data.split and dedup: near-duplicate grouping, stratification, determinism, the locked test
set."""

from __future__ import annotations

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import ImageEnhance

from utils.data import catalog, dedup, split

WORDS = [f"word{i}" for i in range(400)]


def _rows(
    n_per_label: int = 30, labels=("a", "b", "c"), dup_every: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Synthetic catalog rows with random hashes; every ``dup_every``-th row copies the previous
    hash."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in labels:
        for i in range(n_per_label):
            h = (
                rows[-1]["phash"]
                if i % dup_every == 1
                else "".join(rng.choice(list("0123456789abcdef"), 16))
            )
            rows.append(
                {
                    "row": len(rows),
                    "image": f"{label}{i}.jpg",
                    "path": f"/x/{label}{i}.jpg",
                    "label": label,
                    "product_name": f"product {len(rows)}",
                    "description": " ".join(rng.choice(WORDS, 8)),
                    "sha256": f"s{len(rows)}",
                    "phash": h,
                }
            )
    return pd.DataFrame(rows)


def test_near_duplicates_found_on_real_photos(real_images) -> None:
    """A re-encoded, slightly brightened copy of a real photo is a near-duplicate; another photo is
    not."""
    a = catalog.load_image(real_images[0])
    a2 = ImageEnhance.Brightness(a).enhance(1.05).resize((a.width // 2, a.height // 2))
    b = catalog.load_image(real_images[1])
    hashes = [str(imagehash.phash(im)) for im in (a, a2, b)]
    groups = dedup.near_duplicate_groups(hashes, max_distance=4)
    assert groups[0] == groups[1] != groups[2]


def test_grouping_is_transitive() -> None:
    hashes = ["0000000000000000", "0000000000000007", "000000000000003f", "ffffffffffffffff"]
    # distances 3 and 3 along the chain, 6 end to end: one group of three, then a singleton
    groups = dedup.near_duplicate_groups(hashes, max_distance=3)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_split_fractions_stratification_and_groups() -> None:
    rows = _rows(n_per_label=50)
    out = split.make_split(rows, seed=1)
    sizes = out["split"].value_counts(normalize=True)
    assert (
        abs(sizes["train"] - 0.6) < 0.06
        and abs(sizes["val"] - 0.2) < 0.06
        and abs(sizes["test"] - 0.2) < 0.06
    )
    share = pd.crosstab(out["label"], out["split"], normalize="columns")
    assert (share.sub(1 / 3).abs() < 0.08).all().all(), share
    assert split.straddling_groups(out) == []
    assert out["group"].nunique() < len(out)  # the planted duplicates were grouped


def test_split_is_deterministic_and_depends_on_seed() -> None:
    rows = _rows()
    a, b, c = (split.make_split(rows, seed=s) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(c["split"])


def test_test_rows_are_locked(tmp_path) -> None:
    path = tmp_path / "split.csv"
    split.save_split(split.make_split(_rows(), seed=0), path)
    s = split.load_split(path)
    assert len(s.train) and len(s.val)
    with pytest.raises(split.TestSetLocked):
        s.test  # noqa: B018 (reading it must raise)
    test = s.test_for_final_evaluation()
    assert set(test["split"]) == {"test"} and len(test) + len(s.train) + len(s.val) == len(s)
    assert s.counts().loc["total"].sum() == len(s)
    assert list(s.inputs().columns) == [
        "image",
        "path",
        "sha256",
        "product_name",
        "description",
    ]  # no labels


def test_subsample_keeps_at_most_n_per_label() -> None:
    rows = _rows(n_per_label=10)
    small = split.subsample(rows, 4, seed=0)
    assert small["label"].value_counts().tolist() == [4, 4, 4]
    assert split.subsample(rows, None, seed=0).equals(rows)


def _brute_force(hashes: list[str], d: int) -> set[tuple[int, int]]:
    ints = [int(h, 16) for h in hashes]
    return {
        (i, j)
        for i in range(len(ints))
        for j in range(i + 1, len(ints))
        if bin(ints[i] ^ ints[j]).count("1") <= d
    }


def test_packed_hamming_pairs_match_brute_force_whatever_the_chunk() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**63, 40, dtype=np.uint64)
    flips = base ^ (np.uint64(1) << rng.integers(0, 64, 40).astype(np.uint64))  # 1-bit neighbours
    hashes = [f"{int(x):016x}" for x in np.concatenate([base, flips, base[:5]])]
    expected = _brute_force(hashes, 4)
    for chunk in (7, 1000, 10**7):
        assert {tuple(p) for p in dedup.hamming_pairs(hashes, 4, chunk_elements=chunk)} == expected


def test_grouping_20000_hashes_in_bounded_memory() -> None:
    """The old N x N x 64 bit array needed 26 GB at this size; packed and chunked it needs tens of
    MB."""
    import tracemalloc

    rng = np.random.default_rng(0)
    hashes = [f"{int(x):016x}" for x in rng.integers(0, 2**63, 20_000, dtype=np.uint64)]
    hashes[123] = hashes[19_000]
    tracemalloc.start()
    groups = dedup.near_duplicate_groups(hashes, 4, method="exact")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert groups[123] == groups[19_000] and len(set(groups)) == 19_999


def test_near_identical_descriptions_with_different_photos_land_on_one_side() -> None:
    rows = _rows(n_per_label=40, dup_every=10**6)  # no photo duplicates at all
    template = "Rockmantra ceramic mug printed design 325 ml microwave safe gift for coffee lovers"
    rows.loc[3, "description"] = template + " red"
    rows.loc[50, "description"] = template + " blue"  # same template, another label even
    g = dedup.leak_groups(rows, max_distance=4, text_threshold=0.9)
    assert (
        g.loc[3, "text_group"] == g.loc[50, "text_group"]
        and g.loc[3, "image_group"] != g.loc[50, "image_group"]
    )
    for seed in range(5):
        out = split.make_split(rows, seed=seed)
        assert out.loc[3, "split"] == out.loc[50, "split"]
        assert split.straddling_groups(out) == []
    assert (dedup.leak_groups(rows, text_threshold=1.1)["text_group"].nunique()) == len(
        rows
    )  # switched off


def test_other_splits_never_reproduce_the_headline_test_rows() -> None:
    rows = split.make_split(_rows(n_per_label=10, labels=("a", "b")), seed=5)
    others = split.other_splits(rows, seed=5, n=4, val_fraction=0.2, test_fraction=0.2)
    assert len(others) == 4 and 5 not in others
    headline = set(np.flatnonzero(rows["split"] == "test"))
    for parts in others.values():
        assert set(np.flatnonzero(parts == "test")) != headline
        assert set(parts) == {"train", "val", "test"}


def test_split_info_is_saved_beside_the_split(tmp_path) -> None:
    out = split.make_split(_rows(), seed=3)
    split_id = split.save_split(out, tmp_path / "split.csv", {"seed": 3, "val_fraction": 0.2})
    info = split.load_split_info(tmp_path / "split.csv")
    assert info == {"seed": 3, "val_fraction": 0.2, "split_id": split_id}
    assert split.load_split(tmp_path / "split.csv").split_id == split_id


@pytest.mark.filterwarnings("ignore:The least populated class")  # a few rows per category
def test_datasetdict_round_trip(real_rows, tmp_path) -> None:
    from datasets import load_from_disk

    rng = np.random.default_rng(0)
    rows = real_rows.assign(
        phash=[f"{int(x):016x}" for x in rng.integers(0, 2**63, len(real_rows), dtype=np.uint64)]
    )
    split.save_split(split.make_split(rows, seed=1), tmp_path / "split.csv")
    s = split.load_split(tmp_path / "split.csv")
    split.to_datasets(s, tmp_path / "hf")
    loaded = load_from_disk(str(tmp_path / "hf"))
    assert {k: len(v) for k, v in loaded.items()} == {
        "train": len(s.train),
        "validation": len(s.val),
        "test": len(s.test_for_final_evaluation()),
    }
    assert loaded["train"].features["label"].names == s.labels()
    assert [s.labels()[i] for i in loaded["validation"]["label"]] == s.val["label"].tolist()
    first = loaded["test"][0]
    assert (
        first["image"].size[0] > 0
        and first["image_name"] == s.test_for_final_evaluation()["image"].iloc[0]
    )
