"""Feature extraction and batch prediction on Ray Data, past one machine.

``engine`` (notebook 03's parameter, ``Settings.engine``; ``--engine`` of ``utils.predict``):
``"local"`` runs in process (the default); ``"ray"`` starts a local Ray cluster for the run; any
other value is the address of a running cluster (``"auto"``: the one ``ray start`` runs on this
node, or ``"head-node:6379"``), passed to ``ray.init(address=...)``. Ray is an optional extra
(``make ray``), imported only here and only when asked for.

The driver orchestrates, the workers read and write:

- every input and output is resolved on the driver (``location``): an absolute path, or a URI
  (``s3://``, ``gs://``: pyarrow filesystems). A relative path would be resolved by each node
  against its own working directory;
- the code ships with the job: joining a cluster, the driver passes ``runtime_env`` with this
  package in ``py_modules`` (unless the job already carries it: ``ray job submit --working-dir``);
- CPU tasks decode the photos (``map_batches``, ``cpus`` each) into the encoder's input, as the
  local path's decoding worker does; a file that cannot be read gets its status (``missing``,
  ``unreadable``, ``too_large``), not a crash;
- actors run the model (``ActorPoolStrategy(min_size, max_size)``: ``actor_pool``): one GPU each
  when the cluster has GPUs or when asked for (``gpus=True``: an autoscaling cluster whose GPU
  nodes start at zero), else one CPU;
- workers write Parquet shards keyed by image sha256 (features) or product id (predictions)
  (``Dataset.write_parquet``); the driver receives counts only (the shards' Parquet metadata) and
  checks them against the input, loudly;
- a rerun skips the ids already in the shards (resume by id), so a killed run, resumed, writes
  every row exactly once; batches are cut over the whole input, so a resumed run's vectors are a
  clean run's bit for bit;
- Ray Data's own fault tolerance: a dead actor is restarted and its batch run again (Ray's
  defaults), an exception in a task or actor retried at most ``MAP_RETRIES`` times
  (``DataContext.retried_map_errors`` / ``max_map_retries``).

``extract`` keeps the single-machine cache (``features``: one ``.npy`` per image) working: the
rows it lacks are written as shards by the workers, then the cache is filled from the shards
(``features.fill_from_shards``), so notebooks 04-07 run unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.catalog import ImageTooLargeError
from . import blocks, features, runtime
from .encoders import Encoder
from .features import _stats, _Tap, load_model_input

ENGINES = ("local", "ray")  # or a running Ray cluster's address
MAP_RETRIES = 3  # a task or actor batch that raised is run again this many times, then it fails
INSTALL = "`make ray` installs it (requirements-ray.txt)"
PACKAGE = Path(__file__).resolve().parents[1]  # utils/: shipped with the job (py_modules)


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here; the message says why and what to do, in one
    sentence."""


class RowsMismatch(RuntimeError):
    """The rows written are not the rows asked for (lost or duplicated)."""


def is_local(engine: str | None) -> bool:
    return engine in (None, "", "local")


def ray_address(engine: str) -> str | None:
    """None for a local cluster started for the run (``"ray"``), else the address to join."""
    if is_local(engine):
        raise ValueError("engine='local' runs in process: no Ray address")
    return None if engine == "ray" else str(engine)


def ray_module():
    """``ray`` with Ray Data, or one sentence saying how to install it."""
    logging.getLogger("ray.widgets.util").setLevel(logging.WARNING)  # ipywidgets, in notebooks
    try:
        import ray

        logging.getLogger("ray").setLevel(logging.ERROR)  # our own sentences, not Ray's notices
        import ray.data
    except ImportError:
        raise EngineUnavailable(
            f"engine='ray' needs Ray Data, which is not installed in this environment: {INSTALL}."
        ) from None
    for handler in logging.getLogger(ray.data.__name__).handlers:  # its console, not its log file
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.ERROR)
    return ray


