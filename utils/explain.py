"""Explanations of the full pipeline (pixels -> frozen encoder -> trained head) and how far to trust them.

- LIME (``lime``) on SLIC superpixels: local importance of each superpixel for one image.
- Per-category ("global") importance: the average of per-image LIME maps, each scaled to [-1, 1].
- SHAP (``shap``) Partition explainer with a blur masker, drawn with ``shap.image_plot``.
- Stability: overlap (Jaccard) of the top-k superpixels across LIME seeds, at several sample counts.
- Faithfulness: deletion curves (remove the most important pixels first, follow the probability of
  the explained class) for any importance map, and their area; a random order is the reference.

Explanations are costly (each perturbed copy is a full encoder pass), so ``cached`` stores them
under ``data/explanations`` keyed by the model, the image and the settings.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from .data import load_image
from .models import Encoder


# --------------------------------------------------------------------------- the pipeline
def prepare_image(path: str | os.PathLike, size: int = 224) -> np.ndarray:
    """The image as the encoder sees its content: shorter side ``size``, centre crop, uint8 HxWx3."""
    im = load_image(path, max_side=None, min_side=size)
    scale = size / min(im.size)
    im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))), Image.Resampling.BICUBIC)
    left, top = (im.width - size) // 2, (im.height - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)))


class Pipeline:
    """Batch of HxWx3 images (uint8, or float in [0, 1]) -> class probabilities, through encoder and head."""

    def __init__(self, encoder: Encoder, head: nn.Module, batch_size: int = 32) -> None:
        self.encoder, self.head, self.batch_size = encoder, head.eval(), batch_size
        self.calls = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8) if images.max() <= 1.0 + 1e-6 \
                else np.clip(images, 0, 255).astype(np.uint8)
        out = []
        for i in range(0, len(images), self.batch_size):
            batch = torch.stack([self.encoder.preprocess(Image.fromarray(im)) for im in images[i:i + self.batch_size]])
            with torch.inference_mode():
                out.append(torch.softmax(self.head(self.encoder(batch)), dim=1).numpy())
        self.calls += len(images)
        return np.concatenate(out) if out else np.zeros((0, 0))

    def fingerprint(self) -> str:
        h = hashlib.sha256(self.encoder.identity.encode())
        for t in self.head.state_dict().values():
            h.update(t.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]


# --------------------------------------------------------------------------- cache
def cached(folder: str | os.PathLike | None, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` (a dict of arrays and numbers), stored as ``<folder>/<hash of key>.npz``; None: no cache."""
    if folder is None:
        return compute()
    folder = Path(folder)
    path = folder / (hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20] + ".npz")
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: (f[k].item() if f[k].ndim == 0 else f[k]) for k in f.files}
        except (OSError, ValueError, EOFError):
            pass                                    # partial or corrupt: recompute
    value = compute()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **value)
    os.replace(tmp, path)
    return value


# --------------------------------------------------------------------------- LIME
class CachedLime:
    """LIME with the notebook's settings, cached per (model, image content, settings, seed)."""

    def __init__(self, pipeline: "Pipeline", cache_dir: str | os.PathLike | None, seed: int = 0, **settings) -> None:
        self.pipeline, self.cache_dir, self.seed, self.settings = pipeline, cache_dir, seed, settings
        self._model = pipeline.fingerprint()

    def __call__(self, image: np.ndarray, image_key: str) -> dict:
        key = {"lime": self._model, "image": image_key, "seed": self.seed, **self.settings}
        return cached(self.cache_dir, key, lambda: lime_explain(self.pipeline, image, seed=self.seed, **self.settings))


def segment(image: np.ndarray, method: str = "slic", n_segments: int = 100, seed: int = 0) -> np.ndarray:
    """Superpixels with scikit-image through LIME's wrapper: ``slic`` (about ``n_segments``) or ``quickshift``."""
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    if method == "slic":
        fn = SegmentationAlgorithm("slic", n_segments=n_segments, compactness=10, sigma=1, start_label=0)
    elif method == "quickshift":
        fn = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=seed)
    else:
        raise ValueError(f"unknown segmentation {method!r}: use 'slic' or 'quickshift'")
    return fn(image)


