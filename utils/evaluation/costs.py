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


def precision_agreement(
    panel, fitted: dict, rows: pd.DataFrame, checked: dict[str, list[str]] | None = None
) -> dict:
    """Agreement of each image candidate's test predictions under float32 and bfloat16 features,
    on the rows notebook 03's precision check encoded at both precisions (nothing is computed
    here).

    ``checked``: ``{encoder kind: sha256 of the checked rows}`` (``precision_check``'s ``rows``);
    only the rows of ``rows`` in it are compared (an encoder absent from it: none). Without it,
    the rows of ``rows`` whose features at both precisions are cached. Returns per candidate
    ``images`` (rows compared), ``agree``, ``rate``, ``checked`` (rows the check sampled) and
    ``test_rows`` (``len(rows)``); candidates with no row compared are left out."""
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
        kind = c.inputs[0].split("-")[0]
        encoder = panel.encoder(kind)
        shas = rows["sha256"].tolist()
        if checked is not None:
            sample = set(checked.get(kind) or [])
            shas = [sha for sha in shas if sha in sample]
        caches = [
            VectorCache(
                cache_dir(replace(encoder, precision=p), panel.layout.features), (encoder.dim,)
            )
            for p in ("float32", "bfloat16")
        ]
        with timing.step("precision agreement"):
            vecs = {sha: [cache.read(sha) for cache in caches] for sha in dict.fromkeys(shas)}
        both = [sha for sha in shas if all(v is not None for v in vecs[sha])]
        if not both:
            continue
        f32, b16 = (
            f.predict_vectors(np.stack([vecs[sha][j] for sha in both])).argmax(1) for j in (0, 1)
        )
        out[name] = {
            "images": len(both),
            "agree": int((f32 == b16).sum()),
            "rate": float(np.mean(f32 == b16)),
            "checked": len(sample) if checked is not None else len(both),
            "test_rows": len(rows),
        }
    return out
