"""utils.explain.photos and photo_study: LIME, SHAP, averaging, stability and deletion checks, on
known answers and real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.explain import photos
from utils.models import encoders, features, train


class ToyPipeline:
    """Class 1's probability is the brightness of the top-left 64x64 corner; nothing else
    matters."""

    batch_size = 64

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float64)
        self.seen += len(images)
        p = images[:, :64, :64].mean(axis=(1, 2, 3)) / 255.0
        return np.stack([1 - p, p], axis=1)


@pytest.fixture()
def bright_corner() -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.integers(80, 160, (224, 224, 3)).astype(np.uint8)
    image[:64, :64] = 250
    return image


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    encoder = encoders.load_clip(
        "tiny-random", device="cpu", models_dir=tmp_path_factory.mktemp("m")
    )
    head = train.make_head(train.head_config("clip", encoder.dim, 7))
    return encoder, head


@pytest.fixture()
def tiny_pipeline(tiny):
    encoder, head = tiny
    return photos.Pipeline(encoder, lambda X: train.predict_proba(head, X), batch_size=16)


def test_lime_finds_the_region_that_matters(bright_corner) -> None:
    r = photos.lime_explain(
        ToyPipeline(), bright_corner, num_samples=200, n_segments=100, hide_color=0, seed=0
    )
    assert (
        r["label"] == 1
        and r["weights"].shape == (r["segments"].max() + 1,)
        and 0 <= r["score"] <= 1
    )
    for s in photos.top_segments(r["weights"], k=5):
        ys, xs = np.nonzero(r["segments"] == s)
        assert ys.mean() < 80 and xs.mean() < 80, "a top superpixel lies outside the corner"


def test_deletion_over_superpixels_true_order_beats_random_orders(bright_corner) -> None:
    segments = photos.segment(bright_corner, n_segments=100)
    corner = np.zeros(segments.max() + 1)
    np.add.at(corner, segments[:64, :64].ravel(), 1)
    order = photos.ranking(corner)
    fill = np.zeros(3)
    truth = photos.deletion_curve(
        ToyPipeline(), bright_corner, segments, order, label=1, steps=10, fill=fill
    )
    rng = np.random.default_rng(0)
    randoms = [
        photos.deletion_curve(
            ToyPipeline(), bright_corner, segments, rng.permutation(len(corner)), 1, 10, fill
        )
        for _ in range(5)
    ]
    assert truth[0] == pytest.approx(randoms[0][0]) and truth[-1] == pytest.approx(0)
    assert photos.area_under(truth) < np.mean([photos.area_under(c) for c in randoms]) / 2


def test_random_deletion_removes_whole_superpixels_with_the_same_fill(bright_corner) -> None:
    """The reference deletes the explanation's own superpixels, in random order, not scattered
    pixels."""
    segments = photos.segment(bright_corner, n_segments=100)
    shown = []

    def record(batch):
        shown.append(np.asarray(batch))
        return np.zeros((len(batch), 2))

    rng = np.random.default_rng(1)
    photos.deletion_curve(
        record,
        bright_corner,
        segments,
        rng.permutation(segments.max() + 1),
        0,
        steps=4,
        fill=[7, 7, 7],
    )
    for step in shown[0][1:]:
        filled = (step == 7).all(axis=-1)
        for s in np.unique(segments):
            inside = filled[segments == s]
            assert inside.all() or not inside.any(), "a superpixel was only partly deleted"
    assert (shown[0][-1] == 7).all(), "in the end every superpixel is deleted"


def test_compare_deletion_and_the_faithfulness_test(bright_corner) -> None:
    from types import SimpleNamespace

    values = np.zeros((6, 224, 224, 3, 1))
    values[:, :64, :64] = 1.0  # SHAP-like values: the corner carries all of it
    lime = photos.lime_explain(ToyPipeline(), bright_corner, num_samples=200, hide_color=0, seed=0)
    d = photos.compare_deletion(
        ToyPipeline(),
        [bright_corner] * 6,
        [lime] * 6,
        SimpleNamespace(values=values),
        steps=10,
        random_orders=4,
        seed=0,
    )
    assert set(d.per_image) == {"LIME", "SHAP", "random"} and len(d.per_image["random"]) == 6
    assert d.auc["SHAP"] < d.auc["random"] and d.auc["LIME"] < d.auc["random"]
    f = photos.faithfulness(d.per_image, n_boot=500)
    assert (
        f["SHAP"]["gain_low"] > 0 and f["SHAP"]["better_on"] == 6 and f["SHAP"]["wilcoxon_p"] < 0.05
    )
    flat = photos.faithfulness({"LIME": [0.5, 0.4, 0.6], "random": [0.5, 0.4, 0.6]})
    assert flat["LIME"]["mean_gain"] == 0 and flat["LIME"]["wilcoxon_p"] == 1.0


def test_global_importance_on_planted_masks() -> None:
    maps = []
    for scale in (1.0, 5.0, 0.1):
        m = np.zeros((20, 20))
        m[5:10, 5:10] = scale  # same place, different LIME scale
        m[15, 15] = -scale / 2
        maps.append(m)
    mean = photos.global_importance(maps)
    np.testing.assert_allclose(mean[5:10, 5:10], 1.0)
    assert mean[15, 15] == pytest.approx(-0.5) and mean[0, 0] == 0
    with pytest.raises(ValueError):
        photos.global_importance([])


def test_jaccard_of_empty_explanations_is_not_stability() -> None:
    assert photos.jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert photos.jaccard(set(), set()) == 0.0
    assert photos.top_segments(np.array([-1.0, -2.0, 0.0])) == set()


def test_stability_reuses_the_perturbations_shared_between_sample_counts(bright_corner) -> None:
    toy = ToyPipeline()
    memo = photos.Pipeline.__new__(photos.Pipeline)  # the memory of a real Pipeline around the toy
    photos.Pipeline.__init__(memo, encoder=None, predict_vectors=None, batch_size=64)
    memo._forward = lambda images: toy(images)
    out = photos.stability(memo, bright_corner, [30, 60], seeds=[0, 1], k=5, hide_color=0)
    assert set(out) == {30, 60} and all(
        0 <= v["min_jaccard"] <= v["mean_jaccard"] <= 1 for v in out.values()
    )
    assert toy.seen <= 1 + 2 * 60, (
        "each seed pays only for its largest count (plus the intact image)"
    )
    same = photos.stability(ToyPipeline(), bright_corner, [50], seeds=[3, 3], k=5, hide_color=0)
    assert same[50]["mean_jaccard"] == 1.0


def test_stable_count_is_the_smallest_count_reaching_the_threshold() -> None:
    per_image = [
        {50: {"mean_jaccard": 0.4}, 100: {"mean_jaccard": 0.75}, 200: {"mean_jaccard": 0.9}},
        {50: {"mean_jaccard": 0.5}, 100: {"mean_jaccard": 0.65}, 200: {"mean_jaccard": 0.8}},
        {50: {"mean_jaccard": 0.6}, 100: {"mean_jaccard": 0.71}, 200: {"mean_jaccard": 0.7}},
    ]
    assert photos.stable_count(per_image, 0.7)[:1] == (100,)
    count, medians, reached = photos.stable_count(per_image, 0.95)
    assert (count, reached) == (200, False) and medians[50] == 0.5


def test_checks_draw_their_images_round_robin_over_categories() -> None:
    rows = pd.DataFrame({"label": ["a"] * 6 + ["b"] * 3 + ["c"] * 2, "product_name": "x"})
    chosen = photos.per_category(rows, np.ones(len(rows), bool), n=10)
    items = photos.round_robin(chosen, per_category=2)
    assert [c for _, c in items] == ["a", "b", "c", "a", "b", "c"]
    assert {c for _, c in photos.round_robin(chosen, 1)} == {"a", "b", "c"}
    assert len(photos.round_robin({"a": [0], "b": []}, 3)) == 1


def test_explained_pixels_are_the_evaluated_pixels(
    tiny, tiny_pipeline, real_images, tmp_path
) -> None:
    """One decode path: the pipeline's prediction on the prepared pixels equals the one from cached
    features."""
    encoder, head = tiny
    rows = pd.DataFrame(
        {
            "path": [str(p) for p in real_images],
            "sha256": [f"s{i}" for i in range(len(real_images))],
        }
    )
    X, _ = features.extract(encoder, rows, tmp_path, num_workers=0)
    from_cache = train.predict_proba(head, X)
    prepared = np.stack([photos.prepare_image(encoder, p) for p in real_images])
    assert prepared.shape == (len(real_images), 224, 224, 3) and prepared.dtype == np.uint8
    np.testing.assert_allclose(tiny_pipeline(prepared), from_cache, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        tiny_pipeline(prepared.astype(np.float32) / 255), from_cache, rtol=1e-4, atol=1e-5
    )
    before = tiny_pipeline.calls
    tiny_pipeline(prepared)
    assert tiny_pipeline.calls == before, "images already seen are not recomputed"


def test_lime_and_shap_on_a_tiny_model_and_real_image(tiny, tiny_pipeline, real_images) -> None:
    image = photos.prepare_image(tiny[0], real_images[0])
    a = photos.lime_explain(tiny_pipeline, image, num_samples=30, seed=1)
    b = photos.lime_explain(tiny_pipeline, image, num_samples=30, seed=1)
    np.testing.assert_array_equal(a["weights"], b["weights"])  # seeded: reproducible
    assert 20 <= len(a["weights"]) <= 120  # SLIC near the asked-for 100
    values = photos.shap_explain(
        tiny_pipeline, image[None], [str(i) for i in range(7)], max_evals=64
    )
    assert values.values.shape == (1, 224, 224, 3, 1)
    predicted = tiny_pipeline(image[None])[0].max()
    # Partition SHAP is additive: base value + sum of attributions = the model's output
    assert float(values.base_values[0, 0] + values.values[0].sum()) == pytest.approx(
        predicted, abs=1e-4
    )
    per_sp = photos.per_superpixel(photos.shap_pixels(values, 0), a["segments"])
    assert per_sp.shape == a["weights"].shape and per_sp.sum() == pytest.approx(
        values.values[0].sum(), rel=1e-6
    )


def test_cached_explanations_are_reused_and_corruption_recomputed(tmp_path) -> None:
    calls = []

    def compute():
        calls.append(1)
        return {"weights": np.arange(3.0), "label": 2}

    key = {"image": "abc", "num_samples": 100}
    first = photos.cached(tmp_path, key, compute)
    second = photos.cached(tmp_path, key, compute)
    assert len(calls) == 1 and second["label"] == 2
    np.testing.assert_array_equal(first["weights"], second["weights"])
    next(tmp_path.glob("*.npz")).write_bytes(b"broken")
    photos.cached(tmp_path, key, compute)
    assert len(calls) == 2
    photos.cached(tmp_path, {**key, "num_samples": 1000}, compute)
    assert len(calls) == 3


def test_pick_examples_and_per_category() -> None:
    rows = pd.DataFrame(
        {
            "label": ["W", "W", "H", "H"],
            "product_name": ["Strap", "Analog Watch", "Lamp", "Lord Ganesha frame"],
        }
    )
    assert photos.pick_examples(rows, {"W": "watch", "H": "ganesh", "X": "x"}) == [1, 3]
    assert photos.pick_examples(rows, {"H": "nothing"}) == [2]
    chosen = photos.per_category(rows, np.array([True, False, False, True]), 5)
    assert chosen == {"H": [3], "W": [0]}
    assert photos.per_category(rows, np.array([True, False, False, True]), 5, only_correct=False)[
        "W"
    ] == [0, 1]
    assert photos.per_category(
        rows, np.array([False, True, False, True]), 5, only_correct=False
    ) == {"H": [3, 2], "W": [1, 0]}, (
        "correct ones first, then the others: every category represented"
    )
    assert photos.per_category(rows, np.array([False, False, False, True]), 5)["W"] == []


def test_shap_figure_with_as_many_images_as_colour_channels(tiny_pipeline) -> None:
    """shap 0.51's image_plot misreads an Explanation of exactly 3 RGB images; the figure must not
    care."""
    from utils.report import plots

    images = np.random.default_rng(0).integers(0, 255, (3, 224, 224, 3)).astype(np.uint8)
    values = photos.shap_explain(tiny_pipeline, images, [str(i) for i in range(7)], max_evals=32)
    fig = plots.shap_figure(values, ["a", "b", "c"], true_labels=["x", "y", "z"])
    assert len(fig.axes) >= 6


def test_a_deleted_superpixel_takes_its_own_mean_colour_as_in_lime(
    bright_corner, monkeypatch
) -> None:
    """The deletion check hides superpixels as LIME does (hide_color=None: each superpixel's own
    mean colour), not with the whole image's mean."""
    from lime import lime_image

    segments = photos.segment(bright_corner, n_segments=100)
    shown = []

    def record(batch):
        shown.append(np.asarray(batch))
        return np.zeros((len(batch), 2))

    order = photos.ranking(-np.arange(segments.max() + 1))  # superpixel 0 first
    photos.deletion_curve(record, bright_corner, segments, order, 0, steps=segments.max() + 1)
    first = shown[0][1]  # superpixel 0 deleted, nothing else
    inside = segments == 0
    own = bright_corner[inside].mean(axis=0)
    np.testing.assert_array_equal(
        first[inside], np.broadcast_to(own.astype(np.uint8), (inside.sum(), 3))
    )
    assert not np.allclose(own, bright_corner.reshape(-1, 3).mean(axis=0), atol=2), (
        "the planted corner: its own mean is not the image's"
    )
    np.testing.assert_array_equal(first[~inside], bright_corner[~inside])
    # the fill is LIME's own fudged image, captured from LIME itself
    captured = {}
    real = lime_image.LimeImageExplainer.data_labels

    def spy(self, image, fudged_image, *a, **kw):
        captured["fudged"] = fudged_image.copy()
        return real(self, image, fudged_image, *a, **kw)

    class Spy(lime_image.LimeImageExplainer):
        data_labels = spy

    monkeypatch.setattr(photos, "_vectorised_explainer", lambda: Spy)
    r = photos.lime_explain(ToyPipeline(), bright_corner, num_samples=10, segments=segments)
    np.testing.assert_array_equal(
        photos.lime_fill(bright_corner, r["segments"], None), captured["fudged"]
    )
    grey = photos.lime_fill(bright_corner, segments, 0)
    assert (grey == 0).all()


