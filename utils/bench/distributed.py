"""``make bench`` sections past one machine.

- ``ray``: a local Ray cluster against the local path, on this machine, on a synthetic catalog of
  small generated photos (``--ray-photos``, 10^4 by default): the same encoder, the same batches,
  features computed both ways into separate caches, the arrays compared for equality, and the
  throughput ratio Ray / local. Two encoders: the tiny CLIP on every photo (Ray's per-batch
  overhead, the worst case) and the full-size ViT-B/32 architecture (random weights, the compute of
  the real model) on ``--ray-full-photos`` of them (the ratio a user sees). On one machine Ray
  shows its overhead, not a speed-up. ``ratio`` is one run on a running cluster (actors starting
  included); starting the cluster and Ray Data's first use in the session (once per notebook run,
  measured apart) are in ``ratio_with_cluster_start``. Then the projection: hours for 10^6 and
  10^7 photos on 1-8 GPU nodes from the decoding-bound rate measured on an H100 node (README) and
  the ratio measured here (a projection, not a measurement).
- ``dedup``: near-duplicate grouping of synthetic catalogs (64-bit hashes with planted neighbours,
  descriptions from a Zipf vocabulary with planted near-copies) at 10^5 and 10^6 rows with the
  index (FAISS, inverted index): time and peak resident memory of each step, the planted pairs
  found and the decoys (5-6 bits) left out; the exact all-pairs method too on the smallest size
  (``--dedup-exact-up-to``), for the same groups; and both methods on the real data when given.
  Then ``bench_identical`` (``--dedup-identical ROWS COPIES``, 10^6 and 10^4 by default): photo
  hashes of which COPIES are identical, collapsed before the index.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import acquire, dedup
from ..data.catalog import build_catalog, usable
from ..models import distributed, encoders, features

GPU_NODE_IMG_PER_S = 140  # README: decoding-bound CLIP pipeline on one H100 node (16 CPU cores)
TARGET_RAY_RATIO = 0.8


# --------------------------------------------------------------------------- memory and time
class _Peak:
    """Time and peak resident memory above the level at entry (free heap memory given back first),
    sampled every 5 ms (Linux ``/proc``): it sees FAISS's own allocations, which ``tracemalloc``
    does not, and costs the code measured no time (``tracemalloc`` slows the tokenizer's many small
    allocations)."""

    def __enter__(self):
        _trim()
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.start = time.perf_counter()
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def mib(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)

    def row(self, prefix: str) -> dict:
        return {f"{prefix}_s": round(self.seconds, 2), f"{prefix}_peak_mib": self.mib}


def _trim() -> None:
    """Give the heap's free memory back to the system (glibc), so that what a step allocates shows
    in the resident memory instead of reusing what an earlier step freed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