def _reachable(address: str, timeout: float = 5.0) -> bool:
    """Whether ``host:port`` accepts a TCP connection (``ray.init`` would wait minutes
    otherwise)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def job_runtime_env(ship_code: bool = True) -> dict | None:
    """What ``ray.init`` passes to the cluster so that every worker imports this checkout's
    ``utils``: the package as ``py_modules`` (Ray uploads it once per job). None inside a job
    submitted with its code (``ray job submit --working-dir .``: the job carries it) or when
    ``ship_code`` is off (every node holds the same environment and checkout)."""
    if not ship_code or os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"):  # set by `ray job submit`
        return None
    return {"py_modules": [str(PACKAGE)], "excludes": ["__pycache__", "*.pyc"]}


@contextlib.contextmanager
def cluster(engine: str = "ray", num_cpus: int | None = None, ship_code: bool = True):
    """A Ray session for ``engine``: joins the cluster at its address (``ray.init(address=...)``,
    this package shipped with the job: ``job_runtime_env``), or starts a local one (``num_cpus``:
    all cores by default) and shuts it down afterwards. Inside a session already open (a test
    fixture, ``prepare``), reuses it."""
    ray = ray_module()
    address = ray_address(engine)
    unreachable = (
        f"no Ray cluster answers at {address!r}: start one with `ray start --head` (other nodes "
        "join with `ray start --address=<head>:6379`) and pass its address, or use engine='ray' "
        "for a local cluster started for the run."
    )
    if address and address.startswith("ray://"):
        raise EngineUnavailable(
            f"{address!r} is a Ray Client address, which needs ray[client]: run the notebooks on a "
            "node of the cluster (or `ray job submit`) and pass its GCS address ('auto' or "
            "'<head>:6379')."
        )
    if address and address != "auto" and not _reachable(address):
        raise EngineUnavailable(unreachable)
    if ray.is_initialized():
        yield ray
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            ray.init(address=address, runtime_env=job_runtime_env(ship_code), **quiet)
        else:  # "local": never join a cluster someone else started on this machine
            ray.init(address="local", num_cpus=num_cpus, **quiet)
    except ConnectionError:
        raise EngineUnavailable(unreachable) from None
    logging.getLogger("ray").setLevel(logging.ERROR)
    try:
        yield ray
    finally:
        ray.shutdown()


@contextlib.contextmanager
def configured(ray):
    """Ray Data's settings for our runs, restored afterwards: no progress bars of its own, an
    exception in a task or an actor's batch retried at most ``MAP_RETRIES`` times (Ray Data's
    ``retried_map_errors`` / ``max_map_retries``); a dead actor is restarted by Ray's defaults."""
    ctx = ray.data.DataContext.get_current()
    keys = ("enable_progress_bars", "retried_map_errors", "max_map_retries")
    saved = {k: getattr(ctx, k) for k in (*keys, "print_on_execution_start")}
    ctx.enable_progress_bars = False
    ctx.retried_map_errors = True
    ctx.max_map_retries = MAP_RETRIES
    ctx.print_on_execution_start = False
    try:
        yield ctx
    finally:
        for k, v in saved.items():
            setattr(ctx, k, v)


# --------------------------------------------------------------------------- where things live
def location(path: str | os.PathLike) -> str:
    """``path`` as every node must read it: a URI as it is (``s3://bucket/x``), a local path made
    absolute on the driver (``~`` expanded)."""
    text = str(path)
    if "://" in text:
        return text
    return str(Path(text).expanduser().resolve())


def _fs(uri: str):
    import pyarrow.fs

    return pyarrow.fs.FileSystem.from_uri(uri)


def parquet_files(uri: str, repair: bool = False) -> list[str]:
    """The Parquet files under ``uri`` (none if it does not exist), as filesystem paths. With
    ``repair``, a file whose footer cannot be read (a write cut short: a killed run) is removed,
    so that its rows are written again."""
    import pyarrow.fs
    import pyarrow.parquet as pq

    fs, root = _fs(uri)
    if fs.get_file_info(root).type == pyarrow.fs.FileType.NotFound:
        return []
    selector = pyarrow.fs.FileSelector(root, recursive=True)
    files = sorted(
        f.path
        for f in fs.get_file_info(selector)
        if f.type == pyarrow.fs.FileType.File and f.path.endswith(".parquet")
    )
    if not repair:
        return files
    kept = []
    for path in files:
        try:
            pq.read_metadata(path, filesystem=fs)
            kept.append(path)
        except Exception:  # noqa: BLE001 - pyarrow raises several kinds for a truncated file
            fs.delete_file(path)
    return kept


