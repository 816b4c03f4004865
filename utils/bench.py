"""``make bench``: what the pipeline costs on this machine, measured, written to
``reports/bench.json``.

Full-size architectures with random weights (the same compute as the pretrained ones), so it runs
offline on any machine. Sections (``--sections``, all by default):

- ``pipeline``: images per second through the feature pipeline (decode + preprocess + forward,
  ``features.extract`` on an empty cache) against the bare forward pass; their ratio
  (target >= 0.8).
- ``precision``: float32 against bfloat16 autocast, same images, same run: throughput of each and
  their ratio (target on a CPU with native bfloat16: >= 1.8 for CLIP), cosine similarity of the
  embeddings, and agreement of a head's predictions on both (a head trained on 7 k-means clusters of
  the float32 embeddings, since random weights know no categories).
- ``options``: what else PyTorch offers, kept only where it helps: ``channels_last`` for VGG16,
  ``torch.compile``, larger explanation batches.
- ``finetune``: seconds per fine-tuning epoch on cached activations of 630 images against one
  full encoder forward pass over 630 images (target <= 0.25 for CLIP with k = 1), and the
  activation cache's size per image and view.
- ``heads``: head training time; ``lime``: one LIME explanation (each copy is an encoder pass),
  and what a copy costs besides the encoder (``lime_cpu_side``: the cost once a GPU encodes).
- ``scale``: a synthetic catalog (long-tailed categories, small generated photos) at 1k, 5k and
  20k rows: validation, grouping and splitting time with peak memory.
- ``parity``: the project's embeddings against the reference pipelines with the same weights, on
  fully decoded photos (CLIP: ``CLIPModel.get_image_features`` on ``CLIPImageProcessor``'s
  output; VGG16: torchvision's ``VGG16_Weights.IMAGENET1K_V1.transforms()``, the conv base and
  global average pooling): cosine per encoder and per decode size (``features.DECODE_SIZES``),
  on photos that include the largest files, with the input's relative L2 distance and decode time.
- ``refits``: notebook 05's refits (repeated splits, then the label budget) of text-tfidf and
  pixels-classic on the same inputs, three ways in one run: one after the other with the thread
  pools as they are (the old behaviour), one after the other with one thread per small fit, and in
  parallel processes (``--refit-jobs``, default one per core; worker start included, as in the
  notebook). Real data when a dataset is found (``DATA_SOURCE``), synthetic features otherwise;
  the thread settings are recorded beside the times.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import data, features, models, parallel, split, train
from .paths import REPORTS, Layout

TARGET_RATIO = 0.8
TARGET_BF16 = 1.8
TARGET_FINETUNE = 0.25
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
)


def _images(source: str | None, n: int) -> pd.DataFrame:
    folder = data.find_dataset_dir(Path(source)) if source else None
    folder = folder or data.find_dataset_dir(Layout().raw / data.DATASET_DIRNAME)
    if folder is None:
        raise SystemExit(
            "error: no images to benchmark: set DATA_SOURCE to the Flipkart folder or run "
            "`make data`."
        )
    paths = sorted((folder / "Images").glob("*.jpg"))[:n]
    return pd.DataFrame(
        {"path": [str(p) for p in paths], "sha256": [f"bench{i}" for i in range(len(paths))]}
    )


def _parity_paths(source: str | None, n: int) -> list[str]:
    """``n`` photos of the dataset: its 4 largest files and a seeded draw of the others."""
    rows = _images(source, 10**9)
    return features.sample_paths(rows["path"].tolist(), n, largest=min(4, n), seed=0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _forward_seconds(
    fn, batch: torch.Tensor, n: int, batch_size: int, device: torch.device, repeats: int = 3
) -> float:
    """Median seconds to push ``n`` images through ``fn`` in batches (after a warm-up batch)."""
    fn(batch[:batch_size])
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = 0
        while done < n:
            fn(batch[: min(batch_size, n - done)])
            done += batch_size
        _sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _real_batch(encoder: models.Encoder, rows: pd.DataFrame) -> torch.Tensor:
    return torch.stack(
        [encoder.preprocess(features.encoder_input(encoder, p)) for p in rows["path"]]
    )


# --------------------------------------------------------------------------- sections
def bench_pipeline(
    kind: str, rows: pd.DataFrame, batch_size: int, num_workers: int, device: str, precision: str
) -> dict:
    encoder = models.load_encoder(kind, models.RANDOM, device=device, precision=precision)
    x = _real_batch(encoder, rows.head(batch_size)).to(encoder.device)
    bare = _forward_seconds(
        encoder,
        x.repeat(int(np.ceil(len(rows) / len(x))), 1, 1, 1),
        len(rows),
        batch_size,
        encoder.device,
        repeats=1,
    )
    with tempfile.TemporaryDirectory() as cache:
        warm = rows.head(2).assign(sha256=["warm-up-0", "warm-up-1"][: min(2, len(rows))])
        features.extract(encoder, warm, cache, batch_size, num_workers=0, progress=False)
        _, stats = features.extract(encoder, rows, cache, batch_size, num_workers, progress=False)
    pipeline_ips, bare_ips = stats["computed"] / stats["seconds"], len(rows) / bare
    return {
        "encoder": kind,
        "parameters": encoder.n_parameters(),
        "precision": encoder.precision,
        "images": len(rows),
        "batch_size": batch_size,
        "num_workers": num_workers,
        "pipeline_img_per_s": round(pipeline_ips, 2),
        "bare_forward_img_per_s": round(bare_ips, 2),
        "ratio": round(pipeline_ips / bare_ips, 3),
        "meets_target": pipeline_ips / bare_ips >= TARGET_RATIO,
    }


def _cluster_head(X: np.ndarray, seed: int = 0) -> torch.nn.Module:
    from sklearn.cluster import KMeans

    k = min(7, len(X))
    y = KMeans(k, n_init=4, random_state=seed).fit_predict(X)
    config = train.head_config("clip", X.shape[1], k, epochs=30, patience=30, seed=seed)
    return train.fit(config, (X, y), (X, y)).model


def _timed_pass(
    encoder: models.Encoder, x: torch.Tensor, batch_size: int
) -> tuple[float, np.ndarray]:
    """Seconds for one pass over ``x`` (after a warm-up batch) and the embeddings it produced."""
    encoder(x[:batch_size])
    _sync(encoder.device)
    start = time.perf_counter()
    out = torch.cat([encoder(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    _sync(encoder.device)
    return time.perf_counter() - start, out.numpy()


def bench_precision(
    kind: str, rows: pd.DataFrame, batch_size: int, device: str, emulated_images: int = 2
) -> dict:
    """float32 vs bfloat16 on the same images. Where bfloat16 is emulated (a CPU without native
    support: tens of times slower), it is timed on ``emulated_images`` images only, and said so."""
    f32 = models.load_encoder(kind, models.RANDOM, device=device, precision="float32")
    b16 = replace(f32, precision="bfloat16")
    native = f32.device.type == "cuda" or models.cpu_has_native_bf16()
    x = _real_batch(f32, rows).to(f32.device)
    x16 = x if native else x[:emulated_images]
    t32, e32 = _timed_pass(f32, x, batch_size)
    t16, e16 = _timed_pass(b16, x16, batch_size)
    e32 = e32[: len(x16)] if len(x16) < len(x) else e32
    cos = (e32 * e16).sum(1) / (np.linalg.norm(e32, axis=1) * np.linalg.norm(e16, axis=1))
    head = _cluster_head(e32)
    agree = float(
        np.mean(
            train.predict_proba(head, e32).argmax(1) == train.predict_proba(head, e16).argmax(1)
        )
    )
    ips32, ips16 = len(x) / t32, len(x16) / t16
    return {
        "encoder": kind,
        "device": str(f32.device),
        "images": len(x),
        "bf16_images": len(x16),
        "batch_size": batch_size,
        "float32_img_per_s": round(ips32, 2),
        "bfloat16_img_per_s": round(ips16, 2),
        "ratio": round(ips16 / ips32, 3),
        "cosine_min": round(float(cos.min()), 6),
        "cosine_mean": round(float(cos.mean()), 6),
        "head_agreement": agree,
        "native_bf16": native,
        "auto_picks": models.resolve_precision("auto", f32.device),
    }


def bench_options(rows: pd.DataFrame, batch_size: int, device: str, compile_: bool) -> list[dict]:
    """channels_last (VGG16), torch.compile (both encoders), explanation batch sizes (CLIP
    pipeline)."""
    out = []
    vgg = models.load_encoder("vgg16", models.RANDOM, device=device, precision="float32")
    x = _real_batch(vgg, rows).to(vgg.device)
    base = _forward_seconds(vgg, x, len(rows), batch_size, vgg.device)
    cl = copy.deepcopy(vgg.module).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        t = _forward_seconds(
            lambda b: cl(b.contiguous(memory_format=torch.channels_last)),
            x,
            len(rows),
            batch_size,
            vgg.device,
        )
    out.append(
        {
            "option": "channels_last",
            "encoder": "vgg16",
            "baseline_img_per_s": round(len(rows) / base, 2),
            "option_img_per_s": round(len(rows) / t, 2),
            "speedup": round(base / t, 3),
        }
    )
    if compile_:
        for kind in ("clip", "vgg16"):
            enc = models.load_encoder(kind, models.RANDOM, device=device, precision="float32")
            xb = _real_batch(enc, rows).to(enc.device)
            base = _forward_seconds(enc, xb, len(rows), batch_size, enc.device)
            compiled = torch.compile(enc.module)
            start = time.perf_counter()
            with torch.inference_mode():
                compiled(xb[:batch_size])
                _sync(enc.device)
                first = time.perf_counter() - start
                t = _forward_seconds(compiled, xb, len(rows), batch_size, enc.device)
            out.append(
                {
                    "option": "torch.compile",
                    "encoder": kind,
                    "baseline_img_per_s": round(len(rows) / base, 2),
                    "option_img_per_s": round(len(rows) / t, 2),
                    "speedup": round(base / t, 3),
                    "compile_seconds": round(first, 1),
                }
            )
    from . import explain

    clip = models.load_encoder("clip", models.RANDOM, device=device, precision="auto")
    head = train.make_head(train.head_config("clip", clip.dim, 7))
    image = explain.prepare_image(clip, rows["path"].iloc[0])
    copies = np.repeat(image[None], 64, axis=0)
    copies[:, :8] = np.arange(64, dtype=np.uint8)[
        :, None, None, None
    ]  # distinct copies: no memo hits
    for bs in (16, 32, 64):
        pipe = explain.Pipeline(clip, lambda X: train.predict_proba(head, X), batch_size=bs)
        pipe(copies[:2])
        start = time.perf_counter()
        pipe(copies)
        out.append(
            {
                "option": f"explanation batch {bs}",
                "encoder": "clip",
                "option_img_per_s": round(len(copies) / (time.perf_counter() - start), 2),
            }
        )
    return out


def bench_finetune(
    kind: str, n: int, k: int, device: str, epochs: int = 2, batch_size: int = 32
) -> dict:
    """Seconds per epoch of fine-tuning the last ``k`` blocks + head on ``n`` cached activations,
    against one full encoder forward pass over ``n`` images, in the same run; cache size per
    view."""
    from torch import nn

    encoder = models.load_encoder(kind, models.RANDOM, device=device, precision="float32")
    x = torch.randn(batch_size, 3, 224, 224, device=encoder.device)
    forward = _forward_seconds(
        encoder,
        x.repeat(int(np.ceil(n / batch_size)), 1, 1, 1),
        n,
        batch_size,
        encoder.device,
        repeats=1,
    )
    with tempfile.TemporaryDirectory() as tmp:
        cache = features.activation_cache(encoder, k, tmp)
        A = np.random.default_rng(0).normal(size=(n, *cache.shape)).astype(np.float16)
        cache.write("example-v0", A[0])
        bytes_per_view = cache.path("example-v0").stat().st_size
    _, tail = models.split_at(encoder, k)
    tail = copy.deepcopy(tail).float().requires_grad_(True)
    config = train.head_config(
        "clip",
        encoder.dim,
        7,
        optimizer="adamw",
        lr=1e-3,
        encoder_lr=1e-5,
        epochs=epochs,
        patience=epochs,
        batch_size=batch_size,
    )
    y = np.random.default_rng(1).integers(0, 7, n)
    result = train.fit(
        config,
        (A, y),
        (A[:batch_size], y[:batch_size]),
        model=nn.Sequential(tail, train.make_head(config)),
        encoder_params=list(tail.parameters()),
        device=encoder.device,
    )
    return {
        "encoder": kind,
        "blocks": k,
        "images": n,
        "device": str(encoder.device),
        "precision": encoder.precision,
        "forward_seconds": round(forward, 3),
        "epoch_seconds": round(result.seconds_per_epoch, 3),
        "ratio": round(result.seconds_per_epoch / forward, 3),
        "meets_target": result.seconds_per_epoch / forward <= TARGET_FINETUNE
        if kind == "clip"
        else None,
        "activation_shape": list(cache.shape),
        "cache_kb_per_view": round(bytes_per_view / 1024, 1),
        "trainable_parameters": sum(p.numel() for p in tail.parameters()),
    }


def bench_head(kind: str, dim: int, n_train: int = 630, n_val: int = 210, epochs: int = 10) -> dict:
    rng = np.random.default_rng(0)
    train_set = (rng.normal(size=(n_train, dim)).astype(np.float32), rng.integers(0, 7, n_train))
    val_set = (rng.normal(size=(n_val, dim)).astype(np.float32), rng.integers(0, 7, n_val))
    config = train.head_config(kind, dim, 7, epochs=epochs, patience=epochs)
    result = train.fit(config, train_set, val_set)
    return {
        "head": kind,
        "in_dim": dim,
        "train_images": n_train,
        "epochs": epochs,
        "seconds": round(result.seconds, 3),
        "seconds_per_epoch": round(result.seconds / epochs, 4),
    }


def bench_lime(rows: pd.DataFrame, num_samples: int, device: str, batch_size: int = 32) -> dict:
    """Seconds to explain one image with LIME through the full-size CLIP encoder and a 512-256-7
    head."""
    from . import explain

    encoder = models.load_encoder("clip", models.RANDOM, device=device, precision="auto")
    head = train.make_head(train.head_config("clip", encoder.dim, 7))
    pipeline = explain.Pipeline(
        encoder, lambda X: train.predict_proba(head, X), batch_size=batch_size
    )
    image = explain.prepare_image(encoder, rows["path"].iloc[0])
    start = time.perf_counter()
    r = explain.lime_explain(pipeline, image, num_samples=num_samples)
    seconds = time.perf_counter() - start
    return {
        "explainer": "LIME",
        "num_samples": num_samples,
        "superpixels": len(r["weights"]),
        "precision": encoder.precision,
        "seconds_per_image": round(seconds, 2),
        "encoder_passes": pipeline.calls,
        **lime_cpu_side(encoder, image, r["segments"], batch_size),
    }


def lime_cpu_side(encoder, image: np.ndarray, segments: np.ndarray, batch_size: int) -> dict:
    """What one LIME copy costs besides the encoder (the whole cost once a GPU runs it), in ms per
    100 copies: building the copies (LIME's own loop against ``explain``'s one step per batch),
    and the whole explanation through the pipeline with a free encoder (copies, hashing,
    normalisation, LIME's fit)."""
    from lime import lime_image

    from . import explain

    explain._quiet_lime()
    fudged = explain.lime_fill(image, segments, None)
    free = lambda batch: np.full((len(batch), 7), 1 / 7)  # noqa: E731
    n = 1000

    def copies(cls) -> float:
        start = time.perf_counter()
        cls(random_state=0).data_labels(image, fudged, segments, free, n, batch_size=batch_size)
        return round((time.perf_counter() - start) * 1000 * 100 / n, 1)

    class FreeEncoder:  # the real preprocessing, no network
        preprocess, dim = encoder.preprocess, encoder.dim

        def __call__(self, batch: torch.Tensor) -> torch.Tensor:
            return torch.zeros(len(batch), self.dim)

    pipeline = explain.Pipeline(FreeEncoder(), free, batch_size=batch_size)
    start = time.perf_counter()
    explain.lime_explain(pipeline, image, num_samples=n, segments=segments)
    cpu_side = round((time.perf_counter() - start) * 1000 * 100 / n, 1)
    return {
        "copies_ms_per_100_lime_loop": copies(lime_image.LimeImageExplainer),
        "copies_ms_per_100_one_step": copies(explain._vectorised_explainer()),
        "cpu_side_ms_per_100": cpu_side,
    }


# --------------------------------------------------------------------------- parity
def reference_pipeline(encoder: models.Encoder):
    """The reference pipeline with ``encoder``'s weights: a function from fully decoded PIL images
    to embeddings. CLIP: a transformers ``CLIPModel`` holding the encoder's vision tower and
    projection, ``get_image_features`` on its ``CLIPImageProcessor``'s output. VGG16: torchvision's
    ``vgg16`` holding the encoder's conv base, ``VGG16_Weights.IMAGENET1K_V1.transforms()``, then
    global average pooling."""
    device = encoder.device
    if encoder.kind == "clip":
        from transformers import CLIPConfig, CLIPModel, CLIPTextConfig

        tower = encoder.module.model
        text = CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1)
        config = CLIPConfig(
            text_config=text.to_dict(),
            vision_config=tower.config.to_dict(),
            projection_dim=tower.config.projection_dim,
        )
        with torch.random.fork_rng(devices=[]):
            model = CLIPModel(config)
        model.vision_model.load_state_dict(tower.vision_model.state_dict())
        model.visual_projection.load_state_dict(tower.visual_projection.state_dict())
        model.eval().to(device)
        processor = encoder.preprocess.processor

        def clip(images):
            inputs = processor(images=images, return_tensors="pt").to(device)
            with torch.inference_mode():
                out = model.get_image_features(**inputs)
            return getattr(out, "pooler_output", out).float().cpu().numpy()

        return clip
    if encoder.kind == "vgg16":
        from torchvision.models import VGG16_Weights, vgg16

        with torch.random.fork_rng(devices=[]):
            model = vgg16(weights=None)
        model.features.load_state_dict(encoder.module.features.state_dict())
        model.eval().to(device)
        transform = VGG16_Weights.IMAGENET1K_V1.transforms()

        def vgg(images):
            x = torch.stack([transform(im) for im in images]).to(device)
            with torch.inference_mode():
                return model.features(x).mean(dim=(2, 3)).float().cpu().numpy()

        return vgg
    raise ValueError(f"no reference pipeline for {encoder.kind!r}")


