"""Test-set metrics and their uncertainty, and paired comparisons.

- Metrics come from scikit-learn (``labels=`` every class, so macro-F1 counts a class never
  predicted as 0, in the point estimate and in every resample alike).
- Intervals: percentile bootstrap that resamples near-duplicate *groups* (cluster bootstrap): the
  split keeps groups whole, so images of one group are not independent evidence.
  ``intervals_method`` says how every interval was made; it goes into ``metrics.json``.
- Paired comparisons on the same test images: McNemar's exact test (binomial test on the
  discordant images; it assumes independent images) and a paired cluster-bootstrap interval of
  the accuracy difference (which does not). Each family of tests also gets Holm-adjusted p-values
  (``holm``), stored beside the raw ones as ``holm_p``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from ..core import timing

LEVEL = 0.95


def intervals_method(n_boot: int, level: float = LEVEL, clustered: bool = True) -> dict:
    """How the intervals of a section were made (recorded beside them in ``metrics.json``)."""
    return {
        "method": "percentile bootstrap over near-duplicate groups (cluster bootstrap)"
        if clustered
        else "percentile bootstrap over images",
        "level": level,
        "resamples": n_boot,
        "paired_test": "McNemar's exact test (binomial on discordant images; assumes independent "
        "images)",
        "paired_interval": "paired cluster bootstrap of the accuracy difference (same resampled "
        "groups for both)",
    }


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support, and the confusion matrix."""
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "per_class": pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support}, index=classes
        )
        .round(4)
        .to_dict("index"),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


