"""utils.evaluate: metrics against scikit-learn, bootstrap, McNemar, repeated splits, metrics file."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from utils import evaluate, train


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    m = evaluate.classification_metrics(y, p, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert [m["per_class"][c]["recall"] for c in "abcd"] == pytest.approx(recall_score(y, p, average=None), abs=1e-4)
    assert np.sum(m["confusion"]) == 200


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    small_y = rng.integers(0, 2, 50)
    small_p = np.where(rng.random(50) < 0.8, small_y, 1 - small_y)
    big_y = rng.integers(0, 2, 2000)
    big_p = np.where(rng.random(2000) < 0.8, big_y, 1 - big_y)
    lo, hi = evaluate.bootstrap_ci(small_y, small_p, evaluate.accuracy, n_boot=500)
    assert lo <= evaluate.accuracy(small_y, small_p) <= hi
    blo, bhi = evaluate.bootstrap_ci(big_y, big_p, evaluate.accuracy, n_boot=500)
    assert bhi - blo < (hi - lo) / 3
    assert 0.76 < blo < 0.8 < bhi < 0.84


def test_mcnemar_counts_and_p_value() -> None:
    y = np.zeros(40, dtype=int)
    a = np.zeros(40, dtype=int)                 # always right
    b = np.r_[np.ones(12, dtype=int), np.zeros(28, dtype=int)]   # wrong on 12
    r = evaluate.mcnemar(y, a, b)
    assert (r["a_right_b_wrong"], r["a_wrong_b_right"], r["both_right"], r["both_wrong"]) == (12, 0, 28, 0)
    assert r["p_value"] == pytest.approx(2 * 0.5**12)
    assert evaluate.mcnemar(y, a, a)["p_value"] == 1.0


def test_repeated_splits_retrain_per_seed() -> None:
    rng = np.random.default_rng(0)
    n = 90
    labels = np.repeat(["a", "b", "c"], n // 3)
    rows = pd.DataFrame({"row": range(n), "image": [f"{i}.jpg" for i in range(n)], "path": "", "label": labels, "product_name": "",
                         "sha256": "", "phash": [f"{rng.integers(0, 2**63):016x}" for _ in range(n)]})
    y = pd.Series(labels).map({"a": 0, "b": 1, "c": 2}).to_numpy()
    good = (np.eye(3, 6)[y] * 4 + rng.normal(0, 0.5, (n, 6))).astype(np.float32)
    noise = rng.normal(0, 1, (n, 6)).astype(np.float32)
    cfg = train.default_config("clip", 6, 3, epochs=30, lr=1e-2, hidden=16)
    acc = evaluate.repeated_splits(rows, {"good": good, "noise": noise}, {"good": cfg, "noise": cfg}, seeds=[0, 1, 2])
    assert list(acc.index) == [0, 1, 2]
    assert (acc["good"] > 0.9).all() and acc["noise"].mean() < 0.6
    assert set(evaluate.summarize_repeats(acc).columns) == {"mean", "std", "min", "max"}


def test_metrics_file_keeps_other_sections(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    evaluate.record(path, "a", {"x": np.float32(0.5), "n": np.int64(3)})
    evaluate.record(path, "b", {"y": [1, 2]})
    assert evaluate.load_metrics(path) == {"a": {"x": 0.5, "n": 3}, "b": {"y": [1, 2]}}
