"""Notebook 05's evaluation as one study that keeps what it measures (``Evaluation``).

The study reads the test split once (``Split.test_for_final_evaluation``), then each step stores
its results on the study as it runs: ``score`` (every candidate's test predictions, the table with
cluster-bootstrap intervals, the paired comparisons, the costs, the claims and the choice),
``errors``, ``zeroshot``, ``log_loss``, ``repeated_splits``, ``label_budget``; ``record()``
returns the ``evaluation`` section of ``metrics.json``. Its knobs are the notebook's parameters
(``settings``: ``n_boot``, ``seed``, ``timing_images``, ``repeat_seeds``, ``budget_ks``...).
"""

from __future__ import annotations

import pandas as pd

from ..core import parallel, runs, timing
from ..data import split as splits
from ..data.acquire import dataset_checksum
from ..models.candidates import HEADLINE, REFERENCE
from . import calibration, decision, metrics, refits, results
from .costs import panel_costs, panel_predictions, precision_agreement

KNOBS = (
    "n_boot",
    "seed",
    "timing_images",
    "timing_repeats",
    "repeat_seeds",
    "repeat_models",
    "budget_models",
    "budget_ks",
    "budget_draws",
    "n_jobs",
    "target_accuracy",
    "min_accepted",
    "calibration_bins",
)