def shard_rows(uri: str) -> int:
    """Rows in the shards under ``uri``, from their Parquet footers (no data read)."""
    import pyarrow.dataset as pds

    files = parquet_files(uri)
    fs, _ = _fs(uri)
    return pds.dataset(files, format="parquet", filesystem=fs).count_rows() if files else 0


def shard_table(uri: str, columns: list[str]):
    """``columns`` of every shard under ``uri``, as one pyarrow table."""
    import pyarrow.dataset as pds

    files = parquet_files(uri)
    if not files:
        raise FileNotFoundError(f"{uri}: no Parquet shards")
    fs, _ = _fs(uri)
    return pds.dataset(files, format="parquet", filesystem=fs).to_table(columns=columns)


def shard_ids(uri: str, column: str) -> np.ndarray:
    """The ids already written under ``uri`` (one column read), sorted; a file cut short by a
    killed run is removed first (``parquet_files(repair=True)``)."""
    if not parquet_files(uri, repair=True):
        return np.zeros(0, dtype=object)
    ids = shard_table(uri, [column]).column(column)
    return np.sort(ids.to_numpy(zero_copy_only=False).astype(object))


def clear(uri: str) -> None:
    """Remove the Parquet shards under ``uri`` (a fresh run)."""
    fs, _ = _fs(uri)
    for path in parquet_files(uri):
        fs.delete_file(path)


def check_rows(uri: str, expected: int, what: str) -> int:
    written = shard_rows(uri)
    if written != expected:
        raise RowsMismatch(
            f"{uri} holds {written} {what} rows where {expected} were expected: rows were "
            f"{'duplicated' if written > expected else 'lost'}; rerun to resume (ids already "
            "written are skipped) or remove the shards for a fresh run."
        )
    return written