def bench_parity(
    kind: str, paths: list[str], device: str, sizes=features.DECODE_SIZES, batch_size: int = 8
) -> list[dict]:
    """Cosine between the project's embedding (photos decoded at each of ``sizes``) and the
    reference pipeline's on the full decode, full-size seeded random weights, float32; with the
    normalised input's relative L2 distance to the reference input and the decode time."""
    encoder = models.load_encoder(kind, models.RANDOM, device=device, precision="float32")
    cos = features.embedding_parity(encoder, paths, reference_pipeline(encoder), sizes, batch_size)
    inputs = features.decode_sweep(encoder, paths, sizes)
    table = cos.merge(inputs[["decode", "rel_l2_median", "rel_l2_p95", "decode_ms_mean"]])
    return [{"encoder": kind, **row} for row in table.to_dict("records")]


# --------------------------------------------------------------------------- scale
WORDS = (
    "cotton printed analog steel ceramic wooden premium stylish combo pack set gift kids men women "
    "home kitchen office travel classic modern floral digital wireless portable soft large small "
    "blue red black"
).split()


def synthetic_catalog(
    folder: Path, n: int, n_categories: int = 200, seed: int = 0, side: int = 64
) -> Path:
    """A same-schema catalog of ``n`` products over ``n_categories`` long-tailed (Zipf) categories:
    small generated photos (some near-duplicates), templated descriptions (some near-identical)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, n_categories + 1) ** 1.1
    cats = rng.choice(n_categories, size=n, p=weights / weights.sum())
    images = folder / "Images"
    images.mkdir(parents=True, exist_ok=True)
    names, descriptions, trees = [], [], []
    base = None
    for i in range(n):
        name = f"p{i:06d}.jpg"
        if i % 50 == 1 and base is not None:  # a near-duplicate of the previous photo
            pixels = np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(
                np.uint8
            )
        else:
            blocks = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            pixels = np.kron(blocks, np.ones((side // 4, side // 4, 1), dtype=np.uint8))
        base = pixels
        Image.fromarray(pixels).save(images / name, quality=85)
        names.append(name)
        words = rng.choice(WORDS, 12)
        descriptions.append(
            " ".join(words) if i % 40 else descriptions[-1] if descriptions else " ".join(words)
        )
        trees.append(json.dumps([f"Category {cats[i]:03d} >> Sub {cats[i] % 7} >> Item"]))
    pd.DataFrame(
        {
            "uniq_id": [f"u{i}" for i in range(n)],
            "product_name": [f"product {i}" for i in range(n)],
            "product_category_tree": trees,
            "image": names,
            "description": descriptions,
            "brand": "synthetic",
        }
    ).to_csv(folder / "catalog.csv", index=False)
    return folder


def _measured(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, round(seconds, 2), round(peak / 2**20, 1)


def bench_scale(sizes: list[int], workers: int = 2) -> list[dict]:
    """Validation, grouping and splitting of synthetic catalogs of each size: seconds and peak
    memory (MiB)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        full = synthetic_catalog(Path(tmp) / "full", max(sizes))
        rows = pd.read_csv(full / "catalog.csv", dtype=str, keep_default_na=False)
        for n in sizes:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            (folder / "Images").symlink_to(full / "Images")
            rows.head(n).to_csv(folder / "catalog.csv", index=False)
            catalog, t_val, m_val = _measured(
                lambda: data.build_catalog(folder, workers=workers, progress=False)
            )
            ok = data.usable(catalog)
            groups, t_grp, m_grp = _measured(lambda: split.leak_groups(ok))
            ok = ok.join(groups)
            _, t_split, m_split = _measured(
                lambda: split.assign(ok["label"].to_numpy(), ok["group"].to_numpy(), 0)
            )
            out.append(
                {
                    "rows": n,
                    "usable": len(ok),
                    "categories": int(ok["label"].nunique()),
                    "rare_excluded": int((catalog["status"] == "rare_category").sum()),
                    "groups": int(ok["group"].value_counts().gt(1).sum()),
                    "validate_s": t_val,
                    "validate_peak_mib": m_val,
                    "group_s": t_grp,
                    "group_peak_mib": m_grp,
                    "split_s": t_split,
                    "split_peak_mib": m_split,
                }
            )
    return out