class Evaluation:
    """Every candidate of ``fitted`` on the locked test split of ``split``, with the run's
    records so far (``records``, the metrics file: notebook 04's training record; notebook 03's
    features record, with what could not run and the rows its precision check encoded at both
    precisions; the data read) and the candidates whose encoders are stand-ins."""

    def __init__(
        self, panel, fitted: dict, split, settings: dict, records: dict, stand_in: set[str]
    ) -> None:
        missing = [k for k in KNOBS if k not in settings]
        if missing:
            raise KeyError(f"the evaluation needs the notebook parameters {missing}")
        self.panel, self.fitted, self.split = panel, fitted, split
        self.settings = {k: settings[k] for k in KNOBS}
        self.training, self.stand_in = records["training"], set(stand_in)
        check = (records.get("features") or {}).get("precision_check") or {}
        self.precision_rows = {k: list(r.get("rows") or []) for k, r in check.items()}
        self.context = {
            "dataset": (records.get("data") or {}).get("dataset"),
            "subsample": (records.get("split") or {}).get("max_per_category"),
            "skipped": sorted((records.get("features") or {}).get("skipped") or {}),
        }
        self.classes = panel.classes
        self.test = split.test_for_final_evaluation()
        self.y = panel.y(self.test)
        self.reference = REFERENCE if REFERENCE in fitted else next(iter(fitted))
        self.reads = {n: f.candidate.reads for n, f in fitted.items()}
        self.labelled = {
            n: f.info.get("labelled_train", 0) + f.info.get("labelled_val", 0)
            for n, f in fitted.items()
        }
        self.headline = [n for n in HEADLINE if n in fitted] or [self.reference]
        self.best_photo = self._best_photo(fitted)
        if self.best_photo and not any(n in fitted for n in HEADLINE):
            self.headline.append(self.best_photo)  # the note's photo models stand in for it
        infos = {m.name: m.info for f in fitted.values() for m in getattr(f, "members", [])}
        infos.update({n: f.info for n, f in fitted.items()})
        tuning = decision.validation_tuning(infos)  # fusion members: their own choices too
        self.tuning = {n: tuning[n] for n in fitted}
        self.errors_: dict[str, pd.DataFrame] = {}
        self.missing_descriptions_: dict = {}
        self.confused: dict = {}
        self.zeroshot_: dict | None = None
        self.log_loss_: dict | None = None
        self.repeats: pd.DataFrame | None = None
        self.other_seeds: list = []
        self.test_sizes: list[int] = []
        self.repeat_names: list[str] = []
        self.budget: pd.DataFrame = pd.DataFrame()
        self.budget_summary: pd.DataFrame | None = None
        self.budget_names: list[str] = []
        self.calibration_: dict = {}
        self.threshold_: dict = {}
        self.curves: dict = {}

    @property
    def n_boot(self) -> int:
        return self.settings["n_boot"]

    @property
    def seed(self) -> int:
        return self.settings["seed"]

    # ---- the answer
    def score(self) -> Evaluation:
        """Predictions, the test table with intervals, paired comparisons against the reference,
        the costs of one prediction, and from them the claims and the choice (on validation)."""
        s = self.settings
        self.proba = panel_predictions(self.panel, self.fitted, self.test)
        self.predictions = {n: p.argmax(1) for n, p in self.proba.items()}
        self.table, self.details, self.paired = metrics.compare(
            self.y,
            self.predictions,
            self.classes,
            self.test["group"],
            self.reference,
            self.n_boot,
            seed=self.seed,
        )
        timed = self.test.head(s["timing_images"])
        self.costs = panel_costs(self.panel, self.fitted, timed, s["timing_repeats"])
        self.claims = decision.claims(self.answer, self.training, self.stand_in)
        self.recommendation = self._recommend(self.answer)
        return self

    @property
    def answer(self) -> dict:
        """What the claims and the choice read (the record's first part)."""
        return {
            "table": self.table.to_dict("index"),
            "paired": self.paired,
            "costs": self.costs,
            "labelled": self.labelled,
            "reads": self.reads,
            "classes": self.classes,
            "tuning": self.tuning,
            "n_test": len(self.test),
        }

    def _recommend(self, evaluation: dict) -> dict:
        n_val = len(self.split.val)
        return decision.recommend(
            evaluation, self.training, n_val, exclude=self.stand_in, context=self.context
        )

    @property
    def chosen(self) -> str:
        return self.recommendation.get("candidate", self.reference)

    # ---- tables and what the models get wrong
    def ranking(self) -> pd.DataFrame:
        return results.ranking(self.table, self.reads, self.labelled, self.costs)

    def per_class(self) -> pd.DataFrame:
        return results.per_class(self.details, self.headline)

    def confusions(self) -> dict:
        return {n: self.details[n]["confusion"] for n in self.headline}

    def paired_table(self) -> pd.DataFrame:
        return results.paired_table(self.paired, self.reference)

    def _best_photo(self, fitted: dict) -> str | None:
        """The candidate reading the photo alone with the highest validation accuracy (None: no
        such candidate other than the reference)."""
        photo = [n for n in fitted if self.reads[n] == "image" and n != self.reference]
        if not photo:
            return None
        return max(photo, key=lambda n: (fitted[n].info.get("val_accuracy") or 0, n))

    def errors(self) -> dict[str, pd.DataFrame]:
        """The most confident errors and most confused pairs of the reference and the chosen
        candidate (fastai's top losses and most confused), and of the best photo candidate when
        the note's photo heads did not run."""
        extra = [n for n in self.headline if n not in HEADLINE]
        names = list(dict.fromkeys([self.reference, self.chosen, *extra]))
        self.errors_ = results.errors(self.test, self.proba, self.y, self.classes, names)
        self.confused = {
            n: results.most_confused(self.details[n]["confusion"], self.classes) for n in names
        }
        return self.errors_

    # ---- what the text is worth
    def without_descriptions(self) -> pd.DataFrame:
        """The candidates that read the product description, scored on the same test products
        with the description removed (the name alone, as a catalogue without descriptions would
        give them): test accuracy with its interval and the paired difference to the full text.
        The photo candidates are unaffected; a fusion keeps its photo side."""
        from ..models.candidates import needs

        names = [n for n in self.fitted if "text" in needs([n])]
        self.missing_descriptions_ = {}
        if not names:
            return pd.DataFrame()
        rows = self.test.assign(description="")
        for n in names:
            blind = self.fitted[n].predict_proba(self.panel, rows).argmax(1)
            table, _, paired = metrics.compare(
                self.y,
                {n: self.predictions[n], "name only": blind},
                self.classes,
                self.test["group"],
                reference=n,
                n_boot=self.n_boot,
                seed=self.seed,
            )
            p, t = paired["name only"], table.loc["name only"]
            self.missing_descriptions_[n] = {
                "accuracy": float(t["accuracy"]),
                "accuracy_low": float(t["accuracy_low"]),
                "accuracy_high": float(t["accuracy_high"]),
                "with_descriptions": float(table.loc[n, "accuracy"]),
                "difference": p["accuracy_difference"],
                "difference_low": p["difference_low"],
                "difference_high": p["difference_high"],
            }
        return results.missing_table(self.missing_descriptions_)

    # ---- zero-shot and the loss
    def zeroshot(self) -> dict | None:
        """Zero-shot CLIP's prompts and temperature (None when it did not run)."""
        zs = self.fitted.get("clip-zeroshot")
        self.zeroshot_ = results.zeroshot_facts(zs) if zs is not None else None
        return self.zeroshot_

    def log_loss(self) -> dict | None:
        """The reference's per-product loss on the test split (None when it did not run)."""
        if self.reference in self.proba:
            p = self.proba[self.reference]
            self.log_loss_ = metrics.log_loss_stats(self.reference, p, self.y)
        return self.log_loss_

    # ---- an automation threshold
    def automation(self) -> dict:
        """Calibration and selective classification of the chosen candidate: its validation
        probabilities (the fitted candidate on the validation products; no test product is
        read again), temperature scaling fitted there and kept where it helps
        (``calibration.calibrate``), the threshold for ``target_accuracy`` chosen on validation
        (``calibration.choose_threshold``, at least ``min_accepted`` products), then on the
        test products already scored: accuracy among the accepted and coverage with
        cluster-bootstrap intervals, and how many go to a person. Returns the threshold record."""
        with timing.step("automation threshold"):
            return self._automation()

    def _automation(self) -> dict:
        s, name = self.settings, self.chosen
        val = self.split.val
        y_val = self.panel.y(val)
        raw_val, raw_test = self.fitted[name].predict_proba(self.panel, val), self.proba[name]
        cal = calibration.calibrate(raw_val, y_val, s["calibration_bins"])
        t = cal["temperature"]
        p_val, p_test = (
            (calibration.scale(raw_val, t), calibration.scale(raw_test, t))
            if cal["kept"]
            else (raw_val, raw_test)
        )
        bins = s["calibration_bins"]
        cal["candidate"] = name
        cal["reliability"] = {
            "validation": calibration.reliability(raw_val, y_val, bins),
            "validation_scaled": calibration.reliability(
                calibration.scale(raw_val, cal["fitted_temperature"]), y_val, bins
            ),
            "test": calibration.reliability(raw_test, self.y, bins),
            "test_scaled": calibration.reliability(
                calibration.scale(raw_test, cal["fitted_temperature"]), self.y, bins
            ),
        }
        cal["test"] = {
            "raw": {"nll": calibration.nll(raw_test, self.y)},
            "scaled": {
                "nll": calibration.nll(
                    calibration.scale(raw_test, cal["fitted_temperature"]), self.y
                )
            },
        }
        self.calibration_ = cal
        conf_val, ok_val = p_val.max(1), p_val.argmax(1) == y_val
        conf_test, ok_test = p_test.max(1), p_test.argmax(1) == self.y
        chosen = calibration.choose_threshold(
            conf_val, ok_val, s["target_accuracy"], s["min_accepted"]
        )
        test = calibration.selective(
            conf_test, ok_test, chosen["threshold"], self.test["group"], self.n_boot, self.seed
        )
        self.curves = {
            "validation": calibration.risk_coverage(conf_val, ok_val),
            "test": calibration.risk_coverage(conf_test, ok_test),
        }
        self.threshold_ = {
            "candidate": name,
            "probabilities": "temperature-scaled" if cal["kept"] else "as the candidate gives them",
            "temperature": t,
            "validation": chosen,
            "test": test,
            "no_abstention": {
                "validation": float(ok_val.mean()),
                "test": float(ok_test.mean()),
            },
            "intervals": metrics.intervals_method(self.n_boot),
            "curves": self.curves,
        }
        return self.threshold_

    # ---- refits
    def repeated_splits(self, info: dict) -> pd.DataFrame:
        """Every refittable candidate on ``repeat_seeds`` other group-aware splits made with the
        split settings notebook 02 recorded (``info``)."""
        s = self.settings
        rows = self.split.all_rows_for_final_evaluation()
        others = splits.other_splits(
            rows, info["seed"], s["repeat_seeds"], info["val_fraction"], info["test_fraction"]
        )
        self.other_seeds = list(others)
        self.test_sizes = [int((names == "test").sum()) for names in others.values()]
        self.repeat_names = s["repeat_models"] or refits.refittable(self.fitted)
        self.repeats = refits.panel_repeats(
            self.panel, rows, self.repeat_names, others, n_jobs=s["n_jobs"]
        )
        return refits.summarize_repeats(self.repeats)

    def label_budget(self) -> pd.DataFrame | None:
        """``budget_models`` refitted with k labelled products per category (train and
        validation alike), ``budget_draws`` draws per k; None when none of them ran."""
        s = self.settings
        self.budget_names = [n for n in s["budget_models"] if n in self.fitted]
        self.budget = refits.label_budget(
            self.panel,
            self.split.train,
            self.split.val,
            self.test,
            self.budget_names,
            s["budget_ks"],
            s["budget_draws"],
            self.seed,
            n_jobs=s["n_jobs"],
            fitted=self.fitted,
        )
        self.budget_summary = refits.summarize_budget(self.budget) if len(self.budget) else None
        return self.budget_summary

    def accuracy_of(self, name: str) -> float | None:
        return float(self.table.loc[name, "accuracy"]) if name in self.table.index else None

    # ---- the record
    def record(self) -> dict:
        """The ``evaluation`` section of ``metrics.json``: the test table, paired tests, costs,
        repeated splits, label budget, errors, the original note's claims checked and the
        choice."""
        s, repeats = self.settings, self.repeats
        if repeats is None:
            repeats = pd.DataFrame()
        vs_frozen = results.versus_frozen(
            self.y, self.predictions, self.classes, self.test["group"], self.n_boot, self.seed
        )
        out = {
            "models": list(self.fitted),
            "classes": self.classes,
            "reference": self.reference,
            "headline": list(HEADLINE),
            "confusions_shown": list(self.headline),  # the candidates the confusion figure draws
            "n_test": len(self.test),
            "test_groups": int(self.test["group"].nunique()),
            "intervals": metrics.intervals_method(self.n_boot),
            "table": self.table.to_dict("index"),
            "details": self.details,
            "paired": self.paired,
            "versus_frozen": vs_frozen,
            "costs": self.costs,
            "labelled": self.labelled,
            "reads": self.reads,
            "tuning": self.tuning,
            "stand_in": sorted(self.stand_in),
            "repeats": {
                "n_splits": len(repeats),
                "seeds": self.other_seeds,
                "test_sizes": self.test_sizes,
                "models": self.repeat_names,
                "accuracies": repeats.reset_index().to_dict("list"),
                "summary": refits.summarize_repeats(repeats).to_dict("index"),
                "versus_reference": metrics.wins_ties_losses(repeats, self.reference)
                if self.reference in repeats
                else {},
                "best_epochs": repeats.attrs.get("best_epochs", {}),
            },
            "label_budget": {
                "candidates": self.budget_names,
                "ks": s["budget_ks"],
                "draws": s["budget_draws"],
                "records": self.budget.to_dict("records"),
                "summary": self.budget_summary.to_dict("records")
                if self.budget_summary is not None
                else [],
            },
            "missing_descriptions": self.missing_descriptions_,
            "hyperparameters": {self.chosen: self.fitted[self.chosen].hyperparameters()},
            "calibration": self.calibration_,
            "threshold": self.threshold_,
            "versions": runs.library_versions(),
            "data_checksum": dataset_checksum(self.split.inputs()),
            "zeroshot": self.zeroshot_,
            "log_loss": self.log_loss_,
            "errors": {
                "models": {
                    n: {
                        "errors": len(e),
                        "most_confused": self.confused.get(n, []),
                        "shown": e.drop(columns=["path"]).head(12).to_dict("records"),
                    }
                    for n, e in self.errors_.items()
                }
            },
            "precision_agreement": precision_agreement(
                self.panel, self.fitted, self.test, self.precision_rows
            ),
            "refits": {
                "repeated_splits": repeats.attrs.get("parallel"),
                "label_budget": self.budget.attrs.get("parallel"),
                "threads": parallel.thread_settings(),
            },
        }
        out["claims"] = decision.claims(out, self.training, self.stand_in)
        out["recommendation"] = self._recommend(out)
        return out
