"""Notebook 06's word explanations of one text candidate (``TextStudy``: stability, examples, words
per category, deletion, errors), the text candidates' errors with what the photos said, the tables
and the record for ``metrics.json``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.progress import bar
from ..models.candidates import CANDIDATES
from . import photos
from .words import (
    SPLIT,
    TextLime,
    TextPipeline,
    boilerplate,
    category_words,
    coefficient_agreement,
    example_record,
    faithfulness_check,
    highlight_html,
    model_texts,
    reads,
    stability_check,
    tfidf_coefficients,
    timing,
    top_words,
    top_words_record,
    weights_for,
)


# --------------------------------------------------------------------------- which candidates
def text_candidates(names: Sequence[str]) -> list[str]:
    """The candidates of ``names`` that read text only (``text-tfidf``, ``clip-text``)."""
    return [n for n in names if CANDIDATES[n].reads == "text"]


# --------------------------------------------------------------------------- errors
def text_errors(
    rows: pd.DataFrame,
    proba: np.ndarray,
    classes: list[str],
    explanations: dict[int, dict],
    photo: dict[str, np.ndarray] | None = None,
    k: int = 5,
) -> pd.DataFrame:
    """The text candidate's misclassified products (``proba``: its probabilities on ``rows``): name,
    truth, prediction, the ``k`` words that pushed hardest towards the wrong category and towards
    the true one (``explanations[i]``: a LIME result for row ``i`` explaining the prediction, with
    the true class in ``also``), and each photo candidate's prediction (``photo``: name ->
    probabilities on ``rows``)."""
    y = rows["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    predicted = np.asarray(proba).argmax(axis=1)
    out = []
    for i in np.flatnonzero(predicted != y):
        r = explanations.get(int(i))
        record = {
            "row": int(i),
            "image": rows.iloc[i]["image"],
            "product": rows.iloc[i]["product_name"],
            "true": classes[y[i]],
            "predicted": classes[predicted[i]],
            "probability": float(proba[i, predicted[i]]),
            "probability_true": float(proba[i, y[i]]),
        }
        if r is not None:
            record["words towards predicted"] = ", ".join(
                f"{w} ({x:+.2f})" for w, x in top_words(r, k)
            )
            if int(y[i]) in [int(c) for c in r["labels"]]:
                towards_true = {**r, "weights": weights_for(r, int(y[i]))}
                record["words towards true"] = ", ".join(
                    f"{w} ({x:+.2f})" for w, x in top_words(towards_true, k)
                )
        for name, p in (photo or {}).items():
            p = np.asarray(p)
            record[name] = f"{classes[int(p[i].argmax())]} ({p[i].max():.2f})"
            record[f"{name} right"] = bool(p[i].argmax() == y[i])
        out.append(record)
    columns = ["row", "image", "product", "true", "predicted", "probability", "probability_true"]
    columns += ["words towards predicted", "words towards true"]
    columns += [c for name in (photo or {}) for c in (name, f"{name} right")]
    return pd.DataFrame(out, columns=columns)


def errors_record(table: pd.DataFrame, tested: int, photo: Sequence[str] = ()) -> dict:
    """JSON-ready summary of ``text_errors``: how many, which, and how often each photo candidate
    got them right."""
    return {
        "misclassified": len(table),
        "tested": int(tested),
        "photo_right": {n: int(table[f"{n} right"].sum()) for n in photo if f"{n} right" in table},
        "products": table.drop(columns=[c for c in table.columns if c.endswith(" right")]).to_dict(
            "records"
        ),
    }


# --------------------------------------------------------------------------- verdict
# --------------------------------------------------------------------------- notebook 06's studies
# The notebook parameters a TextStudy reads (its knobs).
KNOBS = (
    "text_samples",
    "stability_seeds",
    "top_k",
    "stable_jaccard",
    "text_stability_per_category",
    "text_per_category",
    "text_deletion_per_category",
    "deletion_steps",
    "random_orders",
    "explain_batch_size",
    "seed",
)


class TextStudy:
    """Notebook 06's word explanations of one fitted text candidate on the test rows: LIME on
    the strings it reads (cached), stability, examples, per-category words against the
    coefficients, deletion, errors. Each step stores what it measured on the study; ``record()``
    is its part of the ``explanations.text`` section. ``params``: the notebook's parameters
    (``KNOBS``); ``categories``: the categories shown."""

    def __init__(self, fitted, panel, test: pd.DataFrame, cache_dir, params: dict, categories):
        missing = [k for k in KNOBS if k not in params]
        if missing:
            raise KeyError(f"the word explanations need the notebook parameters {missing}")
        self.p = {k: params[k] for k in KNOBS}
        self.seed = self.p["seed"]
        self.name, self.fitted, self.test, self.categories = fitted.name, fitted, test, categories
        self.classes = panel.classes
        self.pipeline = TextPipeline(fitted, panel, batch_size=self.p["explain_batch_size"])
        self.lime = TextLime(self.pipeline, cache_dir, seed=self.seed)
        self.texts = model_texts(self.name, test)
        self.proba = fitted.predict_proba(panel, test)
        self.y = panel.y(test)
        self.correct = self.proba.argmax(1) == self.y
        self.panel = panel
        self.stable: dict = {}
        self.examples_: tuple[list[int], list[dict], list[str]] = ([], [], [])
        self.words_: tuple = ({}, {}, None, None)
        self.deletion_: dict = {}
        self.errors_: pd.DataFrame | None = None
        self.photo: list[str] = []

    @property
    def copies(self) -> int:
        """The sample count the stability check chose (the figures' and checks' setting)."""
        return self.stable["chosen"]

    def explained(self, i: int, also=()) -> dict:
        return self.lime(self.texts[i], self.copies, also=also)

    def choose(self, n: int, only_correct: bool) -> dict[str, list[int]]:
        return photos.per_category(
            self.test, self.correct, n, only_correct, categories=self.categories
        )

    def stability(self) -> dict:
        """Every seed of ``stability_seeds`` at every count of ``text_samples[name]`` on
        ``text_stability_per_category`` products per category."""
        p = self.p
        per = p["text_stability_per_category"]
        items = photos.round_robin(self.choose(per, False), per)
        self.stable = stability_check(
            self.pipeline,
            self.texts,
            self.test,
            items,
            p["text_samples"][self.name],
            p["stability_seeds"],
            k=p["top_k"],
            threshold=p["stable_jaccard"],
            explainer=self.lime,
        )
        return self.stable

    def examples(self) -> tuple[list[int], list[dict], list[str]]:
        """One test product per category, its explanation, and a header line for the figure."""
        picks = [idx[0] for idx in self.choose(1, False).values() if idx]
        results = [self.explained(i) for i in picks]
        headers = []
        for i, r in zip(picks, results):
            said, true = self.classes[r["label"]], self.test.loc[i, "label"]
            headers.append(
                f"{true}: ✓ p = {r['probability']:.2f}"
                if said == true
                else f"{true}: ✗ predicted {said} (p = {r['probability']:.2f})"
            )
        self.examples_ = (picks, results, headers)
        return self.examples_

    def example_texts(self) -> list[str]:
        return [self.texts[i] for i in self.examples_[0]]

    def words(self) -> tuple:
        """Per category: mean LIME weights of up to ``text_per_category`` correctly classified
        products, the model's coefficients (TF-IDF only) and their rank agreement:
        ``(chosen, words, coefficients, agreement)``."""
        chosen = self.choose(self.p["text_per_category"], True)
        words = category_words(
            {
                c: [self.explained(i) for i in idx]
                for c, idx in bar(chosen.items(), desc=f"{self.name} words")
            }
        )
        coefficients = (
            tfidf_coefficients(self.fitted) if self.fitted.candidate.family == "tfidf" else None
        )
        agreement = (
            coefficient_agreement(words, coefficients, top=self.p["top_k"])
            if coefficients is not None
            else None
        )
        self.words_ = (chosen, words, coefficients, agreement)
        return self.words_

    def deletion(self) -> dict:
        """Deleting the words in LIME's order against ``random_orders`` random orders, on
        ``text_deletion_per_category`` products per category."""
        p = self.p
        per = p["text_deletion_per_category"]
        items = photos.round_robin(self.choose(per, False), per)
        results = [self.explained(i) for i, _ in bar(items, desc=f"{self.name} deletion")]
        self.deletion_ = faithfulness_check(
            self.pipeline,
            results,
            self.test,
            items,
            steps=p["deletion_steps"],
            random_orders=p["random_orders"],
            seed=self.seed,
        )
        return self.deletion_

    def errors(self, photo_proba: dict[str, np.ndarray], k: int = 5) -> pd.DataFrame:
        """The misclassified products: the words that misled, what the photo candidates said."""
        wrong = np.flatnonzero(~self.correct)
        lime_wrong = {
            int(i): self.explained(int(i), also=(int(self.y[i]),))
            for i in bar(wrong, desc=f"{self.name} errors")
        }
        self.photo = list(photo_proba)
        self.errors_ = text_errors(
            self.test, self.proba, self.classes, lime_wrong, photo_proba, k=k
        )
        return self.errors_

    def record(self) -> dict:
        picks, results, _ = self.examples_
        chosen, words, _, agreement = self.words_
        k = self.p["top_k"]
        return {
            "reads": reads(self.name),
            "lime_samples": self.copies,
            "stability": self.stable,
            "deletion": self.deletion_,
            "coefficients": agreement,
            "examples": [
                example_record(self.test, i, r, self.classes, k=5) for i, r in zip(picks, results)
            ],
            "global": {c: len(i) for c, i in chosen.items()},
            "global_images": {c: self.test.loc[i, "image"].tolist() for c, i in chosen.items()},
            "top_words": top_words_record(words, k),
            "boilerplate": boilerplate(words, self.texts, k),
            "errors": errors_record(self.errors_, len(self.test), self.photo),
            "timing": timing(
                self.fitted,
                self.panel,
                [self.texts[i] for i in picks],
                self.copies,
                seed=self.seed,
                batch_size=self.pipeline.batch_size,
            ),
        }


def summary(studies: dict, fusions: dict, params: dict) -> dict:
    """What notebook 06 records of the text and fusion explanations (``params``: the notebook's
    parameters)."""
    return {
        "settings": {
            "samples_tried": params["text_samples"],
            "seeds": params["stability_seeds"],
            "threshold": params["stable_jaccard"],
            "top_k": params["top_k"],
            "stability_per_category": params["text_stability_per_category"],
            "deletion_per_category": params["text_deletion_per_category"],
            "per_category": params["text_per_category"],
            "deletion_steps": params["deletion_steps"],
            "random_orders": params["random_orders"],
            "word_split": SPLIT,
        },
        "text": {n: s.record() for n, s in studies.items()},
        "fusion": {n: f["summary"] for n, f in fusions.items()},
    }


def stability_table(studies: dict[str, TextStudy]) -> pd.DataFrame:
    """Median top-k word overlap per candidate (rows) and sample count, the count chosen."""
    rows = {}
    for n, s in studies.items():
        st = s.stable
        rows[n] = {
            **{f"{c} copies": v for c, v in st["median_jaccard"].items()},
            "chosen": st["chosen"],
            "threshold reached": st["reached"],
        }
    return pd.DataFrame(rows).T


def highlights(study: TextStudy, n: int, max_words: int) -> str:
    """The first ``n`` example products as highlighted HTML (notebook output)."""
    picks, results, _ = study.examples_
    parts = [f"<h4>{html.escape(study.name)}: {html.escape(reads(study.name))}</h4>"]
    for i, r in zip(picks[:n], results[:n]):
        parts.append(
            highlight_html(r, study.texts[i], study.classes[r["label"]], max_words=max_words)
        )
    return "\n".join(parts)


def agreement_table(studies: dict[str, TextStudy]) -> pd.DataFrame:
    """Spearman agreement of LIME's word averages with the coefficients, per category."""
    cols = {}
    for n, study in studies.items():
        a = study.words_[3]
        if a:
            cols[n] = {
                **{c: v["spearman"] for c, v in a["per_category"].items()},
                "overall": a["overall"]["spearman"],
            }
    return pd.DataFrame(cols) if cols else pd.DataFrame({"no coefficients to compare": []})


def faithfulness_table(studies: dict[str, TextStudy]) -> pd.DataFrame:
    return pd.DataFrame({n: s.deletion_["faithfulness"]["LIME"] for n, s in studies.items()}).T


def errors_view(table: pd.DataFrame, photo: int = 3) -> pd.DataFrame:
    """``text_errors`` for reading: the product, truth, prediction, the words that decided, and
    the first ``photo`` photo candidates' predictions (their right/wrong columns dropped)."""
    words = ["words towards predicted", "words towards true"]
    base = ["product", "true", "predicted", "probability", *[w for w in words if w in table]]
    extra = [
        c
        for c in table.columns
        if c not in base + ["row", "image", "probability_true"] and not c.endswith(" right")
    ][:photo]
    return table[base + extra]
