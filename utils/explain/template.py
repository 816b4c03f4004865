"""What the text candidates read besides the product: the catalogue's template phrases.

A marketplace writes part of every description from a template ("Buy ... at Flipkart.com", "Only
Genuine Products", "30 Day Replacement Guarantee", the spec sheet's "Sales Package" and "In the
Box"), and each category's listings use that template at its own rate. A text model can separate
categories by those rates instead of by what the products are. This module

- finds the template phrases from the training text alone, with a stated rule (``Rule``): word
  n-grams (scikit-learn's ``CountVectorizer`` tokens) present in at least ``min_share`` of the
  products of at least ``min_categories`` categories (shared, not one category's word) whose
  highest category rate is at least ``min_ratio`` times the lowest (used at very different rates);
  overlapping phrases found in the same products are joined into the longer phrase they come from;
- removes them from product names and descriptions (``strip_rows``);
- refits each text candidate on the stripped training text (settings chosen on the stripped
  validation text, as notebook 04 fits) and scores it on the stripped locked test split, against
  the run's own model on the full text, with the project's paired cluster-bootstrap interval
  (``metrics.compare``), as notebook 05 scores the candidates without descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..evaluation import metrics
from ..models.candidates import CANDIDATES, fit_order, needs
from ..models.features import product_text

TOKEN = r"(?u)\b\w\w+\b"  # CountVectorizer's (and TfidfVectorizer's) default tokens
# between two tokens: anything the tokenizer skips (non-word characters, one-character words)
_GAP = r"(?:\W|(?<!\w)\w(?!\w))+"


@dataclass(frozen=True)
class Rule:
    """The template rule (notebook 06's ``template_*`` parameters)."""

    min_words: int = 2  # phrases of min_words..max_words tokens
    max_words: int = 4
    min_products: int = 5  # a phrase in fewer training products is not considered
    min_share: float = 0.1  # present in at least this share of a category's products ...
    min_categories: int = 3  # ... in at least this many categories (shared, not a category word)
    min_ratio: float = 5.0  # highest category rate >= min_ratio x lowest (0 counts: ratio infinite)
    join: float = 0.9  # overlapping phrases whose products overlap this much (Jaccard) are joined

    def __post_init__(self) -> None:
        if not 1 <= self.min_words <= self.max_words:
            raise ValueError(
                f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}"
            )
        if not 0 < self.min_share <= 1 or not 0 < self.join <= 1:
            raise ValueError("min_share and join are shares in (0, 1]")
        if self.min_categories < 2 or self.min_ratio <= 1 or self.min_products < 1:
            raise ValueError(
                "min_categories must be >= 2, min_ratio > 1 and min_products >= 1 (else a "
                "category's own word or any phrase qualifies)"
            )

    @classmethod
    def from_params(cls, params: dict) -> Rule:
        words = params.get("template_words", [cls.min_words, cls.max_words])
        return cls(
            min_words=int(words[0]),
            max_words=int(words[1]),
            min_products=int(params.get("template_min_products", cls.min_products)),
            min_share=float(params.get("template_min_share", cls.min_share)),
            min_categories=int(params.get("template_min_categories", cls.min_categories)),
            min_ratio=float(params.get("template_min_ratio", cls.min_ratio)),
            join=float(params.get("template_join", cls.join)),
        )


# --------------------------------------------------------------------------- finding
def category_rates(presence, labels: Sequence[str], categories: Sequence[str]) -> np.ndarray:
    """Share of each category's products in which each column of ``presence`` (products x
    phrases, 0/1, dense or sparse) is present: phrases x categories."""
    labels = np.asarray(labels)
    out = []
    for c in categories:
        rows = presence[labels == c]
        out.append(
            np.asarray(rows.mean(axis=0)).ravel() if rows.shape[0] else np.zeros(presence.shape[1])
        )
    return np.vstack(out).T