# --------------------------------------------------------------------------- refits (notebook 05)
REFIT_CANDIDATES = ["text-tfidf", "pixels-classic"]


def _synthetic_refit_panel(n: int = 1050, n_classes: int = 7, dim: int = 1892, seed: int = 0):
    """Rows and a ``CachedPanel`` of synthetic features in the real data's shapes: HOG-sized pixel
    vectors (class means plus noise) and product texts (class-dependent words among common ones)."""
    from .candidates import CachedPanel, Settings

    rng = np.random.default_rng(seed)
    labels = np.repeat([f"Category {c}" for c in range(n_classes)], int(np.ceil(n / n_classes)))[:n]
    codes = pd.factorize(labels, sort=True)[0]
    X = (rng.normal(size=(n_classes, dim))[codes] * 0.3 + rng.normal(size=(n, dim))).astype(
        np.float32
    )
    vocabulary = np.array(WORDS)
    own = [vocabulary[rng.permutation(len(vocabulary))[:6]] for _ in range(n_classes)]
    texts = [
        " ".join(np.concatenate([rng.choice(vocabulary, 25), rng.choice(own[c], 4)])) for c in codes
    ]
    rows = pd.DataFrame(
        {
            "sha256": [f"synthetic{i}" for i in range(n)],
            "label": labels,
            "product_name": [f"product {i}" for i in range(n)],
            "description": texts,
            "group": np.arange(n),
        }
    )
    rows["split"] = split.assign(rows["label"].to_numpy(), rows["group"].to_numpy(), 42)
    classes = sorted(set(labels))
    panel = CachedPanel(Settings(), classes, "synthetic", {"pixels": (list(rows["sha256"]), X)}, {})
    return panel, rows


