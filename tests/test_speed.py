"""Per-step timings, thread pools sized for small fits, refits in parallel processes (the same
results as one after the other), label budgets that count every label, Holm-adjusted p-values."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import log_loss

from utils.core import parallel, timing
from utils.core.paths import Layout
from utils.data import split
from utils.evaluation import metrics, refits, results
from utils.models import candidates, fitting, train
from utils.models.panel import CachedPanel, Panel, Settings


# --------------------------------------------------------------------------- Holm
def test_holm_matches_a_hand_computed_example() -> None:
    # sorted: d 0.005 x 4 = 0.02; a 0.01 x 3 = 0.03; c 0.03 x 2 = 0.06; b 0.04 x 1 = 0.04 -> 0.06
    adjusted = metrics.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert list(adjusted) == ["a", "b", "c", "d"]
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    assert metrics.holm({"x": 0.6, "y": 0.5}) == {"x": 1.0, "y": 1.0}, "capped at 1, monotone"
    assert metrics.holm({"only": 0.02}) == {"only": 0.02} and metrics.holm({}) == {}


def _noisy(n: int, acc: float, seed: int, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    wrong = (y + 1 + rng.integers(0, n_classes - 1, n)) % n_classes
    return y, np.where(rng.random(n) < acc, y, wrong)


def test_paired_tests_keep_the_raw_p_values_and_add_holm_adjusted_ones() -> None:
    y, ref = _noisy(300, 0.8, 1)
    preds = {"ref": ref, **{f"m{i}": _noisy(300, 0.7 + 0.04 * i, 10 + i)[1] for i in range(3)}}
    _, _, paired = metrics.compare(y, preds, ["a", "b", "c"], None, reference="ref", n_boot=100)
    raw = {n: p["mcnemar"]["p_value"] for n, p in paired.items()}
    assert raw == {n: metrics.mcnemar(y, preds[n], ref)["p_value"] for n in raw}, "raw kept"
    expected = metrics.holm(raw)
    for name, p in paired.items():
        assert p["mcnemar"]["holm_p"] == expected[name] >= p["mcnemar"]["p_value"]
        assert p["mcnemar"]["holm_tests"] == 3
    # the improvements: one family across the verdicts, not one test per family
    y, head = _noisy(300, 0.7, 2)
    improved = {
        "clip-head": head,
        "clip-head-aug": _noisy(300, 0.75, 3)[1],
        "clip-finetune": _noisy(300, 0.8, 4)[1],
        "vgg16-head": head,
        "vgg16-finetune": _noisy(300, 0.6, 5)[1],
    }
    vs = results.versus_frozen(y, improved, ["a", "b", "c"], None, 100, 0)
    assert set(vs) == {"clip-head-aug", "clip-finetune", "vgg16-finetune"}
    expected = metrics.holm({n: p["mcnemar"]["p_value"] for n, p in vs.items()})
    assert {n: p["mcnemar"]["holm_p"] for n, p in vs.items()} == expected
    assert {p["mcnemar"]["holm_tests"] for p in vs.values()} == {3}


# --------------------------------------------------------------------------- timing
def test_the_recorder_times_nested_steps_and_merges_workers_apart() -> None:
    with timing.step("nobody listens"):
        pass  # no recorder: nothing to do
    with timing.Recorder() as rec:
        with timing.step("outer"):
            time.sleep(0.02)
            for _ in range(3):
                with timing.step("inner"):
                    time.sleep(0.005)
            rec.merge({"fit x": {"seconds": 5.0, "calls": 2}})
    steps = rec.to_dict()["steps"]
    assert set(steps) == {"outer", "outer/inner", "outer/fit x"}
    assert steps["outer/inner"]["calls"] == 3 and steps["outer"]["calls"] == 1
    assert steps["outer"]["seconds"] >= 0.035 >= steps["outer/inner"]["seconds"] - 0.01
    assert steps["outer/fit x"] == {"seconds": 5.0, "calls": 2, "in_workers": True}
    assert "in_workers" not in steps["outer"]
    top = rec.top()
    assert set(top) == {"outer", "unaccounted"} and rec.to_dict()["total_seconds"] >= top["outer"]
    assert not timing.recording() and timing.current() == ""


# --------------------------------------------------------------------------- threads, processes
def test_small_fits_run_on_limited_pools_and_the_pools_come_back() -> None:
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    with parallel.limited(1):
        assert torch.get_num_threads() == 1
        assert {p["num_threads"] for p in threadpool_info()} == {1}
    assert torch.get_num_threads() == before
    with parallel.limited(None):
        assert torch.get_num_threads() == before
    settings = parallel.thread_settings()
    assert settings["cores"] == parallel.cores() >= 1 and settings["small_fit_threads"] == 1
    assert parallel.workers(None, tasks=1) == 1 and parallel.workers(5, tasks=3) <= 3
    assert not parallel.pays(0.01, tasks=3, processes=2), "a few short tasks stay here"
    assert parallel.pays(60.0, tasks=9, processes=16) and not parallel.pays(60.0, 9, 1)


def test_fit_probe_fits_the_preprocessing_once_with_the_per_c_results() -> None:
    """The scaler / vectoriser does not depend on C: fitted once, the sweep and the chosen model are
    exactly those of refitting the whole pipeline for every C."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 30)
    words = np.array(["red", "blue", "green", "steel", "cotton", "wood", "gift", "set", "kids"])
    texts = [" ".join(rng.choice(words, 6)) + f" class{c}" * int(rng.random() < 0.6) for c in y]
    X = rng.normal(size=(90, 20)) + y[:, None] * 0.3
    for make, data in (
        (fitting._tfidf_pipeline(0), texts),
        (lambda C: train.logistic_probe(C, 0), X),
    ):
        tr, va = (data[:60], y[:60]), (data[60:], y[60:])
        est, info = train.fit_probe(make, tr, va, 3, (0.01, 1.0, 100.0))
        per_c = [make(C).fit(*tr) for C in (0.01, 1.0, 100.0)]
        losses = [
            round(log_loss(va[1], p.predict_proba(va[0]), labels=[0, 1, 2]), 4) for p in per_c
        ]
        assert [r["val_loss"] for r in info["sweep"]] == losses
        chosen = per_c[[0.01, 1.0, 100.0].index(info["C"])]
        np.testing.assert_array_equal(est.predict_proba(va[0]), chosen.predict_proba(va[0]))


