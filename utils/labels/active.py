"""Active learning simulated on the locked split: which products to label, measured.

The pool is the training and validation rows (their labels hidden until a strategy asks for them);
the test rows only score each refit. A simulation starts as the label budget does
(``evaluation.refits.budget_subsets``: ``start`` products per category from the training part and
as many from the validation part, one draw per seed) or, for a candidate reading CLIP's image
embedding, from zero-shot pseudo-labels (``pseudo_start``: the most confident products per
predicted category, labelled by zero-shot CLIP, costing no label). Then rounds: refit the
candidate (``models.fitting.fit``: settings chosen on the labelled validation part), score it on
the test rows, let the strategy pick the next batch (``strategies.query``) until the labels reach
the next point of the schedule. A product the strategy picks joins the part of the split it
comes from, so that validation labels are counted like training labels, as in the label budget;
at the end of the pool the refit is notebook 04's fit.

``run`` runs every (candidate, strategy, seed) in worker processes where that pays
(``core.parallel``, on a ``CachedPanel``: cached features only); ``curves``, ``reach``,
``savings`` and ``versus_random`` read the records: the mean and spread over seeds, the first
label count at which each seed reaches a share of the full-data accuracy (censored where it never
does), the labels a strategy needs as a ratio to random's (a percentile bootstrap over seeds,
Bonferroni-widened for the strategies compared with random), and where along the schedule each
strategy's curve is above or below random's. ``best_strategy`` turns them into the default of the
ranked list, saying whether it was measured (on the test split's curves) or is ``DEFAULT``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..core import parallel, timing
from ..core.progress import bar
from ..evaluation.refits import budget_subsets
from . import strategies as S

DEFAULT = (
    "hybrid"  # the ranked list's strategy where no measurement picks one: uncertain, spread out
)
COLUMNS = ["label", "split", "group", "product_name", "description", "sha256", "image", "path"]


@dataclass(frozen=True)
class Plan:
    """What the simulation runs (notebook 07's ``al_*`` parameters)."""

    strategies: tuple = tuple(S.STRATEGIES)
    start: int = 1  # k: labelled products per category to start, from training and from validation
    per_category: tuple = (4, 8, 16, 32, 64)  # labels per category (both parts) at which to refit
    seeds: int = 5  # start draws (and random streams) per strategy
    hybrid_pool: int = S.HYBRID_POOL
    zeroshot_start: bool = True  # CLIP candidates: also uncertainty from zero-shot pseudo-labels

    def __post_init__(self) -> None:
        S.check_strategies(self.strategies)
        steps = [int(k) for k in self.per_category]
        if self.start < 1 or self.seeds < 1:
            raise ValueError("the plan needs at least one label per category to start and one seed")
        if not steps or steps != sorted(set(steps)) or steps[0] <= 2 * self.start:
            raise ValueError(
                f"per_category {list(self.per_category)} must rise strictly from above the "
                f"{2 * self.start} labels per category of the start"
            )

    def totals(self, n_classes: int, pool: int) -> list[int]:
        """The schedule in labels (all categories), each point at most the pool's size."""
        totals = [k * n_classes for k in self.per_category]
        if totals[-1] > pool:
            raise ValueError(
                f"the pool holds {pool} products, fewer than the {totals[-1]} labels the schedule "
                f"ends at ({self.per_category[-1]} per category): shorten per_category."
            )
        return totals

    def record(self) -> dict:
        return {**asdict(self), "strategies": list(self.strategies)}


# --------------------------------------------------------------------------- one candidate's refits
class Refitter:
    """Refit candidate ``name`` on labelled pool rows, score it on the test rows: what a round of
    the simulation runs. Picklable with a ``CachedPanel`` (worker processes)."""

    def __init__(self, panel, name: str, pool: pd.DataFrame, test: pd.DataFrame) -> None:
        self.panel, self.name = panel, name
        self.pool = pool[[c for c in COLUMNS if c in pool]].reset_index(drop=True)
        self.test = test[[c for c in COLUMNS if c in test]].reset_index(drop=True)
        self.classes = list(panel.classes)
        self.y_test = panel.y(self.test) if len(self.test) else np.zeros(0, int)

    def rows(self, positions: np.ndarray, known: np.ndarray) -> pd.DataFrame:
        """Pool rows at ``positions`` with the labels the simulation knows (true or pseudo)."""
        out = self.pool.iloc[positions].copy()
        out["label"] = [self.classes[int(k)] for k in np.asarray(known)[positions]]
        return out

    def __call__(self, train_pos, val_pos, known, proba: bool = True):
        """``(probabilities on every pool row, test accuracy)`` of the candidate refitted on the
        labelled ``train_pos`` with its settings chosen on ``val_pos`` (``proba=False``: None
        instead of the probabilities, which only uncertainty-based strategies read)."""
        from ..models.fitting import fit

        fitted = fit(self.name, self.panel, self.rows(train_pos, known), self.rows(val_pos, known))
        with timing.step(f"predict {self.name}"):
            proba = fitted.predict_proba(self.panel, self.pool) if proba else None
            accuracy = (
                float(np.mean(fitted.predict_proba(self.panel, self.test).argmax(1) == self.y_test))
                if len(self.test)
                else float("nan")
            )
        return proba, accuracy


def check_start(known: np.ndarray, train_part: np.ndarray, classes: list[str]) -> None:
    """Every category needs a label (true or pseudo) in the training part to start from."""
    have = set(np.asarray(known)[(np.asarray(known) >= 0) & train_part].tolist())
    missing = [c for i, c in enumerate(classes) if i not in have]
    if missing:
        raise ValueError(
            f"{', '.join(repr(c) for c in missing)} {'has' if len(missing) == 1 else 'have'} no "
            "labelled product to start from: label at least one per category (or leave the "
            "category out) before active learning starts."
        )


def simulate(
    refit,
    y: np.ndarray,
    part: np.ndarray,
    strategy: str,
    totals: list[int],
    start: np.ndarray,
    seed: int,
    embedding: np.ndarray | None = None,
    pseudo: tuple[np.ndarray, np.ndarray] | None = None,
    hybrid_pool: int = S.HYBRID_POOL,
) -> list[dict]:
    """One simulated labelling campaign: a record per round (labels, the two parts, accuracy).

    ``refit(train_pos, val_pos, known, proba)`` returns the probabilities on every pool row (None
    when ``proba`` is False: the strategy does not read them) and the test accuracy; ``y``: the
    pool's true class ids; ``part``: "train" or "val" per pool row (which part a labelled product
    joins); ``start``: positions labelled at the start; ``pseudo``: (positions, class ids)
    pseudo-labelled at the start, costing no label and never asked for; ``totals``: the labels at
    which to refit after the start.
    """
    y, part = np.asarray(y), np.asarray(part)
    known = np.full(len(y), -1)
    free = np.zeros(len(y), bool)
    if pseudo is not None:
        known[pseudo[0]] = pseudo[1]
        free[pseudo[0]] = True
    start = np.asarray(start, dtype=int)
    known[start] = y[start]
    free[start] = False
    check_start(known, part == "train", getattr(refit, "classes", list(range(int(y.max()) + 1))))
    records = []
    targets = [t for t in totals if t > int((~free & (known >= 0)).sum())]
    for round_ in range(len(targets) + 1):
        labelled = known >= 0
        train_pos = np.flatnonzero(labelled & (part == "train"))
        val_pos = np.flatnonzero(labelled & (part == "val"))
        reads = strategy in ("uncertainty", "hybrid") and round_ < len(targets)
        proba, accuracy = refit(train_pos, val_pos, known, reads)
        true = labelled & ~free
        records.append(
            {
                "strategy": strategy,
                "seed": int(seed),
                "round": round_,
                "labels": int(true.sum()),
                "labelled_train": int((true & (part == "train")).sum()),
                "labelled_val": int((true & (part == "val")).sum()),
                "pseudo": int(free.sum()),
                "accuracy": accuracy,
            }
        )
        if round_ == len(targets):
            break
        batch = targets[round_] - int(true.sum())
        candidates = np.flatnonzero(~labelled)
        picks = S.query(
            strategy, batch, candidates, known, proba, embedding, [seed, round_], hybrid_pool
        )
        known[picks] = y[picks]
    return records


def pseudo_start(
    proba: np.ndarray, part: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, class ids)``: for each category, the ``k`` pool products of each part that
    zero-shot CLIP (``proba``) assigns to it most confidently, labelled with its prediction."""
    proba, part = np.asarray(proba), np.asarray(part)
    predicted, confidence = proba.argmax(1), proba.max(1)
    picks = []
    for c in range(proba.shape[1]):
        for p in ("train", "val"):
            rows = np.flatnonzero((predicted == c) & (part == p))
            picks += rows[np.argsort(-confidence[rows], kind="stable")[:k]].tolist()
    picks = np.array(sorted(picks), dtype=int)
    return picks, predicted[picks]


def start_sets(pool: pd.DataFrame, plan: Plan, seed: int) -> list[np.ndarray]:
    """One start per seed: ``plan.start`` products per category from each part, drawn as the
    label budget draws its subsets (``budget_subsets``), as positions in ``pool``."""
    pool = pool.reset_index(drop=True)
    train, val = pool[pool["split"] == "train"], pool[pool["split"] == "val"]
    subsets = budget_subsets(train, val, [plan.start], plan.seeds, seed)
    return [np.sort(np.concatenate([tr.index, va.index])) for _, _, tr, va in subsets]


def _task(panel, name, pool, test, strategy, totals, start, seed, embedding, pseudo, hybrid_pool):
    refit = Refitter(panel, name, pool, test)
    y = panel.y(refit.pool)
    with parallel.limited(parallel.SMALL_FIT_THREADS):
        records = simulate(
            refit,
            y,
            refit.pool["split"].to_numpy(),
            strategy,
            totals,
            start,
            seed,
            embedding,
            pseudo,
            hybrid_pool,
        )
    start_kind = "zero-shot" if pseudo is not None else "labels"
    return [{"candidate": name, "start": start_kind, **r} for r in records]


def run(
    panel,
    names: list[str],
    pool: pd.DataFrame,
    test: pd.DataFrame,
    plan: Plan,
    seed: int = 0,
    zeroshot: np.ndarray | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Every (candidate, strategy, seed) of ``plan`` on ``pool`` (training and validation rows with
    a ``split`` column), scored on ``test``: one record per round. ``zeroshot``: zero-shot CLIP's
    probabilities on the pool (adds, for each candidate reading CLIP's image embedding,
    uncertainty sampling from its pseudo-labels). ``.attrs``: how it ran, the schedule."""
    from ..models.candidates import needs
    from ..models.panel import CachedPanel

    names = S.check_candidates(names)
    pool = pool.reset_index(drop=True)
    totals = plan.totals(len(panel.classes), len(pool))
    starts = start_sets(pool, plan, seed)
    tasks, zeroshot_starts = [], {}
    with timing.step("cached features"):
        cached = CachedPanel.from_panel(panel, names, pd.concat([pool, test])) if names else None
    for name in names:
        with timing.step("embeddings"):
            emb = S.embedding(panel, name, pool, seed=seed)
        for strategy in plan.strategies:
            for s, start in enumerate(starts):
                tasks.append((cached, name, pool, test, strategy, totals, start, s, emb, None))
        if plan.zeroshot_start and zeroshot is not None and "clip-image" in needs([name]):
            # the pseudo-labelled start draws nothing: one run (seed 0), its spread is random's
            start_z = pseudo_start(zeroshot, pool["split"].to_numpy(), plan.start)
            covered = len(set(start_z[1].tolist()))
            if covered < len(panel.classes):
                zeroshot_starts[name] = (
                    f"zero-shot CLIP's pseudo-labels cover {covered} of {len(panel.classes)} "
                    "categories, and a start needs every one: no zero-shot start"
                )
            else:
                zeroshot_starts[name] = "ran"
                tasks.append((cached, name, pool, test, "uncertainty", totals, [], 0, emb, start_z))
    tasks = [(*t, plan.hybrid_pool) for t in tasks]
    with (
        timing.step("active learning"),
        bar(total=len(tasks), desc="active learning", disable=not progress) as pb,
    ):
        done, processes = parallel.run(_task, tasks, n_jobs, progress=pb.update)
    out = pd.DataFrame([r for records in done for r in records])
    out.attrs["parallel"] = {"processes": processes, "tasks": len(tasks)}
    out.attrs["totals"] = totals
    out.attrs["zeroshot_start"] = zeroshot_starts
    return out


# --------------------------------------------------------------------------- what it saves
def curves(records: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, min and max of test accuracy over seeds per candidate, start,
    strategy and round, with the labels read (mean over seeds)."""
    keys = ["candidate", "start", "strategy", "round"]
    grouped = records.groupby(keys, sort=False)
    table = grouped["accuracy"].agg(["mean", "std", "min", "max", "count"])
    table = table.join(grouped[["labels", "labelled_train", "labelled_val"]].mean())
    return table.reset_index()


def reach(records: pd.DataFrame, full: dict[str, float], share: float = 0.95) -> pd.DataFrame:
    """Per candidate, start, strategy and seed: the first label count of the schedule at which the
    test accuracy reaches ``share`` x the full-data accuracy (``full[candidate]``); NaN (censored)
    where it never does within the schedule (``budget``: the last label count tried)."""
    out = []
    for (name, start, strategy, seed), part in records.groupby(
        ["candidate", "start", "strategy", "seed"], sort=False
    ):
        target = share * full[name]
        part = part.sort_values("round")
        hit = part[part["accuracy"] >= target - 1e-12]
        out.append(
            {
                "candidate": name,
                "start": start,
                "strategy": strategy,
                "seed": int(seed),
                "target": target,
                "labels": float(hit["labels"].iloc[0]) if len(hit) else np.nan,
                "budget": int(part["labels"].max()),
            }
        )
    return pd.DataFrame(out)


def _ratio_interval(a: np.ndarray, b: np.ndarray, n_boot: int, level: float, seed: int):
    """Percentile bootstrap over seeds of mean(a) / mean(b): paired (the same seeds resampled for
    both) when they have as many seeds, else each resampled on its own."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(n_boot, len(b)))
    own = idx if len(a) == len(b) else rng.integers(0, len(a), size=(n_boot, len(a)))
    ratios = a[own].mean(1) / b[idx].mean(1)
    alpha = (1 - level) / 2
    return float(np.quantile(ratios, alpha)), float(np.quantile(ratios, 1 - alpha))


def savings(
    reached: pd.DataFrame, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """For each candidate and strategy (and start) but random: the labels it needs to reach the
    target against random's, as a ratio with a percentile bootstrap interval over seeds.

    A seed that never reaches the target is censored at the schedule's end. ``bound``: "exact"
    when every seed of both reached it; "at most" when only random's were censored (the ratio
    computed with random at its budget is an upper bound, and so is the upper end of its
    interval, ``high``: ``low`` is left empty); "at least" when only the strategy's were (a lower
    bound: ``low`` only); "none" when both were (no number).

    ``low`` and ``high`` hold jointly at ``level`` over the ``comparisons`` a candidate makes with
    random (Bonferroni: each at ``level_each`` = 1 - (1 - ``level``) / ``comparisons``), so that
    picking the best of them after the fact does not read noise as a saving; ``low_single`` and
    ``high_single``: the interval of that comparison alone, at ``level``.
    """
    rows = []
    base = reached[(reached["strategy"] == S.BASELINE) & (reached["start"] == "labels")]
    others = reached[~((reached["strategy"] == S.BASELINE) & (reached["start"] == "labels"))]
    comparisons = others[["candidate", "start", "strategy"]].drop_duplicates()["candidate"]
    comparisons = comparisons.value_counts()
    for (name, start, strategy), part in reached.groupby(
        ["candidate", "start", "strategy"], sort=False
    ):
        if strategy == S.BASELINE and start == "labels":
            continue
        ref = base[base["candidate"] == name].set_index("seed")
        part = part.set_index("seed")
        if start == "labels":  # paired: the same start draws
            part = part.loc[[s for s in part.index if s in ref.index]]
            ref = ref.loc[part.index]
        a, b = part["labels"].to_numpy(float), ref["labels"].to_numpy(float)
        a_cens, b_cens = np.isnan(a), np.isnan(b)
        budget_a, budget_b = part["budget"].to_numpy(float), ref["budget"].to_numpy(float)
        m = int(comparisons.get(name, 1))
        row = {
            "candidate": name,
            "start": start,
            "strategy": strategy,
            "target": float(part["target"].iloc[0]),
            "seeds": len(part),
            "random_seeds": len(ref),
            "reached": int((~a_cens).sum()),
            "random_reached": int((~b_cens).sum()),
            "labels": float(np.nanmean(a)) if (~a_cens).any() else np.nan,
            "random_labels": float(np.nanmean(b)) if (~b_cens).any() else np.nan,
            "budget": int(max(budget_a.max(), budget_b.max())),
            "ratio": np.nan,
            "low": np.nan,
            "high": np.nan,
            "low_single": np.nan,
            "high_single": np.nan,
            "comparisons": m,
            "level_each": 1 - (1 - level) / m,
        }
        if not a_cens.any() and not b_cens.any():
            row["bound"] = "exact"
            row["ratio"] = float(a.mean() / b.mean())
            row["low"], row["high"] = _ratio_interval(a, b, n_boot, row["level_each"], seed)
            row["low_single"], row["high_single"] = _ratio_interval(a, b, n_boot, level, seed)
        elif a_cens.all() and b_cens.all():
            row["bound"] = "none"
        elif b_cens.any() and not a_cens.any():
            row["bound"] = "at most"
            b = np.where(b_cens, budget_b, b)
            row["ratio"] = float(a.mean() / b.mean())
            _, row["high"] = _ratio_interval(a, b, n_boot, row["level_each"], seed)
            _, row["high_single"] = _ratio_interval(a, b, n_boot, level, seed)
        elif a_cens.any() and not b_cens.any():
            row["bound"] = "at least"
            a = np.where(a_cens, budget_a, a)
            row["ratio"] = float(a.mean() / b.mean())
            row["low"], _ = _ratio_interval(a, b, n_boot, row["level_each"], seed)
            row["low_single"], _ = _ratio_interval(a, b, n_boot, level, seed)
        else:
            row["bound"] = "none"
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(row) -> str:
    """What a savings row measured against random: "fewer" (its interval lies below one; for an
    "at most" bound, the upper end of its interval), "more" (above one; for an "at least" bound,
    the lower end), "no difference" (an exact interval across one) or "not measured" (censored
    seeds on both sides, or a bound whose interval reaches one)."""
    bound = row["bound"]
    if bound == "exact":
        if row["high"] < 1:
            return "fewer"
        if row["low"] > 1:
            return "more"
        return "no difference"
    if bound == "at most" and row["high"] < 1:
        return "fewer"
    if bound == "at least" and row["low"] > 1:
        return "more"
    return "not measured"


def versus_random(records: pd.DataFrame, n_test: int) -> pd.DataFrame:
    """Where along the schedule each strategy's curve lies against random's, per candidate and
    start: the mean difference of test accuracy at every label count both tried (paired by seed
    where the starts are the same draws, whose shared first point is left out; a zero-shot start
    against random's mean), and each point "ahead", "behind" or "level". A point is ahead or
    behind where the mean gap exceeds both twice its standard error over seeds (``noise``; from
    random's seeds for a zero-shot start, 0 with one seed) and half a test product
    (``tolerance``, ``0.5 / n_test``): a description of the curves, not a test. Also the mean
    difference over those points (the area between the curves over the schedule's points) and
    the largest gap each way."""
    tolerance = 0.5 / max(int(n_test), 1)
    base = records[(records["strategy"] == S.BASELINE) & (records["start"] == "labels")]
    rows = []
    for (name, start, strategy), part in records.groupby(
        ["candidate", "start", "strategy"], sort=False
    ):
        if strategy == S.BASELINE and start == "labels":
            continue
        ref = base[base["candidate"] == name].pivot_table(
            index="labels", columns="seed", values="accuracy"
        )
        own = part.pivot_table(index="labels", columns="seed", values="accuracy")
        common = [v for v in own.index if v in ref.index]
        if start == "labels":
            seeds = [s for s in own.columns if s in ref.columns]
            gaps = (own.loc[common, seeds] - ref.loc[common, seeds]).iloc[1:]  # not the start
            diff, spread, n = gaps.mean(axis=1), gaps.std(axis=1, ddof=1), len(seeds)
        else:
            diff = own.loc[common].mean(axis=1) - ref.loc[common].mean(axis=1)
            spread, n = ref.loc[common].std(axis=1, ddof=1), ref.shape[1]
        if diff.empty:
            continue
        noise = (2 * spread / np.sqrt(max(n, 1))).fillna(0.0) if n > 1 else diff * 0.0
        bar = np.maximum(noise.to_numpy(float), tolerance)
        states = np.where(diff > bar, "ahead", np.where(diff < -bar, "behind", "level"))
        rows.append(
            {
                "candidate": name,
                "start": start,
                "strategy": strategy,
                "labels": [int(round(v)) for v in diff.index],
                "difference": [float(v) for v in diff],
                "noise": [float(v) for v in noise],
                "state": [str(v) for v in states],
                "mean_difference": float(diff.mean()),
                "most_ahead": float(diff.max()),
                "most_ahead_at": int(round(diff.idxmax())),
                "most_behind": float(diff.min()),
                "most_behind_at": int(round(diff.idxmin())),
                "tolerance": tolerance,
            }
        )
    return pd.DataFrame(rows)


def best_strategy(table: pd.DataFrame, name: str, default: str = DEFAULT) -> tuple[str, str]:
    """``(strategy, basis)``: the default of the ranked list for ``name``, and what chose it.

    - "fewer labels": the strategy needing fewest labels against random among those that needed
      fewer (``verdict``: a Bonferroni-widened interval, or a bound, below one), measured on the
      test split's curves and picked after the fact as the best of them;
    - "every strategy more": random, because every other strategy needed more labels than it;
    - "default": nothing measured picks one (no strategy needed detectably fewer labels, or the
      target was not reached in every seed): ``default``, unless it was measured to need more
      labels than random, then random. A default, not a finding.
    """
    rows = table[(table["candidate"] == name) & (table["start"] == "labels")]
    verdicts = rows.apply(verdict, axis=1) if len(rows) else pd.Series(dtype=str)
    better = rows[verdicts == "fewer"]
    if len(better):
        best = better.sort_values(["ratio", "strategy"]).iloc[0]
        return str(best["strategy"]), "fewer labels"
    if len(rows) and (verdicts == "more").all():
        return S.BASELINE, "every strategy more"
    worse = set(rows.loc[verdicts == "more", "strategy"]) if len(rows) else set()
    return (default if default not in worse else S.BASELINE), "default"