def _real_refit_panel(source: str, folder: Path):
    """Rows (the usable catalog, split as notebook 02 does by default) and a ``Panel`` whose pixel
    features are computed and held in memory (not timed)."""
    from .candidates import Panel, Settings

    dataset = data.find_dataset_dir(Path(source))
    if dataset is None:
        return None
    catalog = data.build_catalog(dataset, progress=False)
    split.save_split(split.make_split(data.usable(catalog), seed=42), folder / "split.csv")
    s = split.load_split(folder / "split.csv")
    panel = Panel(Layout(folder), Settings(), s.labels(), s.split_id, progress=False)
    rows = s.all_rows_for_final_evaluation()
    panel.features("pixels", rows)
    return panel, rows


def _refits_once(panel, rows, names, n_splits, ks, draws, n_jobs) -> tuple[dict, object, object]:
    from . import evaluate

    others = split.other_splits(rows, 42, n_splits, 0.2, 0.2)
    part = {name: rows[rows["split"] == name] for name in ("train", "val", "test")}
    start = time.perf_counter()
    repeats = evaluate.panel_repeats(panel, rows, names, others, progress=False, n_jobs=n_jobs)
    middle = time.perf_counter()
    budget = evaluate.label_budget(
        panel, part["train"], part["val"], part["test"], names, ks, draws, 42, False, n_jobs
    )
    end = time.perf_counter()
    times = {
        "repeats_s": round(middle - start, 2),
        "budget_s": round(end - middle, 2),
        "total_s": round(end - start, 2),
        "processes": max(
            repeats.attrs["parallel"]["processes"], budget.attrs["parallel"]["processes"]
        ),
    }
    return times, repeats, budget


