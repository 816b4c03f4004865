"""Everything an encoder computes, computed once and cached on disk.

- image features: ``<features_dir>/<kind>-<identity>-<precision>-s<decode>/<image sha256>.npy``
  (``s<decode>``: the encoder's ``decode_min_side``, ``sfull`` for a full decode)
- text features (CLIP text tower): ``<features_dir>/clip-text-<identity>-<precision>/<sha>.npy``
  (``<sha>``: the text's sha256)
- classical pixel features: ``<features_dir>/pixels-<settings hash>-s<decode>/<image sha256>.npy``
- frozen-prefix activations (fine-tuning, augmented views):
  ``<activations_dir>/<kind>-<identity>-<precision>-k<blocks>-s<decode size>/<image sha256>-v0.npy``
  (the photo itself) and ``...-a<augmentation key>-v<view>.npy`` (augmented views), float16.

On Ray (``distributed``), the workers write the same vectors as Parquet shards keyed by sha256
and this cache is filled from them (``fill_from_shards``, one filtered read).

A changed model, precision or image gets new keys, so only what changed is recomputed. Files are
written atomically (temporary name, then rename) and checked when read (shape, dtype, finite
values); a partial or corrupt file is recomputed, never used. Images stream through a
``DataLoader`` in batches (decoding in worker processes overlaps the forward pass), so memory stays
flat and an interrupted run resumes from what was written.

Photos are decoded for an encoder at its ``decode_min_side`` (JPEG draft mode, ``None``: full
decode) before its own resize and crop. ``decode_sweep`` / ``input_difference`` measure how far
that input is from the reference pipeline's on a full decode (``reference_input``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..core.progress import bar
from ..data.augment import Augmentation, make_view
from ..data.catalog import load_image
from . import blocks, encoders, runtime
from .encoders import DECODE_MIN_SIDE, Encoder, TextEncoder, decode_tag


def load_model_input(path: str, decode_min_side: int | None = DECODE_MIN_SIDE) -> Image.Image:
    """The decoded image handed to an encoder's preprocessing: JPEGs decoded (draft mode) with both
    sides at least ``decode_min_side`` (None: full decode); the encoder resizes it itself."""
    return load_image(path, max_side=None, min_side=decode_min_side)


def encoder_input(encoder: Encoder, path: str) -> Image.Image:
    """The photo at ``path`` decoded as ``encoder`` reads it (its ``decode_min_side``). Features,
    activations, views, explanations and predictions all decode through here."""
    return load_model_input(path, encoder.decode_min_side)


def model_pixels(encoder: Encoder, path: str) -> np.ndarray:
    """The pixels ``encoder`` sees for the image at ``path`` (after its resize and crop): uint8
    HxWx3."""
    return encoder.preprocess.geometry(encoder_input(encoder, path))


# --------------------------------------------------------------------------- the on-disk cache
class VectorCache:
    """One ``.npy`` file per item under ``folder``; reads check shape, dtype and finiteness."""

    def __init__(
        self, folder: Path, shape: tuple[int, ...], dtype=np.float32, label: dict | None = None
    ) -> None:
        self.folder, self.shape, self.dtype = Path(folder), tuple(shape), np.dtype(dtype)
        self.folder.mkdir(parents=True, exist_ok=True)
        if (
            label and not (self.folder / "model.json").exists()
        ):  # a human-readable label for the hashed name
            (self.folder / "model.json").write_text(json.dumps(label, default=str))

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npy"

    def read(self, key: str) -> np.ndarray | None:
        """A cached array, or None if absent, partial or corrupt."""
        try:
            arr = np.load(self.path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if arr.shape != self.shape or arr.dtype != self.dtype or not np.isfinite(arr).all():
            return None
        return arr

    def write(self, key: str, arr: np.ndarray) -> None:
        path = self.path(key)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(arr, dtype=self.dtype).reshape(self.shape))
        os.replace(tmp, path)

    def read_many(self, keys: list[str], out: np.ndarray) -> list[int]:
        """Fill ``out[i]`` from the cache for each ``keys[i]``; return the indices that must be
        computed."""
        todo = []
        for i, key in enumerate(keys):
            arr = self.read(key)
            if arr is None:
                todo.append(i)
            else:
                out[i] = arr
        return todo


def _stats(n: int, todo: int, seconds: float) -> dict:
    return {
        "cached": n - todo,
        "computed": todo,
        "seconds": round(seconds, 3),
        "seconds_per_item": round(seconds / todo, 4) if todo else None,
    }


# --------------------------------------------------------------------------- image features
class _Images(Dataset):
    def __init__(self, paths: list[str], preprocess, decode_min_side: int | None) -> None:
        self.paths, self.preprocess, self.decode_min_side = paths, preprocess, decode_min_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.preprocess(load_model_input(self.paths[i], self.decode_min_side))


def image_loader(
    paths: list[str], encoder: Encoder, batch_size: int = 16, num_workers: int = 1
) -> DataLoader:
    """Batches of ``encoder``'s preprocessed images (decoded at its ``decode_min_side``), decoded
    in ``num_workers`` background processes."""
    return DataLoader(
        _Images(list(paths), encoder.preprocess, encoder.decode_min_side),
        batch_size=batch_size,
        num_workers=num_workers,
        shuffle=False,
        persistent_workers=False,
        prefetch_factor=2 if num_workers else None,
    )


def cache_dir(encoder: Encoder, features_dir: str | os.PathLike) -> Path:
    """``<features_dir>/<kind>-<identity>-<precision>-s<decode>``: ``encoder.input_key``."""
    return Path(features_dir) / encoder.input_key


def activation_shape(encoder: Encoder, k: int) -> tuple[int, ...]:
    """The shape of one image's activations entering ``encoder``'s last ``k`` blocks."""
    prefix, _ = blocks.split_at(encoder, k)
    with torch.inference_mode():
        zeros = torch.zeros(1, 3, 224, 224, device=encoder.device)
        return tuple(prefix.to(encoder.device)(zeros).shape[1:])


def activation_cache(encoder: Encoder, k: int, activations_dir: str | os.PathLike) -> VectorCache:
    """Float16 activations entering ``encoder``'s last ``k`` blocks, per image (and view)."""
    return VectorCache(
        Path(activations_dir) / f"{encoder.key}-k{k}-{decode_tag(encoder.decode_min_side)}",
        activation_shape(encoder, k),
        np.float16,
        label={**encoders.describe(encoder), "blocks_after": k},
    )


