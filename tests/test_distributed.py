"""utils.models.distributed (feature extraction and batch prediction on Ray Data) against the local
path, on a local Ray cluster of two nodes (``ray.cluster_utils.Cluster``, one CPU each) whose
workers start in another folder than the driver and import ``utils`` only from the code shipped
with the job: tiny models, a few dozen real photos. Workers write Parquet shards under paths and
URIs resolved on the driver; the same cache bit for bit in float32; every row written once when an
actor dies after some batches, when a worker node is removed mid-run and when the driver is killed
and the run resumed; bounded retries; one sentence when Ray is missing or unreachable."""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.data import acquire
from utils.models import distributed, encoders, features

pytest.importorskip("ray", reason="Ray Data is an optional extra: `make ray` installs it")

CPUS = 0.5  # per decoding task, actor and write task: two of them fit on a node of one CPU
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """A Ray cluster of two nodes of one CPU each, started from a folder of their own with this
    checkout off their ``PYTHONPATH`` (workers import ``utils`` from the code shipped with the
    job), and the driver working in another folder; shut down after the module."""
    ray = distributed.ray_module()
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    workers_dir, driver_dir = tmp_path_factory.mktemp("workers"), tmp_path_factory.mktemp("driver")
    cwd, path = os.getcwd(), os.environ.get("PYTHONPATH")
    os.chdir(workers_dir)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (path or "").split(os.pathsep) if p and Path(p).resolve() != ROOT
    )
    try:
        for attempt in range(3):  # a raylet waits 30 s for the GCS: a loaded machine may miss it
            cluster = None
            try:
                cluster = Cluster(
                    initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
                )
                worker = cluster.add_node(num_cpus=1)
                break
            except Exception:
                if cluster is not None:
                    cluster.shutdown()
                if attempt == 2:
                    raise
    finally:
        os.environ.pop("PYTHONPATH") if path is None else os.environ.update(PYTHONPATH=path)
    os.chdir(driver_dir)
    try:
        with distributed.cluster(cluster.address) as ray:
            yield {
                "ray": ray,
                "cluster": cluster,
                "worker": worker,
                "workers_dir": workers_dir,
                "driver_dir": driver_dir,
            }
    finally:
        os.chdir(cwd)
        ray.shutdown()
        cluster.shutdown()


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


@pytest.fixture(scope="module")
def local(clip, photos, tmp_path_factory):
    """The local path's features of ``photos`` in batches of 4 and of 8."""
    folder = tmp_path_factory.mktemp("local")
    return {
        size: features.extract(clip, photos, folder / f"b{size}", size, 0, progress=False)[0]
        for size in (4, 8)
    }


def test_the_same_batches_give_the_same_bits_other_batches_a_tolerance(
    clip, photos, local, tmp_path
) -> None:
    """Why Ray cuts batches as the local path does: the same batches give the same bits; other
    batch sizes agree only within a tolerance (on some CPUs their kernels sum in another order,
    on others not: nothing here asserts that they differ)."""
    again, _ = features.extract(clip, photos, tmp_path / "again", 8, 0, progress=False)
    assert np.array_equal(again, local[8]) and np.allclose(local[4], local[8], atol=1e-5)


def _shards(uri: str) -> pd.DataFrame:
    columns = ["sha256", "status", "vector"]
    table = distributed.shard_table(uri, columns).to_pandas()
    return table.assign(vector=table["vector"].map(lambda v: np.asarray(v, np.float32)))


def _in_row_order(table: pd.DataFrame, photos: pd.DataFrame) -> np.ndarray:
    """The shards' vectors in ``photos``' order, after checking each photo is there once."""
    assert table["sha256"].is_unique and set(table["sha256"]) == set(photos["sha256"])
    return np.stack(table.set_index("sha256").loc[photos["sha256"], "vector"].to_list())


