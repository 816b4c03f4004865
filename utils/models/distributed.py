"""Feature extraction on Ray Data: the per-image cache of ``features.extract``, past one machine.

``engine`` (notebook 03's parameter, ``Settings.engine``): ``"local"`` runs ``features.extract`` in
process (the default); ``"ray"`` starts a local Ray cluster for the run; any other value is the
address of a running cluster (``"auto"``: the one ``ray start`` runs on this node, or
``"head-node:6379"``). Ray is an optional extra (``make ray``), imported only here and only when
asked for.

What runs where, with Ray Data's own API (no scheduler of ours):

- the rows the cache lacks are cut into the local path's batches (``batch_size`` consecutive rows),
  one dataset row per batch, so every forward pass sees the same photos in the same order as in
  process: float32 vectors are then the local path's bit for bit (a CLIP embedding moves by about
  5e-7 with the other photos of its batch on a CPU, measured);
- CPU tasks decode each batch's photos (``map_batches``, one CPU each) into the encoder's input,
  as the local path's decoding worker does (decode size, resize, crop, normalisation); a file that
  cannot be read gets its status (``missing``, ``unreadable``, ``too_large``), not a crash;
- one actor per GPU (without GPUs, one per two CPUs: ``actor_pool``) runs the forward pass
  (``ActorPoolStrategy``); a dead actor is restarted and its batch run again (``max_restarts``,
  ``max_task_retries``); an exception in it is retried ``TASK_RETRIES`` times;
- the driver writes each vector to the cache (same folder and keys: weights, precision, decode
  size, image sha256) as it arrives, and checks that every row came back exactly once. A failure
  loses only the batches in flight: a rerun computes only what the cache lacks.

The images (and, for ``predict_catalog``, ``data/models/``) must be readable at the same paths from
every node: a shared filesystem on a real cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.progress import bar
from ..data.catalog import ImageTooLargeError
from . import blocks, features, runtime
from .encoders import Encoder
from .features import _stats, _Tap, load_model_input

ENGINES = ("local", "ray")  # or a running Ray cluster's address
TASK_RETRIES = 3  # an actor's batch that raised is run again this many times, then the run fails
INSTALL = "`make ray` installs it (requirements-ray.txt)"


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here; the message says why and what to do, in one
    sentence."""


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


@contextlib.contextmanager
def cluster(engine: str = "ray", num_cpus: int | None = None):
    """A Ray session for ``engine``: joins the cluster at its address, or starts a local one
    (``num_cpus``: all cores by default) and shuts it down afterwards. Inside a session already
    open (a test fixture, ``prepare``), reuses it."""
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
            "node of the cluster and pass its GCS address ('auto' or '<head>:6379')."
        )
    if address and address != "auto" and not _reachable(address):
        raise EngineUnavailable(unreachable)
    if ray.is_initialized():
        yield ray
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            ray.init(address=address, **quiet)
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
    """Ray Data's settings for our runs, restored afterwards: no progress bars of its own (the
    driver shows one), an actor's batch that raised is run again (at most ``TASK_RETRIES``
    times)."""
    ctx = ray.data.DataContext.get_current()
    saved = {
        k: getattr(ctx, k)
        for k in ("enable_progress_bars", "actor_task_retry_on_errors", "print_on_execution_start")
    }
    ctx.enable_progress_bars = False
    ctx.actor_task_retry_on_errors = True  # bounded by max_task_retries=TASK_RETRIES
    ctx.print_on_execution_start = False
    try:
        yield ctx
    finally:
        for k, v in saved.items():
            setattr(ctx, k, v)


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
        "batch": batch["batch"],
        "pixels": pixels,
        "status": np.array(status),
        "detail": np.array(detail),
        "decoder_pid": np.full(n, os.getpid()),
    }