def actor_pool(
    ray, actors: int | tuple[int, int] | None = None, gpus: bool | None = None
) -> tuple[dict, dict, int | None]:
    """The encoder actors: ``ActorPoolStrategy`` arguments (``min_size``, ``max_size``), what each
    actor reserves, and the threads its forward pass runs on.

    ``actors``: a fixed number or ``(min, max)``. ``gpus``: one GPU per actor (True), none
    (False), or GPUs when the cluster has some now (None). With GPUs the pool runs from one actor
    to one per GPU (``max`` given: for an autoscaling cluster whose GPU nodes start at zero);
    without, from one actor to one per two CPUs, one CPU reserved each, the forward pass on two
    threads (its own CPU and one it shares with the decoding tasks, as the local path shares the
    cores between its forward pass and its decoding worker)."""
    resources = ray.cluster_resources()
    n_gpus = int(resources.get("GPU", 0))
    use_gpus = bool(n_gpus) if gpus is None else bool(gpus)
    default = max(1, n_gpus) if use_gpus else max(1, int(resources.get("CPU", 1)) // 2)
    low, high = (
        (actors, actors) if isinstance(actors, int) else tuple(actors) if actors else (1, default)
    )
    sizes = {"min_size": int(low), "max_size": int(max(low, high))}
    if use_gpus:
        return sizes, {"num_gpus": 1, "num_cpus": 1}, None
    return sizes, {"num_cpus": 1}, 2


# --------------------------------------------------------------------------- the Ray stages
def _status_of(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing"
    if isinstance(exc, ImageTooLargeError):
        return "too_large"
    return "unreadable"


def decode_batches(
    batch: dict, preprocess, decode_min_side: int | None, size: int, shape: tuple
) -> dict:
    """CPU task: the photos of each dataset row (one local batch) as the encoder's normalised
    input (``preprocess``, float32, padded to ``size`` photos), with a status per photo."""
    n = len(batch["batch"])
    pixels = np.zeros((n, size, *shape), dtype=np.float32)
    status, detail = [], []
    for r in range(n):
        row_status, row_detail = [], []
        for slot, path in enumerate(json.loads(batch["paths"][r])):
            try:
                pixels[r, slot] = preprocess(load_model_input(path, decode_min_side)).numpy()
                row_status.append("ok")
                row_detail.append("")
            except Exception as exc:  # noqa: BLE001 - a broken photo gets its status, never a crash
                row_status.append(_status_of(exc))
                row_detail.append(f"{type(exc).__name__}: {exc}"[:300])
        status.append(json.dumps(row_status))
        detail.append(json.dumps(row_detail))
    return {
        **{k: batch[k] for k in ("batch", "shas", "write")},
        "pixels": pixels,
        "status": np.array(status),
        "detail": np.array(detail),
        "decoder_pid": np.full(n, os.getpid()),
    }


class Failure:
    """Tests: a planted failure in an actor. ``"exit:<after>:<marker>"`` kills the actor's process
    on its batch number ``after`` (0: the first; later: some batches already delivered),
    ``"raise:<after>:<marker>"`` raises there instead, once per marker file; ``"always:0:-"``
    raises on every batch; ``"slow:<seconds>:-"`` sleeps that long on every batch."""

    def __init__(self, spec: str | None) -> None:
        self.how, self.after, self.marker, self.seen = None, 0, None, 0
        if spec:
            how, after, marker = spec.split(":", 2)
            self.how, self.after, self.marker = how, float(after), marker

    def __call__(self) -> None:
        if self.how is None:
            return
        if self.how == "slow":
            time.sleep(self.after)
            return
        if self.how == "always":
            raise RuntimeError("a planted failure on every batch (tests)")
        self.seen += 1
        if self.seen <= self.after or os.path.exists(self.marker):
            return
        Path(self.marker).write_text(str(os.getpid()))
        if self.how == "exit":
            os._exit(1)
        raise RuntimeError("a planted failure (tests)")


class EncodeActor:
    """One encoder per actor (per GPU, or per CPU slot): the forward pass on each batch's photos
    that decoded, in their order (on ``threads`` threads if given); with ``tap_blocks``, also the
    activations entering the last ``k`` blocks. Out: one row per photo still to write (``sha256``,
    ``status``, ``detail``, ``vector``, ``activations``), a pyarrow table for the shards."""

    def __init__(
        self,
        encoder: Encoder,
        device: str = "auto",
        threads: int | None = None,
        tap_blocks: int | None = None,
        fail: str | None = None,
    ) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        device = runtime.pick_device(device)
        if device != encoder.device:  # keeps identity and precision: the cache keys
            encoder = dataclasses.replace(encoder, device=device)
        self.encoder, self.tap_blocks, self.fail = encoder, tap_blocks, Failure(fail)
        self.hook = _Tap(blocks.tap(encoder, tap_blocks)) if tap_blocks else None
        # every shard's activations of one width, even a batch with no readable photo
        self.act_size = (
            int(np.prod(features.activation_shape(encoder, tap_blocks))) if tap_blocks else 0
        )

    def __call__(self, batch: dict):
        import pyarrow as pa
        import torch

        self.fail()
        rows: dict[str, list] = {k: [] for k in ("sha256", "status", "detail", "batch")}
        vectors, acts = [], []
        for r in range(len(batch["batch"])):
            statuses = json.loads(batch["status"][r])
            ok = [i for i, s in enumerate(statuses) if s == "ok"]
            vec = np.zeros((len(statuses), self.encoder.dim), dtype=np.float32)
            act = None
            if ok:  # the whole batch, as the local path encodes it, even rows already written
                x = torch.from_numpy(np.ascontiguousarray(batch["pixels"][r, ok]))
                vec[ok] = self.encoder(x).numpy()
                if self.hook is not None:
                    value = self.hook.value.astype(np.float16)
                    act = np.zeros((len(statuses), *value.shape[1:]), dtype=np.float16)
                    act[ok] = value
            details = json.loads(batch["detail"][r])
            for slot, (sha, write) in enumerate(
                zip(json.loads(batch["shas"][r]), json.loads(batch["write"][r]))
            ):
                if not write:
                    continue
                rows["sha256"].append(sha)
                rows["status"].append(statuses[slot])
                rows["detail"].append(details[slot])
                rows["batch"].append(int(batch["batch"][r]))
                vectors.append(vec[slot])
                if self.hook is not None:
                    acts.append(
                        act[slot].ravel()
                        if act is not None
                        else np.zeros(self.act_size, np.float16)
                    )
        n = len(rows["sha256"])
        columns = {
            **{k: pa.array(v) for k, v in rows.items()},
            "vector": _fixed(np.asarray(vectors, np.float32).reshape(n, -1), self.encoder.dim),
            "decoder_pid": pa.array(np.repeat(batch["decoder_pid"][:1], n).astype(np.int64)),
            "encoder_pid": pa.array(np.full(n, os.getpid(), dtype=np.int64)),
        }
        if self.hook is not None:
            flat = np.asarray(acts, np.float16).reshape(n, self.act_size)
            columns["activations"] = _fixed(flat, self.act_size)
        return pa.table(columns)


def actor_memory(parameters: int) -> int:
    """Bytes an actor reserves for a model of ``parameters``: its float32 weights three times over
    (weights, activations, the batch) and 256 MiB for the interpreter."""
    return int(3 * 4 * parameters + 256 * 2**20)


def _fixed(matrix: np.ndarray, width: int):
    """An n x width array as a pyarrow fixed-size list column."""
    import pyarrow as pa

    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), max(width, 1))


