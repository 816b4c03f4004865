"""How far the chosen candidate's probabilities can be trusted, and which products it may
classify alone (notebook 05's automation threshold).

- ``reliability``: the top-label reliability diagram and the expected calibration error (ECE) of
  class probabilities, over ``n_bins`` equal-width bins of the highest probability (empty bins
  are kept, with count 0): ECE = sum over bins of (bin share) x |accuracy - mean probability|.
- ``fit_temperature``: temperature scaling (Guo et al. 2017): one number T, probabilities
  softmax(log p / T), fitted by minimising the negative log-likelihood (NLL) on the validation
  products. ``calibrate`` keeps it only where it lowers the validation NLL and does not raise the
  validation ECE; both are recorded either way.
- ``choose_threshold``: on validation, the lowest highest-probability threshold whose accepted
  products (probability >= threshold) reach ``target`` accuracy with at least ``min_accepted``
  products accepted (``RULE``): the largest share classified automatically that meets the target.
- ``selective``: on test, accuracy among the accepted products and coverage (their share), each
  with a cluster-bootstrap interval (``metrics.bootstrap_shares``, the same group resampling as
  every other interval of the project).
- ``risk_coverage``: accuracy among the k most confident products, for every k (the figure).

The validation products chose the candidate's own settings too (its C or epoch), so validation
probabilities are slightly optimistic; the test split, read once, says what the threshold gives.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from scipy.stats import binomtest

from . import metrics

BINNING = "equal-width"
RULE = (
    "the lowest value of the highest class probability at which the validation products at or "
    "above it reach the target accuracy, with at least the minimum number of them: the largest "
    "share classified automatically that meets the target on validation"
)
EPS = 1e-12


def _check(proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba, y = np.asarray(proba, dtype=float), np.asarray(y)
    if proba.ndim != 2 or len(proba) != len(y) or not len(y):
        raise ValueError(
            f"probabilities of shape (products, classes) and one label per product needed; got "
            f"{proba.shape} and {y.shape}"
        )
    if np.any(proba < -1e-9) or not np.allclose(proba.sum(1), 1, atol=1e-4):
        raise ValueError("each row of probabilities must be non-negative and sum to 1")
    if y.min() < 0 or y.max() >= proba.shape[1]:
        raise ValueError(f"labels must lie in 0..{proba.shape[1] - 1}")
    return proba, y.astype(int)


def nll(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    proba, y = _check(proba, y)
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], EPS, 1))))


def reliability(proba: np.ndarray, y: np.ndarray, n_bins: int = 10) -> dict:
    """Top-label reliability over ``n_bins`` equal-width bins of the highest probability in
    [0, 1]: per bin its edges, product count, mean highest probability and accuracy (None when
    empty), and the expected calibration error (``ece``)."""
    proba, y = _check(proba, y)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    conf, right = proba.max(1), proba.argmax(1) == y
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        inside = which == b
        n = int(inside.sum())
        mean_conf = float(conf[inside].mean()) if n else None
        acc = float(right[inside].mean()) if n else None
        if n:
            ece += n / len(y) * abs(acc - mean_conf)
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": n,
                "confidence": mean_conf,
                "accuracy": acc,
            }
        )
    return {
        "ece": float(ece),
        "bins": bins,
        "n_bins": n_bins,
        "binning": BINNING,
        "products": len(y),
        "accuracy": float(right.mean()),
        "mean_confidence": float(conf.mean()),
    }


def scale(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the probabilities at temperature ``temperature`` (T = 1: unchanged;
    T > 1 softens, T < 1 sharpens; the order of the classes never changes)."""
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    logits = np.log(np.clip(np.asarray(proba, dtype=float), EPS, 1))
    return softmax(logits / temperature, axis=1)


