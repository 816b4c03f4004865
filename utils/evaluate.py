"""Test-set metrics and their uncertainty, paired comparisons, repeated splits, label budgets, costs.

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
        "paired_test": "McNemar's exact test (binomial on discordant images; assumes independent images)",
        "paired_interval": "paired cluster bootstrap of the accuracy difference (same resampled groups for both)",
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
    """Accuracy and macro-F1 (zero_division=0, every class) of each row of flattened confusion matrices."""
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
    """Bootstrap distributions of accuracy and macro-F1 for each model, all on the same resamples."""
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
    """Percentile interval of ``metric`` (``accuracy`` or ``macro_f1``), resampling ``groups`` (or images)."""
    n_classes = n_classes or int(max(np.max(y_true), np.max(y_pred))) + 1
    dist = bootstrap(y_true, {"m": y_pred}, n_classes, groups, n_boot, seed)["m"][metric]
    return percentile(dist, level)


def mcnemar(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test: do models A and B err on the same test images more than chance allows?

    ``b``: A right and B wrong; ``c``: A wrong and B right. Under H0 (equal accuracy) b ~ Bin(b+c, 1/2).
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
        rows[name] = {
            "accuracy": m["accuracy"],
            "accuracy_low": acc_ci[0],
            "accuracy_high": acc_ci[1],
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
    return accuracies.agg(["mean", "std", "min", "max"]).T.round(4)


# --------------------------------------------------------------------------- labels per category
def _per_category(rows: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """``k`` rows of each category (all where fewer), drawn with ``rng``, in ``rows``' order."""
    picks = [g.index[rng.permutation(len(g))[:k]] for _, g in rows.groupby("label")]
    return rows.loc[np.concatenate(picks)].sort_index()


def budget_draws(
    train: pd.DataFrame, ks: list, draws: int, seed: int
) -> list[tuple[object, int, pd.DataFrame]]:
    """``(k, draw, rows)``: ``k`` training rows per category (all of them where fewer), ``draws`` seeded
    draws per ``k``; ``k="all"`` is the whole training split (one draw: every draw would be the same)."""
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


# --------------------------------------------------------------------------- words
def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def conclusion(ev: dict) -> str:
    """The note's headline paragraph (CLIP head vs VGG16 head), every number from the evaluation section."""
    a, b = ev["headline"]
    t, costs, rep = ev["table"], ev["costs"], ev.get("repeats", {})
    pair = ev["paired"].get(b)
    if pair is None or a not in t or b not in t:
        return f"The headline comparison needs both {a} and {b} in the panel."
    mc = pair["mcnemar"]
    # pair is b against a (the reference): turn it around to speak of a against b
    diff, lo, hi = -pair["accuracy_difference"], -pair["difference_high"], -pair["difference_low"]
    significant = mc["p_value"] < 0.05
    interval_excludes_zero = lo > 0 or hi < 0
    text = (
        f"On the {int(t[a]['n_test'])} test images, {a} reaches {pct(t[a]['accuracy'])} accuracy "
        f"(95% CI {pct(t[a]['accuracy_low'])}–{pct(t[a]['accuracy_high'])}, macro-F1 {t[a]['macro_f1']:.3f}) "
        f"and {b} {pct(t[b]['accuracy'])} ({pct(t[b]['accuracy_low'])}–{pct(t[b]['accuracy_high'])}, "
        f"macro-F1 {t[b]['macro_f1']:.3f}); the difference is {100 * diff:+.1f} points "
        f"(paired 95% CI {100 * lo:+.1f} to {100 * hi:+.1f}). "
        f"{a} is right where {b} is wrong on {mc['a_wrong_b_right']} images, and the reverse happens on "
        f"{mc['a_right_b_wrong']}; McNemar's exact test gives p = {mc['p_value']:.3g}"
        f" ({'significant' if significant else 'not significant'} at the 5% level; it treats images as independent, "
        f"the interval resamples near-duplicate groups). "
    )
    if rep and a in rep.get("summary", {}) and b in rep.get("summary", {}):
        w = rep["versus_reference"].get(b, {})
        text += (
            f"Over {rep['n_splits']} other group-aware splits of the same images, test accuracy is "
            f"{pct(rep['summary'][a]['mean'])} ± {pct(rep['summary'][a]['std'])} for {a} and "
            f"{pct(rep['summary'][b]['mean'])} ± {pct(rep['summary'][b]['std'])} for {b} ({a} ahead on "
            f"{w.get('behind', 0)}, level on {w.get('tied', 0)}, behind on {w.get('ahead', 0)} of "
            f"{w.get('splits', 0)} splits). "
        )
    if a in costs and b in costs:
        text += (
            f"Per image, the whole pipeline takes {1000 * costs[a]['inference_s_per_item']:.0f} ms with {a} and "
            f"{1000 * costs[b]['inference_s_per_item']:.0f} ms with {b} (median of {costs[a]['repeats']} timed "
            f"runs, batch {costs[a]['batch_size']}, {costs[a]['device']}, {costs[a]['precision']}). "
        )
    better, worse = (a, b) if diff > 0 else (b, a)
    if significant and interval_excludes_zero:
        text += f"On this data, {better} beats {worse}."
    elif significant or interval_excludes_zero:
        text += (
            f"On this data, {better} is ahead of {worse}, but the two tests disagree on whether the gap is "
            "larger than chance: treat it as suggestive."
        )
    else:
        text += f"On this data, the test split cannot tell {better} and {worse} apart."
    return caveat(ev) + text


