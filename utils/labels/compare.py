"""What the simulated labelling campaigns measured, strategy against random, seed by seed.

- ``crossing``: the labels at which one seed's learning curve first reaches a target accuracy,
  interpolated linearly between the two rounds around it (NaN, censored, where it never does);
- ``area``: the area under one learning curve over the schedule's label range, divided by that
  range (the normalised area under the learning curve that active-learning benchmarks report: the
  mean accuracy over the campaign, between 0 and 1, no threshold);
- ``per_seed``: both, per candidate, start, strategy and seed;
- ``sign_flip``: the exact two-sided sign-flip permutation test of a mean of paired differences
  (every one of the 2^n sign patterns counted, by meeting in the middle), and the smallest p-value
  it can give with n pairs;
- ``holm``: Holm's step-down adjustment across the comparisons of one candidate;
- ``paired``: every strategy against random on the same start draws (seed by seed): the log-ratio
  of the labels each needs to reach the target and the difference of their areas, each tested
  exactly and Holm-adjusted across strategies; a verdict ("fewer"/"more" labels, "higher"/"lower"
  area) only where the adjusted p-value is below the level, else "not resolved";
- ``choose``: the strategy with the largest mean area on the held-out fold's curves (never the
  test split's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import strategies as S

KEYS = ["candidate", "start", "strategy", "seed"]


def crossing(labels, accuracy, target: float) -> float:
    """Labels at which the curve ``(labels, accuracy)`` (rounds in order) first reaches
    ``target``: interpolated between the last round below it and the first at or above it; the
    first round's labels where it starts there; NaN where it never reaches it."""
    x, y = np.asarray(labels, dtype=float), np.asarray(accuracy, dtype=float)
    hit = np.flatnonzero(y >= target - 1e-12)
    if not len(hit):
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0))


def area(labels, accuracy) -> float:
    """The area under ``(labels, accuracy)`` (trapezoids) divided by the label range: the mean
    accuracy over the campaign, in [0, 1]."""
    x, y = np.asarray(labels, dtype=float), np.asarray(accuracy, dtype=float)
    if len(x) < 2 or x[-1] == x[0]:
        return float(y.mean()) if len(y) else float("nan")
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def per_seed(
    records: pd.DataFrame, full: dict[str, float], share: float, column: str = "accuracy"
) -> pd.DataFrame:
    """Per candidate, start, strategy and seed: the target (``share`` x ``full[candidate]``), the
    interpolated labels to reach it (``labels``, NaN where censored), the last labels tried
    (``budget``) and the normalised area under the curve of ``column``."""
    out = []
    for key, part in records.groupby(KEYS, sort=False):
        part = part.sort_values("round")
        x, y = part["labels"].to_numpy(float), part[column].to_numpy(float)
        target = share * full[key[0]] if full.get(key[0]) is not None else float("nan")
        out.append(
            {
                **dict(zip(KEYS, key)),
                "target": target,
                "labels": crossing(x, y, target) if np.isfinite(target) else float("nan"),
                "budget": float(x.max()),
                "area": area(x, y),
            }
        )
    return pd.DataFrame(out, columns=[*KEYS, "target", "labels", "budget", "area"])


# --------------------------------------------------------------------------- exact tests
def _half_sums(d: np.ndarray) -> np.ndarray:
    sums = np.zeros(1)
    for v in d:
        sums = np.concatenate([sums + v, sums - v])
    return sums