def test_the_code_ships_with_the_job_and_workers_start_elsewhere(nodes) -> None:
    ray = nodes["ray"]

    @ray.remote(num_cpus=CPUS)
    def where():
        import utils

        return os.getcwd(), utils.__file__

    seen = ray.get([where.remote() for _ in range(4)])
    assert all(cwd == str(nodes["workers_dir"]) != os.getcwd() for cwd, _ in seen)
    assert all("runtime_resources" in file and str(ROOT) not in file for _, file in seen)
    assert len(ray.nodes()) == 2 and distributed.job_runtime_env()["py_modules"] == [
        str(ROOT / "utils")
    ]


def test_the_ray_cache_equals_the_local_one_bit_for_bit_though_an_actor_dies(
    nodes, clip, photos, local, tmp_path
) -> None:
    """Relative folders given to the driver land under the driver's folder, the shards on a
    ``file://`` URI; an actor is killed after a batch was delivered; the cache and the activations
    are the local path's, byte for byte, each photo once in the shards."""
    base = nodes["driver_dir"] / "bits"
    also = (1, base / "acts-local")
    mine, _ = features.extract(clip, photos, base / "local", 8, 0, False, also)
    assert np.array_equal(mine, local[8])
    trace = {}
    remote, stats = distributed.extract(
        clip,
        photos,
        "bits/ray",  # relative: resolved on the driver
        8,
        progress=False,
        also_activations=(1, "bits/acts-ray"),
        trace=trace,
        shards=f"file://{base}/shards",
        actors=(1, 2),
        fail=f"exit:1:{tmp_path / 'killed'}",  # on its second batch: one already delivered
        cpus=CPUS,
    )
    assert (tmp_path / "killed").exists()  # the actor did die
    assert stats["computed"] == len(photos) and np.array_equal(local[8], remote)
    a, b = features.cache_dir(clip, base / "local"), features.cache_dir(clip, base / "ray")
    assert a.name == b.name
    assert all(filecmp.cmp(a / f"{k}.npy", b / f"{k}.npy", False) for k in photos["sha256"])
    acts_a = features.activation_cache(clip, 1, base / "acts-local").folder
    acts_b = features.activation_cache(clip, 1, base / "acts-ray").folder
    assert all(
        filecmp.cmp(acts_a / f"{k}-v0.npy", acts_b / f"{k}-v0.npy", False) for k in photos["sha256"]
    )
    assert not any(nodes["workers_dir"].iterdir())  # nothing landed in the workers' folder
    shards = f"file://{base}/shards/{clip.input_key}-k1"
    assert np.array_equal(_in_row_order(_shards(shards), photos), local[8])
    # decoding ran in CPU tasks, not inside the encoder's actor; three batches of 8
    assert all(d != e for d, e in trace["processes"]) and trace["batches"] == 3
    # the local path reads the Ray cache as its own; the shards fill it again once deleted
    again, s = features.extract(clip, photos, base / "ray", 8, 0, progress=False)
    assert s["computed"] == 0 and np.array_equal(again, local[8])
    shutil.rmtree(b)
    refilled, s = distributed.extract(
        clip,
        photos,
        base / "ray",
        8,
        progress=False,
        also_activations=(1, base / "acts-ray"),
        shards=f"file://{base}/shards",
    )
    assert s["computed"] == 0 and s["from_shards"] == len(photos)
    assert np.array_equal(refilled, local[8])


def test_an_exception_is_retried_a_bounded_number_of_times(nodes, clip, photos, tmp_path) -> None:
    ray = nodes["ray"]
    with distributed.configured(ray):
        start = time.perf_counter()
        with pytest.raises(Exception, match="a planted failure on every batch"):
            distributed.write_features(
                ray, clip, photos.head(4), tmp_path / "always", 4, fail="always:0:-", cpus=CPUS
            )
        assert time.perf_counter() - start < 120  # it gave up: retries are bounded
        assert ray.data.DataContext.get_current().max_map_retries == distributed.MAP_RETRIES