# --------------------------------------------------------------------------- refits on tiny models
@pytest.fixture(scope="module")
def panel(small_split, tmp_path_factory) -> Panel:
    settings = Settings(
        clip_model="tiny-random",
        vgg_weights="tiny-random",
        device="cpu",
        precision="float32",
        epochs=4,
        views=1,
        probe_cs=(0.1, 1.0),
        fusion_weights=(0.0, 0.5, 1.0),
    )
    layout = Layout(tmp_path_factory.mktemp("data"))
    return Panel(layout, settings, small_split.labels(), small_split.split_id, progress=False)


BUDGET = ["clip-probe", "text-tfidf", "fusion-late", "clip-head"]


def test_refits_in_parallel_processes_equal_the_sequential_ones(panel, small_split) -> None:
    rows = small_split.all_rows_for_final_evaluation()
    others = split.other_splits(rows, 3, 2, 0.2, 0.2)
    names = ["clip-head", "clip-zeroshot", "pixels-classic", *BUDGET[:3], "clip-head-aug"]
    with timing.Recorder() as rec:
        one = refits.panel_repeats(panel, rows, names, others, progress=False, n_jobs=1)
        two = refits.panel_repeats(panel, rows, names, others, progress=False, n_jobs=2)
    assert two.attrs["parallel"]["processes"] == 2, "really in two processes"
    assert two.attrs["parallel"]["need_encoders"] == ["clip-head-aug"], "views need the encoder"
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert list(two.columns) == names and list(two.index) == list(others)
    steps = rec.to_dict()["steps"]
    assert steps["repeated splits/fit clip-head-aug"]["calls"] == 4, "both times here"
    assert steps["repeated splits/fit clip-head-aug"].get("in_workers") is None
    assert steps["repeated splits/fit text-tfidf"]["calls"] == 4, "2 here + 2 in the workers"
    assert steps["repeated splits/fit text-tfidf"]["in_workers"]

    test = small_split.test_for_final_evaluation()
    args = (panel, small_split.train, small_split.val, test, BUDGET, [1, 2, "all"], 2, 7)
    one = refits.label_budget(*args, progress=False, n_jobs=1)
    two = refits.label_budget(*args, progress=False, n_jobs=2)
    assert two.attrs["parallel"]["processes"] == 2
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert len(one) == len(BUDGET) * 5


