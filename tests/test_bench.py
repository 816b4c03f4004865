"""utils.bench runs end to end on a few images (its numbers are not checked: speed lives in `make
bench`)."""

from __future__ import annotations

import json

import pytest

from utils.bench import cli, encoding, scale
from utils.data import acquire, catalog
from utils.explain import photos
from utils.models import encoders


@pytest.fixture()
def tiny_bench(tmp_path):
    """The bench's sections on tiny random encoders (their code, in seconds), reset after."""
    encoding.use_weights("tiny-random", tmp_path / "bench-models")
    yield tmp_path / "bench-models"
    encoding.use_weights("random")


def test_bench_writes_every_section(dataset_dir, tmp_path, tiny_bench) -> None:
    out = tmp_path / "bench.json"
    result = cli.main(
        [
            "--sections",
            "pipeline",
            "finetune",
            "heads",
            "scale",
            "--weights",
            "tiny-random",
            "--images",
            "2",
            "--precision-images",
            "2",
            "--batch-size",
            "2",
            "--num-workers",
            "0",
            "--finetune-images",
            "4",
            "--scale-sizes",
            "60",
            "120",
            "--source",
            str(dataset_dir),
            "--output",
            str(out),
        ]
    )
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result, default=str))
    assert saved["machine"]["weights"] == "tiny-random"
    assert [e["encoder"] for e in saved["pipeline"]] == ["clip", "vgg16"]
    tiny_clip = encoders.load_encoder("clip", "tiny-random", device="cpu", models_dir=tiny_bench)
    assert saved["pipeline"][0]["parameters"] == tiny_clip.n_parameters()
    clip = saved["finetune"][0]
    assert clip["activation_shape"][0] == 50 and clip["epoch_seconds"] > 0  # 49 patches + class
    assert clip["cache_kb_per_view"] > 0
    # bfloat16 fine-tuning timed beside float32 where this CPU has it, else said why not
    assert (clip["epoch_seconds_bfloat16"] or 0) > 0 or clip["bfloat16_not_measured"]
    assert [s["rows"] for s in saved["scale"]] == [60, 120] and all(
        s["validate_peak_mib"] >= 0 for s in saved["scale"]
    )


def test_the_precision_section_records_what_auto_picks_beside_its_own_timing(
    dataset_dir, tiny_bench, monkeypatch
) -> None:
    """Both precisions timed on the same photos, then auto measured afresh in the same run (not
    from the machine's cache): its choice, its own throughputs, and whether it is the faster."""
    from utils.models import runtime

    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    p = encoding.bench_precision("clip", encoding._images(str(dataset_dir), 2), 2, "cpu")
    assert p["float32_img_per_s"] > 0 and p["bfloat16_img_per_s"] > 0 and p["ratio"] > 0
    assert p["cosine_min"] > 0.99 and p["head_agreement"] == 1.0
    auto = p["auto_decision"]
    assert auto["how"] == "measured" and p["auto_picks"] == auto["choice"]
    assert auto["float32_per_s"] > 0 and auto["bfloat16_per_s"] > 0
    assert p["faster_here"] in ("float32", "bfloat16")
    assert p["auto_picks_the_faster"] == (p["auto_picks"] == p["faster_here"])


def test_synthetic_catalog_has_the_schema_and_a_long_tail(tmp_path) -> None:
    import pandas as pd

    folder = scale.synthetic_catalog(tmp_path / "cat", 400, n_categories=40)
    rows = acquire.read_csv(acquire.find_csv(folder))
    assert len(rows) == 400 and set(acquire.REQUIRED_COLUMNS) <= set(rows.columns)
    sizes = rows["product_category_tree"].map(catalog.parse_category).value_counts()
    assert sizes.iloc[0] > 5 * sizes.iloc[-1], "long-tailed"
    assert (folder / "Images" / rows["image"].iloc[0]).exists()
    assert isinstance(pd.read_csv(folder / "catalog.csv"), pd.DataFrame)


def test_parity_with_the_reference_pipelines_on_full_size_weights(dataset_dir) -> None:
    """Full-size seeded random weights: the project's embedding of a fully decoded photo is the
    reference pipeline's (CLIPModel.get_image_features; torchvision transforms + conv base)."""

    paths = encoding._parity_paths(str(dataset_dir), 2)
    rows = [
        r for k in ("clip", "vgg16") for r in encoding.bench_parity(k, paths, "cpu", (None, 256))
    ]
    assert [(r["encoder"], r["decode"]) for r in rows] == [
        ("clip", "full"),
        ("clip", 256),
        ("vgg16", "full"),
        ("vgg16", 256),
    ]
    for r in rows:
        assert r["images"] == 2 and -1 <= r["cosine_min"] <= r["cosine_median"] <= 1 + 1e-6
        if r["decode"] == "full":
            assert r["cosine_min"] >= 0.999 and r["rel_l2_p95"] == 0.0


def test_the_refits_section_times_sequential_and_parallel_runs_with_the_same_results() -> None:
    """Synthetic features (no dataset): the same refits three ways, thread settings recorded."""

    rows = scale.bench_refits(None, n_splits=2, ks=(2, "all"), draws=1, n_jobs=2, baseline=False)
    assert [r["variant"] for r in rows] == [
        "sequential, 1 thread per fit",
        "parallel, 2 processes",
        "default (n_jobs=None: parallel where it pays)",
    ]
    assert rows[0]["processes"] == 1 and rows[1]["processes"] == 2
    assert all(r["same_results_as_sequential"] and r["max_accuracy_difference"] == 0 for r in rows)
    assert all(
        r["data"] == "synthetic" and r["total_s"] > 0 and "torch" in r["pools"] for r in rows
    )


def test_lime_cpu_side_measures_both_ways_of_building_copies(tmp_path, real_images) -> None:

    encoder = encoders.load_encoder("clip", "tiny-random", device="cpu", models_dir=tmp_path)
    image = photos.prepare_image(encoder, real_images[0])
    out = encoding.lime_cpu_side(encoder, image, photos.segment(image, n_segments=30), 64)
    assert set(out) == {
        "copies_ms_per_100_lime_loop",
        "copies_ms_per_100_one_step",
        "cpu_side_ms_per_100",
    }
    assert all(v > 0 for v in out.values())
