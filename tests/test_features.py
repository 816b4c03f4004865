"""utils.features: the on-disk cache (hit, invalidation, corruption) on real images."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils import data, features, models


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return models.load_clip("tiny-random", device="cpu", models_dir=tmp_path_factory.mktemp("m"))


@pytest.fixture()
def rows(real_images) -> pd.DataFrame:
    return pd.DataFrame({"path": [str(p) for p in real_images[:4]],
                         "sha256": [data._sha256(p) for p in real_images[:4]]})


def test_cache_hit_returns_identical_features(encoder, rows, tmp_path) -> None:
    first, s1 = features.extract(encoder, rows, tmp_path, batch_size=3, num_workers=0)
    second, s2 = features.extract(encoder, rows, tmp_path, batch_size=3, num_workers=1)
    assert s1["computed"] == 4 and s1["cached"] == 0 and s1["seconds_per_image"] > 0
    assert s2["computed"] == 0 and s2["cached"] == 4 and s2["seconds_per_image"] is None
    np.testing.assert_array_equal(first, second)
    assert first.shape == (4, encoder.dim) and np.isfinite(first).all()


def test_features_match_a_direct_forward_pass(encoder, rows, tmp_path) -> None:
    import torch

    X, _ = features.extract(encoder, rows, tmp_path, num_workers=0)
    direct = encoder(torch.stack([encoder.preprocess(features.load_model_input(p)) for p in rows["path"]])).numpy()
    np.testing.assert_allclose(X, direct, rtol=1e-4, atol=1e-5)


def test_changed_image_or_model_recomputes_only_what_changed(encoder, rows, tmp_path) -> None:
    features.extract(encoder, rows, tmp_path, num_workers=0)
    changed = rows.copy()
    changed.loc[0, "sha256"] = "0" * 64                       # new content -> new key
    _, stats = features.extract(encoder, changed, tmp_path, num_workers=0)
    assert stats["computed"] == 1 and stats["cached"] == 3
    other = models.load_vgg16("tiny-random", device="cpu", models_dir=tmp_path / "m")
    _, stats = features.extract(other, rows, tmp_path, num_workers=0)
    assert stats["computed"] == 4                             # another model: its own cache folder


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape", "nan"])
def test_partial_or_corrupt_cache_files_are_recomputed(encoder, rows, tmp_path, damage) -> None:
    good, _ = features.extract(encoder, rows, tmp_path, num_workers=0)
    path = features.cache_dir(encoder, tmp_path) / f"{rows['sha256'][1]}.npy"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-10])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 5)
    elif damage == "wrong_shape":
        np.save(path, np.zeros(3, dtype=np.float32))
    else:
        np.save(path, np.full(encoder.dim, np.nan, dtype=np.float32))
    again, stats = features.extract(encoder, rows, tmp_path, num_workers=0)
    assert stats["computed"] == 1
    np.testing.assert_allclose(again, good, rtol=1e-5)


def test_train_val_never_reads_test(encoder, real_images, tmp_path, monkeypatch) -> None:
    from utils import split

    rows = pd.DataFrame({"path": [str(p) for p in real_images] * 3, "sha256": [data._sha256(p) for p in real_images] * 3,
                         "label": ["a", "b"] * (3 * len(real_images) // 2) + ["a"] * (3 * len(real_images) % 2),
                         "split": (["train", "val", "test"] * len(real_images))[: 3 * len(real_images)]})
    s = split.Split(rows)
    monkeypatch.setattr(split.Split, "test_for_final_evaluation", lambda self: pytest.fail("test rows read"))
    parts = features.train_val(encoder, s, tmp_path, num_workers=0)
    assert set(parts) == {"train", "val"}
    assert len(parts["train"][0]) == len(s.train) and len(parts["val"][1]) == len(s.val)