class _Tap:
    """Captures the input of one module during a forward pass (a forward pre-hook)."""

    def __init__(self, module) -> None:
        self.value = None
        self.handle = module.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        self.value = args[0].detach().float().cpu().numpy()

    def close(self) -> None:
        self.handle.remove()


def cached_part(encoder, rows: pd.DataFrame, features_dir, also_activations=None):
    """What the per-image caches already hold for ``rows``: ``(cache, acts, out, shas, todo)``,
    the vector cache, the activation cache (None without ``also_activations``), the vectors read
    into ``out`` and the row positions still to compute (a vector or an activation missing)."""
    cache = VectorCache(
        cache_dir(encoder, features_dir), (encoder.dim,), label=encoders.describe(encoder)
    )
    acts = (
        activation_cache(encoder, also_activations[0], also_activations[1])
        if also_activations
        else None
    )
    out = np.zeros((len(rows), encoder.dim), dtype=np.float32)
    shas = rows["sha256"].tolist()
    todo = cache.read_many(shas, out)
    if acts is not None:
        todo = sorted(
            set(todo) | {i for i, sha in enumerate(shas) if not acts.path(f"{sha}-v0").exists()}
        )
    return cache, acts, out, shas, todo


def read_shards(uri: str, shas: list[str], columns: list[str] | None = None):
    """The rows of the Parquet shards under ``uri`` (a folder or URI, written by
    ``distributed.write_features``) whose ``sha256`` is in ``shas``: a pyarrow table, read with
    a filter (only those rows' data, ``columns`` if given)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pds
    import pyarrow.fs

    fs, root = pyarrow.fs.FileSystem.from_uri(uri)
    if fs.get_file_info(root).type == pyarrow.fs.FileType.NotFound:
        raise FileNotFoundError(f"{uri}: no feature shards")
    files = [
        f.path
        for f in fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=True))
        if f.path.endswith(".parquet")
    ]
    data = pds.dataset(files, format="parquet", filesystem=fs)
    wanted = pc.field("sha256").isin(pyarrow.array(list(dict.fromkeys(shas)), pyarrow.string()))
    return data.to_table(columns=columns, filter=wanted)


def fill_from_shards(
    uri: str,
    rows: pd.DataFrame,
    cache: VectorCache,
    acts: VectorCache | None,
    out: np.ndarray,
    positions: list[int],
) -> tuple[list[tuple[str, str, str]], dict]:
    """The single-machine cache filled from the shards under ``uri``: for each of ``rows``
    (``path``, ``sha256``), its vector into ``cache`` and ``out[positions[k]]`` (and its
    activations into ``acts``). Every sha256 must be in the shards exactly once (else
    ``RuntimeError``). Returns the rows that failed (path, status, detail) and ``processes``
    (decoding and encoding process ids) and ``batches`` read from the shards."""
    columns = ["sha256", "status", "detail", "vector", "decoder_pid", "encoder_pid", "batch"]
    table = read_shards(uri, rows["sha256"].tolist(), columns + (["activations"] * bool(acts)))
    ids = table.column("sha256").to_pylist()
    index = {sha: k for k, sha in enumerate(ids)}
    if len(index) != len(ids):
        raise RuntimeError(f"{uri}: {len(ids) - len(index)} image ids appear twice in the shards")
    missing = sorted(set(rows["sha256"]) - set(index))
    if missing:
        raise RuntimeError(f"{uri}: {len(missing)} images are not in the shards, e.g. {missing[0]}")
    flat = table.column("vector").combine_chunks().flatten().to_numpy()
    vectors = flat.reshape(len(ids), -1).astype(np.float32, copy=False)
    status, detail = table.column("status").to_pylist(), table.column("detail").to_pylist()
    act = None
    if acts is not None:
        act = table.column("activations").combine_chunks().flatten().to_numpy(False)
        act = act.reshape(len(ids), -1)
    failed = []
    for position, path, sha in zip(positions, rows["path"], rows["sha256"]):
        k = index[sha]
        if status[k] != "ok":
            failed.append((path, status[k], detail[k]))
            continue
        out[position] = vectors[k]
        cache.write(sha, vectors[k])
        if acts is not None:
            acts.write(f"{sha}-v0", act[k].reshape(acts.shape))
    pids = zip(table.column("decoder_pid").to_pylist(), table.column("encoder_pid").to_pylist())
    return failed, {
        "processes": sorted(set(pids)),
        "batches": len(set(table.column("batch").to_pylist())),
    }


def extract(
    encoder: Encoder,
    rows: pd.DataFrame,
    features_dir: str | os.PathLike,
    batch_size: int = 16,
    num_workers: int = 1,
    progress: bool = True,
    also_activations: tuple[int, os.PathLike] | None = None,
) -> tuple[np.ndarray, dict]:
    """Features of ``rows`` (columns ``path`` and ``sha256``), in row order, and what it cost.

    Cached vectors are reused; the others are computed in batches and written as they come.
    ``also_activations=(k, activations_dir)`` also caches, from the same forward pass, the
    activations entering the last ``k`` blocks (fine-tuning reuses them).
    Returns ``(features, stats)`` with stats ``cached``, ``computed``, ``seconds``,
    ``seconds_per_item`` (of the computed ones; None when everything came from the cache).
    """
    cache, acts, out, shas, todo = cached_part(encoder, rows, features_dir, also_activations)
    start = time.perf_counter()
    if todo:
        loader = image_loader(rows["path"].iloc[todo].tolist(), encoder, batch_size, num_workers)
        hook = _Tap(blocks.tap(encoder, also_activations[0])) if acts is not None else None
        done = 0
        try:
            with bar(
                total=len(todo), desc=f"{encoder.kind} features", unit="img", disable=not progress
            ) as pbar:
                for batch in loader:
                    vecs = encoder(batch).numpy()
                    for j, vec in enumerate(vecs):
                        i = todo[done + j]
                        out[i] = vec
                        sha = rows["sha256"].iloc[i]
                        cache.write(sha, vec)
                        if hook is not None:
                            acts.write(f"{sha}-v0", hook.value[j])
                    done += len(vecs)
                    pbar.update(len(vecs))
        finally:
            if hook is not None:
                hook.close()
    return out, _stats(len(rows), len(todo), time.perf_counter() - start)


# ------------------------------------------------------------------ activations and augmented views
def activations(
    encoder: Encoder,
    k: int,
    rows: pd.DataFrame,
    activations_dir: str | os.PathLike,
    aug: Augmentation | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """Cached activations entering the last ``k`` blocks: the photos themselves (``aug=None``), or
    ``aug.views`` augmented views of each row (row-major: row 0's views, then row 1's...).

    Returns ``(float16 array, stats)``. Only the frozen prefix runs; a changed augmentation
    setting gives other cache names.
    """
    cache = activation_cache(encoder, k, activations_dir)
    prefix, _ = blocks.split_at(encoder, k)
    views = [0] if aug is None else list(range(1, aug.views + 1))
    keys = [
        (i, v, f"{sha}-v0" if v == 0 else f"{sha}-a{aug.key}-v{v}")
        for i, sha in enumerate(rows["sha256"])
        for v in views
    ]
    out = np.zeros((len(keys), *cache.shape), dtype=np.float16)
    todo = cache.read_many([key for _, _, key in keys], out)
    start = time.perf_counter()
    label = "views" if aug else "activations"
    with bar(
        total=len(todo),
        desc=f"{encoder.kind} {label}",
        unit="view",
        disable=not progress or not todo,
    ) as pbar:
        decoded: dict[int, Image.Image] = {}
        for b in range(0, len(todo), batch_size):
            chunk = todo[b : b + batch_size]
            tensors = []
            for n in chunk:
                i, v, _ = keys[n]
                if i not in decoded:
                    decoded.clear()
                    decoded[i] = encoder_input(encoder, rows["path"].iloc[i])
                image = decoded[i]
                pixels = (
                    encoder.preprocess.geometry(image)
                    if v == 0
                    else make_view(image, aug, rows["sha256"].iloc[i], v)
                )
                tensors.append(encoder.preprocess.normalise(pixels))
            with torch.inference_mode(), runtime.autocast(encoder.device, encoder.precision):
                acts = prefix(torch.stack(tensors).to(encoder.device)).float().cpu().numpy()
            for n, a in zip(chunk, acts):
                out[n] = a
                cache.write(keys[n][2], a)
            pbar.update(len(chunk))
    return out, _stats(len(keys), len(todo), time.perf_counter() - start)


def view_features(
    encoder: Encoder,
    k: int,
    rows: pd.DataFrame,
    activations_dir: str | os.PathLike,
    aug: Augmentation,
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """Frozen features of ``aug.views`` augmented views per row: the cached activations through the
    frozen last ``k`` blocks (views are encoded once, shared with fine-tuning)."""
    acts, stats = activations(encoder, k, rows, activations_dir, aug, progress=progress)
    _, tail = blocks.split_at(encoder, k)
    out = []
    with torch.inference_mode(), runtime.autocast(encoder.device, encoder.precision):
        for b in range(0, len(acts), batch_size):
            out.append(
                tail(
                    torch.from_numpy(acts[b : b + batch_size].astype(np.float32)).to(encoder.device)
                )
                .float()
                .cpu()
            )
    X = torch.cat(out).numpy() if out else np.zeros((0, encoder.dim), np.float32)
    return X, stats


# --------------------------------------------------------------------------- text features
def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def extract_text(
    encoder: TextEncoder,
    texts: list[str],
    features_dir: str | os.PathLike,
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """CLIP text embeddings of ``texts`` (truncated to 77 tokens), cached per text."""
    cache = VectorCache(
        Path(features_dir) / encoder.key, (encoder.dim,), label=encoders.describe(encoder)
    )
    keys = [text_sha(t) for t in texts]
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = cache.read_many(keys, out)
    start = time.perf_counter()
    with bar(
        total=len(todo), desc="clip text features", unit="text", disable=not progress or not todo
    ) as pbar:
        for b in range(0, len(todo), batch_size):
            chunk = todo[b : b + batch_size]
            vecs = encoder([texts[i] for i in chunk]).numpy()
            for i, vec in zip(chunk, vecs):
                out[i] = vec
                cache.write(keys[i], vec)
            pbar.update(len(chunk))
    stats = _stats(len(texts), len(todo), time.perf_counter() - start)
    stats["truncated"] = encoder.truncated(texts)
    return out, stats


# ------------------------------------------------------------------------- classical pixel features
PIXEL_SETTINGS = {
    "side": 128,
    "hsv_bins": [8, 4, 4],
    "hog_orientations": 9,
    "hog_cell": 16,
    "hog_block": 2,
}


def hsv_histogram(hsv: np.ndarray, bins: list[int]) -> np.ndarray:
    """The normalised joint histogram of uint8 HSV pixels (N x 3) over ``bins`` equal bins per
    channel on [0, 256): ``np.histogramdd``'s counts, by one ``np.bincount`` (several times
    faster, which the photo explanations feel: every perturbed copy is one histogram)."""
    index = np.zeros(len(hsv), dtype=np.int64)
    for channel, n in enumerate(bins):
        index = index * n + (hsv[:, channel].astype(np.int64) * n) // 256
    counts = np.bincount(index, minlength=int(np.prod(bins))).astype(np.float64)
    return counts / counts.sum()


def pixel_vector(image: Image.Image, settings: dict = PIXEL_SETTINGS) -> np.ndarray:
    """A pre-deep-learning description of a photo: HSV colour histogram + HOG (scikit-image) of its
    grey levels."""
    from skimage.feature import hog

    side = settings["side"]
    small = image.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    hist = hsv_histogram(np.asarray(small.convert("HSV")).reshape(-1, 3), settings["hsv_bins"])
    grey = np.asarray(small.convert("L"), dtype=np.float32) / 255.0
    shape = hog(
        grey,
        orientations=settings["hog_orientations"],
        pixels_per_cell=(settings["hog_cell"],) * 2,
        cells_per_block=(settings["hog_block"],) * 2,
        feature_vector=True,
    )
    return np.concatenate([hist, shape]).astype(np.float32)


def pixel_dim(settings: dict = PIXEL_SETTINGS) -> int:
    return len(pixel_vector(Image.new("RGB", (settings["side"],) * 2), settings))


class PixelPreprocess:
    """A photo -> the ``side`` x ``side`` pixels ``pixel_vector`` reads (``geometry``, the same
    bilinear resize, so a vector of these pixels equals the cached one), and a batch of such
    pixels -> itself (``normalise_batch``): the classical features need no normalisation."""

    def __init__(self, side: int) -> None:
        self.side = side

    def geometry(self, image: Image.Image) -> np.ndarray:
        small = image.convert("RGB").resize((self.side, self.side), Image.Resampling.BILINEAR)
        return np.asarray(small, dtype=np.uint8)

    def normalise_batch(self, arrays) -> np.ndarray:
        return np.asarray(arrays, dtype=np.uint8)


class PixelFeatures:
    """The classical pixel features (colour histogram + HOG) with an encoder's interface, so the
    photo explanations (LIME, SHAP, deletion) work on ``pixels-classic`` as on CLIP or VGG16:
    ``preprocess.geometry`` gives the pixels the model reads, and calling it on a batch of them
    gives their feature vectors (as a tensor, like an encoder's output)."""

    kind = "pixels"
    name = "HSV colour histogram + HOG (scikit-image), no pretrained weights"
    precision = "float32"
    device = torch.device("cpu")

    def __init__(self, settings: dict = PIXEL_SETTINGS, decode_min_side: int | None = None):
        self.settings, self.decode_min_side = settings, decode_min_side
        self.preprocess = PixelPreprocess(settings["side"])
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
        self.key = f"pixels-{digest}-{decode_tag(decode_min_side)}"

    def __call__(self, pixels: np.ndarray) -> torch.Tensor:
        vectors = [pixel_vector(Image.fromarray(p), self.settings) for p in pixels]
        return torch.from_numpy(np.stack(vectors))


def extract_pixels(
    rows: pd.DataFrame,
    features_dir: str | os.PathLike,
    settings: dict = PIXEL_SETTINGS,
    progress: bool = True,
    decode_min_side: int | None = DECODE_MIN_SIDE,
) -> tuple[np.ndarray, dict]:
    """Colour histogram + HOG features of ``rows`` (``path``, ``sha256``), cached per image (photos
    decoded as the encoders decode them, ``decode_min_side``)."""
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    dim = pixel_dim(settings)
    cache = VectorCache(
        Path(features_dir) / f"pixels-{key}-{decode_tag(decode_min_side)}", (dim,), label=settings
    )
    out = np.zeros((len(rows), dim), dtype=np.float32)
    todo = cache.read_many(rows["sha256"].tolist(), out)
    start = time.perf_counter()
    for i in bar(todo, desc="pixel features", unit="img", disable=not progress or not todo):
        out[i] = pixel_vector(load_model_input(rows["path"].iloc[i], decode_min_side), settings)
        cache.write(rows["sha256"].iloc[i], out[i])
    return out, _stats(len(rows), len(todo), time.perf_counter() - start)


# --------------------------------------------------------------------------- labels
def label_ids(labels: pd.Series, classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    return labels.map(index).to_numpy(dtype=np.int64)


def product_text(rows: pd.DataFrame) -> list[str]:
    """What the text candidates read: product name and description, one string per row."""
    return (rows["product_name"].fillna("") + ". " + rows["description"].fillna("")).tolist()


def example_views(
    encoder: Encoder, rows: pd.DataFrame, aug: Augmentation, n: int = 3
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """The first ``n`` rows as ``encoder`` sees them and their ``aug.views`` augmented views
    (Figure 12)."""
    originals, views = [], []
    for _, row in rows.head(n).iterrows():
        image = encoder_input(encoder, row["path"])
        originals.append(encoder.preprocess.geometry(image))
        views.append([make_view(image, aug, row["sha256"], v) for v in range(1, aug.views + 1)])
    return originals, views


# -------------------------------------------------------------- fidelity to the reference pipelines
DECODE_SIZES = (224, 256, 320, 384, 448, 512, None)  # decode sizes compared (None: full decode)


def reference_input(encoder: Encoder, image: Image.Image) -> torch.Tensor:
    """The reference pipeline's normalised input for a decoded photo, in one call: CLIP, the
    checkpoint's own ``CLIPImageProcessor``; VGG16, torchvision's
    ``VGG16_Weights.IMAGENET1K_V1.transforms()``."""
    if isinstance(encoder.preprocess, encoders.ClipPreprocess):
        return encoder.preprocess.processor(images=image, return_tensors="pt")["pixel_values"][0]
    if isinstance(encoder.preprocess, encoders.TorchvisionPreprocess):
        from torchvision.models import VGG16_Weights

        return VGG16_Weights.IMAGENET1K_V1.transforms()(image)
    raise ValueError(f"no reference pipeline for a {encoder.kind!r} encoder")


def sample_paths(paths: list[str], n: int = 30, largest: int = 6, seed: int = 0) -> list[str]:
    """``n`` photos for the fidelity checks: the ``largest`` biggest files (the ones draft
    decoding shrinks most) and a seeded random draw of the others."""
    paths = list(dict.fromkeys(str(p) for p in paths))
    big = sorted(paths, key=lambda p: -os.path.getsize(p))[: min(largest, n)]
    rest = [p for p in paths if p not in set(big)]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(rest), size=min(n - len(big), len(rest)), replace=False)
    return big + [rest[i] for i in sorted(picks)]


def decode_sweep(
    encoder: Encoder, paths: list[str], sizes=DECODE_SIZES, reference=None
) -> pd.DataFrame:
    """How far ``encoder``'s normalised input, with photos decoded at each of ``sizes``, is from
    the reference pipeline's (``reference_input``) on a full decode, and what decoding costs.

    One row per size (``decode``: the size, or "full"): ``images``, relative L2 distance
    ``||x - x_ref|| / ||x_ref||`` (``rel_l2_median``, ``rel_l2_p95``, ``rel_l2_max``), decode
    time (``decode_ms_mean``, ``decode_ms_median``) and decode + preprocessing time
    (``input_ms_mean``) per photo. ``reference``: another reference (PIL image -> tensor).
    """
    reference = reference or (lambda image: reference_input(encoder, image))
    rel = {s: [] for s in sizes}
    decode = {s: [] for s in sizes}
    total = {s: [] for s in sizes}
    for path in paths:
        ref = reference(load_model_input(path, None)).float()
        for s in sizes:
            start = time.perf_counter()
            image = load_model_input(path, s)
            decoded = time.perf_counter()
            x = encoder.preprocess(image).float()
            done = time.perf_counter()
            rel[s].append(float(torch.linalg.norm(x - ref) / torch.linalg.norm(ref)))
            decode[s].append(decoded - start)
            total[s].append(done - start)
    rows = []
    for s in sizes:
        r = np.asarray(rel[s])
        rows.append(
            {
                "decode": "full" if s is None else int(s),
                "images": len(r),
                "rel_l2_median": round(float(np.median(r)), 5) if len(r) else None,
                "rel_l2_p95": round(float(np.percentile(r, 95)), 5) if len(r) else None,
                "rel_l2_max": round(float(r.max()), 5) if len(r) else None,
                "decode_ms_mean": round(1000 * float(np.mean(decode[s])), 2) if len(r) else None,
                "decode_ms_median": round(1000 * float(np.median(decode[s])), 2)
                if len(r)
                else None,
                "input_ms_mean": round(1000 * float(np.mean(total[s])), 2) if len(r) else None,
            }
        )
    return pd.DataFrame(rows)


def input_difference(encoder: Encoder, paths: list[str]) -> dict:
    """``decode_sweep`` at ``encoder``'s own decode size: how far the run's input is from the
    reference pipeline's on a full decode (notebook 03 records it), with the encoder's kind."""
    row = decode_sweep(encoder, paths, [encoder.decode_min_side]).iloc[0].to_dict()
    return {"kind": encoder.kind, "decode_min_side": encoder.decode_min_side, **row}


def embedding_parity(
    encoder: Encoder, paths: list[str], reference, sizes=(None,), batch_size: int = 16
) -> pd.DataFrame:
    """Cosine between ``encoder``'s embedding of each photo (decoded at each of ``sizes``) and
    ``reference(list of fully decoded PIL images) -> N x dim`` array, the reference pipeline with
    the same weights. One row per size: ``decode``, ``images``, ``cosine_min``,
    ``cosine_median``."""
    paths = list(paths)
    ref = []
    for b in range(0, len(paths), batch_size):
        ref.append(
            np.asarray(reference([load_model_input(p, None) for p in paths[b : b + batch_size]]))
        )
    ref = np.concatenate(ref).astype(np.float64)
    rows = []
    for s in sizes:
        out = []
        for b in range(0, len(paths), batch_size):
            x = torch.stack(
                [encoder.preprocess(load_model_input(p, s)) for p in paths[b : b + batch_size]]
            )
            out.append(encoder(x).numpy())
        X = np.concatenate(out).astype(np.float64)
        cos = (X * ref).sum(1) / (np.linalg.norm(X, axis=1) * np.linalg.norm(ref, axis=1))
        rows.append(
            {
                "decode": "full" if s is None else int(s),
                "images": len(paths),
                "cosine_min": round(float(cos.min()), 6),
                "cosine_median": round(float(np.median(cos)), 6),
            }
        )
    return pd.DataFrame(rows)