def test_the_label_budget_counts_every_label_and_reads_k_per_category(
    panel, small_split, monkeypatch
) -> None:
    calls = []
    real = fitting._fit

    def spy(name, p, train_rows, val_rows, fitted=None):
        calls.append(
            {
                "name": name,
                "train": train_rows["label"].value_counts().max(),
                "val": val_rows["label"].value_counts().max(),
                "val_rows": len(val_rows),
                "train_rows": len(train_rows),
            }
        )
        return real(name, p, train_rows, val_rows, fitted)

    monkeypatch.setattr(fitting, "_fit", spy)
    test = small_split.test_for_final_evaluation()
    train_rows, val_rows = small_split.train, small_split.val
    records = refits.label_budget(
        panel, train_rows, val_rows, test, BUDGET, [1, 2, "all"], 2, 7, progress=False, n_jobs=1
    )
    subsets = refits.budget_subsets(train_rows, val_rows, [1, 2, "all"], 2, 7)
    order = candidates.fit_order(BUDGET)
    assert [c["name"] for c in calls] == order * len(subsets), "members fitted once per draw"
    for i, (k, d, tr, va) in enumerate(subsets):
        for c in calls[i * len(order) : (i + 1) * len(order)]:
            assert (c["train_rows"], c["val_rows"]) == (len(tr), len(va))
            if k != "all":
                assert c["train"] <= k and c["val"] <= k, f"{c['name']} at k={k} read {c}"
            else:
                assert c["val_rows"] == len(val_rows) and c["train_rows"] == len(train_rows)
        part = records[(records["k"] == k) & (records["draw"] == d)].set_index("candidate")
        assert (part["labelled_train"] == len(tr)).all() and (part["labelled_val"] == len(va)).all()
        assert (part["labelled"] == len(tr) + len(va)).all()
    small = records[records["k"] == 1]
    assert small["labelled_val"].max() <= len(panel.classes) < len(val_rows)
    summary = refits.summarize_budget(records)
    assert {"labelled_train", "labelled_val", "labelled"} <= set(summary.columns)


def test_budget_subsets_draw_k_validation_rows_per_category_seeded() -> None:
    train = pd.DataFrame({"label": list("aaaaabbb")}, index=range(10, 18))
    val = pd.DataFrame({"label": list("aaabb")}, index=range(30, 35))
    subsets = refits.budget_subsets(train, val, [1, 2, "all"], draws=3, seed=0)
    draws = refits.budget_draws(train, [1, 2, "all"], draws=3, seed=0)
    assert [(k, d) for k, d, _, _ in subsets] == [(k, d) for k, d, _ in draws]
    for (k, _, tr, va), (_, _, tr0) in zip(subsets, draws):
        assert tr.equals(tr0), "the training draws are unchanged"
        assert set(va.index) <= set(val.index)
        counts = va["label"].value_counts()
        assert counts["a"] == (3 if k == "all" else min(k, 3)) and counts["b"] == min(
            2 if k == "all" else k, 2
        )
    vals = [va for k, _, _, va in subsets if k == 1]
    assert any(not vals[0].equals(v) for v in vals[1:]), "draws differ"
    again = refits.budget_subsets(train, val, [1, 2, "all"], draws=3, seed=0)
    assert all(a[3].equals(b[3]) for a, b in zip(subsets, again)), "seeded"


def test_the_label_budget_reads_the_headline_fits_at_all(panel, small_split) -> None:
    test = small_split.test_for_final_evaluation()
    fitted = fitting.fit_all(BUDGET, panel, small_split.train, small_split.val, progress=False)
    args = (panel, small_split.train, small_split.val, test, BUDGET, [2, "all"], 1, 7)
    refitted = refits.label_budget(*args, progress=False, n_jobs=1)
    reused = refits.label_budget(*args, progress=False, n_jobs=1, fitted=fitted)
    at_all = reused["k"] == "all"
    assert not reused.loc[at_all, "refit"].any() and reused.loc[~at_all, "refit"].all()
    pd.testing.assert_frame_equal(
        reused.drop(columns="refit"), refitted.drop(columns="refit"), check_exact=True
    )
    other = dict(fitted)  # a fit on other rows is not the k="all" refit: refitted
    other["text-tfidf"] = fitting.fit(
        "text-tfidf", panel, small_split.train.head(20), small_split.val
    )
    again = refits.label_budget(*args, progress=False, n_jobs=1, fitted=other)
    assert again["refit"].all()
    pd.testing.assert_frame_equal(again, refitted, check_exact=True)


def test_a_cached_panel_holds_what_the_refits_read_and_no_encoder(panel, small_split) -> None:
    import pickle

    rows = small_split.all_rows_for_final_evaluation()
    names = ["clip-zeroshot", "fusion-late", "clip-head", "pixels-classic"]
    cached = CachedPanel.from_panel(panel, names, rows)
    assert set(cached.vectors) == {"clip-image", "pixels"} and set(cached.encoders) == {
        "clip",
        "clip-text",
    }
    size = len(pickle.dumps(cached))
    assert size < 2_000_000, f"{size} bytes: no encoder travels"
    for source in ("clip-image", "pixels"):
        np.testing.assert_array_equal(
            cached.features(source, small_split.val), panel.features(source, small_split.val)
        )
    with pytest.raises(ValueError, match="refitted in place"):
        CachedPanel.from_panel(panel, ["clip-finetune"], rows)
    a = fitting.fit("clip-zeroshot", cached, small_split.train, small_split.val)
    b = fitting.fit("clip-zeroshot", panel, small_split.train, small_split.val)
    np.testing.assert_array_equal(a.class_embeddings, b.class_embeddings)
    assert a.encoders == b.encoders and a.info["encoder_names"] == b.info["encoder_names"]
