"""utils.split: near-duplicate grouping, stratification, determinism, the locked test set."""
from __future__ import annotations

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance

from utils import data, split


def _rows(n_per_label: int = 30, labels=("a", "b", "c"), dup_every: int = 5, seed: int = 0) -> pd.DataFrame:
    """Synthetic catalog rows with random hashes; every ``dup_every``-th row copies the previous hash."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in labels:
        for i in range(n_per_label):
            h = rows[-1]["phash"] if i % dup_every == 1 else "".join(rng.choice(list("0123456789abcdef"), 16))
            rows.append({"row": len(rows), "image": f"{label}{i}.jpg", "path": f"/x/{label}{i}.jpg",
                         "label": label, "product_name": "", "sha256": f"s{len(rows)}", "phash": h})
    return pd.DataFrame(rows)


def test_near_duplicates_found_on_real_photos(real_images) -> None:
    """A re-encoded, slightly brightened copy of a real photo is a near-duplicate; another photo is not."""
    a = data.load_image(real_images[0])
    a2 = ImageEnhance.Brightness(a).enhance(1.05).resize((a.width // 2, a.height // 2))
    b = data.load_image(real_images[1])
    hashes = [str(imagehash.phash(im)) for im in (a, a2, b)]
    groups = split.near_duplicate_groups(hashes, max_distance=4)
    assert groups[0] == groups[1] != groups[2]


def test_grouping_is_transitive() -> None:
    hashes = ["0000000000000000", "0000000000000007", "000000000000003f", "ffffffffffffffff"]
    # distances 3 and 3 along the chain, 6 end to end: one group of three, then a singleton
    groups = split.near_duplicate_groups(hashes, max_distance=3)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_split_fractions_stratification_and_groups() -> None:
    rows = _rows(n_per_label=50)
    out = split.make_split(rows, seed=1)
    sizes = out["split"].value_counts(normalize=True)
    assert abs(sizes["train"] - 0.6) < 0.06 and abs(sizes["val"] - 0.2) < 0.06 and abs(sizes["test"] - 0.2) < 0.06
    share = pd.crosstab(out["label"], out["split"], normalize="columns")
    assert (share.sub(1 / 3).abs() < 0.08).all().all(), share
    assert split.straddling_groups(out) == []
    assert out["group"].nunique() < len(out)          # the planted duplicates were grouped


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
        s.test
    test = s.test_for_final_evaluation()
    assert set(test["split"]) == {"test"} and len(test) + len(s.train) + len(s.val) == len(s)
    assert s.counts().loc["total"].sum() == len(s)
    assert list(s.images().columns) == ["image", "path", "sha256"]          # no labels, no split names


def test_subsample_keeps_at_most_n_per_label() -> None:
    rows = _rows(n_per_label=10)
    small = split.subsample(rows, 4, seed=0)
    assert small["label"].value_counts().tolist() == [4, 4, 4]
    assert split.subsample(rows, None, seed=0).equals(rows)