def encode_dataset(
    ray,
    encoder: Encoder,
    paths: list[str],
    batch_size: int,
    shas: list[str] | None = None,
    write: list[bool] | None = None,
    actors=None,
    gpus: bool | None = None,
    device: str = "auto",
    threads: int | None = None,
    tap_blocks: int | None = None,
    fail: str | None = None,
    cpus: float = 1.0,
):
    """The Ray dataset of ``paths`` encoded, one row per photo to write (``write``, default all):
    ``sha256`` (``shas``, default the paths), ``status``, ``detail``, ``vector`` (zeros where a
    photo failed), ``activations`` with ``tap_blocks``. Batches of ``batch_size`` consecutive
    paths, one dataset row each, so every forward pass sees the local path's photos in its order.
    Decoding tasks and encoder actors reserve ``cpus`` each (without GPUs). Lazy."""
    from PIL import Image

    shas = list(shas) if shas is not None else list(paths)
    write = list(write) if write is not None else [True] * len(paths)
    shape = tuple(encoder.preprocess(Image.new("RGB", (256, 256))).shape)  # the model's input
    items = [
        {
            "batch": k,
            "paths": json.dumps(paths[b : b + batch_size]),
            "shas": json.dumps(shas[b : b + batch_size]),
            "write": json.dumps(write[b : b + batch_size]),
        }
        for k, b in enumerate(range(0, len(paths), batch_size))
        if any(write[b : b + batch_size])
    ]
    sizes, reserve, default_threads = actor_pool(ray, actors, gpus)
    if "num_gpus" not in reserve:
        reserve = {"num_cpus": cpus}
    # the model's memory, reserved per actor: it also keeps Ray from fusing decoding into the
    # actor (fused operators need the same reservations), so the model never waits on a decode
    reserve["memory"] = actor_memory(encoder.n_parameters())
    decoded = ray.data.from_items(items).map_batches(
        decode_batches,
        batch_size=1,
        num_cpus=cpus,
        fn_kwargs={
            "preprocess": encoder.preprocess,
            "decode_min_side": encoder.decode_min_side,
            "size": batch_size,
            "shape": shape,
        },
    )
    return decoded.map_batches(
        EncodeActor,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(**sizes),
        fn_constructor_kwargs={
            "encoder": encoder,
            "device": device,
            "threads": threads or default_threads,
            "tap_blocks": tap_blocks,
            "fail": fail,
        },
        **reserve,
    )


# --------------------------------------------------------------------------- the driver
class ExtractionFailed(RuntimeError):
    """Some photos could not be encoded; the others are cached."""


def shard_location(encoder: Encoder, root: str | os.PathLike, tap_blocks: int | None) -> str:
    """Where ``encoder``'s shards live under ``root`` (a path or URI): one folder per cache key
    (``encoder.input_key``, plus ``-k<blocks>`` when activations ride along)."""
    key = encoder.input_key + (f"-k{tap_blocks}" if tap_blocks else "")
    return location(root).rstrip("/") + "/" + key


