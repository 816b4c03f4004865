"""``make bench`` sections on the encoders. Full-size architectures with random weights (the same
compute as the pretrained ones), so they run offline on any machine.

- ``pipeline``: images per second through the feature pipeline (decode + preprocess + forward,
  ``features.extract`` on an empty cache) against the bare forward pass; their ratio
  (target >= 0.8).
- ``precision``: float32 against bfloat16 autocast, same images, same run: throughput of each and
  their ratio, cosine similarity of the embeddings, and agreement of a head's predictions on both
  (a head trained on 7 k-means clusters of the float32 embeddings, since random weights know no
  categories); then what ``precision="auto"`` picks when it measures afresh in the same run (its
  own throughputs, nothing remembered), and whether that is the precision this section measured
  faster (by auto's rule: bfloat16 only where at least ``AUTO_MIN_GAIN`` times faster).
- ``options``: what else PyTorch offers, kept only where it helps: ``channels_last`` for VGG16,
  ``torch.compile``, larger explanation batches.
- ``finetune``: seconds per fine-tuning epoch on cached activations of 630 images against one
  full encoder forward pass over 630 images (target <= 0.25 for CLIP with k = 1), float32 and
  bfloat16 autocast (what fine-tuning runs in where ``auto`` chose bfloat16), and the activation
  cache's size per image and view.
- ``heads``: head training time; ``lime``: one LIME explanation (each copy is an encoder pass),
  and what a copy costs besides the encoder (``lime_cpu_side``: the cost once a GPU encodes).
- ``parity``: the project's embeddings against the reference pipelines with the same weights, on
  fully decoded photos (CLIP: ``CLIPModel.get_image_features`` on ``CLIPImageProcessor``'s
  output; VGG16: torchvision's ``VGG16_Weights.IMAGENET1K_V1.transforms()``, the conv base and
  global average pooling): cosine per encoder and per decode size (``features.DECODE_SIZES``),
  on photos that include the largest files, with the input's relative L2 distance and decode time.
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..core.paths import Layout
from ..data import acquire
from ..explain import photos
from ..models import blocks, encoders, features, runtime, train

TARGET_RATIO = 0.8
TARGET_FINETUNE = 0.25
# The encoders the sections time: full-size architectures with random weights (the real models'
# compute), unless ``use_weights`` says otherwise: ``tiny-random`` runs every section's code in
# seconds (the tests), its numbers say nothing of speed. ``parity`` is always full-size.
WEIGHTS = {"name": encoders.RANDOM, "models_dir": "data/models"}


def use_weights(name: str, models_dir: str | Path = "data/models") -> None:
    """The weights every section but ``parity`` loads: ``random`` (full-size) or ``tiny-random``
    (built under ``models_dir``)."""
    if name not in (encoders.RANDOM, encoders.TINY):
        raise ValueError(f"bench weights {name!r}: use {encoders.RANDOM!r} or {encoders.TINY!r}")
    WEIGHTS.update(name=name, models_dir=str(models_dir))


def _load(kind: str, device: str, precision: str):
    return encoders.load_encoder(
        kind, WEIGHTS["name"], device=device, models_dir=WEIGHTS["models_dir"], precision=precision
    )


def _images(source: str | None, n: int) -> pd.DataFrame:
    folder = acquire.find_dataset_dir(Path(source)) if source else None
    folder = folder or acquire.find_dataset_dir(Layout().raw / acquire.DATASET_DIRNAME)
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


def _real_batch(encoder: encoders.Encoder, rows: pd.DataFrame) -> torch.Tensor:
    return torch.stack(
        [encoder.preprocess(features.encoder_input(encoder, p)) for p in rows["path"]]
    )


# --------------------------------------------------------------------------- sections
def bench_pipeline(
    kind: str, rows: pd.DataFrame, batch_size: int, num_workers: int, device: str, precision: str
) -> dict:
    encoder = _load(kind, device, precision)
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
    encoder: encoders.Encoder, x: torch.Tensor, batch_size: int
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
    f32 = _load(kind, device, "float32")
    b16 = replace(f32, precision="bfloat16")
    native = f32.device.type == "cuda" or runtime.cpu_has_native_bf16()
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
    auto, decision = f32.decide_precision("auto", use_cache=False)
    faster = (
        "bfloat16"
        if ips16 >= runtime.AUTO_MIN_GAIN * ips32 and float(cos.min()) >= runtime.AUTO_COSINE_FLOOR
        else "float32"
    )
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
        "faster_here": faster,
        "auto_picks": auto,
        "auto_decision": decision,
        "auto_picks_the_faster": auto == faster,
    }


def bench_options(rows: pd.DataFrame, batch_size: int, device: str, compile_: bool) -> list[dict]:
    """channels_last (VGG16), torch.compile (both encoders), explanation batch sizes (CLIP
    pipeline)."""
    out = []
    vgg = _load("vgg16", device, "float32")
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
            enc = _load(kind, device, "float32")
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

    clip = _load("clip", device, "auto")
    head = train.make_head(train.head_config("clip", clip.dim, 7))
    image = photos.prepare_image(clip, rows["path"].iloc[0])
    copies = np.repeat(image[None], 64, axis=0)
    copies[:, :8] = np.arange(64, dtype=np.uint8)[
        :, None, None, None
    ]  # distinct copies: no memo hits
    for bs in (16, 32, 64):
        pipe = photos.Pipeline(clip, lambda X: train.predict_proba(head, X), batch_size=bs)
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

    encoder = _load(kind, device, "float32")
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
    _, tail = blocks.split_at(encoder, k)
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

    def epoch_seconds(precision: str) -> float:
        model = nn.Sequential(copy.deepcopy(tail), train.make_head(config))
        return train.fit(
            config,
            (A, y),
            (A[:batch_size], y[:batch_size]),
            model=model,
            encoder_params=list(model[0].parameters()),
            device=encoder.device,
            precision=precision,
        ).seconds_per_epoch

    seconds = epoch_seconds("float32")
    allowed, why_not = runtime.bfloat16_allowed(encoder.device)
    seconds_b16 = epoch_seconds("bfloat16") if allowed else None
    return {
        "encoder": kind,
        "blocks": k,
        "images": n,
        "device": str(encoder.device),
        "precision": encoder.precision,
        "forward_seconds": round(forward, 3),
        "epoch_seconds": round(seconds, 3),
        # fine-tuning runs at its encoder's precision: bfloat16 autocast where auto measured it
        # faster (mixed precision; the same batches, in the same run)
        "epoch_seconds_bfloat16": None if seconds_b16 is None else round(seconds_b16, 3),
        "bfloat16_speedup": None if seconds_b16 is None else round(seconds / seconds_b16, 2),
        **({} if allowed else {"bfloat16_not_measured": why_not}),
        "ratio": round(seconds / forward, 3),
        "meets_target": seconds / forward <= TARGET_FINETUNE if kind == "clip" else None,
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

    encoder = _load("clip", device, "auto")
    head = train.make_head(train.head_config("clip", encoder.dim, 7))
    pipeline = photos.Pipeline(
        encoder, lambda X: train.predict_proba(head, X), batch_size=batch_size
    )
    image = photos.prepare_image(encoder, rows["path"].iloc[0])
    start = time.perf_counter()
    r = photos.lime_explain(pipeline, image, num_samples=num_samples)
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

    photos._quiet_lime()
    fudged = photos.lime_fill(image, segments, None)
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

    pipeline = photos.Pipeline(FreeEncoder(), free, batch_size=batch_size)
    start = time.perf_counter()
    photos.lime_explain(pipeline, image, num_samples=n, segments=segments)
    cpu_side = round((time.perf_counter() - start) * 1000 * 100 / n, 1)
    return {
        "copies_ms_per_100_lime_loop": copies(lime_image.LimeImageExplainer),
        "copies_ms_per_100_one_step": copies(photos._vectorised_explainer()),
        "cpu_side_ms_per_100": cpu_side,
    }


# --------------------------------------------------------------------------- parity
def reference_pipeline(encoder: encoders.Encoder):
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
    encoder = encoders.load_encoder(kind, encoders.RANDOM, device=device, precision="float32")
    cos = features.embedding_parity(encoder, paths, reference_pipeline(encoder), sizes, batch_size)
    inputs = features.decode_sweep(encoder, paths, sizes)
    table = cos.merge(inputs[["decode", "rel_l2_median", "rel_l2_p95", "decode_ms_mean"]])
    return [{"encoder": kind, **row} for row in table.to_dict("records")]