# --------------------------------------------------------------------------- ray
def synthetic_photos(folder: Path, n: int, side: int = 96, seed: int = 0) -> pd.DataFrame:
    """``n`` small generated JPEG photos (coloured blocks and a gradient) with their sha256."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 60, side, dtype=np.float32)[None, :, None]
    paths, shas = [], []
    for i in range(n):
        blocks = rng.integers(0, 196, (6, 6, 3)).astype(np.float32)
        pixels = np.kron(blocks, np.ones((side // 6, side // 6, 1), np.float32)) + ramp[:, :side]
        path = folder / f"p{i:06d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(str(path))
        shas.append(hashlib.sha256(path.read_bytes()).hexdigest())
    return pd.DataFrame({"path": paths, "sha256": shas})


def _ray_against_local(
    encoder,
    rows: pd.DataFrame,
    folder: Path,
    batch_size: int,
    threads: int | None,
    label: str,
    repeats: int = 1,
) -> dict:
    """Local then Ray, ``repeats`` times, each into empty caches; the fastest run of each counts
    (other work on a shared machine only ever slows a run down). Every run's arrays compared."""
    t_local, t_ray, firsts, equal, cache_equal, max_diff = [], [], [], [], [], 0.0
    load = [round(os.getloadavg()[0], 2)]
    for rep in range(repeats):
        start = time.perf_counter()
        local, s_local = features.extract(
            encoder, rows, folder / f"local{rep}", batch_size, num_workers=1, progress=False
        )
        t_local.append(time.perf_counter() - start)
        start, trace = time.perf_counter(), {}
        remote, s_ray = distributed.extract(
            encoder,
            rows,
            folder / f"ray{rep}",
            batch_size,
            progress=False,
            threads=threads,
            trace=trace,
        )
        t_ray.append(time.perf_counter() - start)
        firsts.append(trace["first_shard_s"] or 0.0)
        # what the Ray run left in its cache, read back the local path's way
        cached, again = features.extract(encoder, rows, folder / f"ray{rep}", batch_size, 0, False)
        equal.append(s_local["computed"] == s_ray["computed"] == len(rows))
        equal[-1] = equal[-1] and bool(np.array_equal(local, remote))
        cache_equal.append(again["computed"] == 0 and bool(np.array_equal(cached, local)))
        max_diff = max(max_diff, float(np.abs(local - remote).max()))
        load.append(round(os.getloadavg()[0], 2))
    best_local, best = min(t_local), int(np.argmin(t_ray))
    return {
        "encoder": label,
        "load_average_1min": load,  # other work on the machine, before and after each run
        "parameters": encoder.n_parameters(),
        "photos": len(rows),
        "batch_size": batch_size,
        "ray_actor_threads": threads or "default (2 without a GPU)",
        "runs": repeats,
        "local_s_runs": [round(t, 2) for t in t_local],
        "ray_s_runs": [round(t, 2) for t in t_ray],
        "local_s": round(best_local, 2),
        "ray_s": round(t_ray[best], 2),
        "local_img_per_s": round(len(rows) / best_local, 2),
        "ray_img_per_s": round(len(rows) / t_ray[best], 2),
        "ratio": round(best_local / t_ray[best], 3),
        "ray_first_shard_s": round(firsts[best], 2),
        "target_ratio": TARGET_RAY_RATIO,
        "embeddings_equal": all(equal),
        "cache_equal": all(cache_equal),
        "max_abs_difference": max_diff,
    }


def projection(ratio: float, rate: float = GPU_NODE_IMG_PER_S) -> list[dict]:
    """Hours to encode 10^6 and 10^7 photos on 1, 2, 4 and 8 GPU nodes: ``rate`` images per second
    per node (decoding-bound, measured on one H100 node) times Ray's efficiency ``ratio``
    (measured on this machine, at most 1), nodes assumed to add up linearly. A projection."""
    ratio = min(ratio, 1.0)
    return [
        {
            "products": n,
            "gpu_nodes": nodes,
            "img_per_s": round(rate * ratio * nodes, 1),
            "hours": round(n / (rate * ratio * nodes) / 3600, 2),
            "kind": "projection",
        }
        for n in (10**6, 10**7)
        for nodes in (1, 2, 4, 8)
    ]


