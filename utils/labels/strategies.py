"""The query strategies of active learning, from scikit-activeml, and the features they compare.

Every strategy picks a batch of unlabelled products from a pool, in pick order:

- ``random``: products drawn at random (``skactiveml.pool.RandomSampling``), the baseline;
- ``uncertainty``: the smallest margin between the current model's two most probable categories
  (``skactiveml.pool.uncertainty_scores(..., method="margin_sampling")``, the batch taken by
  ``skactiveml.utils.simple_batch``: the highest utilities, ties broken at random);
- ``diversity``: k-center greedy (``skactiveml.pool.CoreSet``, Sener and Savarese, 2018) on the
  candidate's own features: each pick is the product farthest from every labelled or already
  picked one;
- ``hybrid``: k-center greedy among the ``hybrid_pool`` x batch most uncertain products (uncertain
  and not redundant, in the manner of cluster-margin sampling).

scikit-activeml (BSD-3-Clause; 1.0.1, 2026) was chosen over modAL (modAL-python 0.4.2.1, June
2023, its last release): it is maintained, scores precomputed probabilities and has k-center
greedy. Our own refits (``models.fitting.fit``: settings chosen on the validation part) stay ours:
the library only chooses which products to label.

``embedding`` gives the features a diversity strategy compares: the candidate's own inputs,
standardised (and reduced to ``dims`` principal components where wider); raw text through the
candidate's TF-IDF settings and a truncated SVD (latent semantic analysis). It is fitted on the
pool's inputs only, never on a label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.candidates import CANDIDATES, SOURCES, cache_only, needs, resolve

STRATEGIES = {
    "random": "products drawn at random (the baseline)",
    "uncertainty": "the smallest margin between the current model's two most probable categories",
    "diversity": "k-center greedy on the candidate's own features (the product farthest from "
    "every labelled one)",
    "hybrid": "k-center greedy among the most uncertain products",
}
BASELINE = "random"
EMBED_DIMS = 64  # principal components (or SVD components of TF-IDF) a diversity strategy compares
HYBRID_POOL = (
    4  # hybrid: k-center greedy among this many times the batch of most uncertain products
)


def check_strategies(names) -> list[str]:
    """``names`` as a list; an unknown strategy fails with the known ones."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise ValueError(
            f"unknown strategy {', '.join(map(repr, unknown))}: choose among "
            f"{', '.join(STRATEGIES)}."
        )
    return names


def check_candidates(names) -> list[str]:
    """The candidates of ``names``, each of which must learn from labels and refit from cached
    features (``candidates.cache_only``); otherwise one sentence says why it cannot be used."""
    names = resolve(list(names))
    for n in names:
        if CANDIDATES[n].family == "zeroshot":
            raise ValueError(f"{n} learns nothing from labels: active learning cannot use it.")
        if not cache_only(n):
            raise ValueError(
                f"{n} is refitted from the encoders (fine-tuning or augmented views), too costly "
                "to refit at every round: choose a candidate that refits from cached features."
            )
    return names


def _y(known: np.ndarray) -> np.ndarray:
    """scikit-activeml's labels: class ids, NaN where unlabelled (``known`` is -1 there)."""
    y = np.asarray(known, dtype=float).copy()
    y[np.asarray(known) < 0] = np.nan
    return y


def _random_state(seed) -> np.random.RandomState:
    return np.random.RandomState(np.random.SeedSequence(seed).generate_state(1)[0])


