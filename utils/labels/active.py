"""Active learning simulated on the locked split: which products to label, measured.

The pool is the training and validation rows less one held-out group fold (``holdout``: it scores
every refit, for choosing the strategy of the ranked list without the test split); their labels
stay hidden until a strategy asks for them; the test rows only report. A simulation starts as the
label budget does (``evaluation.refits.budget_subsets``: ``start`` products per category from the
training part and as many from the validation part, one draw per seed, the same draw for every
strategy). For a candidate reading CLIP's image embedding, uncertainty sampling also runs from the
same draw plus zero-shot pseudo-labels (``pseudo_start``: the most confident products per
predicted category, labelled by zero-shot CLIP, costing no label), so that it is paired with random
seed by seed. Then rounds: refit the candidate (``models.fitting.fit``: settings chosen on the
labelled validation part, re-chosen every ``rechoose`` rounds and kept in between), score it on
the test rows and the held-out fold, let the strategy pick the next batch (``strategies.query``)
until the labels reach the next point of the schedule: one label per category per round up to
``fine_until`` per category, then the coarser points of ``per_category``. A product the strategy
picks joins the part of the split it comes from, so that validation labels are counted like
training labels, as in the label budget.

``run`` runs every (candidate, strategy, seed) in worker processes where that pays
(``core.parallel``, on a ``CachedPanel``: cached features only); ``curves`` summarises the records
over seeds; ``labels.compare`` reads them (crossings, areas, exact paired tests, the choice).
"""

from __future__ import annotations

import copy
import dataclasses
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
    fine_until: int = 32  # rounds of one label per category up to this many per category
    per_category: tuple = (48, 64, 80)  # then refits at these labels per category (coarser)
    seeds: int = 20  # start draws (each shared by every strategy) and random streams
    hybrid_pool: int = S.HYBRID_POOL
    zeroshot_start: bool = True  # CLIP candidates: also uncertainty from zero-shot pseudo-labels
    rechoose: int = 4  # settings re-chosen every this many rounds (and at the first), kept between
    holdout_folds: int = 5  # one of this many group folds of the pool scores the choice (0: none)

    def __post_init__(self) -> None:
        S.check_strategies(self.strategies)
        if self.start < 1 or self.seeds < 1:
            raise ValueError("the plan needs at least one label per category to start and one seed")
        if self.rechoose < 1:
            raise ValueError(f"rechoose must be at least 1 (every round), not {self.rechoose}.")
        if self.holdout_folds == 1 or self.holdout_folds < 0:
            raise ValueError(
                f"holdout_folds={self.holdout_folds}: hold out one of at least 2 folds, or 0."
            )
        coarse = [int(k) for k in self.per_category]
        if coarse != sorted(set(coarse)):
            raise ValueError(f"per_category {list(self.per_category)} must rise strictly")
        if not self.steps():
            raise ValueError(
                f"the schedule (one label per category per round up to {self.fine_until}, then "
                f"{coarse}) has no point above the {2 * self.start} labels per category of the "
                "start: raise fine_until or add a point to per_category."
            )

    PARAMS = {  # notebook 07's parameter of each field
        "strategies": "al_strategies",
        "start": "al_start",
        "fine_until": "al_fine_until",
        "per_category": "al_per_category",
        "seeds": "al_seeds",
        "hybrid_pool": "hybrid_pool",
        "zeroshot_start": "al_zeroshot_start",
        "rechoose": "al_rechoose",
        "holdout_folds": "al_holdout_folds",
    }

    @classmethod
    def from_params(cls, params: dict) -> Plan:
        """The plan of notebook 07's parameters (``nb.params``); a missing one keeps its
        default."""
        kw = {f: params[p] for f, p in cls.PARAMS.items() if p in params}
        for f in ("strategies", "per_category"):
            if f in kw:
                kw[f] = tuple(kw[f])
        return cls(**kw)

    def steps(self) -> list[int]:
        """Labels per category (both parts) at each refit after the start."""
        first = 2 * self.start + 1
        fine = list(range(first, int(self.fine_until) + 1))
        top = fine[-1] if fine else 2 * self.start
        return fine + [int(k) for k in self.per_category if int(k) > top]

    def totals(self, n_classes: int, pool: int) -> list[int]:
        """The schedule in labels (all categories), each point at most the pool's size."""
        totals = [k * n_classes for k in self.steps()]
        if totals[-1] > pool:
            raise ValueError(
                f"the pool holds {pool} products, fewer than the {totals[-1]} labels the schedule "
                f"ends at ({self.steps()[-1]} per category): lower per_category or fine_until."
            )
        return totals

    def record(self) -> dict:
        return {
            **asdict(self),
            "strategies": list(self.strategies),
            "per_category": list(self.per_category),
            "steps": self.steps(),
        }