def bench_ray(
    photos: int = 10_000,
    full_photos: int = 960,
    batch_size: int = 64,
    threads: int | None = None,
    cpus: int | None = None,
    repeats: int = 1,
) -> list[dict]:
    """Ray (a local cluster of ``cpus``, default every core) against the local path: the tiny
    CLIP on ``photos`` generated photos, the full-size CLIP architecture on ``full_photos`` of
    them; then the projection from the full-size ratio."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        rows = synthetic_photos(tmp / "photos", photos)
        made = time.perf_counter() - start
        start = time.perf_counter()
        with distributed.cluster("ray", num_cpus=cpus or os.cpu_count()) as ray:
            started = time.perf_counter() - start
            start = time.perf_counter()  # Ray Data's first use in a session: once per run
            ray.data.from_items([{"x": 0}]).map_batches(lambda b: b).take_all()
            first_use = time.perf_counter() - start
            for label, name, n in (
                ("clip tiny-random", encoders.TINY, photos),
                ("clip random ViT-B/32", encoders.RANDOM, full_photos),
            ):
                if not n:
                    continue
                encoder = encoders.load_encoder(
                    "clip", name, device="cpu", models_dir=tmp / "models", precision="float32"
                )
                row = _ray_against_local(
                    encoder,
                    rows.head(n),
                    tmp / label.replace(" ", "-").replace("/", ""),
                    batch_size,
                    threads,
                    label,
                    repeats,
                )
                out.append(
                    {
                        **row,
                        "cluster_start_s": round(started, 1),
                        "ray_data_first_use_s": round(first_use, 1),
                        "ratio_with_cluster_start": round(
                            row["local_s"] / (row["ray_s"] + started + first_use), 3
                        ),
                        "photos_made_s": round(made, 1),
                    }
                )
    full = [r for r in out if "ViT" in r["encoder"]] or out
    for p in projection(full[-1]["ratio"]):
        out.append({"encoder": "projection (from the measured ratio)", **p})
    return out


# --------------------------------------------------------------------------- dedup
def synthetic_dedup(n: int, seed: int = 0, vocabulary: int = 100_000):
    """``n`` rows of ``phash`` and ``description``: random hashes with, every 50th row, a copy of an
    earlier one 1-4 bits away (planted pairs) and, about every 97th, a decoy 5-6 bits from the row
    before it; descriptions of 20-49 words from a Zipf vocabulary, every 40th a copy of an earlier
    one with a word changed. Returns the rows, the planted pairs and the decoy pairs."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    decoys = set()
    for i in range(97, n, 97):  # first, so that planting never moves a decoy's partner
        if i % 50 and (i - 1) % 50:
            bits = rng.choice(64, int(rng.integers(5, 7)), replace=False).astype(np.uint64)
            codes[i] = codes[i - 1] ^ np.bitwise_or.reduce(np.uint64(1) << bits)
            decoys.add((i - 1, i))
    planted = set()
    for i in range(50, n, 50):
        j = int(rng.integers(0, i))
        bits = rng.choice(64, int(rng.integers(1, 5)), replace=False).astype(np.uint64)
        codes[i] = codes[j] ^ np.bitwise_or.reduce(np.uint64(1) << bits)
        planted.add((j, i))
    p = 1 / np.arange(1, vocabulary + 1) ** 1.1
    lengths = rng.integers(20, 50, n)
    words = rng.choice(vocabulary, int(lengths.sum()), p=p / p.sum())
    docs = [" ".join(f"w{w}" for w in d) for d in np.split(words, np.cumsum(lengths)[:-1])]
    for i in range(40, n, 40):
        copy = docs[int(rng.integers(0, i))].split()
        copy[int(rng.integers(len(copy)))] = f"w{int(rng.integers(vocabulary))}"
        docs[i] = " ".join(copy)
    rows = pd.DataFrame({"phash": [f"{int(c):016x}" for c in codes], "description": docs})
    return rows, planted, decoys


def _grouping(rows: pd.DataFrame, method: str) -> tuple[dict, pd.DataFrame, np.ndarray]:
    """``dedup.leak_groups`` step by step, each step timed: the photo pairs, the description
    pairs, the connected components."""
    with _Peak() as photos:
        image_pairs = dedup.photo_pairs(rows["phash"].tolist(), 4, method)
    with _Peak() as texts:
        text_pairs = dedup.description_pairs(rows["description"].tolist(), 0.9, method)
    with _Peak() as joined:
        n = len(rows)
        groups = pd.DataFrame(
            {
                "image_group": dedup.components(n, image_pairs),
                "text_group": dedup.components(n, text_pairs),
                "group": dedup.components(n, np.concatenate([image_pairs, text_pairs])),
            }
        )
    parts = (photos, texts, joined)
    out = {
        **photos.row("photos"),
        **texts.row("descriptions"),
        "grouping_s": round(sum(p.seconds for p in parts), 2),
        "grouping_peak_mib": max(p.mib for p in parts),
        "photo_pairs": len(image_pairs),
        "description_pairs": len(text_pairs),
        "groups_of_2_plus": int(groups["group"].value_counts().gt(1).sum()),
    }
    return out, groups, image_pairs


