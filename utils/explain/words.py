"""Explanations of the text candidates' words, and how far to trust them.

- Words: LIME's ``LimeTextExplainer`` (lime 0.2.0.1, bag of words: a perturbed copy drops every
  occurrence of some words) on the very strings a text candidate reads: ``text-tfidf`` reads
  "name. description" as ``features.product_text`` builds it, ``clip-text`` the product name
  through the CLIP text tower. A word's weight is LIME's local linear weight for the explained
  class: how much the class's probability rises with the word present rather than removed
  (positive: towards the class, negative: away from it). Both candidates ignore case (TF-IDF
  lower-cases, so does CLIP's tokenizer): the text is case-folded first, so "Watch" and "watch"
  are one word; ``lime_text`` checks that this leaves the prediction unchanged, else explains the
  text as it is (probabilities within 1e-5 count as unchanged).
- Per category: each word's mean weight over the category's correctly classified products (0 where
  it is absent). For ``text-tfidf`` the logistic regression's own coefficients are a global view of
  the model; their Spearman rank agreement with LIME's averages checks LIME on a model whose
  weights are known.
- Trust, as for the photos (``photos``): stability (overlap of the top-k words across LIME seeds
  per sample count) and faithfulness (deleting the words in LIME's order against random orders of
  the same words), on products drawn round robin over categories.

LIME's text explainer draws no progress bar and prints nothing (``verbose=False``); the loops here
draw ``core.progress.bar``.
"""

from __future__ import annotations

import hashlib
import html
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..core.progress import bar
from ..core.timing import step as timed_step
from ..models import features
from ..models.candidates import CANDIDATES
from . import photos

SPLIT = r"\W+"  # LIME's default word split: runs of non-word characters separate words
IMAGE_SOURCES = ("clip-image", "vgg16-image")


def reads(name: str) -> str:
    """What a text candidate reads, in words."""
    inputs = CANDIDATES[name].inputs
    if inputs == ("text",):
        return "product name and description"
    if inputs == ("clip-text",):
        return "product name"
    raise ValueError(
        f"{name} reads {', '.join(inputs) or 'its members'}: words are explained for text-tfidf "
        "and clip-text"
    )


def model_texts(name: str, rows: pd.DataFrame) -> list[str]:
    """The strings candidate ``name`` classifies for ``rows`` (one per row, in order)."""
    kind = reads(name)
    if kind == "product name":
        return rows["product_name"].fillna("").astype(str).tolist()
    return features.product_text(rows)


