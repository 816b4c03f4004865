"""Notebook 07's study (``LabelStudy``): active learning simulated on the locked split, what each
strategy saves, the ranked list of products to label next, the label audit and what cleaning the
flagged labels does to test accuracy. The study keeps its results; ``record()`` returns the
``labels`` section of ``metrics.json``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import runs, timing
from ..data import split as split_
from ..evaluation import metrics
from ..models import candidates, families
from ..models.panel import Panel
from . import active, audit, compare, suggest
from . import strategies as S

PHOTO_AUDIT = ("clip-probe", "vgg16-probe", "pixels-classic", "clip-head", "vgg16-head")
GALLERY_ORDER = ["kind", "votes", "confidence"]  # likely errors first, then votes, confidence
WEAK_GAP = 0.15  # out-of-fold accuracy this far below the best: its own list, not the gallery
# what the ranked list's strategy was chosen on, by ``LabelStudy.strategy_for``'s basis
CHOSEN_ON = {
    "held-out fold": "held-out fold",  # curves scored on a group fold held out of the pool
    "default": "default",  # no measurement picked one
    "not simulated": "default",
    "suggest_strategy": "parameter",  # notebook 07's suggest_strategy
}


def _plain(value):
    """JSON-ready: NaN as None, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return _plain(df.to_dict("records"))


