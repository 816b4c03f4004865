"""utils.models.distributed (feature extraction on Ray Data) against the local path, on a local Ray
cluster of 2 CPUs, tiny models and small real photos: the same cache bit for bit in float32, no
row lost or duplicated when a worker dies or raises, a broken photo gets its status, a rerun
computes only what is missing, and one sentence when Ray is missing or unreachable."""

from __future__ import annotations

import filecmp
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.data import acquire
from utils.models import distributed, encoders, features

pytest.importorskip("ray", reason="Ray Data is an optional extra: `make ray` installs it")


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster of 2 CPUs for the module (every call below reuses it)."""
    with distributed.cluster("ray", num_cpus=2) as ray:
        yield ray


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def clip(models_dir):
    return encoders.load_encoder("clip", "tiny-random", device="cpu", models_dir=models_dir)


@pytest.fixture(scope="module")
def photos(real_rows) -> pd.DataFrame:
    """20 real photos (several categories): two full local batches of 8 and a partial one."""
    return real_rows.head(20)[["path", "sha256"]].reset_index(drop=True)


def _same_files(a, b, keys, suffix="") -> bool:
    return all(filecmp.cmp(a / f"{k}{suffix}.npy", b / f"{k}{suffix}.npy", False) for k in keys)


@pytest.mark.parametrize("kind", ["clip", "vgg16"])
def test_the_ray_cache_equals_the_local_one_bit_for_bit(
    ray_cluster, kind, clip, models_dir, photos, tmp_path
) -> None:
    encoder = (
        clip
        if kind == "clip"
        else encoders.load_encoder(kind, "tiny-random", device="cpu", models_dir=models_dir)
    )
    assert encoder.precision == "float32"
    also = (1, tmp_path / "acts-local")
    local, s_local = features.extract(
        encoder, photos, tmp_path / "local", 8, 0, progress=False, also_activations=also
    )
    trace = {}
    remote, s_ray = distributed.extract(
        encoder,
        photos,
        tmp_path / "ray",
        8,
        progress=False,
        also_activations=(1, tmp_path / "acts-ray"),
        trace=trace,
    )
    assert s_local["computed"] == s_ray["computed"] == len(photos)
    assert np.array_equal(local, remote) and local.std() > 0
    a, b = (
        features.cache_dir(encoder, tmp_path / "local"),
        features.cache_dir(encoder, tmp_path / "ray"),
    )
    assert a.name == b.name and _same_files(a, b, photos["sha256"])
    acts_a = features.activation_cache(encoder, 1, tmp_path / "acts-local").folder
    acts_b = features.activation_cache(encoder, 1, tmp_path / "acts-ray").folder
    assert _same_files(acts_a, acts_b, photos["sha256"], "-v0")
    # decoding ran in CPU tasks, not inside the encoder's actor
    assert all(decoder != encoder_pid for decoder, encoder_pid in trace["processes"])
    # and the local path reads the Ray cache as its own
    again, stats = features.extract(encoder, photos, tmp_path / "ray", 8, 0, progress=False)
    assert stats["computed"] == 0 and np.array_equal(again, local)


def test_the_same_batches_give_the_same_bits_other_batches_a_tolerance(
    clip, photos, tmp_path
) -> None:
    """Why one dataset row per local batch: the same batches give the same bits; other batch
    sizes agree only within a tolerance (on some CPUs their kernels sum in another order, on
    others not: nothing here asserts that they differ)."""
    a, _ = features.extract(clip, photos, tmp_path / "a", 8, 0, progress=False)
    again, _ = features.extract(clip, photos, tmp_path / "again", 8, 0, progress=False)
    b, _ = features.extract(clip, photos, tmp_path / "b", 5, 0, progress=False)
    assert np.array_equal(a, again) and np.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("how", ["exit", "raise"])
def test_a_worker_that_dies_or_raises_once_loses_and_duplicates_nothing(
    ray_cluster, clip, photos, tmp_path, how
) -> None:
    marker = tmp_path / "failed-once"
    local, _ = features.extract(clip, photos, tmp_path / "local", 8, 0, progress=False)
    trace = {}
    remote, stats = distributed.extract(
        clip, photos, tmp_path / "ray", 8, progress=False, fail_once=f"{how}:{marker}", trace=trace
    )
    assert marker.exists()  # the failure did happen
    assert sorted(trace["returned"]) == list(range(len(photos)))  # each row once, none lost
    assert stats["computed"] == len(photos) and np.array_equal(local, remote)
    cached = sorted(p.stem for p in features.cache_dir(clip, tmp_path / "ray").glob("*.npy"))
    assert cached == sorted(photos["sha256"])


def test_a_broken_photo_gets_its_status_and_a_rerun_computes_only_what_is_missing(
    ray_cluster, clip, photos, tmp_path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    extra = pd.DataFrame(
        {
            "path": [str(broken), str(tmp_path / "absent.jpg")],
            "sha256": [acquire._sha256(broken), "0" * 64],
        }
    )
    rows = pd.concat([photos.head(9), extra, photos.iloc[9:]], ignore_index=True)
    with pytest.raises(distributed.ExtractionFailed, match=r"2 of 22 photos .*unreadable"):
        distributed.extract(clip, rows, tmp_path / "ray", 8, progress=False)
    folder = features.cache_dir(clip, tmp_path / "ray")
    assert len(list(folder.glob("*.npy"))) == len(photos)  # every readable photo was cached
    # the statuses themselves, row by row, from the dataset
    ds = distributed.encode_dataset(ray_cluster, clip, rows["path"].tolist(), 8)
    with distributed.configured(ray_cluster):
        batches = list(ds.iter_batches(batch_size=None))
    out = {int(k): s for b in batches for k, s in zip(b["batch"], b["status"])}
    statuses = [s for k in sorted(out) for s in json.loads(out[k])]
    assert statuses[9:11] == ["unreadable", "missing"] and statuses.count("ok") == len(photos)
    # after a failure, what is cached is not recomputed: delete 3 vectors, run again
    for sha in photos["sha256"][:3]:
        (folder / f"{sha}.npy").unlink()
    _, stats = distributed.extract(clip, photos, tmp_path / "ray", 8, progress=False)
    assert stats["computed"] == 3 and stats["cached"] == len(photos) - 3


def test_the_panel_with_engine_ray_gives_the_local_features(
    ray_cluster, photos, models_dir, tmp_path
) -> None:
    from utils.core.paths import Layout
    from utils.models.panel import Panel, Settings

    out = {}
    for engine in ("local", "ray"):
        layout = Layout(tmp_path / engine)
        shutil.copytree(models_dir, layout.models, dirs_exist_ok=True)
        s = Settings(clip_model="tiny-random", device="cpu", precision="float32", engine=engine)
        panel = Panel(layout, s, ["a"], progress=False)
        out[engine] = panel.features("clip-image", photos)
        assert panel.stats["clip-image"]["computed"] == len(photos)
    assert np.array_equal(out["local"], out["ray"])


def test_missing_ray_or_an_unreachable_cluster_is_one_sentence(monkeypatch) -> None:
    with pytest.raises(distributed.EngineUnavailable, match="no Ray cluster answers at"):
        with distributed.cluster("127.0.0.1:9"):  # nothing listens on the discard port
            pass
    with pytest.raises(distributed.EngineUnavailable, match="ray.client"):
        with distributed.cluster("ray://127.0.0.1:10001"):
            pass
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(distributed.EngineUnavailable, match=r"`make ray` installs it") as err:
        distributed.ray_module()
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- batch prediction
@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_split):
    """``clip-head`` trained on tiny CLIP features of real photos, saved as notebook 04 saves it."""
    from utils.core.paths import Layout
    from utils.models import fitting
    from utils.models.panel import Panel, Settings

    layout = Layout(tmp_path_factory.mktemp("trained"))
    settings = Settings(clip_model="tiny-random", device="cpu", precision="float32", epochs=3)
    panel = Panel(layout, settings, small_split.labels(), small_split.split_id, progress=False)
    fitting.fit("clip-head", panel, small_split.train, small_split.val).save(
        layout.candidate("clip-head")
    )
    return layout.data_dir


@pytest.fixture(scope="module")
def shop(tmp_path_factory, real_rows):
    """A catalog folder (CSV + Images/): 30 real photos, a broken and a missing one, an escaping
    and an empty image name."""
    folder = tmp_path_factory.mktemp("shop")
    (folder / "Images").mkdir()
    names = []
    for path in real_rows["path"].head(30):
        (folder / "Images" / Path(path).name).symlink_to(path)
        names.append(Path(path).name)
    (folder / "Images" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    names[5:5] = ["broken.jpg", "absent.jpg", "../escape.jpg", ""]
    pd.DataFrame(
        {"uniq_id": [f"id{i:03d}" for i in range(len(names))], "image": names, "brand": "x"}
    ).to_csv(folder / "catalog.csv", index=False)
    return folder


@pytest.mark.parametrize("engine", ["ray", "local"])
def test_a_catalog_to_parquet_gives_predict_s_results_row_for_row(
    ray_cluster, trained, shop, tmp_path, engine
) -> None:
    from utils import predict

    done = predict.predict_catalog(
        shop, tmp_path / "out", "clip-head", trained, top=3, engine=engine, chunk_rows=8
    )
    got = pd.read_parquet(tmp_path / "out").sort_values("id").reset_index(drop=True)
    assert done["rows"] == len(got) == 34 and got["id"].is_unique
    catalog = pd.read_csv(shop / "catalog.csv", dtype=str, keep_default_na=False)
    assert got["id"].tolist() == catalog["uniq_id"].tolist()
    assert got.loc[5:8, "status"].tolist() == [
        "unreadable",
        "missing",
        "unsafe_name",
        "no_image_name",
    ]
    readable = [i for i in range(len(catalog)) if i not in (7, 8)]
    expected = predict.predict(
        [shop / "Images" / catalog.loc[i, "image"] for i in readable], "clip-head", trained, top=3
    )
    mine = got.loc[readable].reset_index(drop=True)
    columns = ["file", "status", "detail", "top1", "top2", "top3", "category"]
    pd.testing.assert_frame_equal(mine[columns], expected[columns])
    np.testing.assert_allclose(mine["probability"], expected["probability"], rtol=0, atol=1e-6)
    assert expected["category"].ne("").sum() == 30  # the 30 photos were classified


def test_the_ray_bench_section_compares_real_arrays(ray_cluster) -> None:
    from utils.bench import distributed as bench

    rows = bench.bench_ray(photos=96, full_photos=0, batch_size=32)
    measured, projected = rows[0], rows[1:]
    assert measured["photos"] == 96 and measured["runs"] == 1
    assert measured["embeddings_equal"] and measured["cache_equal"]
    assert measured["ratio"] > 0 and measured["ray_first_result_s"] > 0
    assert {p["gpu_nodes"] for p in projected} == {1, 2, 4, 8}
    assert all(p["kind"] == "projection" for p in projected)