def fit_temperature(proba: np.ndarray, y: np.ndarray, bounds=(0.05, 20.0)) -> float:
    """The temperature minimising the NLL of ``y`` under ``scale(proba, T)`` (bounded search on
    log T)."""
    proba, y = _check(proba, y)
    logits = np.log(np.clip(proba, EPS, 1))
    rows = np.arange(len(y))

    def loss(log_t: float) -> float:
        return float(-np.mean(log_softmax(logits / np.exp(log_t), axis=1)[rows, y]))

    res = minimize_scalar(loss, bounds=np.log(bounds), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


def calibrate(proba_val: np.ndarray, y_val: np.ndarray, n_bins: int = 10) -> dict:
    """Temperature scaling fitted on validation, and whether it is kept: the validation NLL and
    ECE before (``raw``) and after (``scaled``); ``kept`` when the NLL is lower and the ECE is
    not higher; ``temperature`` is the one applied (1.0 when not kept)."""
    t = fit_temperature(proba_val, y_val)
    scaled = scale(proba_val, t)
    raw_nll, scaled_nll = nll(proba_val, y_val), nll(scaled, y_val)
    raw_ece = reliability(proba_val, y_val, n_bins)["ece"]
    scaled_ece = reliability(scaled, y_val, n_bins)["ece"]
    kept = scaled_nll < raw_nll - 1e-9 and scaled_ece <= raw_ece + 1e-12
    return {
        "fitted_temperature": t,
        "temperature": t if kept else 1.0,
        "kept": bool(kept),
        "rule": "kept where it lowers the validation NLL and does not raise the validation ECE",
        "validation": {
            "raw": {"nll": raw_nll, "ece": raw_ece},
            "scaled": {"nll": scaled_nll, "ece": scaled_ece},
        },
    }


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float, min_accepted: int
) -> dict:
    """``RULE`` on validation: ``threshold`` (None when no threshold meets the target with at
    least ``min_accepted`` products), the products ``accepted`` and their ``accuracy``, the
    ``coverage``, and the exact (Clopper-Pearson) 95% interval of that accuracy."""
    conf, ok = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    if len(conf) != len(ok) or not len(conf):
        raise ValueError("one confidence and one correctness flag per product needed")
    if not 0 < target <= 1:
        raise ValueError(f"the target accuracy must lie in (0, 1], got {target}")
    if min_accepted < 1:
        raise ValueError(f"min_accepted must be at least 1, got {min_accepted}")
    order = np.argsort(-conf, kind="stable")
    conf_sorted, right = conf[order], np.cumsum(ok[order])
    best = None
    for k in range(len(conf_sorted), 0, -1):  # largest coverage first
        if k < len(conf_sorted) and conf_sorted[k] == conf_sorted[k - 1]:
            continue  # a threshold accepts every product tied at it: only whole ties
        if k < min_accepted:
            break
        if right[k - 1] / k >= target - 1e-12:
            best = k
            break
    out = {
        "target": float(target),
        "min_accepted": int(min_accepted),
        "rule": RULE,
        "products": len(conf),
    }
    if best is None:
        return {**out, "threshold": None, "accepted": 0, "coverage": 0.0, "accuracy": None}
    n_right = int(right[best - 1])
    ci = binomtest(n_right, best).proportion_ci(0.95, method="exact")
    return {
        **out,
        "threshold": float(conf_sorted[best - 1]),
        "accepted": int(best),
        "errors": int(best - n_right),
        "coverage": best / len(conf),
        "accuracy": n_right / best,
        "accuracy_low": float(ci.low),
        "accuracy_high": float(ci.high),
        "accuracy_interval": "Clopper-Pearson (products taken as independent)",
    }


def selective(
    confidence: np.ndarray,
    correct: np.ndarray,
    threshold: float | None,
    groups: np.ndarray | None,
    n_boot: int,
    seed: int = 0,
) -> dict:
    """On the test products: how many are ``accepted`` at ``threshold`` (None: none), their
    ``accuracy`` and the ``coverage``, each with a cluster-bootstrap interval (exact binomial,
    Clopper-Pearson, where every resample agrees, e.g. no accepted product wrong: as
    ``metrics.compare``), and how many go to a person (``to_person``) and how many accepted are
    wrong (``errors``)."""
    conf, ok = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    accepted = conf >= threshold if threshold is not None else np.zeros(len(conf), bool)
    n_acc = int(accepted.sum())
    dist = metrics.bootstrap_shares(
        {"coverage": (accepted, np.ones(len(conf), bool)), "accuracy": (ok & accepted, accepted)},
        groups,
        n_boot,
        seed,
    )
    out = {
        "threshold": threshold,
        "products": len(conf),
        "accepted": n_acc,
        "to_person": len(conf) - n_acc,
        "errors": int((accepted & ~ok).sum()),
        "coverage": n_acc / len(conf),
        "accuracy": float(ok[accepted].mean()) if n_acc else None,
    }
    counts = {"coverage": (n_acc, len(conf)), "accuracy": (int((ok & accepted).sum()), n_acc)}
    for key in ("coverage", "accuracy"):
        values = dist[key][~np.isnan(dist[key])]
        lo, hi = metrics.percentile(values) if len(values) and out[key] is not None else (None,) * 2
        out[f"{key}_interval"] = "cluster bootstrap"
        if lo is not None and lo == hi:  # every resample agrees (all right, all accepted)
            ci = binomtest(*counts[key]).proportion_ci(metrics.LEVEL, method="exact")
            lo, hi = float(ci.low), float(ci.high)
            out[f"{key}_interval"] = "Clopper-Pearson (the bootstrap is degenerate)"
        out[f"{key}_low"], out[f"{key}_high"] = lo, hi
    return out


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> dict:
    """Accuracy among the k most confident products against coverage k / n, for k = 1..n (ties
    taken in the order given); ``coverage`` and ``accuracy`` lists."""
    conf, ok = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    order = np.argsort(-conf, kind="stable")
    k = np.arange(1, len(conf) + 1)
    return {
        "coverage": (k / len(conf)).round(5).tolist(),
        "accuracy": (np.cumsum(ok[order]) / k).round(5).tolist(),
    }
