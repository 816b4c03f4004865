"""utils.labels on tiny planted inputs: strategies that must beat random where random wastes labels,
a planted label flip the audit must find, the ranked list's columns and order, what each strategy
saves (censored where a curve never reaches the target), and one sentence for every bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from utils.labels import active, audit, suggest
from utils.labels import strategies as S
from utils.models.panel import CachedPanel, Settings

CLASSES = ["a", "b", "c"]


# --------------------------------------------------------------------------- planted simulations
class ArrayRefit:
    """A refit on arrays (what ``active.Refitter`` does with a candidate): ``make()`` fitted on
    the labelled rows of both parts, probabilities on every pool row, accuracy on the test."""

    def __init__(self, X, X_test, y_test, make, classes) -> None:
        self.X, self.X_test, self.y_test, self.make, self.classes = X, X_test, y_test, make, classes

    def _full(self, clf, X):
        out = np.zeros((len(X), len(self.classes)))
        out[:, clf.classes_] = clf.predict_proba(X)
        return out

    def __call__(self, train_pos, val_pos, known, proba=True):
        pos = np.concatenate([train_pos, val_pos]).astype(int)
        clf = self.make().fit(self.X[pos], known[pos])
        accuracy = float(np.mean(self._full(clf, self.X_test).argmax(1) == self.y_test))
        return self._full(clf, self.X), accuracy


def _starts(y, part, seed, k=1):
    """``k`` labelled rows per class from each part (seeded)."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        for p in ("train", "val"):
            rows = np.flatnonzero((y == c) & (part == p))
            picks += rng.choice(rows, size=k, replace=False).tolist()
    return np.array(sorted(picks))


def _final(refit, y, part, strategy, totals, seeds, embedding=None):
    accuracies = []
    for seed in range(seeds):
        records = active.simulate(
            refit, y, part, strategy, totals, _starts(y, part, seed), seed, embedding
        )
        assert [r["labels"] for r in records] == [2 * len(np.unique(y)), *totals]
        assert all(r["labels"] == r["labelled_train"] + r["labelled_val"] for r in records)
        accuracies.append(records[-1]["accuracy"])
    return float(np.mean(accuracies))


def test_uncertainty_beats_random_where_most_of_the_pool_is_far_from_the_boundary() -> None:
    """Two classes split at x = 0.3; nine pool products in ten lie far from it (redundant: any
    model gets them right), the test products are spread evenly. Random spends its labels on the
    redundant ones; uncertainty asks where the current model hesitates, near the boundary."""
    rng = np.random.default_rng(0)
    far = np.concatenate([rng.uniform(-1, -0.6, 270), rng.uniform(0.85, 1, 270)])
    near = rng.uniform(-0.6, 0.85, 60)
    x = np.concatenate([far, near])
    X = np.c_[x, rng.normal(0, 0.05, len(x))]
    y = (x > 0.3).astype(int)
    part = np.where(rng.random(len(x)) < 0.75, "train", "val")
    x_test = np.linspace(-1, 1, 400)
    X_test, y_test = np.c_[x_test, np.zeros(400)], (x_test > 0.3).astype(int)
    make = lambda: LogisticRegression(C=1e4, max_iter=2000)  # noqa: E731
    refit = ArrayRefit(X, X_test, y_test, make, [0, 1])
    totals = [6, 8, 10, 12]
    random = _final(refit, y, part, "random", totals, seeds=8)
    uncertain = _final(refit, y, part, "uncertainty", totals, seeds=8)
    assert uncertain > random + 0.03, (uncertain, random)


def _blobs(rng, big: int, small: int, per_test: int):
    """Three classes, each of four well-separated sub-blobs: one big (``big`` pool rows), three
    small (``small``); ``per_test`` test rows per sub-blob."""
    centres = [(10 * i, 10 * j) for i in range(4) for j in range(3)]
    X, y, X_test, y_test = [], [], [], []
    for b, centre in enumerate(centres):
        c = b % 3
        n = big if b < 3 else small
        X.append(rng.normal(centre, 0.5, (n, 2)))
        y += [c] * n
        X_test.append(rng.normal(centre, 0.5, (per_test, 2)))
        y_test += [c] * per_test
    return np.vstack(X), np.array(y), np.vstack(X_test), np.array(y_test)