def candidate_ngrams(texts: Sequence[str], labels: Sequence[str], rule: Rule) -> pd.DataFrame:
    """Every n-gram meeting ``rule`` in ``texts``: its rate per category (columns, sorted) and
    ``products`` (how many texts contain it). Empty when none does."""
    from sklearn.feature_extraction.text import CountVectorizer

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    categories = sorted(set(labels))
    if len(categories) < rule.min_categories:
        return pd.DataFrame(columns=[*categories, "products"])
    cv = CountVectorizer(
        ngram_range=(rule.min_words, rule.max_words),
        binary=True,
        token_pattern=TOKEN,
        min_df=min(rule.min_products, len(texts)),
    )
    try:
        X = cv.fit_transform(texts).tocsc()
    except ValueError:  # no n-gram in enough texts
        return pd.DataFrame(columns=[*categories, "products"])
    rates = category_rates(X, labels, categories)
    shared = (rates >= rule.min_share).sum(axis=1) >= rule.min_categories
    spread = rates.max(axis=1) >= rule.min_ratio * rates.min(axis=1)
    keep = np.flatnonzero(shared & spread)
    table = pd.DataFrame(rates[keep], index=cv.get_feature_names_out()[keep], columns=categories)
    table["products"] = np.asarray(X[:, keep].sum(axis=0)).ravel().astype(int)
    table.attrs["presence"] = X[:, keep]
    return table


def _jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / max(len(a | b), 1)


def join_phrases(table: pd.DataFrame, join: float) -> list[str]:
    """The phrases of ``candidate_ngrams`` joined where they come from one longer phrase: ``a``
    followed by ``b`` (the last words of ``a`` are the first of ``b``) in nearly the same products
    (Jaccard >= ``join``) become one phrase; a phrase inside a longer one found in nearly the same
    products is dropped. Longest first."""
    if table.empty:
        return []
    X = table.attrs["presence"]
    docs = {p: X[:, i].nonzero()[0] for i, p in enumerate(table.index)}
    words = {p: p.split() for p in table.index}

    def follows(a: str, b: str) -> bool:
        wa, wb = words[a], words[b]
        k = min(len(wa), len(wb)) - 1
        return k >= 1 and wa[-k:] == wb[:k] and _jaccard(docs[a], docs[b]) >= join

    phrases, used = [], set()
    order = sorted(table.index, key=lambda p: (-table.loc[p, "products"], p))
    for start in order:
        if start in used:
            continue
        chain = list(words[start])
        used.add(start)
        for direction in (1, -1):  # extend to the right, then to the left
            current = start
            while True:
                nxt = [
                    p
                    for p in order
                    if p not in used
                    and (follows(current, p) if direction == 1 else follows(p, current))
                ]
                if not nxt:
                    break
                p = nxt[0]
                k = min(len(words[current]), len(words[p])) - 1
                chain = chain + words[p][k:] if direction == 1 else words[p][:-k] + chain
                used.add(p)
                current = p
        phrases.append(" ".join(chain))
    # a phrase inside a longer one, in nearly the same products: the longer one says it
    out: list[str] = []
    for p in sorted(phrases, key=lambda s: (-len(s.split()), s)):
        inside = [q for q in out if f" {p} " in f" {q} "]
        if not any(_jaccard(_docs_of(p, docs), _docs_of(q, docs)) >= join for q in inside):
            out.append(p)
    return out


def _docs_of(phrase: str, docs: dict) -> np.ndarray:
    """The products of a joined phrase: those holding every n-gram it was joined from."""
    if phrase in docs:
        return docs[phrase]
    parts = [d for p, d in docs.items() if f" {p} " in f" {phrase} "]
    if not parts:
        return np.array([], dtype=int)
    return np.array(sorted(set.intersection(*(set(d) for d in parts))))


# --------------------------------------------------------------------------- removing
def pattern(phrase: str) -> re.Pattern:
    """``phrase`` (tokens separated by spaces) as a case-insensitive regex over raw text: its
    tokens as whole words, anything the tokenizer skips between them."""
    tokens = phrase.split()
    if not tokens:
        raise ValueError("an empty phrase")
    body = _GAP.join(re.escape(t) for t in tokens)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def strip_text(text: str, patterns: Sequence[re.Pattern]) -> str:
    """``text`` with every occurrence of every pattern removed (overlapping ones included: the
    spans found on the original text are united, then cut, each cut leaving one space)."""
    text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    spans = sorted(m.span() for p in patterns for m in p.finditer(text))
    if not spans:
        return text
    out, at = [], 0
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    for a, b in merged:
        out.append(text[at:a])
        at = b
    out.append(text[at:])
    return " ".join(s.strip() for s in out if s.strip())


def strip_rows(rows: pd.DataFrame, phrases: Sequence[str]) -> pd.DataFrame:
    """``rows`` with ``phrases`` removed from ``product_name`` and ``description``."""
    patterns = [pattern(p) for p in sorted(phrases, key=lambda s: -len(s))]
    out = rows.copy()
    for column in ("product_name", "description"):
        out[column] = [strip_text(t, patterns) for t in rows[column]]
    return out