def lime_explain(pipeline: Pipeline, image: np.ndarray, num_samples: int = 100, n_segments: int = 100,
                 segmentation: str = "slic", hide_color: float | None = None, seed: int = 0,
                 label: int | None = None, segments: np.ndarray | None = None) -> dict:
    """LIME weights of each superpixel for ``label`` (default: the predicted class).

    Returns ``segments`` (HxW ints), ``weights`` (one per superpixel), ``label``, ``probability`` of
    that label on the intact image, ``score`` (R² of LIME's local linear model) and ``seconds``.
    """
    import time

    from lime import lime_image

    start = time.perf_counter()
    segments = segment(image, segmentation, n_segments, seed) if segments is None else segments
    probs = pipeline(image[None])[0]
    label = int(probs.argmax()) if label is None else int(label)
    explainer = lime_image.LimeImageExplainer(random_state=seed)
    explanation = explainer.explain_instance(image, pipeline, labels=(label,), top_labels=None, hide_color=hide_color,
                                             num_samples=num_samples, batch_size=pipeline.batch_size,
                                             segmentation_fn=lambda _: segments, random_seed=seed)
    weights = np.zeros(segments.max() + 1)
    for idx, w in explanation.local_exp[label]:
        weights[idx] = w
    return {"segments": segments, "weights": weights, "label": label, "probability": float(probs[label]),
            "score": float(explanation.score[label] if isinstance(explanation.score, dict) else explanation.score),
            "seconds": time.perf_counter() - start}