def query(
    strategy: str,
    batch: int,
    candidates: np.ndarray,
    known: np.ndarray,
    proba: np.ndarray | None = None,
    embedding: np.ndarray | None = None,
    seed=0,
    hybrid_pool: int = HYBRID_POOL,
) -> np.ndarray:
    """The ``batch`` positions of ``candidates`` (positions in the pool) that ``strategy`` picks,
    in pick order.

    ``known``: each pool row's class id, -1 where unlabelled; ``proba``: the current model's
    probabilities on every pool row (uncertainty, hybrid); ``embedding``: every pool row's
    features (diversity, hybrid); ``seed``: an int or a sequence of ints (ties, random draws).
    """
    from skactiveml.pool import CoreSet, RandomSampling, uncertainty_scores
    from skactiveml.utils import simple_batch

    (strategy,) = check_strategies([strategy])
    candidates = np.asarray(candidates, dtype=int)
    if batch < 1:
        raise ValueError(f"a batch must hold at least one product, not {batch}.")
    if batch > len(candidates):
        raise ValueError(
            f"the pool holds {len(candidates)} unlabelled products, fewer than a batch of {batch}: "
            "ask for a smaller batch or add products to the pool."
        )
    rs = _random_state(seed)
    y = _y(known)
    if strategy == "random":
        X = np.zeros((len(y), 1))
        return np.asarray(
            RandomSampling(random_state=rs).query(X, y, candidates=candidates, batch_size=batch)
        )
    if strategy in ("uncertainty", "hybrid"):
        if proba is None:
            raise ValueError(f"{strategy} needs the current model's probabilities on the pool.")
        utilities = uncertainty_scores(np.asarray(proba)[candidates], method="margin_sampling")
        if strategy == "uncertainty":
            return candidates[simple_batch(utilities, rs, batch_size=batch)]
        top = min(len(candidates), max(batch, hybrid_pool * batch))
        candidates = candidates[simple_batch(utilities, rs, batch_size=top)]
    if embedding is None:
        raise ValueError(f"{strategy} needs the candidate's features of the pool.")
    picked = CoreSet(random_state=rs).query(
        np.asarray(embedding), y, candidates=candidates, batch_size=batch
    )
    return np.asarray(picked, dtype=int)


def order(
    strategy: str,
    candidates: np.ndarray,
    known: np.ndarray,
    proba: np.ndarray | None = None,
    embedding: np.ndarray | None = None,
    seed=0,
    first: int | None = None,
) -> np.ndarray:
    """Every position of ``candidates`` ranked by ``strategy``: the first ``first`` (default: all
    for random and uncertainty, at most 200 otherwise) are its batch in pick order; the rest follow
    by the strategy's own utility (uncertainty: margin; diversity: distance to the labelled and
    picked products; hybrid: margin)."""
    from skactiveml.pool import uncertainty_scores

    candidates = np.asarray(candidates, dtype=int)
    n = len(candidates)
    if strategy in ("random", "uncertainty"):
        return query(strategy, n, candidates, known, proba, embedding, seed)
    first = min(n, first if first is not None else 200)
    head = query(strategy, first, candidates, known, proba, embedding, seed) if first else []
    rest = np.setdiff1d(candidates, head)
    if strategy == "hybrid":
        utility = uncertainty_scores(np.asarray(proba)[rest], method="margin_sampling")
    else:
        anchors = np.concatenate([np.flatnonzero(np.asarray(known) >= 0), head]).astype(int)
        utility = (
            _min_distance(np.asarray(embedding), rest, anchors)
            if len(anchors)
            else np.zeros(len(rest))
        )
    tail = rest[np.argsort(-utility, kind="stable")]
    return np.concatenate([np.asarray(head, dtype=int), tail]).astype(int)


def _min_distance(X: np.ndarray, rows: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    from sklearn.metrics import pairwise_distances_argmin_min

    return pairwise_distances_argmin_min(X[rows], X[anchors])[1] if len(rows) else np.zeros(0)


# --------------------------------------------------------------------------- features compared
def _reduce(X: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    k = min(dims, X.shape[0] - 1, X.shape[1])
    if k >= 1 and X.shape[1] > dims:
        X = PCA(n_components=k, random_state=seed).fit_transform(X)
    scale = np.sqrt(np.mean(np.sum(X**2, axis=1))) or 1.0
    return X / scale


def _text(texts: list[str], dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    T = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1).fit_transform(texts)
    k = min(dims, T.shape[0] - 1, T.shape[1] - 1)
    X = TruncatedSVD(n_components=k, random_state=seed).fit_transform(T) if k >= 1 else T.toarray()
    return normalize(X)


def embedding(panel, name: str, rows: pd.DataFrame, dims: int = EMBED_DIMS, seed: int = 0):
    """The features of ``rows`` that a diversity strategy compares for candidate ``name``: its own
    inputs (every source it reads, fusion members included), each block standardised and reduced
    to ``dims`` dimensions, then side by side with equal weight. No label is read."""
    sources = [s for s in SOURCES if s in needs([name])]
    blocks = []
    for source in sources:
        if source == "text":
            blocks.append(_text(panel.features("text", rows), dims, seed))
        else:
            blocks.append(_reduce(panel.features(source, rows), dims, seed))
    return np.hstack(blocks).astype(np.float32)
