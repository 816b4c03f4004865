"""Refits on cached features: the candidates on other group-aware splits (``panel_repeats``) and
with k labelled products per category (``label_budget``). They run in parallel worker processes
where that pays (``n_jobs``, ``core.parallel``), with the same results as one after the other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import parallel, timing
from ..core.progress import bar


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


def refit(
    panel, names: list[str], train: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame
) -> dict[str, dict]:
    """Fit ``names`` on ``train`` (settings chosen on ``val``; fusion members fitted once, shared)
    and score them on ``test``: ``{name: {accuracy, labelled_train, labelled_val}}``.

    One task of the repeated splits and the label budget; ``panel`` may be a ``CachedPanel`` (in a
    worker process) or the run's ``Panel``.
    """
    from ..models.candidates import cache_only, fit_order
    from ..models.fitting import fit

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
    from ..models.candidates import cache_only
    from ..models.panel import CachedPanel

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


# --------------------------------------------------------------------------- tables of notebook 05
def refittable(fitted: dict) -> list[str]:
    """The candidates refitted on other splits: all but the fine-tuned and augmented (costly)."""
    return [
        n for n, f in fitted.items() if f.candidate.family != "finetune" and not f.candidate.augment
    ]


def budget_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy per candidate (rows) and labelled products per category (columns)."""
    table = summary.pivot_table(index="candidate", columns="k", values="mean", sort=False)
    return table.map(lambda v: f"{100 * v:.1f}%")
