"""What predictions cost and whether precision changes them: every candidate's probabilities from
cached features, the measured time of one whole prediction from the files, and the heads' agreement
under float32 and bfloat16 features.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..core import timing


# --------------------------------------------------------------------------- costs
def time_inference(
    predict: Callable[[pd.DataFrame], np.ndarray], rows: pd.DataFrame, repeats: int = 3
) -> dict:
    """Seconds per item of ``predict(rows)`` (decode/vectorise, encoder, classifier): one warm-up
    call, then ``repeats`` timed calls; the median is the number to quote."""
    predict(rows.head(min(len(rows), 2)))  # warm-up: lazy init, caches, first-call costs
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        predict(rows)
        times.append((time.perf_counter() - start) / max(len(rows), 1))
    return {
        "median_s_per_item": float(np.median(times)),
        "runs_s_per_item": [round(t, 5) for t in times],
        "items": len(rows),
        "repeats": len(times),
    }


# --------------------------------------------------------------------------- the panel on the test
# split
def panel_predictions(panel, fitted: dict, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Class probabilities of every fitted candidate on ``rows`` (cached features)."""
    out = {}
    for name, f in fitted.items():
        with timing.step(f"predict {name}"):
            out[name] = f.predict_proba(panel, rows)
    return out


def panel_costs(panel, fitted: dict, rows: pd.DataFrame, repeats: int = 3) -> dict:
    """Per candidate: measured seconds per product of the whole prediction from files and text
    (decode, preprocess, encoders, classifier; no cache), and what was trained."""
    out = {}
    for name, f in fitted.items():
        with timing.step(f"timing runs {name}"):
            measured = time_inference(lambda r, f=f: f.infer(panel, r), rows, repeats)
        devices = {str(e.device) for e in panel.loaded().values()} or {"cpu"}
        precisions = {e.precision for e in panel.loaded().values()} or {"float32"}
        out[name] = {
            "inference_s_per_item": measured["median_s_per_item"],
            "runs_s_per_item": measured["runs_s_per_item"],
            "items": measured["items"],
            "repeats": measured["repeats"],
            "batch_size": panel.settings.batch_size,
            "device": ", ".join(sorted(devices)),
            "precision": ", ".join(sorted(precisions)),
            "trained_parameters": f.parameters(),
            "train_seconds": f.info.get("train_seconds"),
            "encoder_parameters": {k: panel.encoder(k).n_parameters() for k in f.encoders},
        }
    return out


def precision_agreement(panel, fitted: dict, rows: pd.DataFrame) -> dict:
    """Agreement of each image candidate's test predictions under float32 and bfloat16 features,
    when both precisions' features of every row are in the cache (nothing is computed here)."""
    from dataclasses import replace

    from ..models.features import VectorCache, cache_dir

    out = {}
    for name, f in fitted.items():
        c = f.candidate
        if (
            c.family not in ("head", "probe", "zeroshot")
            or len(c.inputs) != 1
            or not c.inputs[0].endswith("-image")
        ):
            continue
        encoder = panel.encoder(c.inputs[0].split("-")[0])
        preds = {}
        for precision in ("float32", "bfloat16"):
            cache = VectorCache(
                cache_dir(replace(encoder, precision=precision), panel.layout.features),
                (encoder.dim,),
            )
            with timing.step("precision agreement"):
                vecs = [cache.read(sha) for sha in rows["sha256"]]
            if any(v is None for v in vecs):
                break
            preds[precision] = f.predict_vectors(np.stack(vecs)).argmax(1)
        if len(preds) == 2:
            out[name] = {
                "images": len(rows),
                "agree": int((preds["float32"] == preds["bfloat16"]).sum()),
                "rate": float(np.mean(preds["float32"] == preds["bfloat16"])),
            }
    return out