# --------------------------------------------------------------------------- the bootstrap
def resample_weights(
    groups: np.ndarray | None, n: int, n_boot: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(W, group_of_row)``: how many times each group is drawn in each of ``n_boot`` resamples.

    ``groups=None`` treats every image as its own group (the plain image bootstrap).
    """
    codes = np.arange(n) if groups is None else pd.factorize(np.asarray(groups))[0]
    n_groups = int(codes.max()) + 1 if n else 0
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, max(n_groups, 1), size=(n_boot, n_groups))
    W = np.zeros((n_boot, n_groups), dtype=np.int32)
    np.add.at(W, (np.repeat(np.arange(n_boot), n_groups), draws.ravel()), 1)
    return W, codes


def _confusions(
    y_true: np.ndarray, y_pred: np.ndarray, codes: np.ndarray, n_classes: int
) -> np.ndarray:
    """Per-group confusion matrices, flattened: n_groups x (C*C)."""
    out = np.zeros((int(codes.max()) + 1, n_classes * n_classes))
    np.add.at(out, (codes, np.asarray(y_true) * n_classes + np.asarray(y_pred)), 1)
    return out


def _scores(conf: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 (zero_division=0, every class) of each row of flattened confusion
    matrices."""
    cm = conf.reshape(-1, n_classes, n_classes)
    tp = np.einsum("bii->bi", cm)
    total = cm.sum(axis=(1, 2))
    acc = tp.sum(axis=1) / np.maximum(total, 1)
    denom = cm.sum(axis=1) + cm.sum(axis=2)  # (TP+FN) + (TP+FP)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return acc, f1.mean(axis=1)


def bootstrap(
    y_true: np.ndarray,
    preds: dict[str, np.ndarray],
    n_classes: int,
    groups: np.ndarray | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap distributions of accuracy and macro-F1 of each model, on the same resamples."""
    with timing.step("bootstrap"):
        W, codes = resample_weights(groups, len(y_true), n_boot, seed)
        out = {}
        for name, pred in preds.items():
            acc, f1 = _scores(W @ _confusions(y_true, pred, codes, n_classes), n_classes)
            out[name] = {"accuracy": acc, "macro_f1": f1}
    return out


def bootstrap_shares(
    shares: dict[str, tuple[np.ndarray, np.ndarray]],
    groups: np.ndarray | None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Bootstrap distributions of shares ``sum(numerator) / sum(denominator)`` (``shares[name] =
    (numerator flags, denominator flags)``, one per product), on the same group resamples as
    ``bootstrap`` (the coverage of a threshold, the accuracy among the products it accepts). A
    resample with an empty denominator gives NaN."""
    names = list(shares)
    if not names:
        return {}
    n = len(shares[names[0]][0])
    with timing.step("bootstrap"):
        W, codes = resample_weights(groups, n, n_boot, seed)
        n_groups = W.shape[1]
        out = {}
        for name, (num, den) in shares.items():
            if len(num) != n or len(den) != n:
                raise ValueError(f"share {name!r}: one numerator and denominator flag per product")
            per_num = np.bincount(codes, weights=np.asarray(num, float), minlength=n_groups)
            per_den = np.bincount(codes, weights=np.asarray(den, float), minlength=n_groups)
            top, bottom = W @ per_num, W @ per_den
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)
    return out


def percentile(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metric: str = "accuracy",
    n_classes: int | None = None,
    groups: np.ndarray | None = None,
    n_boot: int = 2000,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``metric`` (``accuracy`` or ``macro_f1``), resampling ``groups`` (or
    images)."""
    n_classes = n_classes or int(max(np.max(y_true), np.max(y_pred))) + 1
    dist = bootstrap(y_true, {"m": y_pred}, n_classes, groups, n_boot, seed)["m"][metric]
    return percentile(dist, level)


def mcnemar(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test: do models A and B err on the same test images more than chance allows?

    ``b``: A right and B wrong; ``c``: A wrong and B right. Under H0 (equal accuracy) b ~ Bin(b+c,
    1/2).
    Assumes the test images are independent (near-duplicate groups make that optimistic).
    """
    a_ok, b_ok = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(a_ok & ~b_ok)), int(np.sum(~a_ok & b_ok))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return {
        "a_right_b_wrong": b,
        "a_wrong_b_right": c,
        "both_right": int(np.sum(a_ok & b_ok)),
        "both_wrong": int(np.sum(~a_ok & ~b_ok)),
        "p_value": float(p),
    }


def holm(pvalues: dict) -> dict:
    """Holm's step-down adjustment of a family of p-values (``{name: p}``), same keys.

    Sorted ascending, the i-th smallest of m is multiplied by (m - i + 1), made non-decreasing
    along that order, and capped at 1. Controls the family-wise error rate without assuming the
    tests are independent; a test reads "significant at 5%" only if its adjusted p is below 0.05.
    """
    names = sorted(pvalues, key=lambda n: (pvalues[n], str(n)))
    m, out, running = len(names), {}, 0.0
    for i, name in enumerate(names):
        running = max(running, min(1.0, (m - i) * float(pvalues[name])))
        out[name] = running
    return {n: out[n] for n in pvalues}


def add_holm(paired: dict) -> dict:
    """Add ``holm_p`` (and ``holm_tests``, the family size) to each ``paired[name]["mcnemar"]``:
    the family is every test in ``paired``. Returns ``paired``."""
    adjusted = holm({n: p["mcnemar"]["p_value"] for n, p in paired.items()})
    for name, p in paired.items():
        p["mcnemar"]["holm_p"] = adjusted[name]
        p["mcnemar"]["holm_tests"] = len(adjusted)
    return paired


def compare(
    y_true: np.ndarray,
    predictions: dict[str, np.ndarray],
    classes: list[str],
    groups: np.ndarray | None,
    reference: str | None = None,
    n_boot: int = 2000,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict, dict]:
    """Every model on the same test images: ``(table, details, paired)``.

    ``table``: accuracy and macro-F1 with cluster-bootstrap intervals; ``details``: per-class scores
    and confusion; ``paired[name]``: McNemar's test against ``reference`` (``p_value`` raw,
    ``holm_p`` Holm-adjusted over every candidate tested against ``reference`` here) and the paired
    interval of the accuracy difference (name minus reference).
    """
    n_classes = len(classes)
    dists = bootstrap(y_true, predictions, n_classes, groups, n_boot, seed)
    rows, details, paired = {}, {}, {}
    for name, pred in predictions.items():
        m = classification_metrics(y_true, pred, classes)
        acc_ci, f1_ci = (
            percentile(dists[name]["accuracy"], level),
            percentile(dists[name]["macro_f1"], level),
        )
        exact = acc_ci[0] == acc_ci[1]  # every resample agrees (0% or 100%): no interval at all
        if exact:
            right = int(np.sum(np.asarray(pred) == np.asarray(y_true)))
            ci = binomtest(right, len(y_true)).proportion_ci(level, method="exact")
            acc_ci = (float(ci.low), float(ci.high))
        rows[name] = {
            "accuracy": m["accuracy"],
            "accuracy_low": acc_ci[0],
            "accuracy_high": acc_ci[1],
            "accuracy_interval": "Clopper-Pearson (the bootstrap is degenerate)"
            if exact
            else "cluster bootstrap",
            "macro_f1": m["macro_f1"],
            "macro_f1_low": f1_ci[0],
            "macro_f1_high": f1_ci[1],
            "n_test": len(y_true),
        }
        details[name] = m
        if reference and reference in predictions and name != reference:
            diff = dists[name]["accuracy"] - dists[reference]["accuracy"]
            lo, hi = percentile(diff, level)
            paired[name] = {
                "vs": reference,
                "mcnemar": mcnemar(y_true, pred, predictions[reference]),
                "accuracy_difference": m["accuracy"]
                - float(np.mean(predictions[reference] == y_true)),
                "difference_low": lo,
                "difference_high": hi,
            }
    return pd.DataFrame(rows).T, details, add_holm(paired)


# --------------------------------------------------------------------------- repeated splits
def wins_ties_losses(accuracies: pd.DataFrame, reference: str) -> dict[str, dict]:
    """Per model, on how many splits it is ahead of, level with, or behind ``reference``."""
    out = {}
    for name in accuracies.columns:
        if name == reference:
            continue
        d = accuracies[name] - accuracies[reference]
        out[name] = {
            "ahead": int((d > 1e-12).sum()),
            "tied": int((d.abs() <= 1e-12).sum()),
            "behind": int((d < -1e-12).sum()),
            "splits": int(d.notna().sum()),
        }
    return out


def log_loss_stats(
    name: str, proba: np.ndarray, y_true: np.ndarray, confident: float = 0.1
) -> dict:
    """Per-image cross-entropy of the true class (the loss figure) and its summary; confident
    errors give the true class less than ``confident``."""
    losses = -np.log(np.clip(proba[np.arange(len(y_true)), y_true], 1e-12, 1))
    return {
        "candidate": name,
        "images": len(losses),
        "mean": float(losses.mean()),
        "median": float(np.median(losses)),
        "confident_threshold": confident,
        "confident_errors": int((losses > -np.log(confident)).sum()),
        "per_image": losses.round(5).tolist(),
    }