class LabelStudy:
    """Which products to label next and which labels look wrong, for the candidates this run
    trained (``models``), on the split notebook 02 locked."""

    def __init__(self, layout, settings, models: list[str], run_metrics: dict) -> None:
        self.layout, self.settings, self.seed = layout, settings, settings.seed
        self.split = split_.load_split(layout.split)
        self.classes = self.split.labels()
        self.panel = Panel(layout, settings, self.classes, self.split.split_id, progress=False)
        self.models = list(models)
        self.pool = suggest.catalog_facts(
            pd.concat([self.split.train, self.split.val]).reset_index(drop=True)
        )
        self.test = self.split.test_for_final_evaluation()  # scores refits; never relabelled
        evaluation = run_metrics.get("evaluation") or {}
        self.table = evaluation.get("table") or {}
        self.eval_seed = evaluation.get("seed", self.seed)  # notebook 05's bootstrap seed
        self.recommended = (evaluation.get("recommendation") or {}).get("candidate")
        self.val_accuracy = {
            n: i.get("val_accuracy")
            for n, i in ((run_metrics.get("training") or {}).get("info") or {}).items()
        }
        self.out: dict = {}
        self.skipped: dict[str, str] = {}

    # ------------------------------------------------------------------ which candidates
    def usable(self, names: list[str]) -> list[str]:
        """The candidates of ``names`` this run trained that active learning and the audit can
        refit cheaply; the others are kept in ``skipped`` with the reason."""
        out = []
        for n in candidates.resolve(list(names)):
            if n not in self.models:
                self.skipped[n] = "not run in this run"
                continue
            try:
                S.check_candidates([n])
            except ValueError as exc:
                self.skipped[n] = str(exc)
                continue
            out.append(n)
        return out

    # ------------------------------------------------------------------ active learning
    def simulate(self, names: list[str], plan: active.Plan, n_jobs=None, share: float = 0.95):
        """Every strategy of ``plan`` for each usable candidate of ``names`` and for the
        recommended candidate (where it refits from cached features), over ``plan.seeds`` seeds,
        on the pool less a held-out group fold; the curves, each seed's interpolated crossing of
        ``share`` of the full-data accuracy and its area, and the exact paired tests against
        random. Returns the tests."""
        wanted = list(dict.fromkeys([*names, *([self.recommended] if self.recommended else [])]))
        names = [n for n in self.usable(wanted) if n in self.table]
        kept, held = active.holdout_fold(self.pool, plan.holdout_folds, self.seed)
        pool, holdout = self.pool.iloc[kept], self.pool.iloc[held]
        zeroshot = None
        if plan.zeroshot_start and "clip-zeroshot" in self.models:
            zs = families.load("clip-zeroshot", self.panel)
            zeroshot = zs.predict_proba(self.panel, pool)
        records = active.run(
            self.panel, names, pool, self.test, plan, self.seed, zeroshot, n_jobs, False, holdout
        )
        full = {n: float(self.table[n]["accuracy"]) for n in names}
        self.plan, self.share, self.full, self.records = plan, share, full, records
        self.sim_pool, self.holdout = len(pool), len(holdout)
        empty = pd.DataFrame()
        self.curves = active.curves(records) if len(records) else empty
        self.per_seed = compare.per_seed(records, full, share) if len(records) else empty
        self.per_seed_holdout = (
            compare.per_seed(records, {}, share, "holdout_accuracy")
            if len(records) and len(holdout)
            else empty
        )
        self.tests = (
            compare.paired(self.per_seed, metrics.LEVEL, self.seed) if len(records) else empty
        )
        self.al_names = names
        return self.tests

    def tests_view(self) -> pd.DataFrame:
        """The paired tests for reading: per candidate and strategy, the labels each needs to
        reach the target (median over seeds, random's beside it), the geometric-mean ratio, the
        areas, the Holm-adjusted exact p-values and the verdicts."""
        if self.tests is None or self.tests.empty:
            return pd.DataFrame({"no candidate simulated": []})
        view = self.tests.copy()
        view["strategy"] = np.where(
            view["start"] == "labels", view["strategy"], view["strategy"] + " (zero-shot start)"
        )
        return view.set_index(["candidate", "strategy"])[
            [
                "seeds",
                "median_labels",
                "random_median_labels",
                "ratio",
                "p_labels_holm",
                "labels_verdict",
                "area",
                "random_area",
                "p_area_holm",
                "area_verdict",
            ]
        ].round(4)

    # ------------------------------------------------------------------ the ranked list
    def strategy_for(self, name: str) -> tuple[str, str]:
        """``(strategy, basis)``: for a simulated candidate, the strategy whose curves have the
        largest mean area on the held-out fold (``compare.choose``; basis "held-out fold");
        ``active.DEFAULT`` with basis "not simulated" (or "default" without a held-out fold)."""
        if name not in getattr(self, "al_names", []):
            return active.DEFAULT, "not simulated"
        if self.per_seed_holdout.empty:
            return active.DEFAULT, "default"
        chosen, _ = compare.choose(self.per_seed_holdout, name)
        return (chosen, "held-out fold") if chosen else (active.DEFAULT, "default")

    def suggest(self, strategy: str | None, batch: int, reports_dir) -> pd.DataFrame:
        """Notebook 07's demonstration of ``suggest.rank``: the pool as if only the simulation's
        first start were labelled, ranked for the recommended candidate (or, where it cannot be
        refitted cheaply, the first simulated one, named) by ``strategy`` (None: the one chosen
        on the held-out fold, ``strategy_for``); written to ``suggested_labels.csv``."""
        name = self.recommended if self.recommended in self.al_names else None
        name = name or next(iter(self.al_names), None)
        if name is None:
            self.out["suggest"] = {"skipped": "no candidate could be simulated in this run"}
            return pd.DataFrame()
        chosen, basis = self.strategy_for(name)
        basis = basis if not strategy or strategy == chosen else "suggest_strategy"
        strategy = strategy or chosen
        labelled, pool = suggest.demonstration(self.split, self.plan.start, self.seed)
        pool = suggest.catalog_facts(pool)
        batch = min(batch, len(pool))
        with timing.step("ranked list"):
            table = suggest.rank(self.panel, name, labelled, pool, strategy, batch, self.seed)
        path = Path(reports_dir) / "suggested_labels.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
        truth = pool.loc[table.index, "label"].to_numpy()
        areas = {
            n: compare.choose(self.per_seed_holdout, n)[1] if len(self.per_seed_holdout) else {}
            for n in self.al_names
        }
        self.out["suggest"] = {
            "candidate": name,
            "recommended": self.recommended,
            "recommended_skipped": self.skipped.get(self.recommended)
            if self.recommended != name
            else None,
            "strategy": strategy,
            "basis": basis,
            "chosen_on": CHOSEN_ON[basis],
            "default": active.DEFAULT,
            "holdout_areas": areas.get(name, {}),
            "strategies": {n: self.strategy_for(n)[0] for n in self.al_names},
            "labelled": len(labelled),
            "pool": len(pool),
            "batch": batch,
            "csv": path.name,
            "batch_categories": int(len(set(truth[:batch]))),
            "batch_wrong": int((table["predicted"].to_numpy()[:batch] != truth[:batch]).sum()),
            "top": _records(table.head(10)),
        }
        return table

    # ------------------------------------------------------------------ the audit
    def audit_candidates(self, names: list[str] | None) -> list[str]:
        """``names``, or the recommended candidate and one photo candidate (a CLIP or VGG16 probe
        when they ran, else pixels-classic)."""
        if names:
            return self.usable(names)
        first = self.usable([self.recommended]) if self.recommended else []
        if not first:
            refittable = self.usable(self.models)
            ranked = sorted(refittable, key=lambda n: -(self.val_accuracy.get(n) or 0))
            first = ranked[:1]
        photo = [n for n in PHOTO_AUDIT if n in self.models and n not in first]
        return first + self.usable(photo)[:1]

    def audit(
        self, names: list[str] | None, n_folds: int, planted: int, n_jobs=None, draws: int = 3
    ):
        """Out-of-fold probabilities of each audited candidate on the training and validation
        products, confident learning's flags (each a taxonomy boundary or a likely error,
        ``audit.boundaries``), and (``planted`` > 0) recall on planted flips: ``draws`` draws of
        ``planted`` labels moved where the candidate's real mistakes go (its out-of-fold
        confusion), and one uniform draw beside it. Returns flagged products per category."""
        self.audited = self.audit_candidates(names)
        self.proba, self.flagged, self.planted = {}, {}, {}
        for name in self.audited:
            self.proba[name] = audit.out_of_fold(
                self.panel, name, self.pool, n_folds, self.seed, n_jobs
            )
            found = audit.issues(self.pool, self.proba[name], self.classes)
            self.flagged[name] = audit.boundaries(found, self.pool)
            if planted:
                conf = audit.confusion(self.pool, self.proba[name], self.classes)
                self.planted[name] = {
                    "confusion": audit.planted(
                        self.panel, name, self.pool, planted, n_folds, self.seed, n_jobs, draws,
                        conf, metrics.LEVEL,
                    ),
                    "uniform": audit.planted(
                        self.panel, name, self.pool, planted, n_folds, self.seed, n_jobs, 1,
                        None, metrics.LEVEL,
                    ),
                }  # fmt: skip
        self.n_folds = n_folds
        return self.per_category()

    def per_category(self) -> pd.DataFrame:
        tables = {n: audit.per_category(f, self.pool)["flagged"] for n, f in self.flagged.items()}
        out = pd.DataFrame(tables)
        out["products"] = self.pool["label"].value_counts()
        return out.fillna(0).astype(int)

    def oof_accuracy(self, name: str) -> float:
        return float(np.mean(self.proba[name].argmax(1) == self.panel.y(self.pool)))

    def weak(self) -> list[str]:
        """Audited candidates whose out-of-fold accuracy is more than ``WEAK_GAP`` below the
        best's: their flags are mostly their own errors, listed apart from the gallery."""
        acc = {n: self.oof_accuracy(n) for n in self.flagged}
        best = max(acc.values(), default=0.0)
        return [n for n, a in acc.items() if a < best - WEAK_GAP]

    def both(self) -> set[int]:
        """Positions flagged by every audited candidate."""
        sets = [set(f["position"]) for f in self.flagged.values()]
        return set.intersection(*sets) if sets else set()

    def gallery(self, shown: int) -> pd.DataFrame:
        """Every product flagged by a candidate not far below the best (``weak``) once: likely
        errors before taxonomy boundaries, then flagged by more candidates, then by confidence
        (the out-of-fold probability of the suggested label, highest first); suggestion,
        confidence and kind from the most accurate candidate that flagged it (``confidence_of``);
        ``flagged_by`` names them all. The figure shows the first ``shown``."""
        weak = set(self.weak()) if getattr(self, "proba", None) else set()
        strong = [n for n in self.flagged if n not in weak]
        if getattr(self, "proba", None):
            strong.sort(key=lambda n: -self.oof_accuracy(n))
        rows = {}
        for name in strong:
            for r in self.flagged[name].itertuples():
                entry = rows.setdefault(
                    r.position, {**r._asdict(), "flagged_by": [], "confidence_of": name}
                )
                entry["flagged_by"].append(name)
        table = pd.DataFrame(list(rows.values()))
        self.out["gallery"] = {
            "shown": min(shown, len(table)),
            "of": len(table),
            "order": GALLERY_ORDER,
            "candidates": strong,
            "apart": sorted(weak),
        }
        if table.empty:
            return table
        if "kind" not in table:
            table["kind"] = "likely error"
        table["votes"] = table["flagged_by"].map(len)
        table["flagged_by"] = table["flagged_by"].map(", ".join)
        table["order"] = np.arange(len(table))
        table["error_first"] = (table["kind"] == "likely error").astype(int)
        return table.sort_values(
            ["error_first", "votes", "confidence", "order"], ascending=[False, False, False, True]
        ).drop(columns=["Index", "order", "error_first"])

    def write_issues(self, reports_dir) -> Path:
        """Every flagged product of every audited candidate: ``label_issues.csv``."""
        both = self.both()
        parts = [
            f.drop(columns=["path"], errors="ignore").assign(
                candidate=n, flagged_by_all=f["position"].isin(both)
            )
            for n, f in self.flagged.items()
        ]
        path = Path(reports_dir) / "label_issues.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.concat(parts, ignore_index=True).to_csv(path, index=False)
        self.issues_csv = path
        return path

    # ------------------------------------------------------------------ cleaning
    def cleaning(self, n_boot: int) -> pd.DataFrame:
        """Each audited candidate refitted with its flagged products dropped, then relabelled,
        against the fit on the labels as given, on the test split (labels untouched)."""
        self.cleaned = {
            n: audit.cleaning(
                self.panel,
                n,
                self.pool,
                self.test,
                self.flagged[n],
                n_boot,
                self.eval_seed,
                self.table.get(n),
            )
            for n in self.audited
        }
        self.n_boot = n_boot
        rows = {}
        for n, c in self.cleaned.items():
            for key, t in c["table"].items():
                p = c["paired"].get(key, {})
                rows[(n, key)] = {
                    "labelled": c["labelled"][key],
                    "accuracy": t["accuracy"],
                    "low": t["accuracy_low"],
                    "high": t["accuracy_high"],
                    "Δ": p.get("difference"),
                    "Δ low": p.get("low"),
                    "Δ high": p.get("high"),
                    "McNemar p": p.get("mcnemar_p"),
                }
        return pd.DataFrame(rows).T

    # ------------------------------------------------------------------ the record
    def record(self) -> dict:
        """The ``labels`` section of ``metrics.json``."""
        out = {
            "candidates": self.al_names,
            "skipped": self.skipped,
            "classes": len(self.classes),
            "pool": len(self.pool),
            "pool_parts": {p: int((self.pool["split"] == p).sum()) for p in ("train", "val")},
            "test": len(self.test),
            "strategies": {k: S.STRATEGIES[k] for k in self.plan.strategies},
            "plan": self.plan.record(),
            "totals": self.records.attrs.get("totals"),
            "simulation_pool": self.sim_pool,  # the pool less the held-out fold
            "holdout": self.holdout,  # products of the held-out fold (scores the choice)
            "share": self.share,
            "level": metrics.LEVEL,  # of the tests (Holm across a candidate's strategies)
            "full": {n: {"accuracy": a, "labels": len(self.pool)} for n, a in self.full.items()},
            "fitted_by": runs.SECTIONS["training"],  # the notebook whose fit is the full data
            "records": _records(self.records),
            "curves": _records(self.curves),
            "per_seed": _records(self.per_seed),
            "per_seed_holdout": _records(self.per_seed_holdout),
            "tests": _records(self.tests),
            "parallel": self.records.attrs.get("parallel"),
            "zeroshot_start": self.records.attrs.get("zeroshot_start") or {},
            **self.out,
        }
        if self.out.get("suggest", {}).get("chosen_on"):
            out["suggest_strategy_chosen_on"] = self.out["suggest"]["chosen_on"]
        if getattr(self, "audited", None):
            both = self.both()
            out["audit"] = {
                "candidates": self.audited,
                "folds": self.n_folds,
                "csv": self.issues_csv.name if getattr(self, "issues_csv", None) else None,
                "both": len(both),
                "weak_gap": WEAK_GAP,
                "apart": self.weak(),
                "per_candidate": {
                    n: {
                        "oof_accuracy": self.oof_accuracy(n),
                        "flagged": len(f),
                        "kinds": f["kind"].value_counts().to_dict() if len(f) else {},
                        "boundaries": audit.boundary_pairs(f),
                        "per_category": audit.per_category(f, self.pool)["flagged"].to_dict(),
                        "per_split": f["split"].value_counts().to_dict() if len(f) else {},
                        "planted": self.planted.get(n),
                        "issues": _records(f.drop(columns=["path"], errors="ignore").head(20)),
                    }
                    for n, f in self.flagged.items()
                },
            }
        if getattr(self, "cleaned", None):
            out["cleaning"] = {"n_boot": self.n_boot, **self.cleaned}
        return _plain(out)