def presence(texts: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
    """texts x phrases: 1 where the phrase occurs in the text (the regex ``strip_rows`` cuts)."""
    patterns = [pattern(p) for p in phrases]
    return np.array(
        [[bool(p.search(str(t))) for p in patterns] for t in texts], dtype=float
    ).reshape(len(texts), len(phrases))


# --------------------------------------------------------------------------- the phrases
@dataclass
class Phrases:
    """The template phrases found on the training text: ``shown`` (joined, for reading),
    ``removed`` (every n-gram the rule found, and the joined phrases: what ``strip_rows`` cuts),
    ``rates`` (shown phrases x categories: share of the training products holding each)."""

    rule: Rule
    shown: list[str]
    removed: list[str]
    rates: pd.DataFrame
    n_train: int

    def record(self) -> list[dict]:
        return [
            {"phrase": p, "rate": {c: round(float(v), 6) for c, v in self.rates.loc[p].items()}}
            for p in self.shown
        ]


def find(train: pd.DataFrame, rule: Rule) -> Phrases:
    """The template phrases of the training rows' text (the text ``text-tfidf`` reads: name and
    description), with their rate per category."""
    texts, labels = product_text(train), train["label"].tolist()
    table = candidate_ngrams(texts, labels, rule)
    shown = join_phrases(table, rule.join)
    categories = sorted(set(labels))
    rates = pd.DataFrame(
        category_rates(presence(texts, shown), labels, categories),
        index=shown,
        columns=categories,
    )
    shown = sorted(shown, key=lambda p: (-rates.loc[p].mean(), p))
    removed = sorted(set(table.index) | set(shown), key=lambda s: (-len(s), s))
    return Phrases(rule, shown, removed, rates.loc[shown], len(train))


# --------------------------------------------------------------------------- without them
def text_candidates(names: Sequence[str]) -> list[str]:
    """The candidates of ``names`` that read product text (the description or the name),
    fusions included."""
    return [n for n in names if needs([n]) & {"text", "clip-text"}]


def needed(names: Sequence[str]) -> list[str]:
    """The candidates the template study loads for ``names``: the text candidates and the photo
    members of their fusions (reused as they are: they read no text)."""
    texts = text_candidates(names)
    members = [m for n in texts for m in CANDIDATES[n].members if CANDIDATES[m].reads == "image"]
    return list(dict.fromkeys([*members, *texts]))


def refit_without(
    panel, fitted: dict, names: Sequence[str], train, val, test, phrases: Sequence[str]
) -> dict[str, np.ndarray]:
    """Test probabilities of ``names`` refitted on ``train`` / ``val`` with ``phrases`` removed,
    scored on ``test`` with them removed. A fusion's photo member reads no text: the run's own
    fitted one (``fitted``) is reused; text members are refitted once and shared."""
    from ..models.fitting import fit

    train, val, test = (strip_rows(r, phrases) for r in (train, val, test))
    done = {n: f for n, f in fitted.items() if CANDIDATES[n].reads == "image"}
    out = {}
    for name in fit_order(list(names)):
        f = done[name] = fit(name, panel, train, val, fitted=done)
        if name in names:
            out[name] = f.predict_proba(panel, test)
    return out


def compare_without(
    y: np.ndarray,
    with_: np.ndarray,
    without: np.ndarray,
    classes: list[str],
    groups,
    n_boot: int,
    seed: int,
    name: str,
) -> dict:
    """Accuracy with and without the template, the paired cluster-bootstrap interval of the
    difference (without minus with), the errors that change and each category's recall."""
    table, _, paired = metrics.compare(
        y,
        {name: with_, "without": without},
        classes,
        groups,
        reference=name,
        n_boot=n_boot,
        seed=seed,
    )
    p, t = paired["without"], table.loc["without"]
    lo, hi = p["difference_low"], p["difference_high"]
    per_category = {}
    for i, c in enumerate(classes):
        mask = y == i
        if mask.any():
            per_category[c] = {
                "products": int(mask.sum()),
                "recall": float(np.mean(with_[mask] == i)),
                "recall_without": float(np.mean(without[mask] == i)),
                "predicted_without": int(np.sum(without == i)),
                "predicted": int(np.sum(with_ == i)),
                "drawn_wrongly": int(np.sum((with_ == i) & ~mask)),  # other categories' products
                "drawn_wrongly_without": int(np.sum((without == i) & ~mask)),
            }
    return {
        "accuracy": float(table.loc[name, "accuracy"]),
        "accuracy_without": float(t["accuracy"]),
        "accuracy_without_low": float(t["accuracy_low"]),
        "accuracy_without_high": float(t["accuracy_high"]),
        "difference": float(p["accuracy_difference"]),
        "difference_low": float(lo),
        "difference_high": float(hi),
        "verdict": "lower" if hi < 0 else "higher" if lo > 0 else "not resolved",
        "errors": int(np.sum(with_ != y)),
        "errors_without": int(np.sum(without != y)),
        "newly_wrong": p["mcnemar"]["a_wrong_b_right"],  # a = without, b = with
        "newly_right": p["mcnemar"]["a_right_b_wrong"],
        "changed_predictions": int(np.sum(with_ != without)),
        "mcnemar_p": p["mcnemar"]["p_value"],
        "per_category": per_category,
        "n_test": int(len(y)),
    }


def study(panel, fitted: dict, split, names: Sequence[str], params: dict) -> tuple[Phrases, dict]:
    """Notebook 06's template study: the phrases (found on ``split.train`` with the rule of
    ``params``, the notebook's ``template_*`` parameters) and, for each text candidate of ``names``
    that ``fitted`` holds, the accuracy without them, its paired interval drawn with
    ``params["n_boot"]`` resamples and ``params["seed"]`` (``explanations.template``'s record,
    one entry per candidate)."""
    missing = [k for k in ("n_boot", "seed") if k not in params]
    if missing:
        raise KeyError(f"the template study needs the notebook parameters {missing}")
    rule, n_boot, seed = Rule.from_params(params), int(params["n_boot"]), int(params["seed"])
    train, val = split.train, split.val
    test = split.test_for_final_evaluation()
    phrases = find(train, rule)
    names = [n for n in text_candidates(names) if n in fitted]
    without = refit_without(panel, fitted, names, train, val, test, phrases.removed)
    y = panel.y(test)
    stripped = strip_rows(test, phrases.removed)
    changed = np.array(
        [a != b for a, b in zip(product_text(test), product_text(stripped))], dtype=bool
    )
    common = {
        "phrases": phrases.record(),
        "removed": phrases.removed,
        "rule": asdict(rule),
        "train_products": phrases.n_train,
        "test_texts_changed": float(changed.mean()) if len(changed) else 0.0,
        "test_texts_changed_per_category": {
            c: float(changed[(test["label"] == c).to_numpy()].mean())
            for c in sorted(test["label"].unique())
        },
        "intervals": metrics.intervals_method(n_boot),
    }
    out = {}
    for n in names:
        with_ = fitted[n].predict_proba(panel, test).argmax(1)
        scored = compare_without(
            y, with_, without[n].argmax(1), panel.classes, test["group"], n_boot, seed, n
        )
        out[n] = {**common, **scored, "reads": CANDIDATES[n].reads}
    return phrases, out


def losses(record: dict, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` categories whose recall falls most without the template (``(category, change)``,
    most negative first; only falls)."""
    per = record.get("per_category") or {}
    changes = [(c, v["recall_without"] - v["recall"]) for c, v in per.items()]
    return [(c, d) for c, d in sorted(changes, key=lambda x: (x[1], x[0])) if d < 0][:k]


def pulls(record: dict) -> list[tuple[str, int, int]]:
    """The categories that draw other categories' products (wrong predictions into them) with
    or without the template, most changed first: ``(category, with, without)``."""
    per = record.get("per_category") or {}
    rows = [
        (c, v["drawn_wrongly"], v["drawn_wrongly_without"])
        for c, v in per.items()
        if "drawn_wrongly" in v and v["drawn_wrongly"] != v["drawn_wrongly_without"]
    ]
    return sorted(rows, key=lambda r: (-abs(r[1] - r[2]), r[0]))


def table(records: dict) -> pd.DataFrame:
    """Accuracy with and without the template per candidate, the difference and its interval."""
    rows = {
        n: {
            "accuracy": r["accuracy"],
            "without template": r["accuracy_without"],
            "difference": r["difference"],
            "difference low": r["difference_low"],
            "difference high": r["difference_high"],
            "errors": r["errors"],
            "errors without": r["errors_without"],
            "verdict": r["verdict"],
        }
        for n, r in records.items()
    }
    return pd.DataFrame(rows).T