# --------------------------------------------------------------------------- the pipeline
class TextPipeline:
    """List of strings -> class probabilities of a fitted text candidate, exactly as it predicts.

    ``text-tfidf``: the strings through its TF-IDF + logistic regression pipeline;
    ``clip-text``: through the CLIP text tower (``panel.encoder("clip-text")``), then its probe.
    Probabilities of strings already seen are remembered (up to ``memory``): a short name has few
    distinct perturbations, so LIME on a name mostly reads from memory.
    """

    def __init__(self, fitted, panel=None, batch_size: int = 64, memory: int = 100_000) -> None:
        self.fitted, self.batch_size, self._memory = fitted, batch_size, memory
        self.kind = reads(fitted.name)
        self.encoder = None
        if self.kind == "product name":
            if panel is None:
                raise ValueError(f"{fitted.name} reads through the CLIP text tower: pass the panel")
            self.encoder = panel.encoder("clip-text")
        self.calls = 0  # strings sent through the model (the rest came from memory)
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def _forward(self, texts: list[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            X = chunk if self.encoder is None else self.encoder(chunk).numpy()
            out.append(np.asarray(self.fitted.predict_vectors(X), dtype=np.float64))
        self.calls += len(texts)
        return np.concatenate(out)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.fitted.classes)))
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        found = {k: self._memo[k] for k in dict.fromkeys(keys) if k in self._memo}
        new = {k: t for k, t in zip(keys, texts) if k not in found}
        if new:
            found.update(zip(new, self._forward(list(new.values()))))
        out = np.stack([found[k] for k in keys])
        for k, p in found.items():  # most recently used last; the oldest go first
            self._memo[k] = p
            self._memo.move_to_end(k)
        while len(self._memo) > self._memory:
            self._memo.popitem(last=False)
        return out

    def fingerprint(self) -> str:
        encoder = self.encoder.identity if self.encoder is not None else ""
        return hashlib.sha256(f"{self.fitted.fingerprint()}|{encoder}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- LIME on words
def words_of(text: str) -> list[str]:
    """The words LIME perturbs in ``text`` (its ids are the positions in this list)."""
    from lime.lime_text import IndexedString

    return list(IndexedString(text, split_expression=SPLIT, bow=True).inverse_vocab)


def lime_text(
    predict: Callable[[list[str]], np.ndarray],
    text: str,
    num_samples: int = 1000,
    seed: int = 0,
    label: int | None = None,
    also: Sequence[int] = (),
    case_fold: bool = True,
) -> dict:
    """LIME weights of each word of ``text`` for ``label`` (default: the predicted class).

    ``also``: further classes explained from the same perturbed copies (e.g. the true class of a
    misclassified product). Returns ``text`` (the string explained: case-folded where the model
    ignores case), ``case_folded``, ``words``, ``weights`` (one per word, for ``label``),
    ``labels`` and ``weights_all`` (one row per explained class, ``label`` first), ``label``,
    ``probability`` of that label on the intact text, ``score`` (R² of LIME's local surrogate for
    ``label``), ``num_samples``, ``seed`` and ``seconds``.
    """
    from lime.lime_text import LimeTextExplainer

    start = time.perf_counter()
    probs = predict([text])[0]
    label = int(probs.argmax()) if label is None else int(label)
    explained, folded = text, False
    if case_fold:
        folded = text == text.lower() or bool(
            np.allclose(predict([text.lower()])[0], probs, rtol=0, atol=1e-5)
        )
        explained = text.lower() if folded else text
    words = words_of(explained)
    labels = [label] + list(dict.fromkeys(int(c) for c in also if int(c) != label))
    weights = np.zeros((len(labels), len(words)))
    score = 1.0
    if words:
        explainer = LimeTextExplainer(
            split_expression=SPLIT,
            bow=True,
            random_state=seed,
            feature_selection="none",
            verbose=False,
        )
        # LIME keeps the surrogate's R² of the last class it explains: explain ``label`` last
        explanation = explainer.explain_instance(
            explained,
            predict,
            labels=labels[1:] + labels[:1],
            num_features=len(words),
            num_samples=num_samples,
        )
        for r, c in enumerate(labels):
            for idx, w in explanation.local_exp[c]:
                weights[r, idx] = w
        score = float(explanation.score)
    return {
        "text": explained,
        "case_folded": folded,
        "words": np.array(words, dtype=str),
        "weights": weights[0],
        "labels": np.array(labels, dtype=np.int64),
        "weights_all": weights,
        "label": label,
        "probability": float(probs[label]),
        "score": score,
        "num_samples": int(num_samples),
        "seed": int(seed),
        "seconds": time.perf_counter() - start,
    }


class TextLime:
    """LIME on a text candidate with fixed settings, cached per (model, text, count, seed, classes).

    ``cache_dir`` None: no disk cache (``photos.cached``).
    """

    def __init__(
        self,
        pipeline: TextPipeline,
        cache_dir: str | os.PathLike | None = None,
        seed: int = 0,
        case_fold: bool = True,
    ) -> None:
        self.pipeline, self.cache_dir, self.seed, self.case_fold = (
            pipeline,
            cache_dir,
            seed,
            case_fold,
        )
        self._model = pipeline.fingerprint()

    def __call__(
        self,
        text: str,
        num_samples: int,
        label: int | None = None,
        also: Sequence[int] = (),
        seed: int | None = None,
    ) -> dict:
        seed = self.seed if seed is None else seed
        key = {
            "lime_text": self._model,
            "text": hashlib.sha256(text.encode()).hexdigest(),
            "num_samples": num_samples,
            "seed": seed,
            "label": label,
            "also": [int(c) for c in also],
            "case_fold": self.case_fold,
            "split": SPLIT,
        }
        with timed_step("text LIME"):
            out = photos.cached(
                self.cache_dir,
                key,
                lambda: lime_text(
                    self.pipeline, text, num_samples, seed, label, also, case_fold=self.case_fold
                ),
            )
        out["text"], out["case_folded"] = str(out["text"]), bool(out["case_folded"])
        return out


def top_words(result: dict, k: int = 10, towards: bool = True) -> list[tuple[str, float]]:
    """The ``k`` words pushing hardest towards (``towards``) or away from the explained class."""
    w = np.asarray(result["weights"], dtype=np.float64)
    order = photos.ranking(w if towards else -w)
    return [
        (str(result["words"][i]), float(w[i]))
        for i in order[:k]
        if (w[i] > 0 if towards else w[i] < 0)
    ]


def weights_for(result: dict, label: int) -> np.ndarray:
    """The word weights of a result for class ``label`` (one of its ``labels``)."""
    rows = [int(c) for c in result["labels"]]
    if label not in rows:
        raise KeyError(f"class {label} was not explained (explained: {rows})")
    return np.asarray(result["weights_all"])[rows.index(label)]


def timing(
    fitted,
    panel,
    texts: Sequence[str],
    num_samples: int,
    seed: int = 0,
    batch_size: int = 64,
) -> dict:
    """Seconds per explanation of ``texts`` at ``num_samples`` copies, each with a fresh pipeline
    (nothing remembered from other explanations, no disk cache): what one explanation costs."""
    seconds, device = [], "cpu"
    for text in texts:
        pipe = TextPipeline(fitted, panel, batch_size=batch_size)
        if pipe.encoder is not None:
            device = str(pipe.encoder.device)
        start = time.perf_counter()
        lime_text(pipe, text, num_samples, seed=seed)
        seconds.append(time.perf_counter() - start)
    return {
        "device": device,
        "num_samples": int(num_samples),
        "products": len(seconds),
        "median_seconds": float(np.median(seconds)) if seconds else None,
        "max_seconds": float(np.max(seconds)) if seconds else None,
    }


# --------------------------------------------------------------------------- what the note shows
def word_cmap():
    """The colour map of word weights: matplotlib's ``RdBu_r`` (red: supports the class, as in the
    photos' LIME maps) lightened a quarter towards white so black text stays legible on it."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    base = matplotlib.colormaps["RdBu_r"](np.linspace(0, 1, 256))
    base[:, :3] = 0.25 + 0.75 * base[:, :3]
    return ListedColormap(base, name="words")


def word_colour(weight: float, vmax: float) -> tuple[float, float, float, float]:
    """The colour of a word's weight on a symmetric scale ``[-vmax, vmax]``: red pushes towards the
    explained class, blue away from it, white does nothing (figures' and HTML's convention)."""
    x = 0.5 + 0.5 * float(np.clip(weight / vmax, -1, 1)) if vmax > 0 else 0.5
    return tuple(float(c) for c in word_cmap()(x))


def segments(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into words and separators, in order: ``(piece, is_word)`` (LIME's split)."""
    import re

    pieces = re.split(f"({SPLIT})", text)
    return [(p, i % 2 == 0) for i, p in enumerate(pieces) if p]


def word_weights(result: dict) -> dict[str, float]:
    """Word -> weight, keyed as LIME's words (case-folded when the explanation was)."""
    return {str(w): float(x) for w, x in zip(result["words"], result["weights"])}


def weight_of(word: str, weights: dict[str, float], case_folded: bool) -> float:
    return weights.get(word.lower() if case_folded else word, 0.0)


def _css(rgba) -> str:
    return "rgb({:.0f}, {:.0f}, {:.0f})".format(*(255 * c for c in rgba[:3]))


def highlight_html(
    result: dict,
    text: str | None = None,
    class_name: str = "",
    max_words: int | None = None,
    vmax: float | None = None,
) -> str:
    """The text (default: the explained one; pass the original to keep its case) as coloured spans
    for the note: background red for words pushing towards ``class_name`` (as in the photos' maps),
    blue for words pushing away, white for none; each span's tooltip gives the weight.
    ``max_words``: cut after that many words (the legend says so)."""
    text = result["text"] if text is None else text
    weights = word_weights(result)
    folded = bool(result["case_folded"])
    vmax = vmax or max((abs(w) for w in weights.values()), default=0.0) or 1.0
    spans, n_words, cut = [], 0, False
    cmap = word_cmap()
    for piece, is_word in segments(text):
        if is_word:
            if max_words is not None and n_words >= max_words:
                cut = True
                break
            n_words += 1
            w = weight_of(piece, weights, folded)
            colour = _css(cmap(0.5 + 0.5 * float(np.clip(w / vmax, -1, 1))))
            spans.append(
                f'<span style="background-color: {colour}; '
                f'padding: 0 1px; border-radius: 2px" title="{w:+.4f}">{html.escape(piece)}</span>'
            )
        else:
            spans.append(html.escape(piece))
    target = html.escape(class_name) or "the explained class"
    legend = (
        f"LIME weight of each word for <b>{target}</b>: "
        f'<span style="background-color: {_css(cmap(0.85))}; padding: 0 3px">red</span>'
        " pushes towards it, "
        f'<span style="background-color: {_css(cmap(0.15))}; padding: 0 3px">blue</span>'
        f" away from it (full colour: |weight| = {vmax:.3g} in probability)"
        + (f"; first {max_words} words shown" if cut else "")
        + "."
    )
    return (
        '<div class="text-explanation" style="font-family: sans-serif; line-height: 1.6">'
        f'<p style="font-size: 0.85em; margin: 0 0 0.3em 0">{legend}</p>'
        f'<p style="margin: 0">{"".join(spans)}{" …" if cut else ""}</p></div>'
    )


def example_record(
    rows: pd.DataFrame, i: int, result: dict, classes: list[str], k: int = 5
) -> dict:
    """One explained product for the metrics: which, its prediction and its deciding words."""
    return {
        "image": str(rows.loc[i, "image"]),
        "product": str(rows.loc[i, "product_name"]),
        "true": str(rows.loc[i, "label"]),
        "predicted": classes[int(result["label"])],
        "probability": round(float(result["probability"]), 4),
        "words": len(result["words"]),
        "towards": [[w, round(x, 4)] for w, x in top_words(result, k)],
        "away": [[w, round(x, 4)] for w, x in top_words(result, k, towards=False)],
        "r2": round(float(result["score"]), 4),
        "case_folded": bool(result["case_folded"]),
    }


# --------------------------------------------------------------------------- per category
def category_words(results: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    """Per category, every word's mean LIME weight over that category's explained products (0 where
    a product lacks the word), how many products hold it and its mean where present; largest mean
    first."""
    out = {}
    for category, rs in results.items():
        if not rs:
            continue
        frames = [
            pd.Series(
                np.asarray(r["weights"], dtype=np.float64), index=[str(w) for w in r["words"]]
            )
            for r in rs
        ]
        table = pd.concat(frames, axis=1)
        out[category] = (
            pd.DataFrame(
                {
                    "mean_weight": table.fillna(0.0).mean(axis=1),
                    "products": table.notna().sum(axis=1),
                    "mean_where_present": table.mean(axis=1),
                }
            )
            .rename_axis("word")
            .sort_values(["mean_weight", "products"], ascending=[False, False])
        )
    return out


def top_words_record(words: dict[str, pd.DataFrame], n: int = 10) -> dict[str, list]:
    """The ``n`` words with the largest mean weight per category (metrics)."""
    return {
        c: [
            [w, round(float(t.loc[w, "mean_weight"]), 4), int(t.loc[w, "products"])]
            for w in t.index[:n]
        ]
        for c, t in words.items()
    }


BOILERPLATE_SHARE = 0.2  # a word in more than this share of all texts is site boilerplate


def boilerplate(
    words: dict[str, pd.DataFrame],
    texts: Sequence[str],
    k: int = 10,
    threshold: float = BOILERPLATE_SHARE,
) -> dict:
    """How much each category's top ``k`` words (largest mean LIME weight) are words common to
    every kind of product: found in more than ``threshold`` of ``texts`` (all categories). Such
    words can only separate categories through each category's description template."""
    import re

    docs = [set(re.split(SPLIT, str(t).lower())) - {""} for t in texts]
    n = max(len(docs), 1)
    pairs, common = 0, []
    for table in words.values():
        top = [w for w in table.index[:k] if table.loc[w, "mean_weight"] > 0]
        pairs += len(top)
        common += [w for w in top if sum(w.lower() in d for d in docs) / n > threshold]
    counts = pd.Series(common, dtype=object).value_counts()
    return {
        "threshold": threshold,
        "top_k": k,
        "pairs": pairs,
        "common_pairs": len(common),
        "share": len(common) / pairs if pairs else 0.0,
        "examples": [str(w) for w in counts.index[:5]],
        "texts": len(docs),
    }


def tfidf_coefficients(fitted) -> pd.DataFrame:
    """The logistic regression's coefficient of every single word of a TF-IDF candidate's
    vocabulary, one column per class (NaN for a class absent from training). Two-class fits are
    written as the equivalent symmetric multinomial (``-w/2``, ``+w/2``)."""
    if fitted.candidate.family != "tfidf":
        raise ValueError(f"{fitted.name} is not a TF-IDF candidate: it has no word coefficients")
    vectorizer, lr = fitted.estimator[0], fitted.estimator[-1]
    coef = np.asarray(lr.coef_, dtype=np.float64)
    present = np.asarray(lr.classes_, dtype=int)
    if coef.shape[0] == 1 and len(present) == 2:
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
    full = np.full((len(fitted.classes), coef.shape[1]), np.nan)
    full[present] = coef
    unigrams = {w: j for w, j in vectorizer.vocabulary_.items() if " " not in w}
    words = sorted(unigrams)
    return pd.DataFrame(
        full[:, [unigrams[w] for w in words]].T,
        index=pd.Index(words, name="word"),
        columns=fitted.classes,
    )


def _spearman(a, b) -> tuple[float | None, float | None]:
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None, None
    r = spearmanr(a, b)
    return float(r.statistic), float(r.pvalue)


def coefficient_agreement(
    words: dict[str, pd.DataFrame], coefficients: pd.DataFrame, top: int = 10
) -> dict:
    """Rank agreement between LIME's per-category mean word weights and the model's own coefficients
    for that category, over the words both rank (LIME's words of the category that are in the
    vocabulary as single words).

    Per category: ``words``, ``spearman``, ``p`` and ``top_overlap`` (Jaccard of the two top-``top``
    sets within those words). ``overall``: Spearman over every (category, word) pair pooled;
    ``mean_spearman``: the mean of the per-category values (None where undefined);
    ``noise_floor``: mean |weight| (where present) of the words the model does not read (outside
    its vocabulary) against the words it reads.
    """
    per, pooled_l, pooled_c = {}, [], []
    for category, table in words.items():
        if category not in coefficients.columns:
            continue
        column = coefficients[category].dropna()
        shared = [w for w in table.index if w in column.index]
        lime_w = table.loc[shared, "mean_weight"].to_numpy()
        coef_w = column.loc[shared].to_numpy()
        rho, p = _spearman(lime_w, coef_w)
        tops = [set(np.asarray(shared)[photos.ranking(v)[:top]]) for v in (lime_w, coef_w)]
        per[category] = {
            "words": len(shared),
            "spearman": rho,
            "p": p,
            "top_overlap": photos.jaccard(*tops) if shared else None,
        }
        pooled_l.extend(lime_w)
        pooled_c.extend(coef_w)
    rho, p = _spearman(pooled_l, pooled_c)
    values = [v["spearman"] for v in per.values() if v["spearman"] is not None]
    read, unread = [], []
    for table in words.values():
        inside = table.index.isin(coefficients.index)
        read.extend(np.abs(table.loc[inside, "mean_where_present"]))
        unread.extend(np.abs(table.loc[~inside, "mean_where_present"]))
    return {
        "per_category": per,
        "overall": {"pairs": len(pooled_l), "spearman": rho, "p": p},
        "mean_spearman": float(np.mean(values)) if values else None,
        "top": top,
        # words the model never reads (outside its vocabulary: one letter, unseen in training) can
        # only move it through the bigrams their removal creates: their LIME weight is a noise floor
        "noise_floor": {
            "unread_words": len(unread),
            "unread_mean_abs_weight": float(np.mean(unread)) if unread else None,
            "read_words": len(read),
            "read_mean_abs_weight": float(np.mean(read)) if read else None,
        },
    }


# --------------------------------------------------------------------------- stability
def text_stability(
    predict: Callable[[list[str]], np.ndarray],
    text: str,
    sample_counts: Sequence[int],
    seeds: Sequence[int],
    k: int = 10,
    case_fold: bool = True,
    explainer: TextLime | None = None,
) -> dict[int, dict]:
    """Pairwise Jaccard overlap of the top-``k`` words (largest positive weights) across LIME seeds,
    per sample count, for the predicted class. ``explainer`` (a ``TextLime``) caches the runs.

    Returns ``{count: {mean_jaccard, min_jaccard, pairs, r2}}`` (what ``photos.stable_count``
    reads).
    """
    label = int(predict([text])[0].argmax())

    def run(n: int, s: int) -> dict:
        if explainer is not None:
            return explainer(text, n, label=label, seed=s)
        return lime_text(predict, text, n, seed=s, label=label, case_fold=case_fold)

    out = {}
    for n in sample_counts:
        results = [run(int(n), int(s)) for s in seeds]
        tops = [photos.top_segments(np.asarray(r["weights"]), k) for r in results]
        pairs = [
            photos.jaccard(tops[i], tops[j])
            for i in range(len(tops))
            for j in range(i + 1, len(tops))
        ]
        out[int(n)] = {
            "mean_jaccard": float(np.mean(pairs)),
            "min_jaccard": float(np.min(pairs)),
            "pairs": len(pairs),
            "r2": [round(float(r["score"]), 4) for r in results],
        }
    return out


def products(rows: pd.DataFrame, idx: Sequence[int]) -> list[dict]:
    """Which products a check used: photo file, name and category."""
    return [
        {
            "image": str(rows.loc[i, "image"]),
            "product": str(rows.loc[i, "product_name"]),
            "category": str(rows.loc[i, "label"]),
        }
        for i in idx
    ]


def stability_check(
    predict: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    rows: pd.DataFrame,
    items: list[tuple[int, str]],
    sample_counts: Sequence[int],
    seeds: Sequence[int],
    k: int = 10,
    threshold: float = 0.7,
    explainer: TextLime | None = None,
    progress: bool = True,
) -> dict:
    """``text_stability`` on each product of ``items`` (``photos.round_robin`` output; ``texts[i]``
    is what the model reads for row ``i``), and the smallest sample count whose median overlap
    reaches ``threshold`` (``photos.stable_count``). JSON-ready: settings, products, per-product
    overlaps, medians, ``chosen`` count and whether it was ``reached``."""
    per = [
        text_stability(predict, texts[i], sample_counts, seeds, k, explainer=explainer)
        for i, _ in bar(items, desc="text stability", disable=not progress)
    ]
    chosen, medians, reached = photos.stable_count(per, threshold)
    return {
        "settings": {
            "counts": [int(n) for n in sample_counts],
            "seeds": [int(s) for s in seeds],
            "top_k": k,
            "threshold": threshold,
            "word_split": SPLIT,
        },
        "products": products(rows, [i for i, _ in items]),
        "categories": sorted({c for _, c in items}),
        "per_product": [{str(n): v for n, v in s.items()} for s in per],
        "median_jaccard": {str(n): m for n, m in medians.items()},
        "chosen": int(chosen),
        "reached": bool(reached),
    }


# --------------------------------------------------------------------------- faithfulness
def deletion_curve(
    predict: Callable[[list[str]], np.ndarray],
    result: dict,
    order: Sequence[int],
    steps: int = 20,
    label: int | None = None,
) -> np.ndarray:
    """Probability of the explained class (or ``label``) as the words of ``result`` are deleted
    (every occurrence, as LIME deletes them) in ``order`` (word ids, most important first).

    Returns ``steps + 1`` probabilities, for 0, 1/steps, ..., all words deleted.
    """
    from lime.lime_text import IndexedString

    indexed = IndexedString(result["text"], split_expression=SPLIT, bow=True)
    if indexed.num_words() != len(result["words"]):
        raise ValueError("the explanation's words are not those of its text")
    order = np.asarray(order, dtype=int)
    texts = [
        indexed.inverse_removing(order[: round(s * len(order) / steps)].tolist())
        for s in range(steps + 1)
    ]
    return predict(texts)[:, int(result["label"] if label is None else label)]


def compare_deletion(
    predict: Callable[[list[str]], np.ndarray],
    results: list[dict],
    steps: int = 20,
    random_orders: int = 5,
    seed: int = 0,
) -> photos.Deletion:
    """Deletion curves on each product's words: LIME's order (largest weight first) against
    ``random_orders`` random orders of the same words, for the class LIME explained."""
    rng = np.random.default_rng(seed)
    curves: dict[str, list[np.ndarray]] = {"LIME": [], "random": []}
    random_areas = []
    for r in results:
        n = len(r["words"])
        curves["LIME"].append(deletion_curve(predict, r, photos.ranking(r["weights"]), steps))
        randoms = [
            deletion_curve(predict, r, rng.permutation(n), steps) for _ in range(random_orders)
        ]
        curves["random"].append(np.mean(randoms, axis=0))
        random_areas.append(float(np.mean([photos.area_under(c) for c in randoms])))
    per_image = {"LIME": [photos.area_under(c) for c in curves["LIME"]], "random": random_areas}
    return photos.Deletion(
        curves={m: np.mean(cs, axis=0) for m, cs in curves.items()},
        auc={m: float(np.mean(v)) for m, v in per_image.items()},
        per_image=per_image,
    )


def faithfulness_check(
    predict: Callable[[list[str]], np.ndarray],
    results: list[dict],
    rows: pd.DataFrame,
    items: list[tuple[int, str]],
    steps: int = 20,
    random_orders: int = 5,
    seed: int = 0,
    n_boot: int = 2000,
) -> dict:
    """``compare_deletion`` on the LIME ``results`` of the products ``items`` (same order) and
    ``photos.faithfulness`` of the per-product areas (paired Wilcoxon, bootstrap interval).
    JSON-ready: settings, products, mean curves, areas and the test."""
    with timed_step("text deletion"):
        deletion = compare_deletion(predict, results, steps, random_orders, seed)
    return {
        "settings": {
            "steps": steps,
            "random_orders": random_orders,
            "seed": seed,
            "num_samples": sorted({int(r["num_samples"]) for r in results}),
            "deleted": "every occurrence of a word (as LIME perturbs)",
        },
        "products": products(rows, [i for i, _ in items]),
        "categories": sorted({c for _, c in items}),
        "words": [len(r["words"]) for r in results],
        "curves": {m: [float(x) for x in c] for m, c in deletion.curves.items()},
        "auc": deletion.auc,
        "auc_per_product": {m: [float(x) for x in v] for m, v in deletion.per_image.items()},
        "faithfulness": photos.faithfulness(deletion.per_image, n_boot=n_boot, seed=seed),
    }
