"""utils.evaluation.calibration: the reliability diagram and ECE, temperature scaling, the
threshold rule chosen on validation and what it gives on test, on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from utils.data.acquire import dataset_checksum
from utils.evaluation import calibration, metrics


def _two_class(conf: float, right: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Products predicted as class 0 with probability ``conf``; label 0 where ``right``."""
    proba = np.tile([conf, 1 - conf], (len(right), 1))
    return proba, np.where(right, 0, 1)


def test_ece_is_zero_when_confidence_equals_accuracy_and_the_gap_otherwise() -> None:
    proba, y = _two_class(0.8, [True] * 8 + [False] * 2)
    rel = calibration.reliability(proba, y, n_bins=10)
    assert rel["ece"] == pytest.approx(0.0)
    assert sum(b["count"] for b in rel["bins"]) == 10 and len(rel["bins"]) == 10
    assert [b["count"] for b in rel["bins"] if b["count"]] == [10]
    proba, y = _two_class(0.9, [True] * 6 + [False] * 4)
    assert calibration.reliability(proba, y)["ece"] == pytest.approx(0.3)
    # two bins, each off by its own gap, weighted by its share of the products
    p1, y1 = _two_class(0.95, [True] * 10)  # gap 0.05, 10 products
    p2, y2 = _two_class(0.55, [True] * 5 + [False] * 5)  # gap 0.05, 10 products
    both = calibration.reliability(np.vstack([p1, p2]), np.concatenate([y1, y2]), n_bins=5)
    assert both["ece"] == pytest.approx(0.05)
    assert both["binning"] == "equal-width"


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, size=(20000, 5))
    y = np.array([rng.choice(5, p=p) for p in softmax(logits, axis=1)])
    overconfident = softmax(2.0 * logits, axis=1)  # the truth at temperature 2
    t = calibration.fit_temperature(overconfident, y)
    assert t == pytest.approx(2.0, rel=0.05)
    cal = calibration.calibrate(overconfident, y)
    v = cal["validation"]
    assert cal["kept"] and cal["temperature"] == pytest.approx(t)
    assert v["scaled"]["nll"] < v["raw"]["nll"] and v["scaled"]["ece"] < v["raw"]["ece"]
    # scaling never changes which class is predicted
    assert (calibration.scale(overconfident, t).argmax(1) == overconfident.argmax(1)).all()


def test_temperature_scaling_is_not_kept_when_it_cannot_help() -> None:
    proba = np.full((4, 2), 0.5)  # uniform probabilities stay uniform at every temperature
    cal = calibration.calibrate(proba, np.array([0, 1, 0, 1]), n_bins=5)
    assert not cal["kept"] and cal["temperature"] == 1.0
    assert cal["validation"]["scaled"]["nll"] == pytest.approx(cal["validation"]["raw"]["nll"])


def test_bad_probabilities_fail_with_a_message() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        calibration.reliability(np.array([[0.7, 0.7]]), np.array([0]))
    with pytest.raises(ValueError, match="labels must lie"):
        calibration.reliability(np.array([[0.5, 0.5]]), np.array([2]))
    with pytest.raises(ValueError, match="target accuracy"):
        calibration.choose_threshold(np.array([0.9]), np.array([True]), 1.5, 1)


def test_the_threshold_is_the_lowest_that_meets_the_target_with_enough_products() -> None:
    conf = np.array([0.99, 0.95, 0.90, 0.85, 0.80, 0.70])
    right = np.array([True, True, True, True, False, True])
    perfect = calibration.choose_threshold(conf, right, target=1.0, min_accepted=2)
    assert perfect["threshold"] == 0.85 and perfect["accepted"] == 4
    assert perfect["coverage"] == pytest.approx(4 / 6) and perfect["accuracy"] == 1.0
    assert perfect["accuracy_low"] < 1.0 == perfect["accuracy_high"]
    loose = calibration.choose_threshold(conf, right, target=0.8, min_accepted=2)
    assert loose["threshold"] == 0.70 and loose["accepted"] == 6 and loose["errors"] == 1
    too_few = calibration.choose_threshold(conf, right, target=1.0, min_accepted=5)
    assert too_few["threshold"] is None and too_few["coverage"] == 0.0
    # a threshold accepts every product tied at it: the tie of a right and a wrong answer at the
    # top cannot be split, so no threshold reaches 100%
    tied = calibration.choose_threshold(
        np.array([0.9, 0.9, 0.8]), np.array([True, False, True]), 1.0, 1
    )
    assert tied["threshold"] is None