def bench_refits(
    source: str | None,
    n_splits: int = 5,
    ks: tuple = (1, 2, 4, 8, 16, 32, "all"),
    draws: int = 3,
    n_jobs: int | None = None,
    baseline: bool = True,
) -> list[dict]:
    """Notebook 05's refits of text-tfidf and pixels-classic, on the same inputs: sequential with
    the thread pools as they are (``baseline``), sequential with one thread per small fit, in
    ``n_jobs`` processes (default: one per core), and as notebook 05 runs them by default."""
    with tempfile.TemporaryDirectory() as tmp:
        real = _real_refit_panel(source, Path(tmp)) if source else None
        panel, rows = real if real else _synthetic_refit_panel()
        pools = parallel.thread_settings()
        common = {
            "data": "real" if real else "synthetic",
            "candidates": ", ".join(REFIT_CANDIDATES),
            "rows": len(rows),
            "splits": n_splits,
            "budget_draws": len([k for k in ks if k != "all"]) * draws + ("all" in ks),
            "cores": pools["cores"],
            "pools": "; ".join(f"{p['api']} {p['threads']}" for p in pools["pools"])
            + f"; torch {pools['torch_threads']}",
        }
        variants = [("sequential, pools as they are", 1, None)] if baseline else []
        jobs = n_jobs or parallel.cores()
        variants += [
            ("sequential, 1 thread per fit", 1, 1),
            (f"parallel, {jobs} processes", jobs, 1),
            ("default (n_jobs=None: parallel where it pays)", None, 1),
        ]
        out, results = [], {}
        for label, jobs, threads in variants:
            with parallel.small_fit_threads(threads):
                times, repeats, budget = _refits_once(
                    panel, rows, REFIT_CANDIDATES, n_splits, list(ks), draws, jobs
                )
            results[label] = (repeats, budget)
            out.append(
                {
                    "variant": label,
                    "n_jobs": jobs,
                    "small_fit_threads": threads,
                    **times,
                    **common,
                }
            )
        reference = results["sequential, 1 thread per fit"]
        first = out[0]["total_s"]
        for row, (label, _, _) in zip(out, variants):
            repeats, budget = results[label]
            row["speedup_vs_first"] = round(first / row["total_s"], 2) if row["total_s"] else None
            row["same_results_as_sequential"] = bool(
                repeats.equals(reference[0]) and budget.equals(reference[1])
            )
            row["max_accuracy_difference"] = float(
                max(
                    (repeats - reference[0]).abs().to_numpy().max(),
                    (budget["accuracy"] - reference[1]["accuracy"]).abs().max(),
                )
            )
    return out


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
    parser.add_argument("--source", default=os.environ.get("DATA_SOURCE"))
    parser.add_argument("--output", default=str(REPORTS / "bench.json"))
    args = parser.parse_args(argv)
    device = str(models.pick_device(args.device))
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "device": device,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "native_bf16_cpu": models.cpu_has_native_bf16(),
            "threads": parallel.thread_settings(),
        },
        "targets": {
            "pipeline_ratio": TARGET_RATIO,
            "bf16_speedup_clip": TARGET_BF16,
            "finetune_over_forward_clip": TARGET_FINETUNE,
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
    }
    for name in SECTIONS:
        if name in args.sections:
            start = time.perf_counter()
            result[name] = steps[name]()
            print(f"\n[{name}] ({time.perf_counter() - start:.0f} s)")
            print(pd.DataFrame(result[name]).to_string(index=False))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {args.output}")
    return result


if __name__ == "__main__":
    main()