def sign_flip(d) -> tuple[float, float]:
    """``(p, smallest p)``: the exact two-sided sign-flip permutation test of mean(``d``) = 0
    (paired differences; every sign pattern counted) and the smallest p-value n pairs allow.
    Zero differences keep their place (their sign changes nothing). Up to 40 pairs."""
    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return 1.0, 1.0
    if n > 40:
        raise ValueError(f"the exact sign-flip test counts 2^n patterns: {n} pairs is too many.")
    observed = abs(d.sum())
    tol = 1e-9 * max(1.0, float(np.abs(d).sum()))
    a, b = _half_sums(d[: n // 2]), np.sort(_half_sums(d[n // 2 :]))
    # |a + b| >= observed  <=>  b >= observed - a  or  b <= -observed - a
    high = len(b) - np.searchsorted(b, observed - a - tol, side="left")
    low = np.searchsorted(b, -observed - a + tol, side="right")
    both = np.maximum(0, np.minimum(low, len(b)) - np.searchsorted(b, observed - a - tol))
    count = float(np.sum(high + low - both))
    nonzero = int(np.sum(np.abs(d) > tol))
    smallest = min(1.0, 2.0 / 2.0**nonzero) if nonzero else 1.0
    return min(1.0, count / 2.0**n), smallest


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error across the comparisons)."""
    p = np.asarray(pvalues, dtype=float)
    if not len(p):
        return p
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _bootstrap_mean(d: np.ndarray, level: float, seed: int, n_boot: int = 4000):
    if len(d) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def paired(seeds: pd.DataFrame, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Every (start, strategy) of each candidate against random from the same start draws.

    Labels: the per-seed log-ratio log(strategy's labels / random's); a censored seed (its curve
    never reaches the target) counts at the schedule's end, its ``budget``: a floor on what it
    needs, so that the sign of the pair is still right when only one side is censored (both
    censored: a zero). Area: the per-seed difference of normalised areas. Each measure tested
    exactly (``sign_flip``), Holm-adjusted across the candidate's comparisons, a verdict where
    the adjusted p-value is below 1 - ``level``, "not resolved" otherwise (``reachable``: whether
    the smallest p-value the seeds allow could pass Holm's first step at all). ``ratio``: the
    geometric mean of the per-seed ratios, ``ratio_low``/``ratio_high`` its percentile bootstrap
    interval (a description; ``zero_width`` where every seed gave the same ratio)."""
    alpha = 1 - level
    rows = []
    base = seeds[(seeds["strategy"] == S.BASELINE) & (seeds["start"] == "labels")]
    for name, mine in seeds.groupby("candidate", sort=False):
        ref = base[base["candidate"] == name].set_index("seed")
        others = mine[~((mine["strategy"] == S.BASELINE) & (mine["start"] == "labels"))]
        group = []
        for (start, strategy), part in others.groupby(["start", "strategy"], sort=False):
            part = part.set_index("seed")
            common = [s for s in part.index if s in ref.index]
            a, b = part.loc[common], ref.loc[common]
            la, lb = a["labels"].to_numpy(float), b["labels"].to_numpy(float)
            ca, cb = np.isnan(la), np.isnan(lb)
            fa, fb = np.where(ca, a["budget"], la), np.where(cb, b["budget"], lb)
            logs = np.where(ca & cb, 0.0, np.log(fa / fb))
            gaps = a["area"].to_numpy(float) - b["area"].to_numpy(float)
            p_lab, min_lab = sign_flip(logs)
            p_area, min_area = sign_flip(gaps)
            low, high = _bootstrap_mean(logs, level, seed)
            group.append(
                {
                    "candidate": name,
                    "start": start,
                    "strategy": strategy,
                    "target": float(a["target"].iloc[0]) if len(a) else float("nan"),
                    "seeds": len(common),
                    "reached": int((~ca).sum()),
                    "random_reached": int((~cb).sum()),
                    "labels": float(np.nanmean(la)) if (~ca).any() else float("nan"),
                    "random_labels": float(np.nanmean(lb)) if (~cb).any() else float("nan"),
                    "median_labels": float(np.median(fa)) if len(fa) else float("nan"),
                    "random_median_labels": float(np.median(fb)) if len(fb) else float("nan"),
                    "budget": float(max(a["budget"].max(), b["budget"].max())),
                    "ratio": float(np.exp(logs.mean())) if len(logs) else float("nan"),
                    "ratio_low": float(np.exp(low)),
                    "ratio_high": float(np.exp(high)),
                    "zero_width": bool(len(logs) > 1 and np.ptp(logs) == 0),
                    "fewer_seeds": int((logs < 0).sum()),
                    "more_seeds": int((logs > 0).sum()),
                    "p_labels": p_lab,
                    "min_p_labels": min_lab,
                    "area": float(a["area"].mean()) if len(a) else float("nan"),
                    "random_area": float(b["area"].mean()) if len(b) else float("nan"),
                    "area_difference": float(gaps.mean()) if len(gaps) else float("nan"),
                    "higher_seeds": int((gaps > 0).sum()),
                    "lower_seeds": int((gaps < 0).sum()),
                    "p_area": p_area,
                    "min_p_area": min_area,
                }
            )
        m = len(group)
        for measure in ("labels", "area"):
            adjusted = holm([g[f"p_{measure}"] for g in group])
            for g, p in zip(group, adjusted):
                g[f"p_{measure}_holm"] = float(p)
                g[f"reachable_{measure}"] = bool(g[f"min_p_{measure}"] * m <= alpha)
                g["comparisons"] = m
        for g in group:
            g["labels_verdict"] = (
                ("fewer" if g["ratio"] < 1 else "more")
                if g["p_labels_holm"] <= alpha and g["ratio"] != 1
                else "not resolved"
            )
            g["area_verdict"] = (
                ("higher" if g["area_difference"] > 0 else "lower")
                if g["p_area_holm"] <= alpha and g["area_difference"] != 0
                else "not resolved"
            )
        rows += group
    out = pd.DataFrame(rows)
    if len(out):
        out["level"] = level
    return out


def choose(seeds: pd.DataFrame, name: str) -> tuple[str | None, dict[str, float]]:
    """``(strategy, mean area per strategy)``: the strategy of ``name`` (label starts only) with
    the largest mean area under its curves in ``seeds`` (the held-out fold's), random first among
    equals; None where ``name`` was not simulated."""
    mine = seeds[(seeds["candidate"] == name) & (seeds["start"] == "labels")]
    if mine.empty:
        return None, {}
    means = mine.groupby("strategy", sort=False)["area"].mean()
    order = sorted(means.index, key=lambda s: (-means[s], s != S.BASELINE, s))
    return str(order[0]), {str(k): float(v) for k, v in means.items()}