def test_a_broken_photo_gets_its_status_and_a_rerun_skips_what_is_written(
    nodes, clip, photos, tmp_path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    extra = pd.DataFrame(
        {
            "path": [str(broken), str(tmp_path / "absent.jpg")],
            "sha256": [acquire._sha256(broken), "0" * 64],
        }
    )
    rows = pd.concat([photos.head(9), extra, photos.iloc[9:12]], ignore_index=True)
    marker = tmp_path / "raised"  # the first batch raises once: retried, nothing lost
    with pytest.raises(distributed.ExtractionFailed, match=r"2 of 14 photos .*unreadable"):
        distributed.extract(
            clip, rows, tmp_path / "ray", 8, progress=False, fail=f"raise:0:{marker}", cpus=CPUS
        )
    assert marker.exists()
    folder = features.cache_dir(clip, tmp_path / "ray")
    assert len(list(folder.glob("*.npy"))) == 12  # every readable photo was cached
    table = distributed.shard_table(str(tmp_path / "ray" / "shards" / clip.input_key), None)
    status = dict(zip(table.column("sha256").to_pylist(), table.column("status").to_pylist()))
    assert [status[s] for s in extra["sha256"]] == ["unreadable", "missing"]
    # the shards hold every row: a rerun with 3 more photos encodes only those 3
    more = pd.concat([rows, photos.iloc[12:15]], ignore_index=True)
    written = distributed.write_features(
        nodes["ray"], clip, more, tmp_path / "ray" / "shards" / clip.input_key, 8, cpus=CPUS
    )
    assert (written["written"], written["skipped"], written["rows"]) == (3, 14, 17)


def test_the_panel_with_engine_ray_gives_the_local_features(
    nodes, clip, photos, models_dir, tmp_path
) -> None:
    from utils.core.paths import Layout
    from utils.models.panel import Panel, Settings

    layout = Layout(tmp_path / "panel")
    shutil.copytree(models_dir, layout.models, dirs_exist_ok=True)
    s = Settings(clip_model="tiny-random", device="cpu", precision="float32", engine="auto")
    panel = Panel(layout, s, ["a"], progress=False)
    X = panel.features("clip-image", photos)
    assert panel.stats["clip-image"]["computed"] == len(photos)
    expected, _ = features.extract(clip, photos, tmp_path / "local", s.batch_size, 0, False)
    assert np.array_equal(X, expected) and X.std() > 0


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


def test_paths_are_resolved_on_the_driver(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert distributed.location("out/x") == str(tmp_path / "out" / "x")
    assert distributed.location("s3://bucket/out") == "s3://bucket/out"
    assert distributed.location("~/x") == str(Path.home() / "x")


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


@pytest.mark.parametrize("engine", ["auto", "local"])
def test_a_catalog_to_parquet_gives_predict_s_results_row_for_row(
    nodes, trained, shop, engine, tmp_path
) -> None:
    """Relative paths given to the driver; on Ray, the output on a ``file://`` URI and an actor
    killed after a chunk was delivered: every row once, ``predict``'s results row for row."""
    from utils import predict

    ray = engine != "local"
    out = f"file://{tmp_path}/out" if ray else "predictions"  # relative: the driver's folder
    fail = f"exit:1:{tmp_path / 'killed'}" if ray else None
    operating = predict.Operating(0.5, 0.4)  # the model card's options: scaled, `automatic`
    done = predict.predict_catalog(
        os.path.relpath(shop),
        out,
        "clip-head",
        trained,
        3,
        engine,
        8,
        fail=fail,
        operating=operating,
    )
    assert done["out"] == (out if ray else str(nodes["driver_dir"] / out))
    assert (tmp_path / "killed").exists() == ray  # the actor did die
    got = distributed.shard_table(done["out"], None).to_pandas()
    got = got.sort_values("id").reset_index(drop=True)
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
        [shop / "Images" / catalog.loc[i, "image"] for i in readable],
        "clip-head",
        trained,
        top=3,
        operating=operating,
    )
    mine = got.loc[readable].reset_index(drop=True)
    assert mine["file"].map(os.path.isabs).all()
    mine["file"] = mine["file"].map(lambda f: str(Path(f).relative_to(shop.resolve())))
    expected["file"] = expected["file"].map(lambda f: str(Path(f).relative_to(shop)))
    columns = ["file", "status", "detail", "top1", "top2", "top3", "category", "automatic"]
    pd.testing.assert_frame_equal(mine[columns], expected[columns])
    np.testing.assert_allclose(mine["probability"], expected["probability"], rtol=0, atol=1e-6)
    assert expected["category"].ne("").sum() == 30  # the 30 photos were classified
    if ray:  # a resumed run would skip every id written: the first stage leaves them out
        done = distributed.shard_ids(done["out"], "id").astype(str)
        chunk = catalog.iloc[[0, 5, 9, 10]][["uniq_id", "image"]]
        kept = predict.prepare_products(
            chunk, predict.Reads("clip-head", "image"), str(shop / "Images"), "uniq_id", {}, done
        )
        assert len(done) == 34 and len(kept["id"]) == 0
        kept = predict.prepare_products(
            chunk,
            predict.Reads("clip-head", "image"),
            str(shop / "Images"),
            "uniq_id",
            {},
            done[1:],
        )
        assert kept["id"].tolist() == [done[0]] == ["id000"]


# --------------------------------------------------------------------------- nodes and drivers
DRIVER = """
import sys
from utils.models import distributed, encoders
import pandas as pd
rows = pd.read_json(sys.argv[2])
clip = encoders.load_encoder("clip", "tiny-random", device="cpu", models_dir=sys.argv[3])
with distributed.cluster(sys.argv[1]) as ray, distributed.configured(ray):
    distributed.write_features(ray, clip, rows, sys.argv[4], 4, fail="slow:1:-", cpus=0.5)
"""


def test_a_killed_driver_resumed_writes_every_row_once(
    nodes, clip, photos, local, models_dir, tmp_path
) -> None:
    """A driver killed once a shard is written, then the run resumed: every photo once, the
    vectors of a clean run (the local path's, batches of 4) bit for bit."""
    shards = tmp_path / "shards"
    photos.to_json(tmp_path / "rows.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [nodes["cluster"].address, str(tmp_path / "rows.json"), str(models_dir), str(shards)]
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *args], env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 120
        while not distributed.parquet_files(str(shards)) and time.time() < deadline:
            assert driver.poll() is None, "the driver ended before writing a shard"
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    before = distributed.shard_rows(str(shards))
    assert 0 < before < len(photos)  # killed mid-run
    written = distributed.write_features(nodes["ray"], clip, photos, shards, 4, cpus=CPUS)
    assert written["skipped"] >= before and written["rows"] == len(photos)
    assert np.array_equal(_in_row_order(_shards(str(shards)), photos), local[4])


def test_the_ray_bench_section_compares_real_arrays(nodes) -> None:
    from utils.bench import distributed as bench

    rows = bench.bench_ray(photos=24, full_photos=0, batch_size=8)
    measured, projected = rows[0], rows[1:]
    assert measured["photos"] == 24 and measured["runs"] == 1
    assert measured["embeddings_equal"] and measured["cache_equal"]
    assert measured["ratio"] > 0
    assert {p["gpu_nodes"] for p in projected} == {1, 2, 4, 8}
    assert all(p["kind"] == "projection" for p in projected)


def test_a_worker_node_removed_mid_run_loses_nothing(nodes, clip, photos, local, tmp_path) -> None:
    """Last in the module: the cluster keeps one node afterwards."""
    shards = tmp_path / "shards"
    result, errors = {}, []

    def run():
        try:
            result.update(
                distributed.write_features(
                    nodes["ray"], clip, photos, shards, 4, fail="slow:0.5:-", cpus=CPUS
                )
            )
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 120
    while not distributed.parquet_files(str(shards)) and time.time() < deadline:
        time.sleep(0.1)
    nodes["cluster"].remove_node(nodes["worker"])
    removed_at = distributed.shard_rows(str(shards))
    thread.join(300)
    assert not errors and not thread.is_alive()
    assert len(nodes["ray"].nodes()) >= 1 and result["rows"] == len(photos)
    assert np.array_equal(_in_row_order(_shards(str(shards)), photos), local[4])
    if removed_at >= len(photos):  # a loaded machine: every row was written before the removal
        pytest.skip(f"the run wrote all {len(photos)} rows before the node was removed")
