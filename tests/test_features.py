"""utils.models.features: the on-disk cache (hit, invalidation, corruption) on real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.data import acquire, catalog
from utils.models import blocks, encoders, features, tiny


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return encoders.load_clip("tiny-random", device="cpu", models_dir=tmp_path_factory.mktemp("m"))


@pytest.fixture()
def rows(real_images) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [str(p) for p in real_images[:4]],
            "sha256": [acquire._sha256(p) for p in real_images[:4]],
        }
    )


def test_cache_hit_returns_identical_features(encoder, rows, tmp_path) -> None:
    first, s1 = features.extract(encoder, rows, tmp_path, batch_size=3, num_workers=0)
    second, s2 = features.extract(encoder, rows, tmp_path, batch_size=3, num_workers=1)
    assert s1["computed"] == 4 and s1["cached"] == 0 and s1["seconds_per_item"] > 0
    assert s2["computed"] == 0 and s2["cached"] == 4 and s2["seconds_per_item"] is None
    np.testing.assert_array_equal(first, second)
    assert first.shape == (4, encoder.dim) and np.isfinite(first).all()


def test_features_match_a_direct_forward_pass(encoder, rows, tmp_path) -> None:
    import torch

    X, _ = features.extract(encoder, rows, tmp_path, num_workers=0)
    direct = encoder(
        torch.stack([encoder.preprocess(features.load_model_input(p)) for p in rows["path"]])
    ).numpy()
    np.testing.assert_allclose(X, direct, rtol=1e-4, atol=1e-5)


def test_changed_image_or_model_recomputes_only_what_changed(encoder, rows, tmp_path) -> None:
    features.extract(encoder, rows, tmp_path, num_workers=0)
    changed = rows.copy()
    changed.loc[0, "sha256"] = "0" * 64  # new content -> new key
    _, stats = features.extract(encoder, changed, tmp_path, num_workers=0)
    assert stats["computed"] == 1 and stats["cached"] == 3
    other = encoders.load_vgg16("tiny-random", device="cpu", models_dir=tmp_path / "m")
    _, stats = features.extract(other, rows, tmp_path, num_workers=0)
    assert stats["computed"] == 4  # another model: its own cache folder


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


def test_precision_is_part_of_the_cache_key(encoder, rows, tmp_path) -> None:
    from dataclasses import replace

    features.extract(encoder, rows, tmp_path, num_workers=0)
    b16 = replace(encoder, precision="bfloat16")
    assert features.cache_dir(b16, tmp_path) != features.cache_dir(encoder, tmp_path)
    _, stats = features.extract(b16, rows.head(1), tmp_path, num_workers=0)
    assert stats["computed"] == 1


def test_activations_ride_along_the_feature_pass_and_match_the_prefix(
    encoder, rows, tmp_path
) -> None:
    import torch

    X, _ = features.extract(
        encoder, rows, tmp_path / "f", num_workers=0, also_activations=(1, tmp_path / "a")
    )
    A, stats = features.activations(encoder, 1, rows, tmp_path / "a")
    assert stats["computed"] == 0 and A.dtype == np.float16, "cached by the feature pass"
    prefix, tail = blocks.split_at(encoder, 1)
    x = torch.stack([encoder.preprocess(features.load_model_input(p)) for p in rows["path"]])
    with torch.no_grad():
        np.testing.assert_allclose(A.astype(np.float32), prefix(x).numpy(), rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(
            tail(torch.from_numpy(A.astype(np.float32))).numpy(), X, rtol=1e-2, atol=1e-2
        )


def test_augmented_views_are_deterministic_and_keyed_by_their_settings(
    encoder, rows, tmp_path
) -> None:
    from utils.data.augment import Augmentation, make_view

    image = features.load_model_input(rows["path"][0])
    aug = Augmentation(views=2, seed=0)
    a, b = make_view(image, aug, "sha", 1), make_view(image, aug, "sha", 1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (224, 224, 3)
    assert not np.array_equal(a, make_view(image, aug, "sha", 2))
    assert not np.array_equal(a, make_view(image, Augmentation(views=2, seed=1), "sha", 1))
    assert (
        Augmentation(views=2).key == Augmentation(views=8).key != Augmentation(scale=(0.3, 1.0)).key
    )
    with pytest.raises(ValueError):
        make_view(image, aug, "sha", 0)
    V, s1 = features.view_features(encoder, 1, rows.head(2), tmp_path, aug)
    assert V.shape == (4, encoder.dim) and s1["computed"] == 4
    _, s2 = features.view_features(encoder, 1, rows.head(2), tmp_path, aug)
    assert s2["computed"] == 0
    _, s3 = features.view_features(
        encoder, 1, rows.head(2), tmp_path, Augmentation(views=2, jitter=0.4)
    )
    assert s3["computed"] == 4, "other augmentation settings: other cache entries"


def test_text_and_pixel_features_are_cached(tmp_path, rows, real_images) -> None:

    text = encoders.load_clip_text("tiny-random", device="cpu", models_dir=tmp_path / "m")
    names = ["analog watch for men", "ceramic coffee mug", "analog watch for men"]
    T, s1 = features.extract_text(text, names, tmp_path)
    assert T.shape == (3, text.dim) and s1["computed"] == 3 and s1["truncated"] == 0
    np.testing.assert_array_equal(T[0], T[2])
    _, s2 = features.extract_text(text, names, tmp_path)
    assert s2["computed"] == 0
    P, p1 = features.extract_pixels(rows, tmp_path)
    assert (
        P.shape == (len(rows), features.pixel_dim())
        and np.isfinite(P).all()
        and p1["computed"] == len(rows)
    )
    hist = P[:, :128]
    np.testing.assert_allclose(hist.sum(axis=1), 1, rtol=1e-5)
    assert features.extract_pixels(rows, tmp_path)[1]["computed"] == 0


def _big_jpegs(folder, n: int) -> list[str]:
    """``n`` 1024 x 1024 JPEGs with fine detail (what draft decoding loses), seeded."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        y, x = np.mgrid[0:1024, 0:1024]
        base = np.stack([(x * (i + 1)) % 256, (y * 3) % 256, ((x + y) * 2) % 256], axis=-1)
        pixels = (base + rng.integers(0, 60, base.shape)).clip(0, 255).astype(np.uint8)
        path = folder / f"big{i}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(str(path))
    return paths


