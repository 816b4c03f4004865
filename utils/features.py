"""Encoder features, computed once and cached on disk.

The cache is ``<features_dir>/<kind>-<model identity>-s<decode size>/<image sha256>.npy``: a changed model gets a
new folder, a changed image a new file, so only what changed is recomputed. Files are written
atomically (temporary name, then rename) and checked when read (shape, dtype, finite values); a
partial or corrupt file is recomputed, never used. Images stream through a ``DataLoader`` in
batches (decoding in worker processes overlaps the forward pass), so memory stays flat.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .data import load_image
from .models import Encoder
from .split import Split

# Images are decoded (JPEG draft mode) no smaller than this on either side before the model's own
# preprocessing resizes them (VGG: shorter side 256; CLIP: 224). Part of the cache key.
INPUT_MIN_SIDE = 256


def load_model_input(path: str) -> Image.Image:
    """The decoded image handed to an encoder's preprocessing."""
    return load_image(path, max_side=None, min_side=INPUT_MIN_SIDE)


class _Images(Dataset):
    def __init__(self, paths: list[str], preprocess) -> None:
        self.paths, self.preprocess = paths, preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.preprocess(load_model_input(self.paths[i]))


def image_loader(paths: list[str], preprocess, batch_size: int = 16, num_workers: int = 1) -> DataLoader:
    """Batches of preprocessed images, decoded in ``num_workers`` background processes."""
    return DataLoader(_Images(list(paths), preprocess), batch_size=batch_size, num_workers=num_workers,
                      shuffle=False, persistent_workers=False, prefetch_factor=2 if num_workers else None)


def cache_dir(encoder: Encoder, features_dir: str | os.PathLike) -> Path:
    return Path(features_dir) / f"{encoder.kind}-{encoder.identity}-s{INPUT_MIN_SIDE}"


def _read(path: Path, dim: int) -> np.ndarray | None:
    """A cached vector, or None if absent, partial or corrupt."""
    try:
        vec = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if vec.shape != (dim,) or vec.dtype != np.float32 or not np.isfinite(vec).all():
        return None
    return vec


def _write(path: Path, vec: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, vec.astype(np.float32))
    os.replace(tmp, path)


def extract(encoder: Encoder, rows: pd.DataFrame, features_dir: str | os.PathLike, batch_size: int = 16,
            num_workers: int = 1, progress: bool = True) -> tuple[np.ndarray, dict]:
    """Features of ``rows`` (columns ``path`` and ``sha256``), in row order, and what it cost.

    Cached vectors are reused; the others are computed in batches and written as they come.
    Returns ``(features, stats)`` with stats: ``cached``, ``computed``, ``seconds``,
    ``seconds_per_image`` (of the computed ones; None when everything came from the cache).
    """
    folder = cache_dir(encoder, features_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "model.json").exists():          # a human-readable label for the hashed folder name
        (folder / "model.json").write_text(json.dumps({"kind": encoder.kind, "name": encoder.name,
                                                        "identity": encoder.identity, "dim": encoder.dim}))
    out = np.zeros((len(rows), encoder.dim), dtype=np.float32)
    todo = []
    for i, sha in enumerate(rows["sha256"]):
        vec = _read(folder / f"{sha}.npy", encoder.dim)
        if vec is None:
            todo.append(i)
        else:
            out[i] = vec
    start = time.perf_counter()
    if todo:
        paths = rows["path"].iloc[todo].tolist()
        loader = image_loader(paths, encoder.preprocess, batch_size, num_workers)
        done = 0
        with tqdm(total=len(todo), desc=f"{encoder.kind} features", unit="img", disable=not progress) as bar:
            for batch in loader:
                vecs = encoder(batch).numpy()
                for j, vec in enumerate(vecs):
                    i = todo[done + j]
                    out[i] = vec
                    _write(folder / f"{rows['sha256'].iloc[i]}.npy", vec)
                done += len(vecs)
                bar.update(len(vecs))
    seconds = time.perf_counter() - start
    stats = {"cached": len(rows) - len(todo), "computed": len(todo), "seconds": round(seconds, 3),
             "seconds_per_image": round(seconds / len(todo), 4) if todo else None}
    return out, stats


def label_ids(labels: pd.Series, classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    return labels.map(index).to_numpy(dtype=np.int64)


def train_val(encoder: Encoder, split: Split, features_dir: str | os.PathLike, **kw) -> dict:
    """``{"train": (X, y), "val": (X, y)}`` for model fitting and selection; no test rows here."""
    classes = split.labels()
    return {name: (extract(encoder, part, features_dir, progress=False, **kw)[0], label_ids(part["label"], classes))
            for name, part in (("train", split.train), ("val", split.val))}


def final_test(encoder: Encoder, split: Split, features_dir: str | os.PathLike, **kw) -> tuple[np.ndarray, np.ndarray]:
    """Test features and labels: for the final evaluation only (reads the locked test rows)."""
    test = split.test_for_final_evaluation()
    return extract(encoder, test, features_dir, progress=False, **kw)[0], label_ids(test["label"], split.labels())