def test_selective_results_on_test_with_group_intervals() -> None:
    rng = np.random.default_rng(1)
    n = 300
    conf = rng.uniform(0.3, 1.0, n)
    right = rng.uniform(0, 1, n) < conf
    groups = np.repeat(np.arange(n // 3), 3)
    out = calibration.selective(conf, right, 0.8, groups, n_boot=500, seed=0)
    accepted = conf >= 0.8
    assert out["accepted"] == accepted.sum() and out["to_person"] == n - accepted.sum()
    assert out["accuracy"] == pytest.approx(right[accepted].mean())
    assert out["errors"] == int((accepted & ~right).sum())
    for key in ("coverage", "accuracy"):
        assert out[f"{key}_low"] <= out[key] <= out[f"{key}_high"]
        assert out[f"{key}_high"] - out[f"{key}_low"] > 0
    nobody = calibration.selective(conf, right, None, groups, n_boot=100)
    assert nobody["accepted"] == 0 and nobody["accuracy"] is None
    assert nobody["to_person"] == n and nobody["accuracy_low"] is None


def test_shares_resample_the_same_groups_as_the_accuracy_bootstrap() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 120)
    pred = np.where(rng.uniform(0, 1, 120) < 0.7, y, (y + 1) % 4)
    groups = rng.integers(0, 50, 120)
    shares = metrics.bootstrap_shares({"acc": (pred == y, np.ones(120, bool))}, groups, 300, 7)
    direct = metrics.bootstrap(y, {"m": pred}, 4, groups, 300, 7)["m"]["accuracy"]
    np.testing.assert_allclose(shares["acc"], direct)


def test_risk_coverage_ends_at_the_accuracy_without_abstention() -> None:
    conf = np.array([0.6, 0.9, 0.7, 0.95])
    right = np.array([False, True, True, True])
    curve = calibration.risk_coverage(conf, right)
    assert curve["coverage"] == [0.25, 0.5, 0.75, 1.0]
    assert curve["accuracy"] == [1.0, 1.0, 1.0, 0.75]


def test_the_data_checksum_reads_the_csv_and_the_photos_in_any_order(tmp_path) -> None:
    (tmp_path / "Images").mkdir()
    (tmp_path / "catalog.csv").write_text("uniq_id,image\na,a.jpg\n")
    rows = pd.DataFrame(
        {
            "path": [str(tmp_path / "Images" / n) for n in ("a.jpg", "b.jpg")],
            "sha256": ["11" * 32, "22" * 32],
        }
    )
    first = dataset_checksum(rows)
    again = dataset_checksum(rows.iloc[::-1])
    assert first == again and first["images"] == 2 and first["csv"] == "catalog.csv"
    assert len(first["csv_sha256"]) == 64 and not first["note_dataset"]
    changed = dataset_checksum(rows.assign(sha256=["11" * 32, "33" * 32]))
    assert changed["images_sha256"] != first["images_sha256"]
    with pytest.raises(ValueError, match="path"):
        dataset_checksum(pd.DataFrame({"x": [1]}))


def _evaluation_record() -> dict:
    """A small evaluation record: three categories, one confusion, a threshold."""
    classes = ["A", "B", "C"]
    cm = [[8, 2, 0], [0, 10, 0], [1, 0, 9]]
    per = {
        "A": {"precision": 8 / 9, "recall": 0.8, "f1": 0.84, "support": 10},
        "B": {"precision": 10 / 12, "recall": 1.0, "f1": 0.91, "support": 10},
        "C": {"precision": 1.0, "recall": 0.9, "f1": 0.95, "support": 10},
    }
    return {
        "classes": classes,
        "details": {"m": {"confusion": cm, "per_class": per}},
        "hyperparameters": {"m": {"C": 10.0, "steps": {"lr (LogisticRegression)": {"C": 10.0}}}},
        "data_checksum": {
            "csv": "c.csv",
            "csv_sha256": "ab" * 32,
            "note_dataset": False,
            "images": 30,
            "images_sha256": "cd" * 32,
            "images_digest": "sha256 of the photos' sha256s",
        },
        "versions": {"python": "3.11.7", "scikit-learn": "1.9.1"},
    }


def test_the_card_names_the_confused_pairs_and_the_catch_all_category() -> None:
    from utils.report import card_facts

    ev = _evaluation_record()
    modes = card_facts.failure_modes({"evaluation": ev}, "m")
    # pairs of one error each are counted, none picked as "most confused" among the ties
    assert "2 of 10 *A* taken for *B* and 1 other pair with one error each" in modes
    # B received 2 products of A: the lowest precision, named first
    assert "*B* (precision 0.833: 2 of the 12 products it received belong to A)" in modes
    assert "Template dependence:** not measured" in modes
    assert "Taxonomy boundaries:** not measured" in modes
    template = {
        "phrases": [{"phrase": "flipkart.com", "rate": {"A": 0.89, "B": 0.0, "C": 0.4}}],
        "accuracy": 0.96,
        "accuracy_without": 0.90,
        "difference": -0.06,
        "difference_low": -0.1,
        "difference_high": -0.02,
    }
    measured = card_facts.failure_modes(
        {"evaluation": ev, "explanations": {"template": {"m": template}}}, "m"
    )
    assert "test accuracy 90.0% against 96.0% (−6.0 points (−10.0 to −2.0), paired)" in measured
    assert "“flipkart.com” (in 89% of *A*, 0% of *B*)" in measured
    assert "`C`: `10`" in card_facts.hyperparameters(ev, "m")
    assert "ab" * 32 in card_facts.checksum(ev) and "cd" * 32 in card_facts.checksum(ev)
    assert "| scikit-learn | 1.9.1 |" in card_facts.versions({"evaluation": ev})


def test_the_card_states_the_threshold_and_who_reviews_the_rest() -> None:
    from utils.report import card_facts

    conf = np.array([0.99, 0.95, 0.90, 0.85, 0.80, 0.70])
    right = np.array([True, True, True, True, False, True])
    val = calibration.choose_threshold(conf, right, 1.0, 2)
    test = calibration.selective(conf, right, val["threshold"], None, 200)
    cal = calibration.calibrate(np.column_stack([conf, 1 - conf]), np.where(right, 0, 1), 5)
    cal["reliability"] = {
        "validation": calibration.reliability(np.column_stack([conf, 1 - conf]), 1 - right, 5)
    }
    ev = {
        "threshold": {
            "validation": val,
            "test": test,
            "no_abstention": {"validation": right.mean(), "test": right.mean()},
            "intervals": metrics.intervals_method(200),
        },
        "calibration": cal,
    }
    text = card_facts.automation(ev)
    assert "highest probability ≥ 0.850" in text and "4 of 6 accepted" in text
    assert "2 products go to a person" in text and "Without abstention: 83.3%" in text
    assert "classified automatically" in card_facts.intended_use(ev)
    ev["threshold"]["validation"] = calibration.choose_threshold(conf, right, 1.0, 6)
    assert "every product goes to a person" in card_facts.automation(ev)
    assert "every answer is reviewed" in card_facts.intended_use(ev)


def test_no_error_among_the_accepted_gets_an_exact_interval_not_a_degenerate_one() -> None:
    conf = np.linspace(0.5, 1.0, 200)
    right = conf > 0.6  # every accepted product right: every resample gives 100%
    out = calibration.selective(conf, right, 0.8, np.arange(200) // 2, n_boot=300)
    assert out["accuracy"] == 1.0 and out["accuracy_high"] == 1.0
    assert 0.9 < out["accuracy_low"] < 1.0  # Clopper-Pearson for 0 errors
    assert out["accuracy_interval"].startswith("Clopper-Pearson")
    assert out["coverage_interval"] == "cluster bootstrap"


def _automation_record(n: int = 120, seed: int = 3) -> tuple[dict, dict]:
    """The calibration and threshold records of a synthetic candidate, as notebook 05 makes them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, size=(2 * n, 4))
    y = np.array([rng.choice(4, p=p) for p in softmax(logits, axis=1)])
    proba = softmax(0.6 * logits, axis=1)  # under-confident: T below one helps
    pv, yv, pt, yt = proba[:n], y[:n], proba[n:], y[n:]
    cal = calibration.calibrate(pv, yv)
    t = cal["fitted_temperature"]
    cal["candidate"] = "m"
    cal["reliability"] = {
        "validation": calibration.reliability(pv, yv),
        "validation_scaled": calibration.reliability(calibration.scale(pv, t), yv),
        "test": calibration.reliability(pt, yt),
        "test_scaled": calibration.reliability(calibration.scale(pt, t), yt),
    }
    sv, st = calibration.scale(pv, cal["temperature"]), calibration.scale(pt, cal["temperature"])
    ok_v, ok_t = sv.argmax(1) == yv, st.argmax(1) == yt
    val = calibration.choose_threshold(sv.max(1), ok_v, 0.9, 10)
    auto = {
        "candidate": "m",
        "probabilities": "temperature-scaled",
        "validation": val,
        "test": calibration.selective(st.max(1), ok_t, val["threshold"], None, 200),
        "no_abstention": {"validation": ok_v.mean(), "test": ok_t.mean()},
        "intervals": metrics.intervals_method(200),
        "curves": {
            "validation": calibration.risk_coverage(sv.max(1), ok_v),
            "test": calibration.risk_coverage(st.max(1), ok_t),
        },
    }
    return cal, auto


def test_the_two_figures_say_what_they_drew() -> None:
    import matplotlib.pyplot as plt

    from utils.report import plots
    from utils.report.prose import automation_text, caption

    cal, auto = _automation_record()
    assert cal["kept"] and auto["validation"]["threshold"] is not None
    fig = plots.reliability_diagram(cal)
    assert len(fig.axes) == 4  # as given and scaled, validation and test
    text = caption("reliability", plots.facts_of(fig))
    assert "in each of 10 equal-width bins" in text and "120 validation and 120 test" in text
    assert f"T = {cal['fitted_temperature']:.3f}, kept" in text
    fig2 = plots.risk_coverage(auto)
    text2 = caption("risk_coverage", plots.facts_of(fig2))
    assert f"({auto['validation']['threshold']:.3f})" in text2 and "(90%)" in text2
    words = automation_text(cal, auto)
    assert f"classifies {auto['test']['accepted']} automatically" in words
    assert f"{auto['test']['to_person']} products" in words
    plt.close("all")
    with pytest.raises(ValueError, match="calibration record"):
        plots.reliability_diagram({})


def test_a_probe_states_the_settings_it_was_fitted_with_not_its_scores() -> None:
    from utils.models import train
    from utils.models.candidates import CANDIDATES
    from utils.models.families import ProbeModel

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    est = train.logistic_probe(10.0, seed=5).fit(X, y)
    info = {"C": 10.0, "val_loss": 0.1, "val_accuracy": 0.9, "sweep": [{"C": 1.0}, {"C": 10.0}]}
    info |= {"train_seconds": 0.2, "precision": "auto", "decode_min_side": 512}
    probe = ProbeModel(CANDIDATES["clip-probe"], ["a", "b"], info, {}, "", estimator=est)
    hp = probe.hyperparameters()
    assert hp["C"] == 10.0 and hp["C_tried"] == [1.0, 10.0]
    assert not {"val_loss", "val_accuracy", "sweep", "train_seconds"} & set(hp)
    assert "precision" not in hp  # no encoder recorded: nothing ran at a precision
    steps = hp["steps"]
    assert steps["logisticregression (LogisticRegression)"] == {
        "C": 10.0,
        "max_iter": 3000,
        "random_state": 5,
    }
    assert steps["standardscaler (StandardScaler)"] == {}  # every setting at its default
