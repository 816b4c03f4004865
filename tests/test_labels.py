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


def test_labels_to_reach_the_target_ratios_and_censoring() -> None:
    labels = [10, 20, 40, 80]
    records = _records(
        {
            "random": [[0.5, 0.7, 0.8, 0.96], [0.5, 0.6, 0.96, 0.97]],
            "uncertainty": [[0.5, 0.96, 0.97, 0.99], [0.5, 0.95, 0.97, 0.98]],
            "diversity": [[0.5, 0.6, 0.7, 0.8], [0.5, 0.6, 0.7, 0.96]],
            "hybrid": [[0.5, 0.6, 0.7, 0.8], [0.5, 0.6, 0.7, 0.8]],
        },
        labels,
    )
    reached = active.reach(records, {"m": 1.0}, share=0.95)
    got = reached.set_index(["strategy", "seed"])["labels"]
    assert got["random", 0] == 80 and got["random", 1] == 40 and got["uncertainty", 0] == 20
    assert np.isnan(got["diversity", 0]) and got["diversity", 1] == 80
    table = active.savings(reached, n_boot=500).set_index("strategy")
    u = table.loc["uncertainty"]
    assert u["bound"] == "exact" and u["ratio"] == pytest.approx(20 / 60)
    assert u["low"] <= u["ratio"] <= u["high"] < 1
    assert table.loc["diversity", "bound"] == "at least" and table.loc["diversity", "reached"] == 1
    assert table.loc["hybrid", "bound"] == "at least" and table.loc["hybrid", "reached"] == 0
    assert (table["comparisons"] == 3).all()
    assert u["level_each"] == pytest.approx(1 - 0.05 / 3)
    assert u["low"] <= u["low_single"] <= u["high_single"] <= u["high"]  # widened for three
    assert active.verdict(u) == "fewer"
    # censored at 80 where random needed 80 in one seed: a bound that cannot say "more"
    assert table.loc["hybrid", "ratio"] > 1 and table.loc["hybrid", "low"] == pytest.approx(1.0)
    assert active.verdict(table.loc["hybrid"]) == "not measured"
    assert active.best_strategy(table.reset_index(), "m") == ("uncertainty", "fewer labels")
    curves = active.curves(records)
    first = curves[(curves["strategy"] == "random") & (curves["round"] == 3)].iloc[0]
    assert first["mean"] == pytest.approx(0.965) and first["count"] == 2


def test_no_strategy_beats_random_is_said_so() -> None:
    records = _records(
        {"random": [[0.5, 0.96], [0.5, 0.96]], "uncertainty": [[0.5, 0.96], [0.5, 0.96]]},
        [10, 20],
    )
    table = active.savings(active.reach(records, {"m": 1.0}), n_boot=100)
    assert table.iloc[0]["ratio"] == 1.0
    assert active.verdict(table.iloc[0]) == "no difference"
    # nothing measured picks a strategy: the stated default, said to be one
    assert active.best_strategy(table, "m") == (active.DEFAULT, "default")


def test_every_strategy_worse_than_random_picks_random_as_measured() -> None:
    labels = [10, 20, 40]
    records = _records(
        {
            "random": [[0.5, 0.96, 0.97]] * 4,
            "uncertainty": [[0.5, 0.6, 0.96]] * 4,
            "hybrid": [[0.5, 0.7, 0.96]] * 4,
        },
        labels,
    )
    table = active.savings(active.reach(records, {"m": 1.0}), n_boot=200)
    assert (table["low"] > 1).all()
    assert active.best_strategy(table, "m") == ("random", "every strategy more")
    # the default measured worse, another no different: random, as the default
    records = _records(
        {
            "random": [[0.5, 0.96, 0.97]] * 3,
            "hybrid": [[0.5, 0.6, 0.96]] * 3,
            "diversity": [[0.5, 0.96, 0.97]] * 3,
        },
        labels,
    )
    table = active.savings(active.reach(records, {"m": 1.0}), n_boot=200)
    verdicts = dict(zip(table["strategy"], table.apply(active.verdict, axis=1)))
    assert verdicts == {"hybrid": "more", "diversity": "no difference"}
    assert active.best_strategy(table, "m") == ("random", "default")
    # never reached by the strategy while random reached it: a bound, still worse
    records = _records({"random": [[0.5, 0.96, 0.97]] * 3, "hybrid": [[0.5, 0.6, 0.7]] * 3}, labels)
    table = active.savings(active.reach(records, {"m": 1.0}), n_boot=200)
    assert table.iloc[0]["bound"] == "at least" and active.verdict(table.iloc[0]) == "more"
    records = _records(
        {
            "random": [[0.5, 0.6, 0.7]] * 3,
            "hybrid": [[0.5, 0.6, 0.7]] * 3,
            "diversity": [[0.5, 0.6, 0.7]] * 3,
        },
        labels,
    )
    table = active.savings(active.reach(records, {"m": 1.0}), n_boot=200)
    assert set(table["bound"]) == {"none"}
    assert set(table.apply(active.verdict, axis=1)) == {"not measured"}
    assert active.best_strategy(table, "m") == ("hybrid", "default")


