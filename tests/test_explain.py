"""utils.explain: LIME, SHAP, averaging, stability and deletion curves, on known answers and real images."""
from __future__ import annotations

import numpy as np
import pytest

from utils import explain, models, train


class ToyPipeline:
    """Class 1's probability is the brightness of the top-left 64x64 corner; nothing else matters."""

    batch_size = 64

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float64)
        p = images[:, :64, :64].mean(axis=(1, 2, 3)) / 255.0
        return np.stack([1 - p, p], axis=1)


@pytest.fixture()
def bright_corner() -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.integers(80, 160, (224, 224, 3)).astype(np.uint8)
    image[:64, :64] = 250
    return image


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    encoder = models.load_clip("tiny-random", device="cpu", models_dir=tmp_path_factory.mktemp("m"))
    head = train.make_head(train.default_config("clip", encoder.dim, 7))
    return explain.Pipeline(encoder, head, batch_size=16)


def test_lime_finds_the_region_that_matters(bright_corner) -> None:
    r = explain.lime_explain(ToyPipeline(), bright_corner, num_samples=200, n_segments=100, hide_color=0, seed=0)
    assert r["label"] == 1 and r["weights"].shape == (r["segments"].max() + 1,)
    for s in explain.top_segments(r["weights"], k=5):
        ys, xs = np.nonzero(r["segments"] == s)
        assert ys.mean() < 80 and xs.mean() < 80, "a top superpixel lies outside the corner"


def test_deletion_curve_true_map_beats_random(bright_corner) -> None:
    truth = np.zeros((224, 224))
    truth[:64, :64] = 1
    fill = np.zeros(3)
    true_curve = explain.deletion_curve(ToyPipeline(), bright_corner, truth, label=1, steps=10, fill=fill)
    random_curve = explain.deletion_curve(ToyPipeline(), bright_corner, np.zeros((224, 224)), label=1, steps=10, fill=fill)
    assert true_curve[0] == pytest.approx(random_curve[0]) and true_curve[-1] == pytest.approx(0)
    assert true_curve[1] == pytest.approx(0, abs=0.01)           # 10% of pixels already covers the corner
    assert explain.area_under(true_curve) < explain.area_under(random_curve) / 3
    summary = explain.deletion_summary({"truth": [true_curve], "random": [random_curve]})
    assert summary.auc["truth"] < summary.auc["random"]


def test_global_importance_on_planted_masks() -> None:
    maps = []
    for scale in (1.0, 5.0, 0.1):
        m = np.zeros((20, 20))
        m[5:10, 5:10] = scale                  # same place, different LIME scale
        m[15, 15] = -scale / 2
        maps.append(m)
    mean = explain.global_importance(maps)
    np.testing.assert_allclose(mean[5:10, 5:10], 1.0)
    assert mean[15, 15] == pytest.approx(-0.5) and mean[0, 0] == 0
    with pytest.raises(ValueError):
        explain.global_importance([])


def test_stability_is_perfect_for_one_seed_and_in_range(bright_corner) -> None:
    same = explain.stability(ToyPipeline(), bright_corner, [50], seeds=[3, 3], k=5, hide_color=0)
    assert same[50]["mean_jaccard"] == 1.0
    varied = explain.stability(ToyPipeline(), bright_corner, [30, 300], seeds=[0, 1, 2], k=5, hide_color=0)
    assert all(0 <= v["min_jaccard"] <= v["mean_jaccard"] <= 1 for v in varied.values())
    assert explain.jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)


def test_pipeline_on_real_images(tiny_pipeline, real_images) -> None:
    images = np.stack([explain.prepare_image(p) for p in real_images[:3]])
    assert images.shape == (3, 224, 224, 3) and images.dtype == np.uint8
    probs = tiny_pipeline(images)
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(tiny_pipeline(images.astype(np.float32) / 255), probs, rtol=1e-4, atol=1e-6)


def test_lime_and_shap_on_a_tiny_model_and_real_image(tiny_pipeline, real_images) -> None:
    image = explain.prepare_image(real_images[0])
    a = explain.lime_explain(tiny_pipeline, image, num_samples=30, seed=1)
    b = explain.lime_explain(tiny_pipeline, image, num_samples=30, seed=1)
    np.testing.assert_array_equal(a["weights"], b["weights"])          # seeded: reproducible
    assert 20 <= len(a["weights"]) <= 120                               # SLIC near the asked-for 100
    values = explain.shap_explain(tiny_pipeline, image[None], [str(i) for i in range(7)], max_evals=64)
    assert values.values.shape == (1, 224, 224, 3, 1)
    predicted = tiny_pipeline(image[None])[0].max()
    # Partition SHAP is additive: base value + sum of attributions = the model's output
    assert float(values.base_values[0, 0] + values.values[0].sum()) == pytest.approx(predicted, abs=1e-4)


def test_cached_explanations_are_reused_and_corruption_recomputed(tmp_path) -> None:
    calls = []

    def compute():
        calls.append(1)
        return {"weights": np.arange(3.0), "label": 2}

    key = {"image": "abc", "num_samples": 100}
    first = explain.cached(tmp_path, key, compute)
    second = explain.cached(tmp_path, key, compute)
    assert len(calls) == 1 and second["label"] == 2
    np.testing.assert_array_equal(first["weights"], second["weights"])
    next(tmp_path.glob("*.npz")).write_bytes(b"broken")
    explain.cached(tmp_path, key, compute)
    assert len(calls) == 2
    explain.cached(tmp_path, {**key, "num_samples": 1000}, compute)
    assert len(calls) == 3


def test_pick_examples_and_per_category() -> None:
    import pandas as pd

    rows = pd.DataFrame({"label": ["W", "W", "H", "H"],
                         "product_name": ["Strap", "Analog Watch", "Lamp", "Lord Ganesha frame"]})
    assert explain.pick_examples(rows, {"W": "watch", "H": "ganesh", "X": "x"}) == [1, 3]
    assert explain.pick_examples(rows, {"H": "nothing"}) == [2]
    chosen = explain.per_category(rows, np.array([True, False, False, True]), 5)
    assert chosen == {"H": [3], "W": [0]}
    assert explain.per_category(rows, np.array([True, False, False, True]), 5, only_correct=False)["W"] == [0, 1]