class EncodeActor:
    """One encoder per actor (per GPU, or per two CPUs): the forward pass on each batch's photos
    that decoded, in their order (on ``threads`` threads if given); with ``tap_blocks``, also the
    activations entering the last ``k`` blocks."""

    def __init__(
        self,
        encoder: Encoder,
        device: str = "auto",
        threads: int | None = None,
        tap_blocks: int | None = None,
        fail_once: str | None = None,
    ) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        device = runtime.pick_device(device)
        if device != encoder.device:  # keeps identity and precision: the cache keys
            encoder = dataclasses.replace(encoder, device=device)
        self.encoder, self.tap_blocks, self.fail_once = encoder, tap_blocks, fail_once
        self.hook = _Tap(blocks.tap(encoder, tap_blocks)) if tap_blocks else None

    def _maybe_fail(self) -> None:
        """Tests: the first batch ever seen kills this worker's process (``"exit:<marker>"``) or
        raises (``"raise:<marker>"``), once per marker file."""
        if not self.fail_once:
            return
        how, _, marker = self.fail_once.partition(":")
        if os.path.exists(marker):
            return
        Path(marker).write_text(str(os.getpid()))
        if how == "exit":
            os._exit(1)
        raise RuntimeError("a planted failure (tests)")

    def __call__(self, batch: dict) -> dict:
        import torch

        self._maybe_fail()
        n, size = batch["pixels"].shape[:2]
        vectors = np.zeros((n, size, self.encoder.dim), dtype=np.float32)
        acts = None
        for r in range(n):
            ok = [i for i, s in enumerate(json.loads(batch["status"][r])) if s == "ok"]
            if not ok:
                continue
            x = torch.from_numpy(np.ascontiguousarray(batch["pixels"][r, ok]))
            vectors[r, ok] = self.encoder(x).numpy()
            if self.hook is not None:
                value = self.hook.value.astype(np.float16)
                if acts is None:
                    acts = np.zeros((n, size, *value.shape[1:]), dtype=np.float16)
                acts[r, ok] = value
        out = {
            "batch": batch["batch"],
            "vectors": vectors,
            "status": batch["status"],
            "detail": batch["detail"],
            "decoder_pid": batch["decoder_pid"],
            "encoder_pid": np.full(n, os.getpid()),
        }
        if self.hook is not None:
            out["activations"] = acts
        return out