def bench_dedup(sizes: list[int], exact_up_to: int = 20_000, source: str | None = None):
    """Grouping with the index at each size (time, peak memory, planted pairs found), the exact
    method too up to ``exact_up_to`` rows (same groups?), and both on the real data."""
    warm, _, _ = synthetic_dedup(200)  # imports and first calls out of the timings
    for method in dedup.METHODS:
        _grouping(warm, method)
    out = []
    dataset = acquire.find_dataset_dir(Path(source)) if source else None
    if dataset is not None:
        rows = usable(build_catalog(dataset, progress=False)).reset_index(drop=True)
        index, g_index, _ = _grouping(rows, "index")
        exact, g_exact, _ = _grouping(rows, "exact")
        out.append(
            {
                "data": f"real ({dataset.name})",
                "rows": len(rows),
                "same_groups_as_exact": bool(g_index.equals(g_exact)),
                "photo_groups": int(g_index["image_group"].value_counts().gt(1).sum()),
                "description_groups": int(g_index["text_group"].value_counts().gt(1).sum()),
                **{f"index_{k}": v for k, v in index.items()},
                **{f"exact_{k}": v for k, v in exact.items()},
            }
        )
    for n in sizes:
        rows, planted, decoys = synthetic_dedup(n)
        index, g_index, pairs = _grouping(rows, "index")
        found = {(int(i), int(j)) for i, j in pairs}
        row = {
            "data": "synthetic",
            "rows": n,
            "planted_photo_pairs": len(planted),
            "planted_found": len(planted & found),
            "decoys_5_6_bits": len(decoys),
            "decoys_found": len(decoys & found),
            **{f"index_{k}": v for k, v in index.items()},
        }
        if n <= exact_up_to:
            exact, g_exact, _ = _grouping(rows, "exact")
            row["same_groups_as_exact"] = bool(g_index.equals(g_exact))
            row.update({f"exact_{k}": v for k, v in exact.items()})
        out.append(row)
    return out


def bench_identical(rows: int = 1_000_000, identical: int = 10_000, seed: int = 0) -> dict:
    """Photo grouping when ``identical`` of ``rows`` random 64-bit hashes are one and the same
    (placeholder images, reused shots): identical hashes collapsed before the index (one search,
    ``identical - 1`` edges) against every pair of rows (``identical^2 / 2`` pairs), the latter only
    up to 3,000 copies (it grows with their square). Same groups, time and peak memory of each."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64 - 1, rows, dtype=np.uint64)
    copies = rng.choice(rows, identical, replace=False)
    codes[copies] = codes[copies[0]]
    hashes = [f"{int(c):016x}" for c in codes]
    with _Peak() as collapsed:
        edges = dedup.photo_pairs(hashes, 4, "index")
        groups = dedup.components(rows, edges)
    sizes = np.bincount(groups)
    out = {
        "data": "identical hashes",
        "rows": rows,
        "identical": identical,
        "distinct_hashes": len(set(hashes)),
        "edges": len(edges),
        "largest_group": int(sizes.max()),
        "groups_of_2_plus": int((sizes > 1).sum()),
        **collapsed.row("collapsed"),
    }
    if identical <= 3000:
        with _Peak() as every_pair:
            pairs = dedup.hamming_pairs_index(hashes, 4)
            before = dedup.components(rows, pairs)
        out.update(every_pair.row("every_pair"), every_pair_pairs=len(pairs))
        out["same_groups"] = bool(
            pd.Series(groups).groupby(before).nunique().eq(1).all()
            and pd.Series(before).groupby(groups).nunique().eq(1).all()
        )
    return out
