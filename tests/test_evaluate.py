"""utils.evaluation: metrics against scikit-learn, cluster bootstrap, paired comparisons, repeats,
budgets, timing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from utils.evaluation import costs, metrics, refits


def _noisy(n: int, acc: float, seed: int, n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    wrong = (y + 1 + rng.integers(0, n_classes - 1, n)) % n_classes
    return y, np.where(rng.random(n) < acc, y, wrong)


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    m = metrics.classification_metrics(y, p, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert [m["per_class"][c]["recall"] for c in "abcd"] == pytest.approx(
        recall_score(y, p, average=None), abs=1e-4
    )
    assert np.sum(m["confusion"]) == 200


def test_bootstrap_macro_f1_uses_every_class_like_the_point_estimate() -> None:
    """A class that is never predicted nor present still counts (as 0), in the estimate and in every
    resample."""
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0, 1, 1, 1, 0, 0])
    W = np.ones((1, len(y)), dtype=int)  # the "resample" that is the sample itself
    acc, f1 = metrics._scores(W @ metrics._confusions(y, p, np.arange(len(y)), 3), 3)
    assert f1[0] == pytest.approx(
        f1_score(y, p, labels=[0, 1, 2], average="macro", zero_division=0)
    )
    assert acc[0] == pytest.approx(accuracy_score(y, p))
    table, _, _ = metrics.compare(y, {"m": p}, ["a", "b", "c"], None, n_boot=200)
    assert table.loc["m", "macro_f1"] == pytest.approx(
        f1_score(y, p, labels=[0, 1, 2], average="macro", zero_division=0)
    )


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_n() -> None:
    small_y, small_p = _noisy(50, 0.8, 1)
    big_y, big_p = _noisy(2000, 0.8, 2)
    lo, hi = metrics.bootstrap_ci(small_y, small_p, "accuracy", n_boot=500)
    assert lo <= np.mean(small_y == small_p) <= hi
    blo, bhi = metrics.bootstrap_ci(big_y, big_p, "accuracy", n_boot=500)
    assert bhi - blo < (hi - lo) / 3
    assert 0.76 < blo < 0.8 < bhi < 0.84


def test_cluster_bootstrap_is_wider_when_images_come_in_duplicated_pairs() -> None:
    """60 images that are 30 duplicated pairs carry the evidence of 30: resampling pairs says so."""
    y, p = _noisy(30, 0.7, 3)
    y2, p2 = np.repeat(y, 2), np.repeat(p, 2)
    pairs = np.repeat(np.arange(30), 2)
    img = metrics.bootstrap_ci(y2, p2, "accuracy", groups=None, n_boot=2000)
    grp = metrics.bootstrap_ci(y2, p2, "accuracy", groups=pairs, n_boot=2000)
    assert grp[1] - grp[0] > 1.25 * (img[1] - img[0])
    alone = metrics.bootstrap_ci(y, p, "accuracy", n_boot=2000)
    assert abs((grp[1] - grp[0]) - (alone[1] - alone[0])) < 0.05


def test_mcnemar_counts_and_p_value() -> None:
    y = np.zeros(40, dtype=int)
    a = np.zeros(40, dtype=int)  # always right
    b = np.r_[np.ones(12, dtype=int), np.zeros(28, dtype=int)]  # wrong on 12
    r = metrics.mcnemar(y, a, b)
    assert (r["a_right_b_wrong"], r["a_wrong_b_right"], r["both_right"], r["both_wrong"]) == (
        12,
        0,
        28,
        0,
    )
    assert r["p_value"] == pytest.approx(2 * 0.5**12)
    assert metrics.mcnemar(y, a, a)["p_value"] == 1.0


def test_compare_gives_paired_intervals_against_the_reference() -> None:
    y, good = _noisy(300, 0.9, 4, n_classes=3)
    _, bad = _noisy(300, 0.5, 5, n_classes=3)
    groups = np.arange(300) // 3
    table, details, paired = metrics.compare(
        y,
        {"ref": good, "bad": bad, "same": good},
        ["a", "b", "c"],
        groups,
        reference="ref",
        n_boot=500,
    )
    assert set(paired) == {"bad", "same"}
    d = paired["bad"]
    assert d["difference_high"] < 0 and d["mcnemar"]["p_value"] < 1e-6
    assert d["accuracy_difference"] == pytest.approx(
        table.loc["bad", "accuracy"] - table.loc["ref", "accuracy"]
    )
    assert paired["same"]["difference_low"] == paired["same"]["difference_high"] == 0
    assert all(table["accuracy_low"] <= table["accuracy"]) and all(
        table["accuracy"] <= table["accuracy_high"]
    )
    method = metrics.intervals_method(500)
    assert method["resamples"] == 500 and method["level"] == 0.95 and "group" in method["method"]


def test_wins_ties_and_losses_are_counted_apart() -> None:
    acc = pd.DataFrame(
        {"ref": [0.8, 0.8, 0.7, 0.9], "other": [0.9, 0.8, 0.6, 0.9]}, index=[1, 2, 3, 4]
    )
    assert metrics.wins_ties_losses(acc, "ref") == {
        "other": {"ahead": 1, "tied": 2, "behind": 1, "splits": 4}
    }


def test_budget_draws_take_k_per_category_from_training_rows_only() -> None:
    train = pd.DataFrame({"label": list("aaaaabbb"), "x": range(8)}, index=range(10, 18))
    draws = refits.budget_draws(train, [1, 4, "all"], draws=3, seed=0)
    assert [(k, d) for k, d, _ in draws] == [
        (1, 0),
        (1, 1),
        (1, 2),
        (4, 0),
        (4, 1),
        (4, 2),
        ("all", 0),
    ]
    for k, _, rows in draws:
        assert set(rows.index) <= set(train.index)
        counts = rows["label"].value_counts()
        assert counts["a"] == (5 if k == "all" else k) and counts["b"] == (
            3 if k == "all" else min(k, 3)
        )
    assert not draws[0][2].equals(draws[1][2]) or not draws[1][2].equals(draws[2][2]), (
        "draws differ"
    )
    again = refits.budget_draws(train, [1], draws=3, seed=0)
    assert all(a[2].equals(b[2]) for a, b in zip(draws, again)), "seeded"


def test_inference_timing_warms_up_and_repeats() -> None:
    calls = []
    rows = pd.DataFrame({"x": range(10)})
    out = costs.time_inference(lambda r: calls.append(len(r)), rows, repeats=3)
    assert calls == [2, 10, 10, 10]
    assert (
        out["repeats"] == 3
        and out["items"] == 10
        and out["median_s_per_item"] == pytest.approx(np.median(out["runs_s_per_item"]), abs=1e-5)
    )


def test_headline_conclusion_reads_the_paired_numbers() -> None:
    y, good = _noisy(200, 0.9, 6, n_classes=3)
    _, bad = _noisy(200, 0.6, 7, n_classes=3)
    table, _, paired = metrics.compare(
        y,
        {"clip-head": good, "vgg16-head": bad},
        list("abc"),
        None,
        reference="clip-head",
        n_boot=300,
    )
    costs = {
        n: {
            "inference_s_per_item": 0.01,
            "repeats": 3,
            "batch_size": 16,
            "device": "cpu",
            "precision": "float32",
        }
        for n in ("clip-head", "vgg16-head")
    }
    from utils.report import prose

    text = prose.headline(
        {
            "headline": ["clip-head", "vgg16-head"],
            "table": table.to_dict("index"),
            "paired": paired,
            "costs": costs,
            "intervals": metrics.intervals_method(300),
        }
    )
    p = paired["vgg16-head"]
    assert f"{100 * -p['accuracy_difference']:+.1f} points" in text
    assert "clip-head beats vgg16-head" in text


def test_stand_in_runs_say_so_in_every_banner() -> None:
    from utils.core import runs
    from utils.report import prose

    stand = runs.stand_ins({"clip": "tiny-random", "vgg16": "IMAGENET1K_V1"})
    assert stand == {"clip": "tiny random weights"}
    text = prose.banner("04", {}, stand, ["clip-head", "text-tfidf"])
    assert "Stand-in weights" in text and "CLIP: tiny random weights" in text
    assert "Numbers of text-tfidf, which read no encoder, are measured, not stand-ins." in text
    # on a subsample, measured numbers are checks of the pipeline, not findings
    small = prose.banner(
        "04", {"split": {"max_per_category": 8, "images": 56}}, stand, ["text-tfidf"]
    )
    assert "are measured, not stand-ins, but on this run's few products" in small
    assert prose.banner("04", {}, {}, ["clip-head"]) == ""
    from utils.models import candidates

    assert candidates.stand_in_candidates(
        ["clip-head", "fusion-late", "text-tfidf", "vgg16-head"], stand
    ) == {"clip-head", "fusion-late"}


def test_an_accuracy_of_zero_gets_an_exact_interval_not_a_degenerate_one() -> None:
    """0 of 12 right: every bootstrap resample says 0%, yet 0/12 is compatible with up to ~26%."""
    y = np.arange(12) % 3
    wrong = (y + 1) % 3
    table, _, _ = metrics.compare(y, {"m": wrong}, list("abc"), None, n_boot=200)
    row = table.loc["m"]
    assert row["accuracy"] == 0 and row["accuracy_low"] == 0
    assert 0.2 < row["accuracy_high"] < 0.3 and row["accuracy_interval"].startswith("Clopper")