def test_diversity_beats_random_where_one_blob_per_category_holds_most_of_the_pool() -> None:
    """Each category is four separate blobs, one of which holds almost all its pool products;
    k-center greedy labels every blob in a few picks, random keeps labelling the big ones."""
    rng = np.random.default_rng(1)
    X, y, X_test, y_test = _blobs(rng, big=200, small=4, per_test=20)
    part = np.where(np.arange(len(y)) % 4 == 0, "val", "train")
    part[np.flatnonzero(y == 0)[:2]] = "val"  # every class has rows in both parts
    make = lambda: KNeighborsClassifier(n_neighbors=1)  # noqa: E731
    refit = ArrayRefit(X, X_test, y_test, make, CLASSES)
    totals = [12, 18]
    random = _final(refit, y, part, "random", totals, seeds=5, embedding=X)
    diverse = _final(refit, y, part, "diversity", totals, seeds=5, embedding=X)
    assert diverse > random + 0.1, (diverse, random)
    assert diverse > 0.9


def test_a_zero_shot_start_costs_no_label_and_keeps_its_pseudo_labels_out_of_the_queries() -> None:
    rng = np.random.default_rng(3)
    X, y, X_test, y_test = _blobs(rng, big=20, small=4, per_test=5)
    part = np.where(np.arange(len(y)) % 4 == 0, "val", "train")
    proba = np.eye(3)[y] * 0.8 + 0.2 / 3  # a zero-shot model that is right, fairly confident
    proba[np.arange(0, len(y), 7)] = np.roll(proba[np.arange(0, len(y), 7)], 1, axis=1)
    positions, labels = active.pseudo_start(proba, part, k=2)
    assert len(positions) == 3 * 2 * 2 and set(labels) == {0, 1, 2}
    refit = ArrayRefit(X, X_test, y_test, lambda: KNeighborsClassifier(n_neighbors=1), CLASSES)
    records = active.simulate(
        refit, y, part, "uncertainty", [6, 9], [], 0, X, pseudo=(positions, labels)
    )
    assert [r["labels"] for r in records] == [0, 6, 9]
    assert all(r["pseudo"] == len(positions) for r in records)
    assert all(r["labels"] == r["labelled_train"] + r["labelled_val"] for r in records)


def test_queries_pick_unlabelled_products_in_order_and_every_strategy_runs() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    known = np.full(40, -1)
    known[[0, 1, 2]] = [0, 1, 2]
    proba = rng.dirichlet(np.ones(3), 40)
    candidates = np.flatnonzero(known < 0)
    for strategy in S.STRATEGIES:
        picks = S.query(strategy, 5, candidates, known, proba, X, seed=[3, 0])
        assert len(set(picks)) == 5 and set(picks) <= set(candidates)
        again = S.query(strategy, 5, candidates, known, proba, X, seed=[3, 0])
        assert list(picks) == list(again)  # seeded
        ranked = S.order(strategy, candidates, known, proba, X, seed=1, first=5)
        assert sorted(ranked) == sorted(candidates)
    top = np.sort(proba, axis=1)[:, -2:]
    order = S.query("uncertainty", len(candidates), candidates, known, proba, X)
    assert np.all(np.diff(top[order, 1] - top[order, 0]) >= -1e-12)  # smallest margin first


# --------------------------------------------------------------------------- what it saves
def _records(curves: dict[str, list[list[float]]], labels: list[int]) -> pd.DataFrame:
    rows = []
    for strategy, per_seed in curves.items():
        for seed, accs in enumerate(per_seed):
            for r, (n, a) in enumerate(zip(labels, accs)):
                rows.append(
                    {
                        "candidate": "m",
                        "start": "labels",
                        "strategy": strategy,
                        "seed": seed,
                        "round": r,
                        "labels": n,
                        "labelled_train": n,
                        "labelled_val": 0,
                        "accuracy": a,
                    }
                )
    return pd.DataFrame(rows)


