"""Explanations of an image candidate (pixels -> encoder -> classifier) and how far to trust them.

- LIME (``lime``) on SLIC superpixels: local importance of each superpixel for one image, with the
  R² of LIME's local surrogate per explanation.
- Per-category ("global") importance: the average of per-image LIME maps, each scaled to [-1, 1].
- SHAP (``shap``) Partition explainer with a blur masker, drawn with ``shap.image_plot``.
- Stability: overlap (Jaccard) of the top-k superpixels across LIME seeds, at several sample
  counts; the figures use the smallest count the check finds stable.
- Faithfulness: deletion curves over the *same superpixels* (most important first) for LIME and
  SHAP against several random orders of those superpixels; a deleted superpixel is filled as LIME
  hides one (``lime_fill``: its own mean colour when ``hide_color`` is None, else that grey level),
  for every order. Per-image areas compared with a paired Wilcoxon test and a bootstrap interval.
  SHAP's values come from its own perturbation (a blur masker); ``Deletion`` records both.

The explained pixels are exactly the evaluated ones: ``prepare_image`` decodes through the feature
pipeline's own function (at the encoder's ``decode_min_side``) and the encoder's own resize and
crop, and the ``Pipeline`` only normalises. Explanations are costly (each perturbed copy is a full
encoder pass), so ``cached`` stores them under ``data/explanations`` keyed by the model (weights,
precision), the image and the settings, and the ``Pipeline`` remembers the probabilities of images
it has already seen.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.stats import wilcoxon

from ..core import timing
from ..evaluation.metrics import percentile
from ..models.encoders import Encoder
from ..models.features import model_pixels


# --------------------------------------------------------------------------- the pipeline
def prepare_image(encoder, path: str | os.PathLike) -> np.ndarray:
    """The pixels ``encoder`` classifies for this image (same decode, at the encoder's
    ``decode_min_side``, resize and crop as the features)."""
    return model_pixels(encoder, str(path))


class Pipeline:
    """Batch of HxWx3 model pixels (uint8, or float in [0, 1]) -> class probabilities.

    ``encoder`` normalises and encodes; ``predict_vectors`` (a fitted candidate's) classifies.
    Probabilities of images already seen are remembered (up to ``memory`` images), so LIME runs
    that share perturbed copies (the same seed at several sample counts) pay for them once.
    """

    def __init__(
        self,
        encoder,
        predict_vectors: Callable[[np.ndarray], np.ndarray],
        model_key: str = "",
        batch_size: int = 32,
        memory: int = 50_000,
        fast: bool = False,
    ) -> None:
        self.encoder, self.predict_vectors, self.batch_size = encoder, predict_vectors, batch_size
        self.model_key = model_key
        self.calls = 0  # images sent through the encoder (the rest came from memory)
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._memory = memory
        self.kernels = "plain"
        self._module, self._format = None, torch.contiguous_format
        if fast and isinstance(encoder, Encoder):  # a network: compiled kernels pay
            from ..models.blocks import fast_module

            self._module, self._format, self.kernels = fast_module(encoder)

    def _encode(self, batch: torch.Tensor) -> np.ndarray:
        if self._module is None:
            return self.encoder(batch).numpy()
        from ..models.runtime import autocast

        with torch.inference_mode(), autocast(self.encoder.device, self.encoder.precision):
            x = batch.to(self.encoder.device).contiguous(memory_format=self._format)
            return self._module(x).float().cpu().numpy()

    def _forward(self, images: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(images), self.batch_size):
            batch = self.encoder.preprocess.normalise_batch(images[i : i + self.batch_size])
            out.append(np.asarray(self.predict_vectors(self._encode(batch)), dtype=np.float64))
        self.calls += len(images)
        return np.concatenate(out)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            images = (
                (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
                if images.max() <= 1.0 + 1e-6
                else np.clip(images, 0, 255).astype(np.uint8)
            )
        images = np.ascontiguousarray(images)
        keys = [hashlib.blake2b(im.data, digest_size=16).digest() for im in images]
        found = {k: self._memo[k] for k in dict.fromkeys(keys) if k in self._memo}
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            unique = list(dict.fromkeys(keys[i] for i in todo))
            first = {k: next(i for i in todo if keys[i] == k) for k in unique}
            probs = self._forward(images[[first[k] for k in unique]])
            found.update(zip(unique, probs))
            if self._memory:
                for k, p in zip(unique, probs):
                    self._memo[k] = p
                while len(self._memo) > self._memory:
                    self._memo.popitem(last=False)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0))

    def fresh(self) -> Pipeline:
        """The same model (encoder, classifier, compiled kernels already warmed up) with nothing
        remembered and nothing kept: what one explanation costs on its own (``time_lime``)."""
        out = copy.copy(self)
        out.calls, out._memo, out._memory = 0, OrderedDict(), 0
        return out

    def fingerprint(self) -> str:
        key = getattr(self.encoder, "input_key", self.encoder.key)  # weights, precision, decode
        return hashlib.sha256(f"{key}|{self.model_key}|{self.kernels}".encode()).hexdigest()[:16]


def time_lime(
    pipeline: Pipeline, images: list[np.ndarray], num_samples: int, seed: int = 0, **settings
) -> dict:
    """Seconds of one LIME explanation (segmentation, ``num_samples`` perturbed copies through
    the encoder and classifier, the surrogate fit) of each of ``images``, each through a fresh
    pipeline (``Pipeline.fresh``: no probability remembered from other explanations) and no disk
    cache: what one explanation costs, wherever the figures' explanations came from."""
    runs = []
    for image in images:
        start = time.perf_counter()
        lime_explain(pipeline.fresh(), image, num_samples=num_samples, seed=seed, **settings)
        runs.append(time.perf_counter() - start)
    encoder = pipeline.encoder
    return {
        "seconds_per_image": float(np.median(runs)) if runs else None,
        "runs": [round(t, 4) for t in runs],
        "images": len(runs),
        "num_samples": int(num_samples),
        "device": str(getattr(encoder, "device", "cpu")),
        "precision": getattr(encoder, "precision", None),
        "batch_size": pipeline.batch_size,
        "kernels": pipeline.kernels,
        "fresh_pipeline": True,
        "disk_cache": False,
    }


# --------------------------------------------------------------------------- cache
def cached(folder: str | os.PathLike | None, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` (a dict of arrays and numbers), stored as ``<folder>/<hash of key>.npz``; None:
    no cache."""
    if folder is None:
        return compute()
    folder = Path(folder)
    path = folder / (
        hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
        + ".npz"
    )
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: (f[k].item() if f[k].ndim == 0 else f[k]) for k in f.files}
        except (OSError, ValueError, EOFError):
            pass  # partial or corrupt: recompute
    value = compute()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **value)
    os.replace(tmp, path)
    return value


# --------------------------------------------------------------------------- LIME
class CachedLime:
    """LIME with fixed settings, cached per (model, image content, settings, sample count, seed)."""

    def __init__(
        self, pipeline: Pipeline, cache_dir: str | os.PathLike | None, seed: int = 0, **settings
    ) -> None:
        self.pipeline, self.cache_dir, self.seed, self.settings = (
            pipeline,
            cache_dir,
            seed,
            settings,
        )
        self._model = pipeline.fingerprint()

    def __call__(self, image: np.ndarray, image_key: str, num_samples: int) -> dict:
        key = {
            "lime": self._model,
            "image": image_key,
            "seed": self.seed,
            "num_samples": num_samples,
            **self.settings,
        }
        return cached(
            self.cache_dir,
            key,
            lambda: lime_explain(
                self.pipeline, image, num_samples=num_samples, seed=self.seed, **self.settings
            ),
        )


def segment(
    image: np.ndarray, method: str = "slic", n_segments: int = 100, seed: int = 0
) -> np.ndarray:
    """Superpixels with scikit-image through LIME's wrapper: ``slic`` (about ``n_segments``) or
    ``quickshift``."""
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    if method == "slic":
        fn = SegmentationAlgorithm(
            "slic", n_segments=n_segments, compactness=10, sigma=1, start_label=0
        )
    elif method == "quickshift":
        fn = SegmentationAlgorithm(
            "quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=seed
        )
    else:
        raise ValueError(f"unknown segmentation {method!r}: use 'slic' or 'quickshift'")
    segments = fn(image)
    return np.unique(segments, return_inverse=True)[1].reshape(
        segments.shape
    )  # ids 0..n-1, as LIME assumes


def _quiet_lime() -> None:
    """LIME draws a progress bar per explained image; the notebooks draw one per step instead."""
    from lime import lime_image

    lime_image.tqdm = lambda iterable, *a, **k: iterable


@functools.cache
def _vectorised_explainer():
    """LIME's image explainer, its perturbed copies built one batch at a time in one array step.

    ``lime_image.LimeImageExplainer.data_labels`` builds every copy with one full-image comparison
    per hidden superpixel (about 50 per copy): milliseconds per copy on the CPU, the cost of an
    explanation once the encoder runs on a GPU. This one draws the same random masks from the same
    generator, builds the same copies and sends the same batches to the classifier (tested against
    LIME's own); only segment ids 0..n-1 (what ``segment`` returns) take this path.
    """
    from lime import lime_image

    class Explainer(lime_image.LimeImageExplainer):
        def data_labels(
            self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10, **kw
        ):
            n_features = np.unique(segments).shape[0]
            if segments.min() != 0 or segments.max() != n_features - 1:
                return super().data_labels(
                    image, fudged_image, segments, classifier_fn, num_samples, batch_size, **kw
                )
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape(
                (num_samples, n_features)
            )
            data[0, :] = 1
            labels = []
            extra = (1,) * (image.ndim - segments.ndim)
            # a read-only array (a cached photo) is copied once: torch wraps only writable ones
            image_t = torch.from_numpy(np.require(image, requirements="W"))
            fudged_t = torch.from_numpy(np.require(fudged_image, requirements="W"))
            for start in range(0, num_samples, batch_size):
                hidden = (data[start : start + batch_size] == 0)[:, segments]
                hidden_t = torch.from_numpy(hidden.reshape(hidden.shape + extra))
                copies = torch.where(hidden_t, fudged_t, image_t).numpy()  # np.where, 2x faster
                labels.extend(classifier_fn(copies))
            return data, np.array(labels)

    return Explainer


def lime_explain(
    pipeline: Pipeline,
    image: np.ndarray,
    num_samples: int = 100,
    n_segments: int = 100,
    segmentation: str = "slic",
    hide_color: float | None = None,
    seed: int = 0,
    label: int | None = None,
    segments: np.ndarray | None = None,
) -> dict:
    """LIME weights of each superpixel for ``label`` (default: the predicted class).

    Returns ``segments`` (HxW ints), ``weights`` (one per superpixel), ``label``, ``probability`` of
    that label on the intact image, ``score`` (R² of LIME's weighted local linear surrogate on its
    own samples: with about as many samples as superpixels it fits almost anything, so it is a
    ceiling, not a quality) and ``seconds``.
    """
    import time

    _quiet_lime()
    start = time.perf_counter()
    segments = segment(image, segmentation, n_segments, seed) if segments is None else segments
    probs = pipeline(image[None])[0]
    label = int(probs.argmax()) if label is None else int(label)
    explainer = _vectorised_explainer()(random_state=seed)
    explanation = explainer.explain_instance(
        image,
        pipeline,
        labels=(label,),
        top_labels=None,
        hide_color=hide_color,
        num_samples=num_samples,
        batch_size=pipeline.batch_size,
        segmentation_fn=lambda _: segments,
        random_seed=seed,
    )
    weights = np.zeros(segments.max() + 1)
    for idx, w in explanation.local_exp[label]:
        weights[idx] = w
    return {
        "segments": segments,
        "weights": weights,
        "label": label,
        "probability": float(probs[label]),
        "score": float(
            explanation.score[label] if isinstance(explanation.score, dict) else explanation.score
        ),
        "num_samples": num_samples,
        "seconds": time.perf_counter() - start,
    }


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


WHITE = 235  # a pixel with every channel at or above this is the studio background
REGIONS = (("top", "middle", "bottom"), ("left", "centre", "right"))
EVEN_MARGIN = 0.05  # within this of the product's area, the weight is read as evenly spread


def map_reading(maps: list[np.ndarray], images: list[np.ndarray], white: int = WHITE) -> dict:
    """What one category's LIME maps weigh, read from the maps and their photos (what the
    per-category panel shows, in numbers): ``on_product``, the mean share of an image's weight
    towards the class (positive, after scaling to [-1, 1]) that lies on the product (pixels that
    are not the near-white background, every channel below ``white``); ``product_area``, the
    mean share of the photo the product covers (what an even spread would put on it);
    ``positive_share``, the share of the averaged map's absolute weight that is positive; and
    ``peak``, the cell of a 3 x 3 grid holding most of the averaged map's positive weight
    (``peak_share`` of it)."""
    if not maps or len(maps) != len(images):
        raise ValueError("map_reading needs one photo per map, and at least one map")
    on, area = [], []
    for m, img in zip(maps, images):
        positive = np.clip(m / (np.abs(m).max() or 1.0), 0, None)
        if positive.shape != img.shape[:2]:
            raise ValueError(f"a map of shape {positive.shape} for a photo of {img.shape[:2]}")
        product = ~(np.asarray(img) >= white).all(axis=-1)
        total = positive.sum()
        if total > 0:
            on.append(float(positive[product].sum() / total))
        area.append(float(product.mean()))
    mean = global_importance(maps)
    positive = np.clip(mean, 0, None)
    h, w = (mean.shape[0] // 3) * 3, (mean.shape[1] // 3) * 3
    cells = positive[:h, :w].reshape(3, h // 3, 3, w // 3).sum(axis=(1, 3))
    r, c = np.unravel_index(int(cells.argmax()), cells.shape)
    row, col = REGIONS[0][r], REGIONS[1][c]
    peak = "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"
    return {
        "images": len(maps),
        "on_product": float(np.mean(on)) if on else None,
        "product_area": float(np.mean(area)),
        "positive_share": float(positive.sum() / (np.abs(mean).sum() or 1.0)),
        "peak": peak,
        "peak_share": float(cells.max() / (cells.sum() or 1.0)),
        "even_margin": EVEN_MARGIN,
    }


# --------------------------------------------------------------------------- SHAP
SHAP_MASKER = "blur(32,32)"  # SHAP's image masker: a blurred copy of the photo fills what it hides


def shap_explain(
    pipeline: Pipeline,
    images: np.ndarray,
    classes: list[str],
    max_evals: int = 300,
    blur: str = SHAP_MASKER,
    seed: int = 0,
):
    """SHAP values (Partition explainer, ``blur`` masker) of the predicted class for each
    image."""
    import shap

    np.random.seed(seed)
    masker = shap.maskers.Image(blur, images[0].shape)
    explainer = shap.Explainer(pipeline, masker, output_names=classes, seed=seed)
    return explainer(
        images.astype(np.float32) / 255.0,
        max_evals=max_evals,
        batch_size=pipeline.batch_size,
        outputs=shap.Explanation.argsort.flip[:1],
        silent=True,
    )


def shap_pixels(shap_values, j: int) -> np.ndarray:
    """Per-pixel SHAP value of image ``j`` for its explained class (summed over colour channels)."""
    return np.asarray(shap_values.values[j, ..., 0]).sum(axis=-1)


def per_superpixel(pixel_values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Total of a per-pixel map within each superpixel (SHAP brought to LIME's superpixels)."""
    return np.bincount(segments.ravel(), weights=pixel_values.ravel(), minlength=segments.max() + 1)


# --------------------------------------------------------------------------- choosing images
def round_robin(chosen: dict[str, list[int]], per_category: int) -> list[tuple[int, str]]:
    """``(index, category)``: the first image of every category, then the second of every
    category..., up to ``per_category`` per category, so no check rests on one category."""
    out = []
    for r in range(per_category):
        for label in sorted(chosen):
            if r < len(chosen[label]):
                out.append((chosen[label][r], label))
    return out


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


def per_category(
    rows,
    correct: np.ndarray,
    n: int,
    only_correct: bool = True,
    categories: list[str] | None = None,
) -> dict[str, list[int]]:
    """Up to ``n`` row indices per category (``categories``, default all): correctly classified ones
    only, or (``only_correct=False``) correctly classified ones first, then the others, so that
    every category is represented even where the model gets none right."""
    out = {}
    correct = np.asarray(correct, dtype=bool)
    for label in categories or sorted(rows["label"].unique()):
        in_label = (rows["label"] == label).to_numpy()
        right, wrong = np.flatnonzero(in_label & correct), np.flatnonzero(in_label & ~correct)
        order = right if only_correct else np.concatenate([right, wrong])
        out[label] = [int(i) for i in order[:n]]
    return out


# --------------------------------------------------------------------------- stability
def jaccard(a: set, b: set) -> float:
    """Overlap of two top-k sets. Two empty sets (explanations with no positive weight) score 0:
    agreeing on nothing is not stability."""
    return len(a & b) / len(a | b) if a | b else 0.0


def stability(
    pipeline: Pipeline,
    image: np.ndarray,
    sample_counts: list[int],
    seeds: list[int],
    k: int = 10,
    n_segments: int = 100,
    segmentation: str = "slic",
    hide_color: float | None = None,
) -> dict:
    """Pairwise Jaccard overlap of the top-``k`` superpixels across LIME seeds, per sample count.

    The segmentation is fixed (computed once), so only LIME's random perturbations differ. For
    each seed the largest count runs first: LIME's first ``n`` perturbations of a seed are the same
    at every count, so the smaller counts reuse the pipeline's remembered probabilities.
    Returns ``{count: {mean_jaccard, min_jaccard, pairs, r2}}`` (``r2``: LIME's surrogate R² per
    seed).
    """
    segments = segment(image, segmentation, n_segments, seeds[0])
    label = int(pipeline(image[None])[0].argmax())
    results: dict[int, dict[int, dict]] = {n: {} for n in sample_counts}
    for s in seeds:
        for n in sorted(sample_counts, reverse=True):
            results[n][s] = lime_explain(
                pipeline, image, n, segments=segments, hide_color=hide_color, seed=s, label=label
            )
    out = {}
    for n in sample_counts:
        tops = [top_segments(results[n][s]["weights"], k) for s in seeds]
        pairs = [
            jaccard(tops[i], tops[j]) for i in range(len(tops)) for j in range(i + 1, len(tops))
        ]
        out[n] = {
            "mean_jaccard": float(np.mean(pairs)),
            "min_jaccard": float(np.min(pairs)),
            "pairs": len(pairs),
            "r2": [round(results[n][s]["score"], 4) for s in seeds],
        }
    return out


def stable_count(per_image: list[dict], threshold: float) -> tuple[int, dict, bool]:
    """The smallest sample count whose median (over images) top-k Jaccard reaches ``threshold``.

    Returns ``(count, medians, reached)``; when no count reaches it, the largest count and False.
    """
    counts = sorted({int(n) for s in per_image for n in s})
    medians = {n: float(np.median([s[n]["mean_jaccard"] for s in per_image])) for n in counts}
    for n in counts:
        if medians[n] >= threshold:
            return n, medians, True
    return counts[-1], medians, False


# --------------------------------------------------------------------------- faithfulness
def lime_fill(image: np.ndarray, segments: np.ndarray, hide_color=None) -> np.ndarray:
    """The image LIME takes a hidden superpixel's pixels from (its ``fudged_image``), computed as
    ``lime_image`` computes it: each superpixel's own mean colour when ``hide_color`` is None,
    else ``hide_color`` everywhere (a grey level, or a colour). The means are written into a copy
    of the image, so a uint8 image gets them truncated, as in LIME."""
    fudged = image.copy()
    if hide_color is None:
        for x in np.unique(segments):
            inside = segments == x
            fudged[inside] = image[inside].reshape(-1, image.shape[-1]).mean(axis=0)
    else:
        fudged[:] = hide_color
    return fudged


def describe_fill(hide_color=None) -> str:
    """The deletion check's fill in words (recorded with its results)."""
    if hide_color is None:
        return "each superpixel's own mean colour (LIME's hide_color=None)"
    return f"the colour {hide_color} (LIME's hide_color={hide_color})"


def deletion_curve(
    predict: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    segments: np.ndarray,
    order: np.ndarray,
    label: int,
    steps: int = 20,
    fill=None,
) -> np.ndarray:
    """Probability of ``label`` as superpixels are deleted in ``order`` (most important first).

    Returns ``steps + 1`` probabilities, for 0, 1/steps, ..., all superpixels deleted. A deleted
    superpixel is filled as LIME hides it (``lime_fill``): with ``fill=None`` (LIME's default
    ``hide_color``) each takes its own mean colour; a number (grey level) or a colour fills them
    all with it. Every method's curve on an image uses the same fill.
    """
    fudged = lime_fill(image, segments, fill)
    order = np.asarray(order)
    batch = []
    for s in range(steps + 1):
        n = round(s * len(order) / steps)
        out = image.copy()
        deleted = np.isin(segments, order[:n])
        out[deleted] = fudged[deleted]
        batch.append(out)
    batch = np.stack(batch)
    if batch.dtype != np.uint8:
        batch = batch.round().clip(0, 255).astype(np.uint8)
    return predict(batch)[:, label]


def area_under(curve: np.ndarray) -> float:
    """Area under a deletion curve on [0, 1] (trapezoids): lower means the map found what
    matters."""
    x = np.linspace(0, 1, len(curve))
    return float(np.trapezoid(curve, x))


def ranking(scores: np.ndarray) -> np.ndarray:
    """Superpixel ids, most important (largest score) first; ties in id order."""
    return np.argsort(-np.asarray(scores), kind="stable")


@dataclass
class Deletion:
    curves: dict[str, np.ndarray]  # method -> mean curve over images
    auc: dict[str, float]  # method -> mean area
    per_image: dict[str, list[float]]  # method -> area per image (random: mean over its orders)
    fill: str = describe_fill(None)  # how deleted superpixels were filled (every order alike)
    perturbations: dict[str, str] = field(default_factory=dict)  # what each explainer perturbed


def compare_deletion(*args, **kwargs) -> Deletion:
    """``_compare_deletion``, its time recorded as the step "photo deletion"."""
    with timing.step("photo deletion"):
        return _compare_deletion(*args, **kwargs)


def _compare_deletion(
    pipeline: Pipeline,
    images: list[np.ndarray],
    lime_results: list[dict],
    shap_values,
    steps: int = 20,
    random_orders: int = 5,
    seed: int = 0,
    hide_color=None,
    shap_masker: str = SHAP_MASKER,
) -> Deletion:
    """Deletion curves on each image's LIME superpixels: LIME's order, SHAP's (SHAP summed within
    each superpixel) and ``random_orders`` random orders of the same superpixels, for the class
    LIME explained. Deleted superpixels are filled as LIME hid them (``hide_color``, the value
    LIME ran with: None, each superpixel's mean colour). ``shap_masker``: the masker SHAP's values
    came from, recorded (SHAP keeps its own perturbation)."""
    rng = np.random.default_rng(seed)
    curves: dict[str, list[np.ndarray]] = {"LIME": [], "SHAP": [], "random": []}
    per_image_random = []
    for j, (image, r) in enumerate(zip(images, lime_results)):
        segs = r["segments"]
        n = int(segs.max()) + 1
        curves["LIME"].append(
            deletion_curve(
                pipeline, image, segs, ranking(r["weights"]), r["label"], steps, hide_color
            )
        )
        curves["SHAP"].append(
            deletion_curve(
                pipeline,
                image,
                segs,
                ranking(per_superpixel(shap_pixels(shap_values, j), segs)),
                r["label"],
                steps,
                hide_color,
            )
        )
        randoms = [
            deletion_curve(pipeline, image, segs, rng.permutation(n), r["label"], steps, hide_color)
            for _ in range(random_orders)
        ]
        curves["random"].append(np.mean(randoms, axis=0))
        per_image_random.append(float(np.mean([area_under(c) for c in randoms])))
    per_image = {m: [area_under(c) for c in cs] for m, cs in curves.items() if m != "random"}
    per_image["random"] = per_image_random
    return Deletion(
        curves={m: np.mean(cs, axis=0) for m, cs in curves.items()},
        auc={m: float(np.mean(v)) for m, v in per_image.items()},
        per_image=per_image,
        fill=describe_fill(hide_color),
        perturbations={
            "LIME": f"superpixels hidden with {describe_fill(hide_color)}",
            "SHAP": f"Partition explainer, image masker {shap_masker!r} (SHAP's own)",
            "deletion": f"superpixels deleted with {describe_fill(hide_color)}, every order",
        },
    )


def faithfulness(
    per_image: dict[str, list[float]], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict:
    """Per method: mean area difference to the random order (random minus method: positive = more
    faithful), its bootstrap interval over images, and the paired Wilcoxon signed-rank test."""
    out = {}
    rand = np.asarray(per_image["random"])
    rng = np.random.default_rng(seed)
    for method, areas in per_image.items():
        if method == "random":
            continue
        d = rand - np.asarray(areas)
        boots = (
            d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
            if len(d)
            else np.zeros(1)
        )
        low, high = percentile(boots, level)
        nonzero = d[np.abs(d) > 1e-12]
        p = float(wilcoxon(nonzero).pvalue) if len(nonzero) >= 2 else 1.0
        out[method] = {
            "images": len(d),
            "mean_gain": float(d.mean()) if len(d) else 0.0,
            "gain_low": low,
            "gain_high": high,
            "level": level,
            "wilcoxon_p": p,
            "better_on": int((d > 0).sum()),
        }
    return out