def pixel_map(segments: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-pixel importance: each pixel gets its superpixel's weight."""
    return weights[segments]


def lime_map(result: dict) -> np.ndarray:
    """Per-pixel importance of a ``lime_explain`` result."""
    return pixel_map(result["segments"], result["weights"])


def top_segments(weights: np.ndarray, k: int = 10) -> set[int]:
    """The ``k`` superpixels with the largest positive weight."""
    order = np.argsort(-weights, kind="stable")
    return {int(i) for i in order[:k] if weights[i] > 0}


def global_importance(maps: list[np.ndarray]) -> np.ndarray:
    """Average of per-image importance maps, each first scaled to [-1, 1] by its largest |value|.

    Assumes the images are comparable pixel by pixel: centred products photographed alike.
    """
    if not maps:
        raise ValueError("no maps to average")
    scaled = [m / (np.abs(m).max() or 1.0) for m in maps]
    return np.mean(scaled, axis=0)


# --------------------------------------------------------------------------- SHAP
def shap_explain(pipeline: Pipeline, images: np.ndarray, classes: list[str], max_evals: int = 300,
                 blur: str = "blur(32,32)", seed: int = 0):
    """SHAP values (Partition explainer, blur masker) of the predicted class for each image."""
    import shap

    np.random.seed(seed)
    masker = shap.maskers.Image(blur, images[0].shape)
    explainer = shap.Explainer(pipeline, masker, output_names=classes, seed=seed)
    return explainer(images.astype(np.float32) / 255.0, max_evals=max_evals, batch_size=pipeline.batch_size,
                     outputs=shap.Explanation.argsort.flip[:1], silent=True)


# --------------------------------------------------------------------------- trust
def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def stability(pipeline: Pipeline, image: np.ndarray, sample_counts: list[int], seeds: list[int], k: int = 10,
              n_segments: int = 100, segmentation: str = "slic", hide_color: float | None = None) -> dict:
    """Mean pairwise Jaccard overlap of the top-``k`` superpixels across LIME seeds, per sample count.

    The segmentation is fixed (computed once), so only LIME's random perturbations differ.
    """
    segments = segment(image, segmentation, n_segments, seeds[0])
    label = int(pipeline(image[None])[0].argmax())
    out = {}
    for n in sample_counts:
        tops = [top_segments(lime_explain(pipeline, image, n, segments=segments, hide_color=hide_color,
                                          seed=s, label=label)["weights"], k) for s in seeds]
        pairs = [jaccard(tops[i], tops[j]) for i in range(len(tops)) for j in range(i + 1, len(tops))]
        out[n] = {"mean_jaccard": float(np.mean(pairs)), "min_jaccard": float(np.min(pairs)), "pairs": len(pairs)}
    return out


def deletion_curve(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, importance: np.ndarray,
                   label: int, steps: int = 20, fill: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Probability of ``label`` as the most important pixels are replaced by ``fill`` (default: mean colour).

    Returns ``steps + 1`` probabilities, for 0, 1/steps, ..., all pixels deleted. Ties in
    ``importance`` are broken at random (seeded), so a constant map gives a random order.
    """
    h, w = importance.shape
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(h * w), -importance.ravel()))
    fill = image.reshape(-1, image.shape[-1]).mean(axis=0) if fill is None else fill
    batch = []
    for s in range(steps + 1):
        n = round(s * h * w / steps)
        flat = image.reshape(-1, image.shape[-1]).astype(np.float64).copy()
        flat[order[:n]] = fill
        batch.append(flat.reshape(image.shape))
    batch = np.stack(batch)
    batch = batch.round().clip(0, 255).astype(np.uint8) if image.dtype == np.uint8 else batch.astype(image.dtype)
    return predict(batch)[:, label]


def area_under(curve: np.ndarray) -> float:
    """Area under a deletion curve on [0, 1] (trapezoids): lower means the map found what matters."""
    x = np.linspace(0, 1, len(curve))
    return float(np.trapezoid(curve, x))


def compare_deletion(pipeline: "Pipeline", images: list[np.ndarray], lime_results: list[dict], shap_values,
                     steps: int = 20, seed: int = 0) -> "Deletion":
    """Deletion curves of LIME, SHAP and a random order on each image, for the class LIME explained."""
    curves: dict[str, list[np.ndarray]] = {"LIME": [], "SHAP": [], "random": []}
    for j, (image, r) in enumerate(zip(images, lime_results)):
        maps = {"LIME": lime_map(r),
                "SHAP": shap_values.values[j, ..., 0].sum(axis=-1),
                "random": np.zeros(r["segments"].shape)}
        for method, importance in maps.items():
            curves[method].append(deletion_curve(pipeline, image, importance, r["label"], steps=steps, seed=seed))
    return deletion_summary(curves)


@dataclass
class Deletion:
    curves: dict[str, np.ndarray]      # method -> mean curve over images
    auc: dict[str, float]              # method -> mean area
    per_image: dict[str, list[float]]  # method -> area per image


def deletion_summary(curves: dict[str, list[np.ndarray]]) -> Deletion:
    """Mean deletion curve and area per method, from one curve per image and method."""
    per_image = {m: [area_under(c) for c in cs] for m, cs in curves.items()}
    return Deletion(curves={m: np.mean(cs, axis=0) for m, cs in curves.items()},
                    auc={m: float(np.mean(v)) for m, v in per_image.items()}, per_image=per_image)


# --------------------------------------------------------------------------- choosing images
def pick_examples(rows, queries: dict[str, str]) -> list[int]:
    """For each ``category: regex``, the first row of that category whose product name matches
    (case-insensitive), else the first row of the category; categories absent are skipped."""
    picks = []
    for label, pattern in queries.items():
        group = rows[rows["label"] == label]
        if group.empty:
            continue
        hits = group[group["product_name"].str.contains(pattern, case=False, regex=True, na=False)]
        picks.append(int((hits if len(hits) else group).index[0]))
    return picks


def per_category(rows, correct: np.ndarray, n: int, only_correct: bool = True) -> dict[str, list[int]]:
    """Up to ``n`` row indices per category, correctly classified ones only unless ``only_correct`` is False."""
    out = {}
    for label in sorted(rows["label"].unique()):
        mask = (rows["label"] == label).to_numpy() & (correct if only_correct else True)
        out[label] = [int(i) for i in np.flatnonzero(mask)[:n]]
    return out


def verdict(summary: dict) -> str:
    """Plain-language reading of the stability and faithfulness numbers in ``summary`` (notebook 06)."""
    stab = summary["stability"]
    counts = sorted(stab, key=int)
    parts = [f"Top-{summary['settings']['top_k']} superpixel overlap between LIME seeds: "
             + ", ".join(f"{stab[c]['mean_jaccard']:.2f} at {c} copies" for c in counts) + "."]
    low, high = stab[counts[0]]["mean_jaccard"], stab[counts[-1]]["mean_jaccard"]
    if high - low > 0.1:
        parts.append(f"{counts[0]} perturbed copies give visibly less stable explanations than {counts[-1]}.")
    else:
        parts.append(f"Going from {counts[0]} to {counts[-1]} copies changes the overlap by {high - low:+.2f}.")
    auc = summary["deletion"]["auc"]
    for method in ("LIME", "SHAP"):
        if method in auc:
            gain = auc["random"] - auc[method]
            parts.append(f"{method}: deletion area {auc[method]:.3f} vs {auc['random']:.3f} for a random order "
                         + ("(more faithful than random)." if gain > 0.01 else "(no better than random).")) 
    return " ".join(parts)
