"""``make bench``: run the chosen sections (``--sections``, all by default) and write
``reports/bench.json``. Each section's measurements are described in ``utils.bench.encoding``,
``utils.bench.scale``, ``utils.bench.labels`` and ``utils.bench.distributed`` (``ray``,
``dedup``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from ..core import parallel
from ..core.paths import REPORTS
from ..models import runtime
from ..models.distributed import EngineUnavailable
from .distributed import TARGET_RAY_RATIO, bench_dedup, bench_identical, bench_ray
from .encoding import (
    TARGET_FINETUNE,
    TARGET_RATIO,
    _images,
    _parity_paths,
    bench_finetune,
    bench_head,
    bench_lime,
    bench_options,
    bench_parity,
    bench_pipeline,
    bench_precision,
    use_weights,
)
from .labels import bench_labels
from .scale import bench_refits, bench_scale

SECTIONS = (
    "pipeline",
    "precision",
    "options",
    "finetune",
    "heads",
    "lime",
    "scale",
    "parity",
    "refits",
    "labels",
    "ray",
    "dedup",
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--precision-images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="the pipeline section's precision")
    parser.add_argument("--lime-samples", type=int, default=100)
    parser.add_argument("--finetune-images", type=int, default=630)
    parser.add_argument(
        "--compile", action="store_true", help="also try torch.compile (minutes on a CPU)"
    )
    parser.add_argument("--scale-sizes", type=int, nargs="*", default=[1000, 5000, 20000])
    parser.add_argument(
        "--parity-images", type=int, default=16, help="photos, the 4 largest files among them"
    )
    parser.add_argument("--refit-splits", type=int, default=5, help="refits: repeated splits")
    parser.add_argument(
        "--refit-draws", type=int, default=3, help="refits: label-budget draws per k"
    )
    parser.add_argument(
        "--refit-ks", nargs="*", default=["1", "2", "4", "8", "16", "32", "all"], help="refits: k"
    )
    parser.add_argument(
        "--refit-jobs", type=int, default=None, help="refits: processes (default: one per core)"
    )
    parser.add_argument(
        "--no-refit-baseline",
        action="store_true",
        help="refits: skip the sequential run with the thread pools as they are (slow)",
    )
    parser.add_argument("--labels-seeds", type=int, default=20, help="labels: start draws")
    parser.add_argument("--ray-photos", type=int, default=10_000, help="ray: generated photos")
    parser.add_argument(
        "--ray-full-photos", type=int, default=960, help="ray: of them, for the full-size CLIP"
    )
    parser.add_argument("--ray-batch-size", type=int, default=64)
    parser.add_argument(
        "--ray-repeats", type=int, default=1, help="ray: runs of each path, the fastest counts"
    )
    parser.add_argument(
        "--ray-threads", type=int, default=None, help="ray: torch threads per encoder actor"
    )
    parser.add_argument("--dedup-sizes", type=int, nargs="*", default=[20_000, 100_000, 1_000_000])
    parser.add_argument(
        "--dedup-exact-up-to", type=int, default=20_000, help="dedup: exact method too up to"
    )
    parser.add_argument(
        "--dedup-identical",
        type=int,
        nargs=2,
        default=[1_000_000, 10_000],
        metavar=("ROWS", "COPIES"),
        help="dedup: photo hashes, of which COPIES identical (0 0: skip)",
    )
    parser.add_argument(
        "--weights",
        default="random",
        choices=["random", "tiny-random"],
        help="random: full-size architectures (the real compute); tiny-random: the code in seconds",
    )
    parser.add_argument("--source", default=os.environ.get("DATA_SOURCE"))
    parser.add_argument("--output", default=str(REPORTS / "bench.json"))
    args = parser.parse_args(argv)
    device = str(runtime.pick_device(args.device))
    use_weights(args.weights, Path(args.output).parent / "bench-models")
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "device": device,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__,
            "weights": args.weights,
            "torch_threads": torch.get_num_threads(),
            "native_bf16_cpu": runtime.cpu_has_native_bf16(),
            "threads": parallel.thread_settings(),
        },
        "targets": {
            "pipeline_ratio": TARGET_RATIO,
            "finetune_over_forward_clip": TARGET_FINETUNE,
            "ray_over_local": TARGET_RAY_RATIO,
        },
    }
    needs_images = {"pipeline", "precision", "options", "lime"} & set(args.sections)
    rows = _images(args.source, max(args.images, args.precision_images)) if needs_images else None
    steps = {
        "pipeline": lambda: [
            bench_pipeline(
                k, rows.head(args.images), args.batch_size, args.num_workers, device, args.precision
            )
            for k in ("clip", "vgg16")
        ],
        "precision": lambda: [
            bench_precision(k, rows.head(args.precision_images), args.batch_size, device)
            for k in ("clip", "vgg16")
        ],
        "options": lambda: bench_options(
            rows.head(args.precision_images), args.batch_size, device, args.compile
        ),
        "finetune": lambda: [
            bench_finetune(k, args.finetune_images, 1, device) for k in ("clip", "vgg16")
        ],
        "heads": lambda: [bench_head("clip", 512), bench_head("vgg16", 512)],
        "lime": lambda: [bench_lime(rows, args.lime_samples, device)] if args.lime_samples else [],
        "scale": lambda: bench_scale(args.scale_sizes),
        "parity": lambda: [
            row
            for k in ("clip", "vgg16")
            for row in bench_parity(k, _parity_paths(args.source, args.parity_images), device)
        ],
        "refits": lambda: bench_refits(
            args.source,
            args.refit_splits,
            tuple(k if k == "all" else int(k) for k in args.refit_ks),
            args.refit_draws,
            args.refit_jobs,
            baseline=not args.no_refit_baseline,
        ),
        "labels": lambda: bench_labels(args.source, args.labels_seeds, args.refit_jobs),
        "ray": lambda: bench_ray(
            args.ray_photos,
            args.ray_full_photos,
            args.ray_batch_size,
            args.ray_threads,
            repeats=args.ray_repeats,
        ),
        "dedup": lambda: (
            bench_dedup(args.dedup_sizes, args.dedup_exact_up_to, args.source)
            + ([bench_identical(*args.dedup_identical)] if args.dedup_identical[0] else [])
        ),
    }
    for name in SECTIONS:
        if name in args.sections:
            start = time.perf_counter()
            try:
                result[name] = steps[name]()
            except EngineUnavailable as exc:  # Ray not installed: the other sections still run
                result[name] = [{"skipped": str(exc)}]
            print(f"\n[{name}] ({time.perf_counter() - start:.0f} s)")
            print(pd.DataFrame(result[name]).to_string(index=False))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {args.output}")
    return result


if __name__ == "__main__":
    main()