def actor_pool(ray, actors: int | None = None) -> tuple[int, dict, int | None]:
    """How many encoder actors, what each reserves and how many threads its forward pass runs on.

    With GPUs: one actor per GPU (one GPU and one CPU each; Ray's thread default). Without:
    ``actors`` (default one per two CPUs of the cluster), one CPU reserved each, the rest for the
    decoding tasks, and the forward pass on two threads: its own CPU and one it shares with the
    decoders, as the local path shares the cores between its forward pass and its decoding worker.
    """
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return actors or gpus, {"num_gpus": 1, "num_cpus": 1}, None
    return actors or max(1, int(resources.get("CPU", 1)) // 2), {"num_cpus": 1}, 2


def encode_dataset(
    ray,
    encoder: Encoder,
    paths: list[str],
    batch_size: int,
    actors: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    tap_blocks: int | None = None,
    fail_once: str | None = None,
):
    """The Ray dataset of ``paths`` encoded: one row per local batch (``batch``: its number), with
    ``vectors`` (``batch_size`` x dim, zeros where a photo failed), ``status`` and ``detail`` (JSON
    lists), and ``activations`` with ``tap_blocks``. Lazy: it runs when iterated."""
    from PIL import Image

    shape = tuple(encoder.preprocess(Image.new("RGB", (256, 256))).shape)  # the model's input
    items = [
        {"batch": k, "paths": json.dumps(paths[b : b + batch_size])}
        for k, b in enumerate(range(0, len(paths), batch_size))
    ]
    n_actors, reserve, default_threads = actor_pool(ray, actors)
    decoded = ray.data.from_items(items).map_batches(
        decode_batches,
        batch_size=1,
        num_cpus=1,
        fn_kwargs={
            "preprocess": encoder.preprocess,
            "decode_min_side": encoder.decode_min_side,
            "size": batch_size,
            "shape": shape,
        },
    )
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for actor restarts and retries yet: they go through
        # ``ray_remote_args``, which warns. They also keep Ray from fusing decoding into the actor.
        warnings.filterwarnings("ignore", message=".ray_remote_args. is deprecated")
        return decoded.map_batches(
            EncodeActor,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            fn_constructor_kwargs={
                "encoder": encoder,
                "device": device,
                "threads": threads or default_threads,
                "tap_blocks": tap_blocks,
                "fail_once": fail_once,
            },
            max_restarts=-1,  # a dead actor comes back
            max_task_retries=TASK_RETRIES,  # its batch runs again (and after an exception)
            **reserve,
        )


# --------------------------------------------------------------------------- the driver
class ExtractionFailed(RuntimeError):
    """Some photos could not be encoded; the others are cached."""


def extract(
    encoder: Encoder,
    rows: pd.DataFrame,
    features_dir: str | os.PathLike,
    batch_size: int = 16,
    engine: str = "ray",
    actors: int | None = None,
    progress: bool = True,
    also_activations: tuple[int, os.PathLike] | None = None,
    device: str = "auto",
    threads: int | None = None,
    fail_once: str | None = None,
    trace: dict | None = None,
) -> tuple[np.ndarray, dict]:
    """``features.extract`` on Ray Data: features of ``rows`` (``path``, ``sha256``) in row order,
    and what it cost (``cached``, ``computed``, ``seconds``, ``seconds_per_item``, plus ``engine``
    and ``actors``). ``trace``, if given, receives ``returned`` (the row positions that came back,
    in arrival order), ``processes`` (decoding and encoding process ids) and ``first_result_s``
    (seconds to the first batch back: actors starting, the first photos decoded).

    Same cache folder, keys and files as the local path. A photo that cannot be decoded raises
    ``ExtractionFailed`` naming it and its status, after every other vector is cached.
    """
    cache, acts, out, shas, todo = features.cached_part(
        encoder, rows, features_dir, also_activations
    )
    groups = [todo[b : b + batch_size] for b in range(0, len(todo), batch_size)]
    start = time.perf_counter()
    returned, failed, pids, n_actors, first = [], [], set(), 0, None
    if todo:
        with cluster(engine) as ray, configured(ray):
            n_actors = actor_pool(ray, actors)[0]
            ds = encode_dataset(
                ray,
                encoder,
                rows["path"].iloc[todo].tolist(),
                batch_size,
                actors,
                device,
                threads,
                also_activations[0] if also_activations else None,
                fail_once,
            )
            seen = np.zeros(len(groups), dtype=bool)
            with bar(
                total=len(todo),
                desc=f"{encoder.kind} features (ray)",
                unit="img",
                disable=not progress,
            ) as pbar:
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    first = first or time.perf_counter() - start
                    for r, k in enumerate(batch["batch"]):
                        if seen[k]:
                            raise RuntimeError(f"batch {k} came back twice from Ray")
                        seen[k] = True
                        pids.add((int(batch["decoder_pid"][r]), int(batch["encoder_pid"][r])))
                        statuses = json.loads(batch["status"][r])
                        details = json.loads(batch["detail"][r])
                        for slot, i in enumerate(groups[k]):
                            returned.append(i)
                            if statuses[slot] != "ok":
                                failed.append((rows["path"].iloc[i], statuses[slot], details[slot]))
                                continue
                            out[i] = batch["vectors"][r, slot]
                            cache.write(shas[i], out[i])
                            if acts is not None:
                                acts.write(f"{shas[i]}-v0", batch["activations"][r, slot])
                        pbar.update(len(groups[k]))
            if not seen.all():
                raise RuntimeError(f"{int((~seen).sum())} batches never came back from Ray")
    stats = _stats(len(rows), len(todo), time.perf_counter() - start)
    stats.update(engine=engine, actors=n_actors)
    if trace is not None:
        trace.update(returned=returned, processes=sorted(pids), first_result_s=first)
    if failed:
        path, status, detail = failed[0]
        raise ExtractionFailed(
            f"{len(failed)} of {len(todo)} photos could not be encoded (the others are cached), "
            f"e.g. {path}: {status} ({detail}); re-validate the catalog (notebook 01)."
        )
    return out, stats