def test_crossings_are_interpolated_and_areas_normalised() -> None:
    from utils.labels import compare

    assert compare.crossing([10, 20, 40], [0.5, 0.7, 0.9], 0.8) == pytest.approx(30.0)
    assert compare.crossing([10, 20], [0.9, 0.95], 0.8) == 10.0  # starts above it
    assert np.isnan(compare.crossing([10, 20], [0.5, 0.6], 0.8))  # censored
    assert compare.area([10, 20, 30], [0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert compare.area([0, 10, 30], [0.0, 1.0, 1.0]) == pytest.approx((5 + 20) / 30)
    records = _records(
        {"random": [[0.5, 0.7, 0.9]], "uncertainty": [[0.5, 0.9, 0.9]]}, [10, 20, 40]
    )
    seeds = compare.per_seed(records, {"m": 1.0}, share=0.8).set_index("strategy")
    assert seeds.loc["random", "labels"] == pytest.approx(30.0)  # between 20 and 40
    assert seeds.loc["uncertainty", "labels"] == pytest.approx(17.5)
    assert seeds.loc["random", "budget"] == 40
    curves = active.curves(records)
    assert curves["count"].eq(1).all()


def test_the_exact_sign_flip_test_counts_every_pattern() -> None:
    from itertools import product

    from utils.labels import compare

    rng = np.random.default_rng(0)
    for n in (1, 4, 7, 10):
        d = np.round(rng.normal(0.3, 1, size=n), 2)
        d[0] = 0.0 if n > 3 else d[0]  # a zero keeps its place
        sums = [abs(np.dot(s, d)) for s in product([-1, 1], repeat=n)]
        brute = np.mean(np.array(sums) >= abs(d.sum()) - 1e-9)
        p, smallest = compare.sign_flip(d)
        assert p == pytest.approx(brute), n
        assert smallest == pytest.approx(min(1, 2 / 2 ** int(np.sum(d != 0))))
    # five seeds cannot reach 0.05 / 3 (Holm's first step for three strategies): every seed
    # the same way gives the smallest p-value five pairs allow
    p, smallest = compare.sign_flip([-0.4] * 5)
    assert p == smallest == pytest.approx(2 / 32) and p > 0.05 / 3
    assert compare.sign_flip([-0.4] * 20)[0] == pytest.approx(2 / 2**20)
    assert compare.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def _paired_records(rng, seeds: int, shift: dict[str, float]) -> pd.DataFrame:
    """Random's curves rising with noise per seed; each strategy the same seed's curve lifted by
    ``shift`` (plus its own noise)."""
    labels = [14, 21, 28, 35, 42, 49]
    curves = {s: [] for s in ["random", *shift]}
    for _ in range(seeds):
        base = np.linspace(0.5, 0.95, len(labels)) + rng.normal(0, 0.01, len(labels))
        curves["random"].append(list(base))
        for s, lift in shift.items():
            own = (
                base + lift * np.r_[0, np.ones(len(labels) - 1)] + rng.normal(0, 0.01, len(labels))
            )
            curves[s].append(list(np.minimum(own, 1.0)))
    return _records(curves, labels)


def test_paired_tests_call_a_verdict_only_where_the_test_says_so() -> None:
    from utils.labels import compare

    rng = np.random.default_rng(1)
    records = _paired_records(rng, 20, {"uncertainty": 0.08, "diversity": 0.0, "hybrid": -0.08})
    tests = compare.paired(compare.per_seed(records, {"m": 0.95}, 0.9)).set_index("strategy")
    assert (tests["seeds"] == 20).all() and (tests["comparisons"] == 3).all()
    assert tests.loc["uncertainty", "labels_verdict"] == "fewer"
    assert tests.loc["uncertainty", "area_verdict"] == "higher"
    assert (
        tests.loc["uncertainty", "ratio"] < 1 and tests.loc["uncertainty", "p_labels_holm"] < 0.05
    )
    assert tests.loc["hybrid", "labels_verdict"] == "more"
    assert tests.loc["hybrid", "area_verdict"] == "lower"
    assert tests.loc["diversity", "labels_verdict"] == "not resolved"
    # Holm: each adjusted p-value at least its own
    assert (tests["p_labels_holm"] >= tests["p_labels"] - 1e-12).all()
    # the same lift over five seeds: the test cannot reach the level, so it is not resolved
    few = _paired_records(rng, 5, {"uncertainty": 0.08, "diversity": 0.0, "hybrid": -0.08})
    tests = compare.paired(compare.per_seed(few, {"m": 0.95}, 0.9)).set_index("strategy")
    assert set(tests["labels_verdict"]) == {"not resolved"}
    assert not tests["reachable_labels"].any()


def test_a_censored_seed_counts_at_the_end_and_keeps_the_pair_s_sign() -> None:
    from utils.labels import compare

    labels = [10, 20, 40]
    records = _records({"random": [[0.5, 0.96, 0.97]] * 6, "hybrid": [[0.5, 0.6, 0.7]] * 6}, labels)
    tests = compare.paired(compare.per_seed(records, {"m": 1.0}, 0.95))
    h = tests.iloc[0]
    assert h["reached"] == 0 and h["random_reached"] == 6
    assert h["ratio"] > 1 and h["more_seeds"] == 6 and h["zero_width"]
    both = _records({"random": [[0.5, 0.6, 0.7]] * 3, "hybrid": [[0.5, 0.6, 0.7]] * 3}, labels)
    t = compare.paired(compare.per_seed(both, {"m": 1.0}, 0.95)).iloc[0]
    assert t["ratio"] == 1 and t["labels_verdict"] == "not resolved" and t["p_labels"] == 1


def test_the_strategy_is_chosen_on_the_held_out_curves() -> None:
    from utils.labels import compare

    rng = np.random.default_rng(2)
    records = _paired_records(rng, 4, {"uncertainty": -0.05, "diversity": 0.05})
    seeds = compare.per_seed(records, {}, 0.9)
    assert seeds["labels"].isna().all()  # no target without a full-data accuracy
    chosen, areas = compare.choose(seeds, "m")
    assert chosen == "diversity" and areas["diversity"] > areas["random"] > areas["uncertainty"]
    assert compare.choose(seeds, "other") == (None, {})


# --------------------------------------------------------------------------- candidates on a panel
def _panel_and_rows(n_per_class: int = 30, seed: int = 0):
    """A ``CachedPanel`` holding planted "pixels" features (three well-separated blobs) for rows
    of the catalog's schema, split into training and validation parts."""
    rng = np.random.default_rng(seed)
    rows, vectors = [], []
    for c, label in enumerate(CLASSES):
        for i in range(n_per_class):
            key = f"{label}{i:03d}"
            rows.append(
                {
                    "sha256": key,
                    "image": f"{key}.jpg",
                    "label": label,
                    "product_name": f"{label} thing {i}",
                    "description": f"a {label} product",
                    "split": "val" if i % 4 == 0 else "train",
                    "group": key,
                }
            )
            vectors.append(rng.normal(8.0 * c, 1.0, 6))
    rows = pd.DataFrame(rows)
    panel = CachedPanel(
        Settings(probe_cs=(1.0,)),
        CLASSES,
        "planted",
        {"pixels": (rows["sha256"].tolist(), np.array(vectors, dtype=np.float32))},
        {},
    )
    return panel, rows


def test_the_audit_finds_planted_label_flips() -> None:
    panel, rows = _panel_and_rows()
    flipped = rows.copy()
    planted = [3, 40, 75]
    flipped.loc[3, "label"], flipped.loc[40, "label"], flipped.loc[75, "label"] = "b", "c", "a"
    proba = audit.out_of_fold(panel, "pixels-classic", flipped, n_folds=3, seed=0, n_jobs=1)
    assert proba.shape == (len(rows), 3) and np.allclose(proba.sum(1), 1)
    found = audit.issues(flipped, proba, CLASSES)
    assert set(planted) <= set(found["position"])
    assert len(found) <= len(planted) + 2  # separable blobs: little else to flag
    row = found.set_index("position").loc[40]
    assert row["given"] == "c" and row["suggested"] == "b" and row["confidence"] > 0.5
    assert audit.per_category(found, flipped).loc["c", "flagged"] >= 1
    dropped = audit.cleaned(flipped, found, "drop")
    relabelled = audit.cleaned(flipped, found, "relabel")
    assert len(dropped) == len(rows) - len(found)
    assert relabelled.loc[40, "label"] == "b" and len(relabelled) == len(rows)
    recall = audit.planted(panel, "pixels-classic", rows, 3, 3, seed=0, n_jobs=1, draws=2)
    assert recall["flipped"] == 6 and len(recall["per_draw"]) == 2 and recall["found"] >= 5
    assert recall["kind"] == "uniform" and recall["low"] <= recall["recall"] <= recall["high"]


def test_planted_flips_go_where_real_mistakes_go_and_recall_has_a_wilson_interval() -> None:
    _, rows = _panel_and_rows(n_per_class=20)
    confusions = np.array([[10, 5, 0], [0, 10, 0], [0, 3, 10]])  # a -> b, c -> b; b: no mistake
    flipped, where = audit.plant(rows, 30, CLASSES, seed=0, confusions=confusions)
    before, after = rows["label"].to_numpy()[where], flipped["label"].to_numpy()[where]
    assert (before != after).all()
    assert set(after[before == "a"]) <= {"b"} and set(after[before == "c"]) <= {"b"}
    assert set(after[before == "b"]) <= {"a", "c"}  # no mistake to copy: uniform
    low, high = audit.wilson(8, 10)
    assert low < 0.8 < high and high < 1 and audit.wilson(0, 10)[0] == 0
    proba = np.eye(3)[rows["label"].map({c: i for i, c in enumerate(CLASSES)})]
    assert audit.confusion(rows, proba, CLASSES).trace() == len(rows)


def test_a_flag_on_a_taxonomy_boundary_is_told_from_a_likely_error() -> None:
    rows = pd.DataFrame(
        {
            "label": ["Baby"] * 5 + ["Home"] * 5 + ["Watches"] * 4 + ["Kitchen"] * 4,
            "category_path": ["Baby >> Baby Bedding >> Baby Blankets >> Brand X"] * 5
            + ["Home >> Bed Linen >> Blankets, Quilts & Dohars"] * 5
            + ["Watches >> Wrist Watches"] * 3
            + ["Watches >> Odd one"]
            + ["Kitchen >> Coffee Mugs"] * 4,
            "product_name": [f"p{i}" for i in range(18)],
        }
    )
    flagged = pd.DataFrame(
        {
            "position": [0, 5, 13, 1, 14],
            "given": ["Baby", "Home", "Watches", "Baby", "Kitchen"],
            "suggested": ["Home", "Baby", "Home", "Watches", "Baby"],
            "confidence": 0.9,
        }
    )
    flagged["product_name"] = rows["product_name"].to_numpy()[flagged["position"]]
    flagged["category_path"] = rows["category_path"].to_numpy()[flagged["position"]]
    out = audit.boundaries(flagged, rows, min_support=3).set_index("position")
    # blankets filed under both categories: a boundary, each way
    assert out.loc[0, "kind"] == out.loc[5, "kind"] == "taxonomy boundary"
    assert out.loc[0, "shared"] == "blanket"
    assert out.loc[13, "kind"] == "likely error"  # its sub-category holds no other watch
    assert out.loc[1, "kind"] == "likely error"  # no watch is a blanket
    assert out.loc[14, "kind"] == "likely error"  # supported, but Baby files no mug
    pairs = audit.boundary_pairs(out.reset_index())
    assert pairs[0]["pair"] == ["Baby", "Home"] and pairs[0]["flags"] == 2
    assert pairs[0]["ways"] == {"Baby → Home": 1, "Home → Baby": 1}
    assert pairs[0]["examples"][0]["category_path"] == "Baby >> Baby Bedding >> Baby Blankets"


def test_cleaning_scores_the_test_split_with_paired_intervals() -> None:
    panel, rows = _panel_and_rows()
    test = rows.iloc[::5].copy()
    flagged = audit.issues(
        rows, audit.out_of_fold(panel, "pixels-classic", rows, 3, 0, n_jobs=1), CLASSES
    )
    out = audit.cleaning(panel, "pixels-classic", rows, test, flagged, n_boot=100)
    assert set(out["table"]) == {"labels as given", "flagged dropped", "flagged relabelled"}
    assert set(out["paired"]) == {"flagged dropped", "flagged relabelled"}
    assert test["label"].tolist() == rows.iloc[::5]["label"].tolist()  # never changed
    assert out["as_given_interval"] == "this refit (cluster bootstrap)"
    # notebook 05's recorded row for the same quantity: its interval is read, not estimated again
    given = out["table"]["labels as given"]
    recorded = {"accuracy": given["accuracy"], "accuracy_low": 0.123, "accuracy_high": 0.987}
    again = audit.cleaning(
        panel, "pixels-classic", rows, test, flagged, n_boot=100, recorded=recorded
    )
    assert again["table"]["labels as given"] == recorded
    assert again["as_given_interval"] == "notebook 05's recorded interval"
    other = dict(recorded, accuracy=given["accuracy"] + 0.01)  # another model's accuracy
    third = audit.cleaning(panel, "pixels-classic", rows, test, flagged, n_boot=100, recorded=other)
    assert third["table"]["labels as given"] == given


def test_the_simulation_refits_a_registry_candidate_and_counts_both_parts() -> None:
    panel, rows = _panel_and_rows(n_per_class=15)
    panel.settings = Settings(probe_cs=(0.1, 1.0))
    pool, test = rows[rows.index % 6 != 0], rows[rows.index % 6 == 0]
    kept, held = active.holdout_fold(pool, 5, seed=0)
    assert not set(pool.iloc[held]["group"]) & set(pool.iloc[kept]["group"])
    plan = active.Plan(
        ("random", "uncertainty"), start=1, fine_until=4, per_category=(), seeds=2, rechoose=2
    )
    assert plan.steps() == [3, 4] and plan.record()["steps"] == [3, 4]
    records = active.run(
        panel, ["pixels-classic"], pool.iloc[kept], test, plan, seed=0, progress=False,
        holdout=pool.iloc[held],
    )  # fmt: skip
    assert set(records["strategy"]) == {"random", "uncertainty"}
    assert records.groupby("strategy")["seed"].nunique().tolist() == [2, 2]
    assert sorted(records["labels"].unique()) == [6, 9, 12]
    assert (records["labels"] == records["labelled_train"] + records["labelled_val"]).all()
    assert (records["labelled_val"] >= len(CLASSES)).all()  # the start reads both parts
    assert records["holdout_accuracy"].between(0, 1).all()
    assert (
        records.groupby(["strategy", "seed"])["rechosen"]
        .apply(list)
        .map(lambda r: r == [True, False, True])
        .all()
    )  # settings re-chosen every second round, kept between
    # the same start draw for every strategy of a seed
    first = records[records["round"] == 0].groupby("seed")["labelled_val"].nunique()
    assert first.eq(1).all()


@pytest.mark.parametrize("name", ["pixels-classic", "text-tfidf"])
def test_fast_refits_give_the_same_model_as_fit(name: str) -> None:
    from utils.labels import refit

    panel, rows = _panel_and_rows(n_per_class=15)
    rng = np.random.default_rng(0)
    words = np.array(["soft", "cotton", "steel", "watch", "towel", "baby", "mug", "lamp"])
    rows["description"] = [
        " ".join(rng.choice(words, 6)) + f" {label} {label}x" for label in rows["label"]
    ]
    panel.settings = Settings(probe_cs=(0.01, 1.0, 100.0))
    pool, test = rows[rows.index % 5 != 0].reset_index(drop=True), rows[rows.index % 5 == 0]
    matrices = refit.Matrices(panel, name, pd.concat([pool, test]))
    slow = active.Refitter(panel, name, pool, test, rechoose=2)
    quick = active.Refitter(panel, name, pool, test, rechoose=2, matrices=matrices)
    known = panel.y(pool)
    part = pool["split"].to_numpy()
    for n in (12, 24, 40):  # growing label sets, as a campaign's rounds (warm starts between)
        train = np.flatnonzero(part == "train")[:n]
        val = np.flatnonzero(part == "val")[: n // 3 + 3]
        p_slow, s_slow = slow(train, val, known)
        p_quick, s_quick = quick(train, val, known)
        # the same optimum, reached from a warm start: equal within the solver's tolerance
        assert np.allclose(p_slow, p_quick, atol=1e-2), (n, np.abs(p_slow - p_quick).max())
        assert (p_slow.argmax(1) == p_quick.argmax(1)).all()
        assert s_slow["accuracy"] == s_quick["accuracy"]
        assert slow.kept == quick.fast.C and s_slow["rechosen"] == s_quick["rechosen"]
    if name == "text-tfidf":  # the features themselves: TfidfVectorizer's, fitted on train
        from sklearn.feature_extraction.text import TfidfVectorizer

        from utils.models.candidates import CANDIDATES

        texts = list(panel.inputs(CANDIDATES[name].inputs, pool))
        tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, dtype=np.float32)
        tfidf.fit([texts[i] for i in train])
        expected = tfidf.transform(texts).toarray()
        got = quick.fast.features(np.arange(len(pool))).toarray()
        assert np.allclose(expected, got, atol=1e-6)


def _clip_panel(rows, panel):
    keys, X = panel.vectors["pixels"]
    from utils.models.panel import EncoderInfo

    clip = {"clip": EncoderInfo("planted-clip", "planted")}
    return CachedPanel(panel.settings, CLASSES, "planted", {"clip-image": (keys, X)}, clip)


def test_a_zero_shot_start_runs_per_seed_even_where_it_never_predicts_a_category() -> None:
    panel, rows = _panel_and_rows(n_per_class=12)
    panel = _clip_panel(rows, panel)
    pool, test = rows[rows.index % 6 != 0], rows[rows.index % 6 == 0]
    zeroshot = np.zeros((len(pool), 3))
    zeroshot[:, 0] = 0.7  # predicts "a" everywhere: "c" gets no pseudo-label in any part
    zeroshot[:, 1] = 0.3
    plan = active.Plan(
        ("random", "uncertainty"), fine_until=4, per_category=(), seeds=3, holdout_folds=0
    )
    records = active.run(panel, ["clip-probe"], pool, test, plan, 0, zeroshot, progress=False)
    zs = records[records["start"] == "zero-shot"]
    assert sorted(zs["seed"].unique()) == [0, 1, 2]  # one per seed: paired with random
    assert (zs["pseudo"] > 0).all()
    plain = records[(records["start"] == "labels") & (records["strategy"] == "random")]
    assert zs.groupby("round")["labels"].first().tolist() == (
        plain.groupby("round")["labels"].first().tolist()
    )


def test_the_plan_reads_notebook_07s_parameters() -> None:
    plan = active.Plan.from_params(
        {"al_strategies": ["random", "hybrid"], "al_fine_until": 6, "al_per_category": [9], "x": 1}
    )
    assert plan.strategies == ("random", "hybrid") and plan.steps() == [3, 4, 5, 6, 9]
    assert plan.seeds == active.Plan().seeds


def test_the_demonstration_starts_from_more_than_one_label_per_category() -> None:
    from types import SimpleNamespace

    _, rows = _panel_and_rows(n_per_class=12)
    split = SimpleNamespace(train=rows[rows["split"] == "train"], val=rows[rows["split"] == "val"])
    labelled, pool = suggest.demonstration(split, 2, seed=0)
    assert len(labelled) == 2 * 2 * len(CLASSES) and len(pool) == len(rows) - len(labelled)


def test_suggest_labels_takes_the_default_for_a_candidate_it_did_not_simulate() -> None:
    metrics = {
        "evaluation": {"recommendation": {"candidate": "clip-head"}},
        "labels": {"plan": {"start": 2}, "suggest": {"strategies": {"text-tfidf": "diversity"}}},
    }
    model, strategy, start, why = suggest.choices(metrics, None, None)
    assert (model, strategy, start) == ("clip-head", active.DEFAULT, 2) and "did not" in why
    assert suggest.choices(metrics, "text-tfidf", None)[1] == "diversity"
    assert suggest.choices(metrics, None, "random")[1] == "random"


def test_the_ranked_list_has_its_columns_and_order() -> None:
    panel, rows = _panel_and_rows(n_per_class=12)
    labelled = rows.groupby(["label", "split"]).head(1)
    pool = rows.drop(index=labelled.index)
    table = suggest.rank(panel, "pixels-classic", labelled, pool, "uncertainty", batch=5)
    assert list(table.columns) == suggest.OUT_COLUMNS
    assert table["rank"].tolist() == list(range(1, len(pool) + 1))
    assert table["in_batch"].sum() == 5 and table["in_batch"].iloc[:5].all()
    assert table["margin"].is_monotonic_increasing  # least certain first
    assert table["probability"].between(0, 1).all() and table["predicted"].isin(CLASSES).all()
    assert sorted(table.index) == sorted(range(len(pool)))
    diverse = suggest.rank(panel, "pixels-classic", labelled, pool, "diversity", batch=4)
    assert sorted(diverse["product_name"]) == sorted(pool["product_name"])


# --------------------------------------------------------------------------- bad input
def test_bad_input_gets_one_sentence() -> None:
    panel, rows = _panel_and_rows(n_per_class=12)
    labelled = rows.groupby(["label", "split"]).head(1)
    pool = rows.drop(index=labelled.index)
    with pytest.raises(ValueError, match="fewer than a batch of 500"):
        suggest.rank(panel, "pixels-classic", labelled, pool, "uncertainty", batch=500)
    with pytest.raises(ValueError, match="fewer than a batch of 9"):
        S.query("random", 9, np.arange(3), np.full(5, -1))
    no_c = labelled[labelled["label"] != "c"]
    with pytest.raises(ValueError, match="'c' has no labelled product to start from"):
        suggest.rank(panel, "pixels-classic", no_c, pool, "uncertainty", batch=2)
    with pytest.raises(ValueError, match="unknown strategy 'smart'"):
        suggest.rank(panel, "pixels-classic", labelled, pool, "smart", batch=2)
    with pytest.raises(ValueError, match="unknown candidate"):
        S.check_candidates(["no-such-model"])
    with pytest.raises(ValueError, match="learns nothing from labels"):
        S.check_candidates(["clip-zeroshot"])
    with pytest.raises(ValueError, match="too costly"):
        S.check_candidates(["clip-finetune"])
    with pytest.raises(ValueError, match="must rise strictly"):
        active.Plan(per_category=(4, 2))
    with pytest.raises(ValueError, match="fewer than the 84 labels"):
        active.Plan(fine_until=4, per_category=(28,)).totals(3, 50)
    with pytest.raises(ValueError, match="has no point above"):
        active.Plan(start=2, fine_until=4, per_category=())
    with pytest.raises(ValueError, match="unknown strategy"):
        active.Plan(strategies=("random", "clever"))
    with pytest.raises(ValueError, match="fewer labelled products than the 5 folds"):
        audit.out_of_fold(panel, "pixels-classic", rows.iloc[::8], n_folds=5, n_jobs=1)
    with pytest.raises(ValueError, match="'c' has no labelled product"):
        audit.out_of_fold(panel, "pixels-classic", rows[rows["label"] != "c"], 3, n_jobs=1)
    y = np.array([0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match="no labelled product to start from"):
        active.simulate(lambda *a: None, y, np.array(["train"] * 5), "random", [4], [0, 1], 0)


# --------------------------------------------------------------------------- the note's words
def _lab(records: pd.DataFrame, basis: str, strategy: str, full: float = 0.95):
    """The ``labels`` record the note reads, from planted curves (target: 0.9 x ``full``)."""
    from utils.labels import compare
    from utils.labels.study import CHOSEN_ON
    from utils.labels.study import _records as plain

    tests = compare.paired(compare.per_seed(records, {"m": full}, 0.9))
    return {
        "candidates": ["m"],
        "full": {"m": {"accuracy": full, "labels": 100}},
        "fitted_by": "04",
        "share": 0.9,
        "level": 0.95,
        "tests": plain(tests),
        "suggest": {
            "candidate": "m",
            "recommended": "m",
            "strategy": strategy,
            "basis": basis,
            "chosen_on": CHOSEN_ON[basis],
            "default": active.DEFAULT,
            "holdout_areas": {"random": 0.7, strategy: 0.75},
            "pool": 90,
            "labelled": 6,
            "csv": "suggested_labels.csv",
            "batch": 5,
            "batch_categories": 3,
            "batch_wrong": 1,
        },
    }


def test_the_note_opens_with_the_finding_and_says_not_resolved_where_the_test_does() -> None:
    from utils.report.prose import labels as words

    rng = np.random.default_rng(4)
    records = _paired_records(rng, 20, {"uncertainty": 0.08, "diversity": 0.0, "hybrid": -0.08})
    lab = _lab(records, "held-out fold", "uncertainty")
    text = words.savings_text(lab)
    first = text.split("\n")[0]
    assert first.startswith("In one sentence: For `m`, random labelling needs a median of ")
    assert "uncertainty needs fewer (uncertainty: " in first and "Holm-adjusted p" in first
    assert "hybrid needs more (worse than random)" in first
    assert "- diversity: reaches the target in all 20 seeds" in text
    assert text.count("**fewer labels than random**") == 1
    assert "not resolved" in text and "level at" not in text and "behind at" not in text
    assert "exact sign-flip permutation test" in text and "Holm-adjusted across the 3 " in text
    said = words.suggest_text(lab)
    assert "**uncertainty**: its curves have the largest mean area on the fold held out" in said
    assert "without the test split" in said
    # five seeds: nothing resolved, and the first sentence says no strategy needs fewer
    few = _paired_records(rng, 5, {"uncertainty": 0.08, "hybrid": -0.08})
    text = words.savings_text(_lab(few, "held-out fold", "uncertainty"))
    assert "no strategy needs detectably fewer labels." in text.split("\n")[0]
    assert "cannot reach the level" in text and "**fewer" not in text
    table = words.savings_table(_lab(few, "held-out fold", "uncertainty"))
    assert "| m: uncertainty |" in table and "not resolved" in table


def test_the_note_names_the_candidate_actually_ranked() -> None:
    from utils.report.prose import labels as words

    rng = np.random.default_rng(5)
    lab = _lab(_paired_records(rng, 4, {"hybrid": 0.0}), "not simulated", active.DEFAULT)
    lab["suggest"].update(recommended="clip-finetune", recommended_skipped="too costly")
    said = words.suggest_text(lab)
    assert "The recommended candidate `clip-finetune` is not simulated here (too costly)" in said
    assert "the list and the demonstration below are for `m`" in said
    assert f"**{active.DEFAULT}**: a default, not a finding" in said


def test_the_audit_says_both_for_two_candidates_and_the_gallery_order() -> None:
    from types import SimpleNamespace

    from utils.labels.study import LabelStudy
    from utils.report import plots
    from utils.report.prose import labels as words

    def flagged(positions, confidence):
        return pd.DataFrame(
            {
                "position": positions,
                "given": "a",
                "suggested": "b",
                "confidence": confidence,
                "given_p": 0.1,
                "product_name": [f"p{k}" for k in positions],
                "split": "train",
            }
        )

    study = SimpleNamespace(
        flagged={
            "x": flagged([1, 2, 3, 4], [0.99, 0.5, 0.7, 0.9]),
            "y": flagged([3, 2], [0.4, 0.8]),
        },
        out={},
    )
    table = LabelStudy.gallery(study, 3)
    assert table["position"].tolist() == [3, 2, 1, 4]  # both first, then confidence
    assert table["votes"].tolist() == [2, 2, 1, 1]
    assert study.out["gallery"] == {
        "shown": 3,
        "of": 4,
        "order": ["kind", "votes", "confidence"],
        "candidates": ["x", "y"],
        "apart": [],
    }
    fig = plots.label_issues(table.iloc[::-1], shown=3)  # drawn in its own order, whatever comes
    facts = plots.facts_of(fig)
    assert facts["votes"] == [2, 2, 1] and facts["shown"] == 3 and facts["of"] == 4
    assert "then by confidence" in facts["order"]
    drawn = [t.get_text() for t in fig.texts]
    assert any("then by confidence" in t for t in drawn)
    assert not any("most confidently wrong" in t for t in drawn)
    per = {
        n: {"oof_accuracy": 0.5, "flagged": 2, "per_category": {"a": 2}, "per_split": {}}
        for n in ("x", "y")
    }
    lab = {
        "pool": 10,
        "audit": {
            "candidates": ["x", "y"],
            "folds": 3,
            "both": 2,
            "per_candidate": per,
            "csv": "c",
        },
        "gallery": study.out["gallery"],
    }
    text = words.audit_text(lab)
    assert "2 products are flagged by both." in text and "all of them" not in text
    assert "likely errors before taxonomy boundaries, then flagged by more candidates" in text
    lab["audit"]["candidates"] = ["x", "y", "z"]
    lab["audit"]["per_candidate"]["z"] = per["x"]
    assert "flagged by all 3." in words.audit_text(lab)