def caveat(ev: dict) -> str:
    """The warning that opens every conclusion drawn from a run whose encoders are not the real ones."""
    if ev.get("profile") == "smoke":
        return (
            "**Smoke profile: tiny random encoders on a few images; these numbers test the pipeline and "
            "say nothing about CLIP or VGG16.** "
        )
    if ev.get("random_weights"):
        return (
            f"**Random weights ({', '.join(ev['random_weights'])}): a timing stand-in; the numbers of candidates "
            "reading these encoders say nothing about the real models.** "
        )
    return ""


def best_candidate(table: pd.DataFrame, costs: dict) -> str:
    """Highest test accuracy; ties go to the cheaper prediction."""
    return max(
        table.index,
        key=lambda n: (table.loc[n, "accuracy"], -costs.get(n, {}).get("inference_s_per_item", 0)),
    )


def panel_conclusion(ev: dict) -> str:
    """Which candidate to pick and at what labelling cost, written from the evaluation section.

    The best candidate is the most accurate on the test split; candidates whose paired interval of
    the accuracy difference to it includes zero cannot be ranked against it by this split, and among
    those the one needing the fewest labels is named.
    """
    t, costs, labelled = ev["table"], ev["costs"], ev["labelled"]
    if not t:
        return "No candidate was evaluated."
    best, ref = ev["best"], ev.get("reference")
    vs_best = ev.get("versus_best", {})
    close = [n for n, p in vs_best.items() if p["difference_low"] <= 0 <= p["difference_high"]]
    ms = lambda n: 1000 * costs.get(n, {}).get("inference_s_per_item", float("nan"))  # noqa: E731
    text = (
        f"{'Of ' + str(len(t)) + ' candidates, ' + best + ' has the highest' if len(t) > 1 else 'The only candidate, ' + best + ', has a'} "
        f"test accuracy of {pct(t[best]['accuracy'])} "
        f"(95% CI {pct(t[best]['accuracy_low'])}–{pct(t[best]['accuracy_high'])}), using "
        f"{labelled.get(best, 0)} labelled products (training and validation) and {ms(best):.1f} ms per product. "
    )
    if ref in t and best != ref and best in ev["paired"]:
        p = ev["paired"][best]
        text += (
            f"Against the note's {ref} it is {100 * p['accuracy_difference']:+.1f} points (paired 95% CI "
            f"{100 * p['difference_low']:+.1f} to {100 * p['difference_high']:+.1f}; McNemar p = "
            f"{p['mcnemar']['p_value']:.3g}). "
        )
    if close:
        text += (
            f"This test split cannot rank {', '.join(close)} against {best} (paired intervals of the "
            "difference include zero). "
        )
        cheapest = min(
            close,
            key=lambda n: (labelled.get(n, 0), costs.get(n, {}).get("inference_s_per_item", 1e9)),
        )
        if labelled.get(cheapest, 0) < labelled.get(best, 0):
            text += (
                f"Of those, {cheapest} needs the fewest labels ({labelled.get(cheapest, 0)}), at "
                f"{ms(cheapest):.1f} ms per product: the cheaper choice for the same measured accuracy. "
            )
    elif len(t) > 1:
        text += f"Every other candidate is measurably behind {best} on this split. "
    budget = ev.get("label_budget", {}).get("summary")
    if budget:
        frame = pd.DataFrame(budget)
        frame = frame[frame["k"].astype(str) != "all"]
        for name in frame["candidate"].unique():
            part = frame[frame["candidate"] == name]
            full = t.get(name, {}).get("accuracy")
            reach = part[part["mean"] >= full - 0.02] if full is not None else part.iloc[:0]
            if len(reach):
                text += (
                    f"{name} comes within 2 points of its all-label test accuracy with {reach.iloc[0]['k']} "
                    "labelled images per category (mean of the draws). "
                )
    return (caveat(ev) + text).strip()


# --------------------------------------------------------------------------- the panel on the test split
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
    """Test accuracy of each candidate retrained on each of ``splits`` (``{seed: split name per row}``).

    Every split reselects epochs / ``C`` / weights on its own validation part; features come from the cache.
    Fusion members fitted on a split are shared with the fusion candidates of that split, not fitted twice.
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
    """Test accuracy of ``names`` refitted on ``k`` labelled training images per category (``draws`` draws per k).

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


def improvements_verdict(vs_frozen: dict, costs: dict) -> str:
    """Whether each improvement is worth its cost on this data, in one sentence each."""
    parts = []
    for name, p in vs_frozen.items():
        base = p["vs"]
        d, lo, hi = (
            100 * p["accuracy_difference"],
            100 * p["difference_low"],
            100 * p["difference_high"],
        )
        extra = (costs.get(name, {}).get("train_seconds") or 0) - (
            costs.get(base, {}).get("train_seconds") or 0
        )
        training = f"{abs(extra):.1f} s {'more' if extra >= 0 else 'less'} training"
        if lo > 0:
            word = f"a measurable gain for {training}"
        elif hi < 0:
            word = "measurably worse: not worth it"
        else:
            word = f"no measurable change on this test split, for {training}: not worth it here"
        parts.append(
            f"{name} vs {base}: {d:+.1f} points (paired 95% CI {lo:+.1f} to {hi:+.1f}, McNemar p = "
            f"{p['mcnemar']['p_value']:.3g}), {word}."
        )
    return " ".join(parts)


def log_loss_stats(name: str, proba: np.ndarray, y_true: np.ndarray) -> dict:
    """Per-image cross-entropy of the true class (Figure 5) and its summary."""
    losses = -np.log(np.clip(proba[np.arange(len(y_true)), y_true], 1e-12, 1))
    return {
        "candidate": name,
        "images": len(losses),
        "mean": float(losses.mean()),
        "median": float(np.median(losses)),
        "confident_errors": int((losses > -np.log(0.1)).sum()),
        "per_image": losses.round(5).tolist(),
    }