def test_compare_deletion_fills_every_order_alike_and_records_the_fill(bright_corner) -> None:
    from types import SimpleNamespace

    values = np.zeros((1, 224, 224, 3, 1))
    lime = photos.lime_explain(ToyPipeline(), bright_corner, num_samples=50, seed=0)
    seen = []

    def record(batch):
        seen.append(np.asarray(batch))
        return ToyPipeline()(batch)

    for hide in (None, 0):
        seen.clear()
        d = photos.compare_deletion(
            record,
            [bright_corner],
            [lime],
            SimpleNamespace(values=values),
            steps=4,
            random_orders=2,
            hide_color=hide,
            shap_masker="blur(16,16)",
        )
        fudged = photos.lime_fill(bright_corner, lime["segments"], hide)
        for batch in seen:  # LIME's order, SHAP's, two random orders: all end fully deleted
            np.testing.assert_array_equal(batch[-1], fudged)
        assert d.fill == photos.describe_fill(hide)
        assert "blur(16,16)" in d.perturbations["SHAP"] and d.fill in d.perturbations["deletion"]
    assert "mean colour" in photos.describe_fill(None) and "0" in photos.describe_fill(0)


@pytest.mark.parametrize("batch_size", [7, 64])
def test_lime_copies_built_in_one_step_are_lime_own(bright_corner, batch_size) -> None:
    """The vectorised copies: the same masks, the same perturbed images in the same batches, and
    so the same explanation as LIME's own loop."""
    from lime import lime_image

    photos._quiet_lime()  # LIME's own loop draws a progress bar
    segments = photos.segment(bright_corner, n_segments=60)
    fudged = photos.lime_fill(bright_corner, segments, None)

    def run(cls):
        batches = []

        def record(batch):
            batches.append(np.array(batch))
            return np.stack([b.reshape(-1, 3).mean(0)[:2] / 255 for b in batch])

        data, labels = cls(random_state=3).data_labels(
            bright_corner, fudged, segments, record, 50, batch_size=batch_size
        )
        return data, labels, batches

    ours, theirs = run(photos._vectorised_explainer()), run(lime_image.LimeImageExplainer)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert [b.shape for b in ours[2]] == [b.shape for b in theirs[2]]
    for a, b in zip(ours[2], theirs[2]):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert len({b.tobytes() for b in ours[2][0]}) > 1, "the copies differ from one another"