def write_features(
    ray,
    encoder: Encoder,
    rows: pd.DataFrame,
    shards: str | os.PathLike,
    batch_size: int = 16,
    actors=None,
    gpus: bool | None = None,
    device: str = "auto",
    threads: int | None = None,
    tap_blocks: int | None = None,
    fail: str | None = None,
    cpus: float = 1.0,
) -> dict:
    """Features of ``rows`` (``path``, ``sha256``) written by the workers as Parquet shards under
    ``shards`` (a folder or URI: ``shard_location``), one row per distinct sha256. Ids already
    there are skipped (resume); the driver receives counts only and checks the rows written
    against the input: ``RowsMismatch`` otherwise. Returns ``written`` (this run), ``skipped``
    (already there), ``rows`` (in the shards) and ``seconds``."""
    uri = location(shards)
    distinct = rows.drop_duplicates("sha256")
    shas = distinct["sha256"].tolist()
    done = shard_ids(uri, "sha256")
    write = ~np.isin(np.asarray(shas, dtype=object), done)
    paths = [location(p) for p in distinct["path"]]
    start = time.perf_counter()
    if write.any():
        ds = encode_dataset(
            ray,
            encoder,
            paths,
            batch_size,
            shas,
            write.tolist(),
            actors,
            gpus,
            device,
            threads,
            tap_blocks,
            fail,
            cpus,
        )
        ds.write_parquet(uri, ray_remote_args={"num_cpus": cpus / 4})  # I/O: a quarter slot
    total = check_rows(uri, len(done) + int(write.sum()), "feature")
    return {
        "written": int(write.sum()),
        "skipped": int((~write).sum()),
        "rows": total,
        "seconds": round(time.perf_counter() - start, 3),
        "shards": uri,
    }


def extract(
    encoder: Encoder,
    rows: pd.DataFrame,
    features_dir: str | os.PathLike,
    batch_size: int = 16,
    engine: str = "ray",
    actors=None,
    progress: bool = True,
    also_activations: tuple[int, os.PathLike] | None = None,
    device: str = "auto",
    threads: int | None = None,
    fail: str | None = None,
    trace: dict | None = None,
    shards: str | os.PathLike | None = None,
    gpus: bool | None = None,
    cpus: float = 1.0,
) -> tuple[np.ndarray, dict]:
    """``features.extract`` on Ray Data: features of ``rows`` (``path``, ``sha256``) in row order,
    and what it cost (``cached``, ``computed``, ``seconds``, ``seconds_per_item``, plus ``engine``,
    ``actors`` (the pool's maximum) and ``from_shards``: rows the shards already held).

    The rows the per-image cache lacks are written by the workers as shards (``write_features``,
    under ``shards``, default ``<features_dir>/shards``), then the cache is filled from them
    (``features.fill_from_shards``): same cache folder, keys and files as the local path.
    ``trace``, if given, receives ``processes`` (decoding and encoding process ids), ``batches``
    (how many) and ``first_shard_s`` (seconds to the first shard written). A photo that cannot be
    decoded raises ``ExtractionFailed`` naming it and its status, after every other vector is
    cached."""
    cache, acts, out, shas, todo = features.cached_part(
        encoder, rows, features_dir, also_activations
    )
    tap = also_activations[0] if also_activations else None
    start = time.perf_counter()
    written, n_actors, failed = {"written": 0}, 0, []
    if todo:
        uri = shard_location(encoder, shards or Path(features_dir) / "shards", tap)
        part = rows.iloc[todo]
        with cluster(engine) as ray, configured(ray):
            n_actors = actor_pool(ray, actors, gpus)[0]["max_size"]
            written = write_features(
                ray, encoder, part, uri, batch_size, actors, gpus, device, threads, tap, fail, cpus
            )
        failed, info = features.fill_from_shards(uri, part, cache, acts, out, todo)
        if trace is not None:
            first = min((os.path.getmtime(p) for p in parquet_files(uri)), default=None)
            trace.update(
                processes=info["processes"],
                batches=info["batches"],
                first_shard_s=(
                    first - (time.time() - (time.perf_counter() - start))
                    if first and "://" not in uri
                    else None
                ),
            )
    stats = _stats(len(rows), len(todo), time.perf_counter() - start)
    stats["computed"] = written["written"]
    stats.update(engine=engine, actors=n_actors, from_shards=len(todo) - written["written"])
    if failed:
        path, status, detail = failed[0]
        raise ExtractionFailed(
            f"{len(failed)} of {len(todo)} photos could not be encoded (the others are cached), "
            f"e.g. {path}: {status} ({detail}); re-validate the catalog (notebook 01)."
        )
    return out, stats
