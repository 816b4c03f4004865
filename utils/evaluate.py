"""Test-set metrics, their uncertainty, a paired test, repeated splits, and the metrics file.

Metrics come from scikit-learn; confidence intervals from a bootstrap over test images; the paired
comparison is McNemar's exact test (binomial test on the discordant pairs, scipy).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .features import image_loader, label_ids
from .split import make_split
from .train import fit, predict_proba


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support, and the confusion matrix."""
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                                  index=classes).round(4).to_dict("index"),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def bootstrap_ci(y_true: np.ndarray, y_pred: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float],
                 n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over resampled test images."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    idx = rng.integers(0, n, size=(n_boot, n))
    values = np.array([metric(y_true[i], y_pred[i]) for i in idx])
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def mcnemar(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test: do models A and B err on the same test images more than chance allows?

    ``b``: A right and B wrong; ``c``: A wrong and B right. Under H0 (equal accuracy) b ~ Bin(b+c, 1/2).
    """
    a_ok, b_ok = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(a_ok & ~b_ok)), int(np.sum(~a_ok & b_ok))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return {"a_right_b_wrong": b, "a_wrong_b_right": c, "both_right": int(np.sum(a_ok & b_ok)),
            "both_wrong": int(np.sum(~a_ok & ~b_ok)), "p_value": float(p)}


def summarize_repeats(accuracies: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, min and max of test accuracy per model over repeated splits."""
    return accuracies.agg(["mean", "std", "min", "max"]).T.round(4)


# --------------------------------------------------------------------------- metrics file
def record(path: str | os.PathLike, section: str, values: dict) -> dict:
    """Write ``values`` under ``section`` in the JSON metrics file (other sections are kept)."""
    path = Path(path)
    metrics = json.loads(path.read_text()) if path.exists() else {}
    metrics[section] = values
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2, default=_jsonable))
    os.replace(tmp, path)
    return metrics


def load_metrics(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the notebooks that write it first.")
    return json.loads(path.read_text())


def _jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


# --------------------------------------------------------------------------- repeated splits
def repeated_splits(rows: pd.DataFrame, features: dict[str, np.ndarray], configs: dict, seeds: list[int],
                    **split_kw) -> pd.DataFrame:
    """Test accuracy of each model over several stratified, group-aware splits of the same images.

    ``features[name]`` holds the cached features of ``rows`` (same order) and ``configs[name]`` the
    ``HeadConfig`` to retrain with; every split reselects its epoch on its own validation part.
    """
    classes = sorted(rows["label"].unique())
    y = label_ids(rows["label"], classes)
    out = []
    for seed in seeds:
        parts = make_split(rows, seed=seed, **split_kw)["split"].to_numpy()
        idx = {name: np.flatnonzero(parts == name) for name in ("train", "val", "test")}
        accuracies = {"seed": seed}
        for name, X in features.items():
            result = fit(replace(configs[name], seed=seed), (X[idx["train"]], y[idx["train"]]),
                         (X[idx["val"]], y[idx["val"]]))
            pred = predict_proba(result.head, X[idx["test"]]).argmax(1)
            accuracies[name] = accuracy(y[idx["test"]], pred)
        out.append(accuracies)
    return pd.DataFrame(out).set_index("seed")


def time_inference(encoder, head, paths: list[str], batch_size: int = 16, repeats: int = 1) -> float:
    """Seconds per image for the whole pipeline: decode, preprocess, encoder forward, head."""
    start = time.perf_counter()
    for _ in range(repeats):
        for batch in image_loader(paths, encoder.preprocess, batch_size, num_workers=0):
            with torch.inference_mode():
                head(encoder(batch))
    return (time.perf_counter() - start) / (repeats * len(paths))


# --------------------------------------------------------------------------- comparison
def compare(y_true: np.ndarray, predictions: dict[str, np.ndarray], classes: list[str], n_boot: int = 2000,
            seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Per-model metrics with bootstrap intervals: ``(table, details)``; details keep per-class and confusion."""
    rows, details = {}, {}
    for name, pred in predictions.items():
        m = classification_metrics(y_true, pred, classes)
        acc_ci = bootstrap_ci(y_true, pred, accuracy, n_boot, seed=seed)
        f1_ci = bootstrap_ci(y_true, pred, macro_f1, n_boot, seed=seed)
        rows[name] = {"accuracy": m["accuracy"], "accuracy_low": acc_ci[0], "accuracy_high": acc_ci[1],
                      "macro_f1": m["macro_f1"], "macro_f1_low": f1_ci[0], "macro_f1_high": f1_ci[1],
                      "n_test": len(y_true)}
        details[name] = m
    return pd.DataFrame(rows).T, details


def conclusion(results: dict) -> str:
    """The note's conclusion paragraph, every number taken from ``results`` (the evaluation section)."""
    t, mc, rep, cost = results["table"], results["mcnemar"], results["repeats"], results["costs"]
    a, b = results["models"]
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    better = a if t[a]["accuracy"] > t[b]["accuracy"] else b
    worse = b if better == a else a
    significant = mc["p_value"] < 0.05
    text = (
        f"On the {int(t[a]['n_test'])} test images, {a} reaches {pct(t[a]['accuracy'])} accuracy "
        f"(95% CI {pct(t[a]['accuracy_low'])}–{pct(t[a]['accuracy_high'])}, macro-F1 {t[a]['macro_f1']:.3f}) "
        f"and {b} {pct(t[b]['accuracy'])} ({pct(t[b]['accuracy_low'])}–{pct(t[b]['accuracy_high'])}, "
        f"macro-F1 {t[b]['macro_f1']:.3f}). "
        f"{a} is right where {b} is wrong on {mc['a_right_b_wrong']} images, and the reverse happens on "
        f"{mc['a_wrong_b_right']}; McNemar's exact test gives p = {mc['p_value']:.3g}, so the difference "
        f"{'is' if significant else 'is not'} significant at the 5% level. "
        f"Over {rep['n_splits']} repeated group-aware splits, test accuracy is "
        f"{pct(rep[a]['mean'])} ± {pct(rep[a]['std'])} for {a} and {pct(rep[b]['mean'])} ± {pct(rep[b]['std'])} "
        f"for {b} ({a} ahead on {rep['a_ahead']} of {rep['n_splits']} splits). "
        f"Per image, the full pipeline takes {1000 * cost[a]['inference_s_per_image']:.0f} ms with {a} and "
        f"{1000 * cost[b]['inference_s_per_image']:.0f} ms with {b} on {cost[a]['device']}; "
        f"the frozen encoders hold {cost[a]['encoder_parameters']:,} and "
        f"{cost[b]['encoder_parameters']:,} parameters, the trained heads {cost[a]['head_parameters']:,} and "
        f"{cost[b]['head_parameters']:,}."
    )
    if significant:
        text += f" On this data, {better} beats {worse}."
    else:
        text += f" On this data, the test split cannot tell {better} and {worse} apart."
    if results.get("profile") == "smoke":
        text = ("**Smoke profile: tiny random encoders on a few images; these numbers test the pipeline and "
                "say nothing about CLIP or VGG16.** " + text)
    return text