def test_the_pixel_candidate_is_explained_on_exactly_the_pixels_it_was_evaluated_on(
    real_images, tmp_path
) -> None:
    """pixels-classic reads no encoder: its explanations run on the 128 px copy its colour
    histogram and HOG are computed from, so a prediction on the explained pixels equals the one
    from the cached features, and LIME and SHAP work on it."""
    rows = pd.DataFrame(
        {
            "path": [str(p) for p in real_images],
            "sha256": [f"s{i}" for i in range(len(real_images))],
            "label": ["a", "b"] * (len(real_images) // 2) + ["a"] * (len(real_images) % 2),
        }
    )
    X, _ = features.extract_pixels(rows, tmp_path, progress=False, decode_min_side=512)
    probe = train.logistic_probe(1.0).fit(X, rows["label"].map({"a": 0, "b": 1}))
    encoder = features.PixelFeatures(decode_min_side=512)
    pipeline = photos.Pipeline(encoder, probe.predict_proba, "probe")
    pixels = np.stack([photos.prepare_image(encoder, p) for p in real_images])
    assert pixels.shape == (len(real_images), 128, 128, 3) and pixels.dtype == np.uint8
    np.testing.assert_allclose(pipeline(pixels), probe.predict_proba(X), atol=1e-12)
    result = photos.lime_explain(pipeline, pixels[0], num_samples=40, n_segments=30)
    assert result["segments"].shape == (128, 128) and len(result["weights"]) > 5
    values = photos.shap_explain(pipeline, pixels[:2], ["a", "b"], max_evals=40)
    assert values.values.shape[1:3] == (128, 128)


# ------------------------------------------------------------------------- the study (notebook 06)
STUDY = dict(
    n_segments=30,
    segmentation="slic",
    hide_color=None,
    explain_batch_size=32,
    fast_kernels=False,
    seed=0,
    top_k=5,
    num_samples=20,
    stability_samples=[20],
    stability_seeds=[0, 1],
    stable_jaccard=0.5,
    stability_per_category=1,
    global_per_category=1,
    only_correct=False,
    shap_max_evals=64,
    deletion_per_category=1,
    deletion_steps=4,
    random_orders=2,
    lime_examples={},
)


@pytest.fixture(scope="module")
def explained(small_split, tmp_path_factory):
    """A tiny CLIP probe fitted on real photos, its panel, the test rows and the data folders."""
    from utils.core.paths import Layout
    from utils.models import fitting
    from utils.models.panel import Panel, Settings

    layout = Layout(tmp_path_factory.mktemp("explained"))
    settings = Settings(
        clip_model="tiny-random", vgg_weights="tiny-random", device="cpu", precision="float32"
    )
    panel = Panel(layout, settings, small_split.labels(), small_split.split_id, progress=False)
    fitted = fitting.fit("clip-probe", panel, small_split.train, small_split.val)
    return panel, fitted, small_split.test_for_final_evaluation(), layout


def _study(explained, categories: int = 2, **params):
    from utils.explain import photo_study

    panel, fitted, test, layout = explained
    shown = sorted(test["label"].unique())[:categories]
    study = photo_study.ImageStudy(
        fitted, panel, test, layout.explanations, {**STUDY, **params}, (shown, [])
    )
    study.stable = {"chosen": STUDY["num_samples"]}  # as if check_stability had chosen it
    return study


def test_the_deletion_check_fills_as_lime_hid_and_names_shap_masker(explained) -> None:
    """With a grey hide_color LIME hides superpixels with grey: the deletion check must delete
    them with the same grey (it used each superpixel's mean colour whatever hide_color was)."""
    runs = {}
    for hide in (None, 128):
        study = _study(explained, hide_color=hide)
        study.check_deletion()
        runs[hide] = study.deletion
    grey, mean = runs[128], runs[None]
    assert grey.fill == photos.describe_fill(128) != mean.fill == photos.describe_fill(None)
    assert "128" in grey.perturbations["deletion"] and "128" in grey.perturbations["LIME"]
    assert photos.SHAP_MASKER in grey.perturbations["SHAP"]
    assert any(not np.allclose(grey.curves[m], mean.curves[m]) for m in ("LIME", "random"))


def test_a_fresh_pipeline_remembers_nothing(tiny_pipeline, real_images) -> None:
    image = photos.prepare_image(tiny_pipeline.encoder, real_images[0])[None]
    expected = tiny_pipeline(image)
    calls = tiny_pipeline.calls
    tiny_pipeline(image)
    assert tiny_pipeline.calls == calls, "remembered"
    fresh = tiny_pipeline.fresh()
    np.testing.assert_allclose(fresh(image), expected)
    np.testing.assert_allclose(fresh(np.concatenate([image, image])), np.vstack([expected] * 2))
    assert fresh.calls == 2 and not fresh._memo and tiny_pipeline.calls == calls


def test_lime_time_is_measured_afresh_not_read_from_the_cache(explained) -> None:
    """The figures' explanations come from the disk cache (another run, maybe another device) or
    reuse copies the pipeline remembers: their ``seconds`` are not what one explanation costs."""
    study = _study(explained, categories=1)
    i = next(iter(study.checked.values()))[0]
    study.picks = [i]
    first = study.explained(i)
    assert study.explained(i)["seconds"] == first["seconds"], "read back from the cache"
    sent = []
    model = study.pipeline.predict_vectors
    study.pipeline.predict_vectors = lambda X: (sent.append(len(X)), model(X))[1]
    t = study.time_explanations()
    assert sum(sent) >= STUDY["num_samples"], "every perturbed copy through the model again"
    assert t["images"] == 1 and t["num_samples"] == STUDY["num_samples"] and len(t["runs"]) == 1
    assert t["device"] == "cpu" and t["fresh_pipeline"] and not t["disk_cache"]
    assert t["seconds_per_image"] == pytest.approx(t["runs"][0], abs=1e-3)


def test_a_category_panel_is_read_from_its_maps_and_photos() -> None:
    """map_reading: the share of the weight towards the class on the product (not the white
    background) against the product's area, and where the averaged weight peaks."""
    image = np.full((30, 30, 3), 255, np.uint8)
    image[10:20, 10:20] = 90  # a product in the centre, 1/9 of the photo
    on = np.zeros((30, 30))
    on[10:20, 10:20] = 1.0  # every positive weight on the product
    off = np.zeros((30, 30))
    off[:10, :10] = 1.0  # on the background, top left
    off[10:20, 10:20] = -0.5
    r = photos.map_reading([on], [image])
    assert r["on_product"] == 1.0 and abs(r["product_area"] - 1 / 9) < 1e-9
    assert r["peak"] == "centre" and r["peak_share"] == 1.0 and r["positive_share"] == 1.0
    r = photos.map_reading([off], [image])
    assert r["on_product"] == 0.0 and r["peak"] == "top left"
    assert abs(r["positive_share"] - 100 / 150) < 1e-9
    both = photos.map_reading([on, off], [image, image])
    assert both["on_product"] == 0.5 and both["images"] == 2
    with pytest.raises(ValueError, match="one photo per map"):
        photos.map_reading([on], [])