def test_the_decode_size_is_in_every_decode_and_every_cache_key(
    rows, real_images, tmp_path
) -> None:
    """An encoder decodes photos at its own decode_min_side, everywhere, under its own cache
    keys."""
    from dataclasses import replace

    import torch

    from utils.data.augment import Augmentation

    full = encoders.load_clip(
        "tiny-random", device="cpu", models_dir=tmp_path / "m", decode_min_side=None
    )
    small = replace(full, decode_min_side=256)
    big = _big_jpegs(tmp_path, 1)[0]  # 1024 x 1024: draft decoding at 256 takes a quarter per side
    assert features.encoder_input(full, big).size == (1024, 1024)
    assert features.encoder_input(small, big).size == (256, 256)
    assert not np.array_equal(features.model_pixels(full, big), features.model_pixels(small, big))
    assert features.cache_dir(full, tmp_path).name == full.key + "-sfull"
    assert features.cache_dir(small, tmp_path).name == full.key + "-s256"
    assert (
        features.activation_cache(full, 1, tmp_path).folder
        != features.activation_cache(small, 1, tmp_path).folder
    )
    paths = _big_jpegs(tmp_path, 2)
    rows = pd.DataFrame({"path": paths, "sha256": [acquire._sha256(p) for p in paths]})
    X_full, s1 = features.extract(full, rows, tmp_path, num_workers=0)
    X_small, s2 = features.extract(small, rows, tmp_path, num_workers=0)
    assert s1["computed"] == s2["computed"] == len(rows), "another decode size: other cache entries"
    direct = full(
        torch.stack(
            [
                full.preprocess(catalog.load_image(p, max_side=None, min_side=None))
                for p in rows["path"]
            ]
        )
    ).numpy()
    np.testing.assert_allclose(X_full, direct, rtol=1e-4, atol=1e-5)
    assert not np.allclose(X_full[0], X_small[0], rtol=1e-4, atol=1e-5)
    A_full, _ = features.activations(full, 1, rows.head(1), tmp_path / "a")
    A_small, _ = features.activations(small, 1, rows.head(1), tmp_path / "a")
    assert not np.array_equal(A_full, A_small)
    aug = Augmentation(views=1)
    V_full, _ = features.view_features(full, 1, rows.head(1), tmp_path / "a", aug)
    V_small, _ = features.view_features(small, 1, rows.head(1), tmp_path / "a", aug)
    assert not np.allclose(V_full, V_small)
    P_full, p1 = features.extract_pixels(rows.head(1), tmp_path, decode_min_side=None)
    _, p2 = features.extract_pixels(rows.head(1), tmp_path, decode_min_side=256)
    assert p1["computed"] == p2["computed"] == 1
    np.testing.assert_allclose(
        P_full[0], features.pixel_vector(catalog.load_image(big, max_side=None, min_side=None))
    )