# --------------------------------------------------------------------------- one candidate's refits
class Refitter:
    """Refit candidate ``name`` on labelled pool rows, score it on the test rows (and on the
    held-out fold's ``holdout`` rows): what a round of the simulation runs. Settings (a probe's
    or TF-IDF's C) are chosen on the labelled validation part at the first call and every
    ``rechoose`` calls, kept in between. Picklable with a ``CachedPanel`` (worker processes)."""

    def __init__(
        self,
        panel,
        name: str,
        pool: pd.DataFrame,
        test: pd.DataFrame,
        holdout: pd.DataFrame | None = None,
        rechoose: int = 1,
        matrices=None,
    ) -> None:
        self.panel, self.name, self.rechoose = panel, name, max(1, int(rechoose))
        self.pool = pool[[c for c in COLUMNS if c in pool]].reset_index(drop=True)
        self.test = test[[c for c in COLUMNS if c in test]].reset_index(drop=True)
        holdout = holdout if holdout is not None else test.iloc[0:0]
        self.holdout = holdout[[c for c in COLUMNS if c in holdout]].reset_index(drop=True)
        self.classes = list(panel.classes)
        self.y_test = panel.y(self.test) if len(self.test) else np.zeros(0, int)
        self.y_holdout = panel.y(self.holdout) if len(self.holdout) else np.zeros(0, int)
        self.calls, self.kept = 0, None  # the C kept between re-choices
        self.fast = None
        if matrices is not None:  # pool rows, then test rows, then held-out rows
            from .refit import FastRefit

            s = panel.settings
            self.fast = FastRefit(matrices, len(self.classes), tuple(s.probe_cs), s.seed)

    def rows(self, positions: np.ndarray, known: np.ndarray) -> pd.DataFrame:
        """Pool rows at ``positions`` with the labels the simulation knows (true or pseudo)."""
        out = self.pool.iloc[positions].copy()
        out["label"] = [self.classes[int(k)] for k in np.asarray(known)[positions]]
        return out

    def _panel(self):
        """The panel whose settings grid this call tries: all of it at the first call, the kept C
        and its neighbours when re-choosing (``refit.neighbours``), the kept C in between."""
        from .refit import neighbours

        if self.kept is None:
            return self.panel
        grid = tuple(self.panel.settings.probe_cs)
        Cs = neighbours(grid, self.kept) if self.calls % self.rechoose == 0 else (self.kept,)
        panel = copy.copy(self.panel)
        panel.settings = dataclasses.replace(self.panel.settings, probe_cs=Cs)
        return panel

    def _score(self, fitted, rows: pd.DataFrame, y: np.ndarray) -> float:
        if not len(rows):
            return float("nan")
        return float(np.mean(fitted.predict_proba(self.panel, rows).argmax(1) == y))

    def __call__(self, train_pos, val_pos, known, proba: bool = True):
        """``(probabilities on every pool row, scores)`` of the candidate refitted on the labelled
        ``train_pos`` with its settings chosen on ``val_pos`` (``proba=False``: None instead of
        the probabilities, which only uncertainty-based strategies read); ``scores``: test
        ``accuracy``, ``holdout_accuracy`` and whether the settings were re-chosen."""
        if self.fast is not None:
            return self._fast(train_pos, val_pos, known, proba)
        from ..models.fitting import fit

        panel = self._panel()
        chose = self.kept is None or self.calls % self.rechoose == 0
        fitted = fit(self.name, panel, self.rows(train_pos, known), self.rows(val_pos, known))
        self.calls += 1
        if chose and "C" in fitted.info:
            self.kept = fitted.info["C"]
        with timing.step(f"predict {self.name}"):
            proba = fitted.predict_proba(self.panel, self.pool) if proba else None
            scores = {
                "accuracy": self._score(fitted, self.test, self.y_test),
                "holdout_accuracy": self._score(fitted, self.holdout, self.y_holdout),
                "rechosen": bool(chose),
            }
        return proba, scores

    def _fast(self, train_pos, val_pos, known, proba: bool):
        """``__call__`` through ``refit.FastRefit`` (probe and TF-IDF candidates)."""
        known = np.asarray(known)
        choose = self.calls % self.rechoose == 0
        with timing.step(f"fit {self.name}"):
            lr, _ = self.fast.fit(train_pos, known[train_pos], val_pos, known[val_pos], choose)
        self.calls += 1
        P, T, H = len(self.pool), len(self.test), len(self.holdout)
        with timing.step(f"predict {self.name}"):
            out = self.fast.proba(lr, self.fast.features(np.arange(P))) if proba else None
            scores = {}
            for key, start, n, y in (
                ("accuracy", P, T, self.y_test),
                ("holdout_accuracy", P + T, H, self.y_holdout),
            ):
                if n:
                    rows = self.fast.features(np.arange(start, start + n))
                    scores[key] = float(np.mean(self.fast.proba(lr, rows).argmax(1) == y))
                else:
                    scores[key] = float("nan")
        return out, {**scores, "rechosen": bool(choose)}


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
    when ``proba`` is False: the strategy does not read them) and the test accuracy (or a dict of
    scores with ``accuracy``); ``y``: the pool's true class ids; ``part``: "train" or "val" per
    pool row (which part a labelled product joins); ``start``: positions labelled at the start;
    ``pseudo``: (positions, class ids) pseudo-labelled at the start, costing no label and never
    asked for; ``totals``: the labels at which to refit after the start.
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
        proba, scores = refit(train_pos, val_pos, known, reads)
        scores = scores if isinstance(scores, dict) else {"accuracy": scores}
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
                **scores,
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
    zero-shot CLIP (``proba``) assigns to it most confidently, labelled with its prediction
    (``exclude``: positions already labelled, never pseudo-labelled)."""
    proba, part = np.asarray(proba), np.asarray(part)
    predicted, confidence = proba.argmax(1), proba.max(1)
    allowed = np.ones(len(proba), bool)
    if exclude is not None:
        allowed[np.asarray(exclude, dtype=int)] = False
    picks = []
    for c in range(proba.shape[1]):
        for p in ("train", "val"):
            rows = np.flatnonzero((predicted == c) & (part == p) & allowed)
            picks += rows[np.argsort(-confidence[rows], kind="stable")[:k]].tolist()
    picks = np.array(sorted(picks), dtype=int)
    return picks, predicted[picks]


def start_sets(pool: pd.DataFrame, start: int, seeds: int, seed: int) -> list[np.ndarray]:
    """One start per seed: ``start`` products per category from each part, drawn as the label
    budget draws its subsets (``budget_subsets``), as positions in ``pool``."""
    pool = pool.reset_index(drop=True)
    train, val = pool[pool["split"] == "train"], pool[pool["split"] == "val"]
    subsets = budget_subsets(train, val, [int(start)], int(seeds), seed)
    return [np.sort(np.concatenate([tr.index, va.index])) for _, _, tr, va in subsets]


def holdout_fold(pool: pd.DataFrame, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(kept positions, held-out positions)`` of ``pool``: one of ``folds`` stratified group
    folds held out (near-duplicates kept together); all kept and none held out for 0."""
    pool = pool.reset_index(drop=True)
    if not folds:
        return np.arange(len(pool)), np.zeros(0, int)
    from sklearn.model_selection import StratifiedGroupKFold

    groups = pool["group"].to_numpy() if "group" in pool else np.arange(len(pool))
    cv = StratifiedGroupKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    kept, held = next(cv.split(np.zeros(len(pool)), pool["label"].to_numpy(), groups))
    return np.sort(kept), np.sort(held)