def test_where_each_curve_lies_against_random() -> None:
    labels = [10, 20, 40, 80]
    records = _records(
        {
            "random": [[0.5, 0.7, 0.8, 0.9], [0.5, 0.6, 0.8, 0.9]],
            "uncertainty": [[0.5, 0.5, 0.6, 0.9], [0.5, 0.4, 0.7, 0.9]],
            "diversity": [[0.5, 0.8, 0.8, 0.95], [0.5, 0.7, 0.8, 0.95]],
        },
        labels,
    )
    versus = active.versus_random(records, n_test=10).set_index("strategy")
    u, d = versus.loc["uncertainty"], versus.loc["diversity"]
    assert u["labels"] == [20, 40, 80]  # the shared start is left out
    assert u["difference"] == pytest.approx([-0.2, -0.15, 0.0])
    assert u["state"] == ["behind", "behind", "level"]
    assert u["mean_difference"] == pytest.approx(-0.35 / 3)
    assert (u["most_behind"], u["most_behind_at"]) == (pytest.approx(-0.2), 20)
    # within half a test product (0.5/10) of random is level
    assert d["state"] == ["ahead", "level", "level"] and d["tolerance"] == 0.05
    # a mean gap within twice its standard error over seeds is level too
    noisy = _records(
        {
            "random": [[0.5, 0.6, 0.7], [0.5, 0.6, 0.7], [0.5, 0.6, 0.7]],
            "hybrid": [[0.5, 0.9, 0.8], [0.5, 0.3, 0.8], [0.5, 0.9, 0.8]],
        },
        [10, 20, 40],
    )
    h = active.versus_random(noisy, n_test=100).iloc[0]
    assert h["difference"] == pytest.approx([0.1, 0.1])
    assert h["state"] == ["level", "ahead"]
    assert h["noise"][0] > 0.1 and h["noise"][1] == 0


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
    recall = audit.planted(panel, "pixels-classic", rows, 3, n_folds=3, seed=1, n_jobs=1)
    assert recall["flipped"] == 3 and recall["found"] == 3


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


def test_the_simulation_refits_a_registry_candidate_and_counts_both_parts() -> None:
    panel, rows = _panel_and_rows(n_per_class=12)
    pool, test = rows[rows.index % 6 != 0], rows[rows.index % 6 == 0]
    plan = active.Plan(("random", "uncertainty"), start=1, per_category=(3, 4), seeds=2)
    records = active.run(panel, ["pixels-classic"], pool, test, plan, seed=0, progress=False)
    assert set(records["strategy"]) == {"random", "uncertainty"}
    assert records.groupby("strategy")["seed"].nunique().tolist() == [2, 2]
    assert sorted(records["labels"].unique()) == [6, 9, 12]
    assert (records["labels"] == records["labelled_train"] + records["labelled_val"]).all()
    assert (records["labelled_val"] >= len(CLASSES)).all()  # the start reads both parts


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
        active.Plan(per_category=(4, 28)).totals(3, 50)
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
def _lab(curves: dict[str, list[list[float]]], labels: list[int], basis: str, strategy: str):
    """The ``labels`` record the note reads, from planted curves (target: 0.95)."""
    from utils.labels.study import CHOSEN_ON
    from utils.labels.study import _records as plain

    records = _records(curves, labels)
    table = active.savings(active.reach(records, {"m": 1.0}), n_boot=200)
    return {
        "candidates": ["m"],
        "full": {"m": {"accuracy": 1.0, "labels": 100}},
        "fitted_by": "04",
        "share": 0.95,
        "level": 0.95,
        "savings": plain(table),
        "versus_random": plain(active.versus_random(records, n_test=20)),
        "suggest": {
            "candidate": "m",
            "strategy": strategy,
            "basis": basis,
            "chosen_on": CHOSEN_ON[basis],
            "default": active.DEFAULT,
            "compared": len(table),
            "pool": 90,
            "labelled": 6,
            "csv": "suggested_labels.csv",
            "batch": 5,
            "batch_categories": 3,
            "batch_wrong": 1,
        },
    }


