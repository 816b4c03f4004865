"""Fast refits for the simulation: a probe or TF-IDF candidate refitted round after round from
matrices computed once, the same model as ``models.fitting.fit`` fits.

``models.fitting.fit`` rebuilds everything at every refit: the TF-IDF vocabulary and weights from
the labelled training texts (tokenising every text again), the scaler, and a logistic regression
from zero for each C. A campaign refits the same candidate some thirty times on growing label
sets, so ``Matrices`` tokenises every text once (the n-gram counts of the pool, the test rows and
the held-out rows, with TF-IDF's own analyser), and ``FastRefit`` builds each round's TF-IDF from
those counts restricted to the n-grams of the labelled training texts (the vocabulary
``TfidfVectorizer`` would learn from them: the same sublinear term frequencies, smoothed inverse
document frequencies and unit rows), or standardises a probe's cached features; its logistic
regressions start from the previous round's coefficients (warm start: the same optimum, fewer
iterations). The settings are chosen as ``train.fit_probe`` chooses them (lowest validation
log-loss), over the whole grid the first time, then over the last choice and its neighbours
(``neighbours``). ``tests/test_labels.py`` checks the predictions against ``fit``'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.candidates import CANDIDATES

FAMILIES = ("probe", "tfidf")


def neighbours(Cs: tuple, C) -> tuple:
    """The settings re-tried when they are re-chosen: the grid ``Cs`` all of it the first time
    (``C`` None), then ``C`` and its neighbours in the grid (learning curves move slowly)."""
    Cs = tuple(Cs)
    if C is None or C not in Cs:
        return Cs
    i = Cs.index(C)
    return Cs[max(0, i - 1) : i + 2]


def fast(name: str) -> bool:
    """Whether ``name`` refits through ``FastRefit`` (a probe or the TF-IDF candidate)."""
    return CANDIDATES[name].family in FAMILIES


class Matrices:
    """What every refit of candidate ``name`` reads, for ``rows`` (the pool, then the test rows,
    then the held-out rows): the n-gram counts of the texts (TF-IDF) or the cached features."""

    def __init__(self, panel, name: str, rows: pd.DataFrame) -> None:
        c = CANDIDATES[name]
        if c.family not in FAMILIES:
            raise ValueError(f"{name} is not a probe or TF-IDF candidate: refit it with fit().")
        self.family = c.family
        X = panel.inputs(c.inputs, rows)
        if self.family == "tfidf":
            from sklearn.feature_extraction.text import CountVectorizer

            counts = CountVectorizer(ngram_range=(1, 2), min_df=1, dtype=np.float64)
            self.X = counts.fit_transform(list(X)).tocsr()
        else:
            self.X = np.asarray(X, dtype=np.float64)


class FastRefit:
    """Refits of one candidate on growing label sets (positions into ``matrices``' rows)."""

    def __init__(self, matrices: Matrices, n_classes: int, Cs: tuple, seed: int) -> None:
        self.m, self.n_classes, self.Cs, self.seed = matrices, n_classes, tuple(Cs), seed
        self.cols, self.coef, self.intercept, self.C = None, {}, {}, None

    # ---- the features of one round
    def _prepare(self, train: np.ndarray) -> None:
        X = self.m.X
        if self.m.family == "tfidf":
            df = np.asarray((X[train] > 0).sum(0)).ravel()
            self.cols = np.flatnonzero(df > 0)
            n = len(train)
            self.idf = (np.log((1 + n) / (1 + df[self.cols])) + 1).astype(np.float32)
        else:
            from sklearn.preprocessing import StandardScaler

            self.scaler = StandardScaler().fit(X[train])

    def features(self, positions: np.ndarray):
        X = self.m.X[np.asarray(positions, dtype=int)]
        if self.m.family == "tfidf":
            from sklearn.preprocessing import normalize

            X = X[:, self.cols].astype(np.float32)
            X.data = 1 + np.log(X.data)
            X = X.multiply(self.idf).tocsr()
            return normalize(X)
        return self.scaler.transform(X)

    # ---- the logistic regressions
    def _warm(self, C) -> tuple[np.ndarray, np.ndarray] | None:
        """The last coefficients fitted at ``C`` (else at any C), on this round's columns."""
        key = C if C in self.coef else next(iter(self.coef), None)
        if key is None:
            return None
        coef, cols = self.coef[key]
        if self.m.family == "tfidf":
            grown = np.zeros((coef.shape[0], len(self.cols)))
            grown[:, np.searchsorted(self.cols, cols)] = coef  # the vocabulary only grows
            coef = grown
        return coef, self.intercept[key]

    def _fit_one(self, C, X, y):
        from ..models.train import logistic_regression

        lr = logistic_regression(C, self.seed)
        warm = self._warm(C)
        if warm is not None and warm[0].shape == (self.n_classes, X.shape[1]):
            lr.set_params(warm_start=True)
            lr.coef_, lr.intercept_ = warm[0].copy(), warm[1].copy()
            lr.classes_ = np.arange(self.n_classes)
        lr.fit(X, y)
        if len(lr.classes_) == self.n_classes:
            self.coef[C] = (lr.coef_.copy(), None if self.cols is None else self.cols.copy())
            self.intercept[C] = lr.intercept_.copy()
        return lr

    def proba(self, lr, X) -> np.ndarray:
        from ..models.train import full_proba

        return full_proba(lr, X, self.n_classes)

    def fit(self, train, y_train, val, y_val, choose: bool):
        """The logistic regression on ``train`` (positions, class ids), its C chosen on ``val``
        by validation log-loss (``choose``; else the C kept from the last choice). Returns
        ``(model, chosen C)``."""
        from sklearn.metrics import log_loss

        train, val = np.asarray(train, dtype=int), np.asarray(val, dtype=int)
        self._prepare(train)
        X_train = self.features(train)
        Cs = neighbours(self.Cs, self.C) if choose or self.C is None else (self.C,)
        X_val = self.features(val) if len(Cs) > 1 else None
        best = None
        for C in Cs:
            lr = self._fit_one(C, X_train, y_train)
            if len(Cs) == 1:
                best = (lr, 0.0, C)
                break
            proba = self.proba(lr, X_val)
            loss = float(log_loss(y_val, proba, labels=list(range(self.n_classes))))
            if best is None or loss < best[1] - 1e-9:
                best = (lr, loss, C)
        self.C = best[2]
        return best[0], best[2]
