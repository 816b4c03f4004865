"""Test-set metrics and their uncertainty, paired comparisons, repeated splits, label budgets,
costs.

- Metrics come from scikit-learn (``labels=`` every class, so macro-F1 counts a class never
  predicted as 0, in the point estimate and in every resample alike).
- Intervals: percentile bootstrap that resamples near-duplicate *groups* (cluster bootstrap): the
  split keeps groups whole, so images of one group are not independent evidence. ``INTERVALS``
  says how every interval was made; it goes into ``metrics.json``.
- Paired comparisons on the same test images: McNemar's exact test (binomial test on the
  discordant images; it assumes independent images) and a paired cluster-bootstrap interval of
  the accuracy difference (which does not). Each family of tests (every candidate against one
  reference; the improvements against their frozen heads) also gets Holm-adjusted p-values
  (``holm``), stored beside the raw ones as ``holm_p``.
- Refits (repeated splits, label budget) read cached features only and run in parallel worker
  processes (``n_jobs``, default one per core; ``utils.parallel``), with the same results as one
  after the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from . import parallel, timing
from .progress import bar

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


def summarize_repeats(accuracies: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, min and max of test accuracy per model over repeated splits."""
    return accuracies.agg(["mean", "std", "min", "max"]).T.round(6)


# --------------------------------------------------------------------------- labels per category
def _per_category(rows: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """``k`` rows of each category (all where fewer), drawn with ``rng``, in ``rows``' order."""
    picks = [g.index[rng.permutation(len(g))[:k]] for _, g in rows.groupby("label")]
    return rows.loc[np.concatenate(picks)].sort_index()


def budget_draws(
    train: pd.DataFrame, ks: list, draws: int, seed: int
) -> list[tuple[object, int, pd.DataFrame]]:
    """``(k, draw, rows)``: ``k`` training rows per category (all of them where fewer), ``draws``
    seeded
    draws per ``k``; ``k="all"`` is the whole training split (one draw: every draw would be the
    same)."""
    out = []
    for k in ks:
        if k == "all":
            out.append(("all", 0, train))
            continue
        for d in range(draws):
            out.append(
                (int(k), d, _per_category(train, int(k), np.random.default_rng([seed, int(k), d])))
            )
    return out


def budget_subsets(
    train: pd.DataFrame, val: pd.DataFrame, ks: list, draws: int, seed: int
) -> list[tuple[object, int, pd.DataFrame, pd.DataFrame]]:
    """``(k, draw, train_rows, val_rows)``: the training draws of ``budget_draws`` and, with each,
    ``k`` validation rows per category drawn from ``val`` (all of them where fewer; seeded by
    ``(seed, k, draw)`` like the training draw, on a stream of its own), so that a refit at ``k``
    reads at most ``k`` labels per category for training and ``k`` more for choosing its settings.
    ``k="all"`` keeps the whole validation split."""
    out = []
    for k, d, rows in budget_draws(train, ks, draws, seed):
        if k == "all":
            out.append((k, d, rows, val))
        else:
            out.append(
                (k, d, rows, _per_category(val, int(k), np.random.default_rng([seed, k, d, 1])))
            )
    return out


def summarize_budget(records: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, min, max of test accuracy per candidate and ``k`` (labelled images
    per category), with the labels each refit read (means of the draws: train, val, both)."""
    grouped = records.groupby(["candidate", "k"], sort=False)
    table = grouped["accuracy"].agg(["mean", "std", "min", "max", "count"])
    labels = [c for c in ("labelled_train", "labelled_val", "labelled") if c in records]
    if labels:
        table = table.join(grouped[labels].mean())
    return table.reset_index()


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


def refit(
    panel, names: list[str], train: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame
) -> dict[str, dict]:
    """Fit ``names`` on ``train`` (settings chosen on ``val``; fusion members fitted once, shared)
    and score them on ``test``: ``{name: {accuracy, labelled_train, labelled_val}}``.

    One task of the repeated splits and the label budget; ``panel`` may be a ``CachedPanel`` (in a
    worker process) or the run's ``Panel``.
    """
    from .candidates import cache_only, fit, fit_order

    y_test = panel.y(test)
    threads = parallel.SMALL_FIT_THREADS if all(cache_only(n) for n in names) else None
    done, out = {}, {}
    with parallel.limited(threads):
        for name in fit_order(names):
            f = done[name] = fit(name, panel, train, val, fitted=done)
            with timing.step(f"predict {name}"):
                accuracy = float(np.mean(f.predict_proba(panel, test).argmax(1) == y_test))
            out[name] = {
                "accuracy": accuracy,
                "labelled_train": int(f.info.get("labelled_train", len(train))),
                "labelled_val": int(f.info.get("labelled_val", len(val))),
            }
    return out


def _refits(
    panel,
    names: list[str],
    rows: pd.DataFrame,
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]],
    n_jobs: int | None,
    desc: str,
    progress: bool,
) -> tuple[list[dict[str, dict]], dict]:
    """``refit`` of ``names`` on each ``(train, val, test)`` of ``parts``, in task order.

    Candidates reading cached features only (``candidates.cache_only``) are refitted in ``n_jobs``
    worker processes on a ``CachedPanel`` of ``rows`` (their features computed here, once); the
    others (augmented views, fine-tuning: they need the encoders) one after the other here.
    Returns the results and how they ran (processes, candidates refitted here).
    """
    from .candidates import CachedPanel, cache_only

    light = [n for n in names if cache_only(n)]
    heavy = [n for n in names if n not in light]
    results: list[dict[str, dict]] = [{} for _ in parts]
    used = 0
    if not parts:
        light = heavy = []
    with bar(total=len(parts) * (bool(light) + bool(heavy)), desc=desc, disable=not progress) as pb:
        if light:
            with timing.step("cached features"):
                cached = CachedPanel.from_panel(panel, light, rows)
            tasks = [(cached, light, tr, va, te) for tr, va, te in parts]
            done, used = parallel.run(refit, tasks, n_jobs, progress=pb.update)
            for r, d in zip(results, done):
                r.update(d)
        if heavy:
            for r, (tr, va, te) in zip(results, parts):
                r.update(refit(panel, heavy, tr, va, te))
                pb.update(1)
    how = {
        "processes": used,  # 1: every refit here, one after the other
        "cached_features_only": light,  # refitted in `processes` processes
        "need_encoders": heavy,  # refitted here (augmented views, fine-tuning)
        "small_fit_threads": parallel.SMALL_FIT_THREADS,
    }
    return [{n: r[n] for n in names} for r in results], how


def panel_repeats(
    panel,
    rows: pd.DataFrame,
    names: list[str],
    splits: dict[int, np.ndarray],
    progress: bool = True,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Test accuracy of each candidate retrained on each of ``splits`` (``{seed: split name per
    row}``).

    Every split reselects epochs / ``C`` / weights on its own validation part; features come from
    the cache.
    Fusion members fitted on a split are shared with the fusion candidates of that split, not fitted
    twice.
    Splits are refitted in ``n_jobs`` processes (None: one per core; 1: here, one after the other),
    with the same results whatever ``n_jobs``. ``.attrs["parallel"]`` says how they ran.
    """
    seeds = list(splits)
    parts = [tuple(rows[splits[s] == name] for name in ("train", "val", "test")) for s in seeds]
    with timing.step("repeated splits"):
        results, how = _refits(panel, names, rows, parts, n_jobs, "repeated splits", progress)
    out = pd.DataFrame(
        [{"seed": s, **{n: r[n]["accuracy"] for n in names}} for s, r in zip(seeds, results)],
        columns=["seed", *names],
    ).set_index("seed")
    out.attrs["parallel"] = how
    return out


def label_budget(
    panel,
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    names: list[str],
    ks: list,
    draws: int,
    seed: int,
    progress: bool = True,
    n_jobs: int | None = None,
    fitted: dict | None = None,
) -> pd.DataFrame:
    """Test accuracy of ``names`` refitted on ``k`` labelled training images per category (``draws``
    draws per k).

    Settings (``C``, epochs, fusion weight) are chosen on ``k`` validation products per category
    drawn from the validation split (``budget_subsets``; ``k="all"``: the whole split), so every
    label a refit reads is counted: each record carries ``labelled_train``, ``labelled_val`` and
    their sum ``labelled``. Fusion members are fitted once per draw and shared. At ``k="all"`` the
    candidates of ``fitted`` trained on these same rows (notebook 04's) are read, not refitted
    (``refit`` False). Draws are refitted in ``n_jobs`` processes (see ``panel_repeats``).
    Returns one record per (candidate, k, draw).
    """
    subsets = budget_subsets(train, val, ks, draws, seed)
    reuse = {
        n: f
        for n, f in (fitted or {}).items()
        if n in names
        and f.split_id == panel.split_id
        and f.info.get("labelled_train") == len(train)
        and f.info.get("labelled_val") == len(val)
    }
    todo = [
        (k, d, tr, va) for k, d, tr, va in subsets if not (k == "all" and set(names) <= set(reuse))
    ]
    with timing.step("label budget"):
        rows = pd.concat([train, val, test])
        results, how = _refits(
            panel,
            names,
            rows,
            [(tr, va, test) for _, _, tr, va in todo],
            n_jobs,
            "label budget",
            progress,
        )
        by_draw = {(k, d): r for (k, d, _, _), r in zip(todo, results)}
        y_test = panel.y(test)
        for k, d, tr, va in subsets:
            if (k, d) not in by_draw:
                by_draw[k, d] = {}
                for n in names:
                    with timing.step(f"predict {n}"):
                        pred = reuse[n].predict_proba(panel, test).argmax(1)
                    by_draw[k, d][n] = {
                        "accuracy": float(np.mean(pred == y_test)),
                        "labelled_train": int(reuse[n].info.get("labelled_train", len(tr))),
                        "labelled_val": int(reuse[n].info.get("labelled_val", len(va))),
                        "refit": False,
                    }
    records = []
    for k, d, _, _ in subsets:
        for n in names:
            r = by_draw[k, d][n]
            records.append(
                {
                    "candidate": n,
                    "k": k,
                    "draw": d,
                    "labelled_train": r["labelled_train"],
                    "labelled_val": r["labelled_val"],
                    "labelled": r["labelled_train"] + r["labelled_val"],
                    "accuracy": r["accuracy"],
                    "refit": r.get("refit", True),
                }
            )
    out = pd.DataFrame(records)
    out.attrs["parallel"] = how
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

    from .features import VectorCache, cache_dir

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


IMPROVEMENTS = {
    "clip-head-aug": "clip-head",
    "vgg16-head-aug": "vgg16-head",
    "clip-finetune": "clip-head",
    "vgg16-finetune": "vgg16-head",
    "clip-finetune-aug": "clip-head",
    "vgg16-finetune-aug": "vgg16-head",
}


def versus_frozen(
    y_true: np.ndarray,
    predictions: dict[str, np.ndarray],
    classes: list[str],
    groups,
    n_boot: int,
    seed: int,
) -> dict:
    """Each improvement candidate (fine-tuning, augmentation) against its frozen head, paired.

    ``mcnemar["holm_p"]``: Holm-adjusted over the improvements tested here (one family).
    """
    out = {}
    for name, base in IMPROVEMENTS.items():
        if name in predictions and base in predictions:
            _, _, paired = compare(
                y_true,
                {base: predictions[base], name: predictions[name]},
                classes,
                groups,
                reference=base,
                n_boot=n_boot,
                seed=seed,
            )
            out[name] = paired[name]
    return add_holm(out)


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


# --------------------------------------------------------------------------- tables of notebook 05
def refittable(fitted: dict) -> list[str]:
    """The candidates refitted on other splits: all but the fine-tuned and augmented (costly)."""
    return [
        n for n, f in fitted.items() if f.candidate.family != "finetune" and not f.candidate.augment
    ]


def ranking(table: pd.DataFrame, reads: dict, labelled: dict, costs: dict) -> pd.DataFrame:
    """Every candidate, best test accuracy first: what it reads, accuracy and its interval,
    macro-F1, labels and milliseconds per product."""
    t = table.sort_values("accuracy", ascending=False)
    return pd.DataFrame(
        {
            "reads": [reads.get(n) for n in t.index],
            "accuracy": t["accuracy"].astype(float),
            "low": t["accuracy_low"].astype(float),
            "high": t["accuracy_high"].astype(float),
            "macro-F1": t["macro_f1"].astype(float),
            "labelled": [labelled.get(n, 0) for n in t.index],
            "ms per product": [
                1000 * costs[n]["inference_s_per_item"] if n in costs else np.nan for n in t.index
            ],
        },
        index=t.index,
    )


def per_class(details: dict, names: list[str]) -> pd.DataFrame:
    """Precision, recall and F1 per category of ``names``, side by side."""
    parts = {
        n: pd.DataFrame(details[n]["per_class"]).T[["precision", "recall", "f1"]] for n in names
    }
    out = pd.concat(parts, axis=1)
    out["support"] = pd.DataFrame(details[names[0]]["per_class"]).T["support"].astype(int)
    return out


def paired_table(paired: dict, reference: str) -> pd.DataFrame:
    """Each candidate against ``reference``: accuracy difference and its paired interval, McNemar's
    p-value and its Holm adjustment, and the products where only one of the two is right."""
    rows = {}
    for n, p in paired.items():
        mc = p["mcnemar"]
        rows[n] = {
            "Δ accuracy": p["accuracy_difference"],
            "low": p["difference_low"],
            "high": p["difference_high"],
            "McNemar p": mc["p_value"],
            "Holm p": mc.get("holm_p", np.nan),
            "only it right": mc["a_right_b_wrong"],
            f"only {reference} right": mc["a_wrong_b_right"],
        }
    return pd.DataFrame(rows).T


def errors(
    test: pd.DataFrame,
    proba: dict[str, np.ndarray],
    y_true: np.ndarray,
    classes: list[str],
    names: list[str],
) -> dict[str, pd.DataFrame]:
    """Per model, its misclassified test products, most confident error first: image, path, name,
    true and predicted category, the probability given to the prediction and to the truth."""
    out = {}
    for n in names:
        p = proba[n]
        pred = p.argmax(1)
        wrong = np.flatnonzero(pred != y_true)
        frame = pd.DataFrame(
            {
                "image": test["image"].to_numpy()[wrong],
                "path": test["path"].to_numpy()[wrong],
                "product_name": test["product_name"].to_numpy()[wrong],
                "true": [classes[i] for i in y_true[wrong]],
                "predicted": [classes[i] for i in pred[wrong]],
                "probability": p[wrong, pred[wrong]],
                "p_true": p[wrong, y_true[wrong]],
            }
        )
        out[n] = frame.sort_values("probability", ascending=False).reset_index(drop=True)
    return out


def most_confused(confusion: list[list[int]], classes: list[str], n: int = 3) -> list[dict]:
    """The ``n`` largest off-diagonal cells of a confusion matrix (fastai's "most confused")."""
    cm = np.asarray(confusion)
    cells = [
        (int(cm[i, j]), classes[i], classes[j])
        for i in range(len(cm))
        for j in range(len(cm))
        if i != j and cm[i, j] > 0
    ]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [{"true": t, "predicted": p, "count": c} for c, t, p in cells[:n]]


def confused_table(confused: dict[str, list[dict]]) -> pd.DataFrame:
    rows = [
        {"model": n, "true": c["true"], "taken for": c["predicted"], "test products": c["count"]}
        for n, cs in confused.items()
        for c in cs
    ]
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame({"most confused": []})


def zeroshot_facts(zs) -> dict:
    """What the note says of the zero-shot candidate: prompts, class names, temperature."""
    return {
        "prompts": zs.info["prompts"],
        "class_names": zs.info["class_names"],
        "temperature": zs.info.get("temperature"),
    }


def prompt_names(zs, classes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"name in the prompts": zs.info["class_names"]}, index=classes)


def budget_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy per candidate (rows) and labelled products per category (columns)."""
    table = summary.pivot_table(index="candidate", columns="k", values="mean", sort=False)
    return table.map(lambda v: f"{100 * v:.1f}%")


def summary(
    panel,
    fitted: dict,
    test: pd.DataFrame,
    predictions: dict[str, np.ndarray],
    table: pd.DataFrame,
    details: dict,
    paired: dict,
    costs: dict,
    labelled: dict,
    reads: dict,
    reference: str,
    n_boot: int,
    repeats: pd.DataFrame,
    seeds,
    repeat_names: list[str],
    budget: pd.DataFrame,
    budget_summary: pd.DataFrame | None,
    budget_names: list[str],
    budget_ks: list,
    budget_draws: int,
    zeroshot: dict | None,
    log_loss: dict | None,
    errors_: dict[str, pd.DataFrame],
    confused: dict,
    training: dict,
    stand_in: set[str],
    n_val: int,
    seed: int = 0,
) -> dict:
    """What notebook 05 records: the test table, paired tests, costs, repeated splits, label
    budget, errors, the original note's claims checked and the recommendation."""
    from . import decision
    from .candidates import HEADLINE

    y_test = panel.y(test)
    vs_frozen = versus_frozen(y_test, predictions, panel.classes, test["group"], n_boot, seed)
    out = {
        "models": list(fitted),
        "classes": panel.classes,
        "reference": reference,
        "headline": list(HEADLINE),
        "n_test": len(test),
        "test_groups": int(test["group"].nunique()),
        "intervals": intervals_method(n_boot),
        "table": table.to_dict("index"),
        "details": details,
        "paired": paired,
        "versus_frozen": vs_frozen,
        "costs": costs,
        "labelled": labelled,
        "reads": reads,
        "stand_in": sorted(stand_in),
        "repeats": {
            "n_splits": len(repeats),
            "seeds": list(seeds),
            "models": repeat_names,
            "accuracies": repeats.reset_index().to_dict("list"),
            "summary": summarize_repeats(repeats).to_dict("index"),
            "versus_reference": wins_ties_losses(repeats, reference)
            if reference in repeats
            else {},
            "best_epochs": repeats.attrs.get("best_epochs", {}),
        },
        "label_budget": {
            "candidates": budget_names,
            "ks": budget_ks,
            "draws": budget_draws,
            "records": budget.to_dict("records"),
            "summary": budget_summary.to_dict("records") if budget_summary is not None else [],
        },
        "zeroshot": zeroshot,
        "log_loss": log_loss,
        "errors": {
            "models": {
                n: {
                    "errors": len(e),
                    "most_confused": confused.get(n, []),
                    "shown": e.drop(columns=["path"]).head(12).to_dict("records"),
                }
                for n, e in errors_.items()
            }
        },
        "precision_agreement": precision_agreement(panel, fitted, test),
        "refits": {
            "repeated_splits": repeats.attrs.get("parallel"),
            "label_budget": budget.attrs.get("parallel"),
            "threads": parallel.thread_settings(),
        },
    }
    out["claims"] = decision.claims(out, training, stand_in)
    out["recommendation"] = decision.recommend(out, training, n_val, exclude=stand_in)
    return out