def test_input_difference_to_the_reference_pipelines(real_images, tmp_path) -> None:
    """At a full decode the project's two-stage input is the reference pipeline's, exactly; a
    draft decode moves it, and the sweep says by how much."""
    from torchvision.models import VGG16_Weights
    from transformers import CLIPImageProcessor

    paths = _big_jpegs(tmp_path, 3)  # large photos: the bundled sample's are already 256 px
    clip = encoders.load_clip(
        "tiny-random", device="cpu", models_dir=tmp_path, decode_min_side=None
    )
    vgg = encoders.load_vgg16(
        "tiny-random", device="cpu", models_dir=tmp_path, decode_min_side=None
    )
    for enc in (clip, vgg):
        d = features.input_difference(enc, paths)
        assert d["kind"] == enc.kind and d["decode"] == "full" and d["images"] == 3
        assert d["rel_l2_max"] == 0.0 and d["decode_ms_mean"] > 0
    image = catalog.load_image(paths[0], max_side=None, min_side=None)
    ref = {
        "clip": CLIPImageProcessor()(images=image, return_tensors="pt")["pixel_values"][0],
        "vgg16": VGG16_Weights.IMAGENET1K_V1.transforms()(image),
    }
    for enc in (clip, vgg):
        sweep = features.decode_sweep(enc, paths[:1], (256, None))
        assert list(sweep["decode"]) == [256, "full"]
        x = enc.preprocess(catalog.load_image(paths[0], max_side=None, min_side=256))
        expected = float((x - ref[enc.kind]).norm() / ref[enc.kind].norm())
        assert expected > 0.005
        assert sweep["rel_l2_max"][0] == pytest.approx(expected, abs=1e-5)
        assert sweep["rel_l2_max"][1] == 0.0
    sample = features.sample_paths([str(p) for p in real_images], n=4, largest=2, seed=0)
    assert len(sample) == 4 and sample[0] == str(max(real_images, key=lambda p: p.stat().st_size))


def test_embeddings_match_the_reference_pipelines_on_a_full_decode(real_images, tmp_path) -> None:
    """Same weights, same photos: the project's CLIP embedding is CLIPModel.get_image_features on
    CLIPProcessor's output, its VGG16 features torchvision's transforms + conv base + pooling."""
    import torch
    from torchvision.models import VGG16_Weights
    from torchvision.models.vgg import make_layers
    from transformers import CLIPModel, CLIPProcessor

    paths = [str(p) for p in real_images]
    folder = tiny.build_tiny_clip(tmp_path / "clip")
    clip = encoders.load_clip(str(folder), device="cpu", decode_min_side=None)
    model = CLIPModel.from_pretrained(folder).eval()
    processor = CLIPProcessor.from_pretrained(folder)

    def clip_reference(images):
        with torch.no_grad():
            return model.get_image_features(
                **processor(images=images, return_tensors="pt")
            ).pooler_output.numpy()

    table = features.embedding_parity(clip, paths, clip_reference, sizes=(None, 256))
    assert table["cosine_min"][0] >= 0.999 and table["images"][0] == len(paths)
    path = tiny.build_tiny_vgg(tmp_path / "vgg.pt")
    vgg = encoders.load_vgg16(str(path), device="cpu", decode_min_side=None)
    ckpt = torch.load(path, weights_only=True)
    conv = make_layers(ckpt["cfg"]).eval()
    conv.load_state_dict(ckpt["features"])
    transform = VGG16_Weights.IMAGENET1K_V1.transforms()

    def vgg_reference(images):
        with torch.no_grad():
            x = torch.stack([transform(im) for im in images])
            return torch.nn.AdaptiveAvgPool2d(1)(conv(x)).flatten(1).numpy()

    table = features.embedding_parity(vgg, paths, vgg_reference)
    assert table["cosine_min"][0] >= 0.999


def test_the_colour_histogram_counts_as_numpy_histogramdd() -> None:
    """One bincount instead of histogramdd (the photo explanations compute one per perturbed
    copy): the same normalised counts, bin edges included (0, 255, and each boundary)."""
    rng = np.random.default_rng(0)
    edges = np.array([[0, 0, 0], [255, 255, 255], [31, 63, 64], [32, 64, 191], [223, 192, 255]])
    for _ in range(5):
        hsv = np.vstack([rng.integers(0, 256, (4000, 3)), edges]).astype(np.uint8)
        counts, _ = np.histogramdd(hsv, bins=[8, 4, 4], range=[(0, 256)] * 3)
        expected = counts.ravel() / counts.sum()
        assert np.array_equal(features.hsv_histogram(hsv, [8, 4, 4]), expected)