def test_the_note_names_no_winner_where_every_comparison_is_censored() -> None:
    from utils.report.prose import labels as words

    lab = _lab(
        {
            "random": [[0.5, 0.96], [0.5, 0.6]],
            "uncertainty": [[0.5, 0.6], [0.5, 0.96]],
            "diversity": [[0.5, 0.6], [0.5, 0.6]],
            "hybrid": [[0.5, 0.6], [0.5, 0.6]],
        },
        [14, 28],
        "default",
        active.DEFAULT,
    )
    assert active.best_strategy(pd.DataFrame(lab["savings"]), "m") == (active.DEFAULT, "default")
    text = words.savings_text(lab)
    answer = text.split("In one sentence: ")[1]
    assert answer.startswith("for m, no strategy could be compared with random")
    assert "needs" not in answer and "beats" not in text and "ratios" not in text
    assert (
        "Random reaches it in 1 of 2 seeds (28 labels) and not within 28 labels in the other seed"
        in (text)
    )
    assert "- uncertainty: reaches it in 1 of 2 seeds" in text
    assert "- diversity: does not reach it within 28 labels in any of its 2 seeds" in text
    assert "not compared with random: neither it nor random reached the target" in text
    assert "Bonferroni" not in text  # no interval was computed
    table = words.savings_table(lab)
    assert "| m: random | 95.0% | 1 of 2 | 28 |" in table  # random's own row, as measured
    said = words.suggest_text(lab)
    assert f"**{active.DEFAULT}**: a default, not a finding" in said
    assert "test split" not in said


def test_the_note_says_worse_than_random_and_how_the_pick_was_made() -> None:
    from utils.report.prose import labels as words

    labels = [10, 20, 40, 80]
    fast, slow = [0.5, 0.96, 0.97, 0.98], [0.5, 0.6, 0.7, 0.96]
    lab = _lab(
        {
            "random": [[0.5, 0.7, 0.96, 0.97]] * 3 + [[0.5, 0.6, 0.96, 0.97]] * 2,
            "uncertainty": [fast] * 5,
            "diversity": [slow] * 5,
            "hybrid": [[0.5, 0.7, 0.96, 0.97]] * 5,
        },
        labels,
        "fewer labels",
        "uncertainty",
    )
    text = words.savings_text(lab)
    assert "- diversity: reaches it in all 5 seeds, with 80 labels on average; 2.00× " in text
    assert "more labels than random: worse than random" in text
    assert "uncertainty: reaches it in all 5 seeds, with 20 labels on average; 0.50×" in text
    assert "behind at 20–40 labels (by up to 26.0 points), level at 80 labels" in text
    assert "each at 98.3% so that 3 comparisons with random hold together at 95% (Bonferroni)" in (
        text
    )
    assert "percentile bootstrap over the 5 seeds, paired" in text
    answer = text.split("In one sentence: ")[1]
    assert answer.startswith("for m, to reach 95.0%, uncertainty needs 20 labels, random 40")
    assert "picked after the fact" in answer and "ratios move in the schedule's steps" in text
    said = words.suggest_text(lab)
    assert "the best of the 3 compared, picked after the fact" in said
    assert "made on the test split's curves" in said and "re-check it" in said
    every = _lab(
        {"random": [fast] * 3, "uncertainty": [slow] * 3, "hybrid": [slow] * 3},
        labels,
        "every strategy more",
        "random",
    )
    answer = words.savings_text(every).split("In one sentence: ")[1]
    assert answer.startswith("for m, every strategy was worse than random: uncertainty needed")


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
    assert study.out["gallery"] == {"shown": 3, "of": 4, "order": ["votes", "confidence"]}
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
    assert "flagged by more candidates first, then by confidence (highest first)" in text
    lab["audit"]["candidates"] = ["x", "y", "z"]
    lab["audit"]["per_candidate"]["z"] = per["x"]
    assert "flagged by all 3." in words.audit_text(lab)


def test_the_note_reads_verdicts_as_the_study_does() -> None:
    from utils.report.prose import labels as words

    rows = [
        {"bound": "exact", "ratio": 0.6, "low": 0.4, "high": 0.9},
        {"bound": "exact", "ratio": 1.5, "low": 1.1, "high": 2.0},
        {"bound": "exact", "ratio": 0.9, "low": 0.6, "high": 1.2},
        {"bound": "at most", "ratio": 0.7, "low": None, "high": 0.9},
        {"bound": "at most", "ratio": 0.8, "low": None, "high": 1.2},
        {"bound": "at least", "ratio": 1.3, "low": 1.1, "high": None},
        {"bound": "at least", "ratio": 1.3, "low": 0.9, "high": None},
        {"bound": "none", "ratio": None, "low": None, "high": None},
    ]
    got = [words._verdict(r) for r in rows]
    assert got == [active.verdict(r) for r in rows]
    assert got == [
        "fewer",
        "more",
        "no difference",
        "fewer",
        "not measured",
        "more",
        "not measured",
        "not measured",
    ]
