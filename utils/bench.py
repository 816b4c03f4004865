"""``make bench``: throughput of the real pipeline vs the bare model, head training time.

Full-size architectures with random weights (the same compute as the pretrained ones), so it runs
offline on any machine. For each encoder it measures images per second through the feature
pipeline (decode + preprocess + forward, via ``features.extract`` with an empty cache) and through
the bare forward pass on pre-made tensors; their ratio says how much of the model's speed the
pipeline keeps (target: at least 0.8). It also times head training and one LIME explanation
(each perturbed copy is a full encoder pass). Prints a table and writes ``reports/bench.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import data, features, models, train
from .paths import REPORTS, Layout

TARGET_RATIO = 0.8


def _images(source: str | None, n: int) -> pd.DataFrame:
    folder = data.find_dataset_dir(Path(source)) if source else None
    folder = folder or data.find_dataset_dir(Layout().raw / data.DATASET_DIRNAME)
    if folder is None:
        raise SystemExit("error: no images to benchmark: set DATA_SOURCE to the Flipkart folder or run `make data`.")
    paths = sorted((folder / "Images").glob("*.jpg"))[:n]
    return pd.DataFrame({"path": [str(p) for p in paths], "sha256": [f"bench{i}" for i in range(len(paths))]})


def _bare_forward(encoder: models.Encoder, n: int, batch_size: int) -> float:
    batch = torch.randn(batch_size, 3, 224, 224)
    encoder(batch)                                         # warm-up
    start = time.perf_counter()
    done = 0
    while done < n:
        encoder(batch[: min(batch_size, n - done)])
        done += batch_size
    return time.perf_counter() - start


def bench_encoder(kind: str, rows: pd.DataFrame, batch_size: int, num_workers: int, device: str) -> dict:
    encoder = models.load_encoder(kind, models.RANDOM, device=device)
    bare = _bare_forward(encoder, len(rows), batch_size)
    with tempfile.TemporaryDirectory() as cache:
        warm = rows.head(2).assign(sha256=["warm-up-0", "warm-up-1"][: min(2, len(rows))])
        features.extract(encoder, warm, cache, batch_size, num_workers=0, progress=False)         # warm-up
        _, stats = features.extract(encoder, rows, cache, batch_size, num_workers, progress=False)
    pipeline_ips = stats["computed"] / stats["seconds"]
    bare_ips = len(rows) / bare
    return {"encoder": kind, "parameters": encoder.n_parameters(), "images": len(rows), "batch_size": batch_size,
            "num_workers": num_workers, "pipeline_img_per_s": round(pipeline_ips, 2),
            "bare_forward_img_per_s": round(bare_ips, 2), "ratio": round(pipeline_ips / bare_ips, 3),
            "meets_target": pipeline_ips / bare_ips >= TARGET_RATIO}


def bench_head(kind: str, dim: int, n_train: int = 630, n_val: int = 210, epochs: int = 10) -> dict:
    rng = np.random.default_rng(0)
    train_set = (rng.normal(size=(n_train, dim)).astype(np.float32), rng.integers(0, 7, n_train))
    val_set = (rng.normal(size=(n_val, dim)).astype(np.float32), rng.integers(0, 7, n_val))
    config = train.default_config(kind, dim, 7, epochs=epochs, patience=epochs)
    result = train.fit(config, train_set, val_set)
    return {"head": kind, "in_dim": dim, "train_images": n_train, "epochs": epochs,
            "seconds": round(result.seconds, 3), "seconds_per_epoch": round(result.seconds / epochs, 4)}


def bench_lime(rows: pd.DataFrame, num_samples: int, device: str, batch_size: int = 32) -> dict:
    """Seconds to explain one image with LIME through the full-size CLIP encoder and a 512-256-7 head."""
    from . import explain

    encoder = models.load_encoder("clip", models.RANDOM, device=device)
    head = train.make_head(train.default_config("clip", encoder.dim, 7))
    pipeline = explain.Pipeline(encoder, head, batch_size=batch_size)
    image = explain.prepare_image(rows["path"].iloc[0])
    start = time.perf_counter()
    r = explain.lime_explain(pipeline, image, num_samples=num_samples)
    seconds = time.perf_counter() - start
    return {"explainer": "LIME", "num_samples": num_samples, "superpixels": len(r["weights"]),
            "seconds_per_image": round(seconds, 2), "encoder_passes": pipeline.calls}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--lime-samples", type=int, default=100, help="0 skips the LIME timing")
    parser.add_argument("--source", default=os.environ.get("DATA_SOURCE"))
    parser.add_argument("--output", default=str(REPORTS / "bench.json"))
    args = parser.parse_args(argv)
    rows = _images(args.source, args.images)
    device = str(models.pick_device(args.device))
    encoders = [bench_encoder(kind, rows, args.batch_size, args.num_workers, device) for kind in ("clip", "vgg16")]
    heads = [bench_head("clip", 512), bench_head("vgg16", 512)]
    lime = [bench_lime(rows, args.lime_samples, device)] if args.lime_samples else []
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "device": device,
                          "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
              "target_ratio": TARGET_RATIO, "encoders": encoders, "heads": heads,
              "explanations": lime}
    print(pd.DataFrame(encoders).to_string(index=False))
    print()
    print(pd.DataFrame(heads).to_string(index=False))
    if lime:
        print()
        print(pd.DataFrame(lime).to_string(index=False))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.output}")
    return result


if __name__ == "__main__":
    main()