def _task(
    panel, name, pool, test, holdout, rechoose, strategy, totals, start, seed, embedding, pseudo,
    hybrid_pool, matrices=None,
):  # fmt: skip
    refit = Refitter(panel, name, pool, test, holdout, rechoose, matrices)
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
    holdout: pd.DataFrame | None = None,
    fast_refits: bool = True,
) -> pd.DataFrame:
    """Every (candidate, strategy, seed) of ``plan`` on ``pool`` (training and validation rows with
    a ``split`` column), scored on ``test`` and on ``holdout`` (rows held out of the pool): one
    record per round. ``zeroshot``: zero-shot CLIP's probabilities on the pool (adds, for each
    candidate reading CLIP's image embedding, uncertainty sampling from each seed's start plus
    its pseudo-labels). ``fast_refits``: probe and TF-IDF candidates through
    ``refit.FastRefit`` (else ``models.fitting.fit`` at every round). ``.attrs``: how it ran,
    the schedule."""
    from ..models.candidates import needs
    from ..models.panel import CachedPanel

    names = S.check_candidates(names)
    pool = pool.reset_index(drop=True)
    holdout = holdout if holdout is not None else pool.iloc[0:0]
    totals = plan.totals(len(panel.classes), len(pool))
    starts = start_sets(pool, plan.start, plan.seeds, seed)
    tasks, zeroshot_starts = [], {}
    with timing.step("cached features"):
        rows = pd.concat([pool, test, holdout])
        cached = CachedPanel.from_panel(panel, names, rows) if names else None
    from . import refit as fast

    matrices = {}
    for name in names:
        with timing.step("embeddings"):
            emb = S.embedding(panel, name, pool, seed=seed)
        if fast_refits and fast.fast(name):
            with timing.step("matrices"):
                matrices[name] = fast.Matrices(cached, name, rows)
        for s, start in enumerate(starts):
            for strategy in plan.strategies:
                tasks.append(
                    (cached, name, pool, test, holdout, plan.rechoose, strategy, totals)
                    + (start, s, emb, None)
                )
        if plan.zeroshot_start and zeroshot is not None and "clip-image" in needs([name]):
            # each seed's own start draw plus the pseudo-labels: paired with random seed by seed
            part = pool["split"].to_numpy()
            zeroshot_starts[name] = "ran"
            for s, start in enumerate(starts):
                pseudo = pseudo_start(zeroshot, part, plan.start, exclude=start)
                tasks.append(
                    (cached, name, pool, test, holdout, plan.rechoose, "uncertainty", totals)
                    + (start, s, emb, pseudo)
                )
    tasks = [(*t, plan.hybrid_pool, matrices.get(t[1])) for t in tasks]
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


def curves(records: pd.DataFrame, column: str = "accuracy") -> pd.DataFrame:
    """Mean, standard deviation, min and max of ``column`` (test accuracy) over seeds per
    candidate, start, strategy and round, with the labels read (mean over seeds)."""
    keys = ["candidate", "start", "strategy", "round"]
    grouped = records.groupby(keys, sort=False)
    table = grouped[column].agg(["mean", "std", "min", "max", "count"])
    table = table.join(grouped[["labels", "labelled_train", "labelled_val"]].mean())
    return table.reset_index()
