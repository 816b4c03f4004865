"""utils.prose and utils.decision: every sentence from the records, the claims read from
intervals, the recommendation chosen without the test split."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from utils.evaluation import decision
from utils.report import formatting, prose

ROOT = Path(__file__).resolve().parents[1]


def _literal_strings(path: Path) -> list[tuple[int, str]]:
    """String literals of a module, without docstrings and without f-string format specs."""
    tree = ast.parse(path.read_text())
    docstrings, specs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            for sub in ast.walk(node.format_spec):
                specs.add(id(sub))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and id(node) not in specs
    ]


# Digits that are names, not values: a model, notebooks, number formats, metric names and keys.
NAMES = re.compile(
    r"(?i)vgg16|notebooks? \d\d|^\d\d$|b?float(16|32)|macro[-_]f1\w*|\bF1\b|\bL2\b|\br2\w*"
    r"|\[−1, 1\]|\b95th percentile|rel_l2_\w+|\(1−w\)"
)


def _numbers(strings):
    return [(n, s) for n, s in strings if re.search(r"[0-9]", NAMES.sub("", s))]


def test_no_number_can_enter_the_prose_except_from_the_records() -> None:
    """The note's sentences are written in utils/report/prose/: its string literals hold no digit
    but in names (VGG16, notebook 05, float32...), so every number in them is formatted from the
    run's records (or the figure registry, or the original note's claims)."""
    modules = sorted((ROOT / "utils" / "report" / "prose").glob("*.py"))
    assert len(modules) >= 5
    for module in modules:
        assert _numbers(_literal_strings(module)) == [], module.name


def test_the_digit_check_would_catch_a_hard_coded_number(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        'def f(x):\n    """Doc 42."""\n    return f"{x:.2f} of VGG16 in notebook 06; the note used '
        '20"\n'
    )
    assert [s for _, s in _numbers(_literal_strings(bad))] == [
        " of VGG16 in notebook 06; the note used 20"
    ]


def test_numbers_are_written_without_minus_zero_and_with_their_sign() -> None:
    assert formatting.points(-0.00001) == "0.0" and formatting.points(0.0) == "0.0"
    assert formatting.points(0.032) == "+3.2" and formatting.points(-0.01) == "−1.0"
    assert formatting.points_interval(0.0, -0.0, 0.0) == "0.0 points (0.0 to 0.0)"
    assert formatting.pct(0.9123) == "91.2%" and formatting.pct(float("nan")) == "—"
    assert formatting.pvalue(0.00001) == "< 0.001" and formatting.pvalue(0.2481) == "0.248"
    assert formatting.sig(0.248494) == "0.248" and formatting.sig(12.0) == "12"


EV = {
    "table": {
        "clip-head": {"accuracy": 0.9, "accuracy_low": 0.87, "accuracy_high": 0.93},
        "vgg16-head": {"accuracy": 0.7, "accuracy_low": 0.62, "accuracy_high": 0.78},
        "text-tfidf": {"accuracy": 0.96, "accuracy_low": 0.93, "accuracy_high": 0.99},
    },
    "paired": {
        "vgg16-head": {
            "accuracy_difference": -0.2,
            "difference_low": -0.27,
            "difference_high": -0.13,
        },
        "text-tfidf": {"accuracy_difference": 0.06, "difference_low": 0.02, "difference_high": 0.1},
    },
    "costs": {
        "clip-head": {"inference_s_per_item": 0.01},
        "vgg16-head": {"inference_s_per_item": 0.03},
        "text-tfidf": {"inference_s_per_item": 0.0002},
    },
    "labelled": {"clip-head": 840, "vgg16-head": 840, "text-tfidf": 840},
}
TRAINING = {
    "info": {
        "clip-head": {"best_epoch": 3, "val_accuracy": 0.90},
        "vgg16-head": {"best_epoch": 9, "val_accuracy": 0.70},
        "text-tfidf": {"best_epoch": None, "val_accuracy": 0.955},
    }
}


def test_claims_are_read_from_the_intervals() -> None:
    rows = {r["key"]: r for r in decision.claims(EV, TRAINING, set())}
    assert rows["clip_accuracy"]["verdict"] == "confirmed"  # 87-93% inside 85-95%
    assert rows["vgg16_accuracy"]["verdict"] == "not resolved at this sample size"  # 62-78 vs 75-85
    assert (
        rows["clip_epoch"]["verdict"] == "confirmed"
        and rows["vgg16_epoch"]["verdict"] == "contradicted"
    )
    assert rows["clip_beats_vgg16"]["verdict"] == "confirmed"
    assert rows["clip_beats_vgg16"]["low"] == pytest.approx(0.13)
    stand = {r["key"]: r for r in decision.claims(EV, TRAINING, {"clip-head"})}
    assert stand["clip_accuracy"]["verdict"] == "not measured"
    assert stand["clip_beats_vgg16"]["verdict"] == "not measured"
    assert stand["vgg16_accuracy"]["verdict"] != "not measured"


def test_the_claims_table_labels_the_notes_values_and_this_runs() -> None:
    table = prose.claims_table(decision.claims(EV, TRAINING, set()))
    assert list(table.columns) == ["the original note", "this run", "verdict"]
    assert (
        table.loc["CLIP head: test accuracy", "the original note"] == "about 90% (read as 85%–95%)"
    )
    assert table.loc["CLIP head: test accuracy", "this run"] == "90.0% (87.0–93.0%)"


def test_the_recommendation_does_not_change_when_only_test_labels_change() -> None:
    first = decision.recommend(EV, TRAINING, n_val=200)
    flipped = {
        **EV,
        "table": {n: {**t, "accuracy": 1 - t["accuracy"]} for n, t in EV["table"].items()},
    }
    second = decision.recommend(flipped, TRAINING, n_val=200)
    assert first["candidate"] == second["candidate"] == "text-tfidf"
    assert first["test_accuracy"] == 0.96 and second["test_accuracy"] == pytest.approx(0.04)


def test_ties_on_validation_go_to_fewer_labels_then_cheaper() -> None:
    training = {"info": {**TRAINING["info"], "clip-head": {"val_accuracy": 0.953}}}
    ev = {**EV, "labelled": {**EV["labelled"], "clip-head": 100}}
    rec = decision.recommend(ev, training, n_val=200)  # within one product of 0.955: tied
    assert rec["candidate"] == "clip-head" and set(rec["tied"]) == {"clip-head", "text-tfidf"}
    assert decision.recommend(EV, training, n_val=200)["candidate"] == "text-tfidf"  # cheaper


def test_stand_in_candidates_are_not_recommended_while_a_real_one_exists() -> None:
    training = {"info": {**TRAINING["info"], "clip-head": {"val_accuracy": 0.99}}}
    rec = decision.recommend(EV, training, n_val=200, exclude={"clip-head", "vgg16-head"})
    assert rec["candidate"] == "text-tfidf" and rec["excluded"] == ["clip-head", "vgg16-head"]
    assert rec["caveat"] == "stand-ins set aside" and rec["status"] == "provisional"
    ctx = {
        "classes": 7,
        "reads": {n: "image" for n in EV["table"]} | {"text-tfidf": "text"},
        "costs": EV["costs"],
        "labelled": EV["labelled"],
    }
    lines = prose.recommendation_lines(rec, ctx)
    assert len(lines) == 3 and "stand-in" in lines[-1] and "(reads the text)" in lines[0]
    sample = decision.recommend(EV, training, 200, {"clip-head"}, context={"dataset": "sample"})
    assert sample["caveat"] == "sample"  # the most consequential caveat first
    lines = prose.recommendation_lines(sample, {**ctx, "images": 56})
    assert "recommends nothing for the catalog" in lines[-1]


def test_a_tie_on_labels_says_the_cheaper_prediction_decided() -> None:
    training = {"info": {**TRAINING["info"], "clip-head": {"val_accuracy": 0.953}}}
    rec = decision.recommend(EV, training, n_val=200)
    ctx = {"classes": 7, "reads": {}, "costs": EV["costs"], "labelled": EV["labelled"]}
    first = prose.recommendation_lines(rec, ctx)[0]
    assert "as many labels; chosen as the fastest, 0.2 ms for `text-tfidf` and 10.0 ms" in first


def test_only_a_complete_real_run_is_called_a_recommendation() -> None:
    """The word for the choice is decided once, in ``decision.recommend``: "the recommended
    candidate" for a complete run on the full data with real weights, "the best candidate of
    this run" with any caveat; every sentence and caption uses ``called``."""
    rec = decision.recommend(EV, TRAINING, n_val=200)
    ctx = {"classes": 7, "reads": {}, "costs": EV["costs"], "labelled": EV["labelled"]}
    assert rec["status"] == "recommended" and rec["called"] == "the recommended candidate"
    assert prose.recommendation_lines(rec, ctx)[0].startswith("**Recommended: `text-tfidf`**")
    for context, caveat in (
        ({"skipped": ["clip-head"]}, "not run"),
        ({"dataset": "sample"}, "sample"),
        ({"subsample": 8}, "subsample"),
    ):
        partial = decision.recommend(EV, TRAINING, n_val=200, context=context)
        assert partial["caveat"] == caveat and partial["status"] == "provisional"
        assert partial["called"] == "the best candidate of this run"
        first = prose.recommendation_lines(partial, {**ctx, "images": 56})[0]
        assert first.startswith(
            "**The best candidate of this run, not yet a recommendation: `text-tfidf`**"
        )
    excluded = decision.recommend(EV, TRAINING, n_val=200, exclude={"clip-head"})
    assert "Recommended" not in prose.recommendation_lines(excluded, ctx)[0]


def _metrics_with(rec: dict, **sections) -> dict:
    return {"evaluation": {**EV, "recommendation": rec}, **sections}


def test_every_sentence_names_the_choice_with_the_one_word() -> None:
    provisional = decision.recommend(EV, TRAINING, 200, context={"skipped": ["clip-head"]})
    m = _metrics_with(provisional)
    assert prose.called(m) == "the best candidate of this run (`text-tfidf`)"
    table = {n: {**v, "macro_f1": v["accuracy"]} for n, v in EV["table"].items()}
    ev = {**EV, **_paired(), "table": table, "recommendation": provisional}
    text = prose.section_beyond({"evaluation": ev})
    assert "the best candidate of this run (`text-tfidf`)" in text
    assert "recommend" not in text


def _paired() -> dict:
    return {
        "paired": {},
        "reads": {n: "image" for n in EV["table"]} | {"text-tfidf": "text"},
        "reference": "clip-head",
        "costs": {n: {"inference_s_per_item": 0.001} for n in EV["table"]},
    }


def test_the_tfidf_coefficients_are_not_called_exact() -> None:
    """They are log-odds weights of normalised features, not each word's effect."""
    source = (ROOT / "utils" / "report" / "prose" / "panel.py").read_text()
    assert "exact for this model" not in source and "log-odds" in source


def test_a_degenerate_paired_interval_is_not_read_as_the_gain_the_data_allow() -> None:
    ev = {
        "table": {
            n: {"accuracy": 0.5, "accuracy_low": 0.2, "accuracy_high": 0.8}
            for n in ("clip-head", "clip-finetune")
        },
        "costs": {},
        "n_test": 12,
        "versus_frozen": {
            "clip-finetune": {
                "vs": "clip-head",
                "accuracy_difference": 0.0,
                "difference_low": 0.0,
                "difference_high": 0.0,
                "mcnemar": {"p_value": 1.0, "holm_p": 1.0},
            }
        },
    }
    text = prose.section_improvements({"evaluation": ev, "training": {"finetune": {}}})
    assert "not judged" in text and "largest gain the data still allow" not in text
    ev["versus_frozen"]["clip-finetune"]["difference_high"] = 0.1
    ev["versus_frozen"]["clip-finetune"]["difference_low"] = -0.1
    text = prose.section_improvements({"evaluation": ev, "training": {"finetune": {}}})
    assert "not resolved" in text and "largest gain the data still allow" in text


def test_a_temperature_without_a_checkpoint_is_not_called_the_checkpoints() -> None:
    check = {
        "model": "tiny",
        "correct": 3,
        "images": 10,
        "accuracy": 0.3,
        "ci_low": 0.1,
        "ci_high": 0.6,
        "chance": 0.14,
        "p_value": 0.2,
        "temperature": 14.3,
        "temperature_source": "the tiny random model's initial logit scale (untrained, no "
        "checkpoint)",
        "verdict": "chance",
        "warning": True,
    }
    text = prose.pretrained_sentence(check)
    assert "untrained, no checkpoint" in text and "the checkpoint's" not in text


def test_the_choice_records_how_tuned_each_validation_number_is_and_the_repeated_splits() -> None:
    """Validation accuracies are not equally optimistic: fusion-late's is the best of its photo
    weight times its members' C on the same rows, zero-shot's tuned nothing. Beside the choice:
    what each tuned, and the repeated-split mean, which may contradict it."""
    sweep = [{}] * 6
    infos = {
        "clip-head": {"val_accuracy": 0.90, "epochs_run": 12},
        "clip-probe": {"val_accuracy": 0.90, "sweep": sweep},
        "text-tfidf": {"val_accuracy": 0.90, "sweep": sweep},
        "fusion-late": {"val_accuracy": 0.97, "sweep": [{}] * 11},
        "clip-zeroshot": {"val_accuracy": 0.80},
    }
    tuning = decision.validation_tuning(infos)
    assert {n: t["configurations"] for n, t in tuning.items()} == {
        "clip-head": 12,
        "clip-probe": 6,
        "text-tfidf": 6,
        "fusion-late": 11 * 6 * 6,
        "clip-zeroshot": 0,
    }
    alone = decision.validation_tuning({"fusion-late": infos["fusion-late"]})["fusion-late"]
    assert alone["configurations"] is None, "members' choices not recorded"
    table = {n: {"accuracy": 0.9, "accuracy_low": 0.85, "accuracy_high": 0.95} for n in infos}
    ev = {
        "table": table,
        "costs": {n: {"inference_s_per_item": 0.01} for n in infos},
        "labelled": {n: 100 for n in infos} | {"clip-zeroshot": 0},
        "tuning": tuning,
        "n_test": 200,
    }
    training = {"info": infos}
    before = decision.recommend(ev, training, n_val=200)  # notebook 05's score(): no repeats yet
    assert before["candidate"] == "fusion-late" and before["contradicted_by_repeats"] is None
    assert before["tuned_on_validation"]["fusion-late"] == tuning["fusion-late"]
    summary = {
        "fusion-late": {"mean": 0.91},
        "clip-probe": {"mean": 0.93},
        "text-tfidf": {"mean": 0.90},
        "clip-zeroshot": {"mean": 0.80},
    }
    repeats = {"summary": summary, "test_sizes": [200, 200]}
    after = decision.recommend({**ev, "repeats": repeats}, training, n_val=200)
    assert after["candidate"] == "fusion-late", "the rule does not read the repeats"
    assert (
        after["repeated_mean"]["clip-probe"] == 0.93 and after["repeated_mean"]["clip-head"] is None
    )
    assert after["repeats_best"] == "clip-probe" and after["contradicted_by_repeats"] is True
    assert after["repeats_margin"] == pytest.approx(1 / 200)
    within = {**summary, "clip-probe": {"mean": 0.914}}  # less than one test product ahead
    close = decision.recommend({**ev, "repeats": {**repeats, "summary": within}}, training, 200)
    assert close["contradicted_by_repeats"] is False


def test_errors_cite_the_confusion_figure_for_the_candidates_it_draws() -> None:
    """Without the note's two heads the confusion figure draws the chosen candidate: its errors
    cite that figure; a candidate the figure does not draw is not sent to it."""
    from utils.report.figures import get
    from utils.report.prose.original import errors_text

    pair = {"true": "Baby Care", "predicted": "Watches", "count": 2}
    ev = {
        "n_test": 20,
        "classes": ["Baby Care", "Watches"],
        "headline": ["clip-head", "vgg16-head"],
        "confusions_shown": ["text-tfidf"],
        "errors": {"models": {"text-tfidf": {"errors": 3, "most_confused": [pair]}}},
    }
    label = get("confusion").label
    assert f"confused more than once ({label})" in errors_text(ev)
    assert label not in errors_text({**ev, "confusions_shown": ["clip-head"]})
    # the record keeps the top pairs only: with more pairs confused more than once in the
    # confusion matrix than it lists, the sentence says "most often", not all of them
    details = {"text-tfidf": {"confusion": [[5, 2, 2], [3, 6, 0], [0, 2, 4]]}}
    top = {"errors": 9, "most_confused": [pair, {**pair, "true": "Watches"}]}
    grid = {**ev, "classes": ["Baby Care", "Watches", "Toys"], "details": details}
    crowded = errors_text({**grid, "errors": {"models": {"text-tfidf": top}}})
    assert f"most often confused ({label}): " in crowded and "more than once" not in crowded


def test_the_per_category_maps_say_which_images_they_average() -> None:
    """``only_correct`` on: correctly classified images only, and nothing of the default's
    wording (the smoke chain runs with it off)."""
    from utils.report.prose.original import global_text

    ex = {
        "global": {"Watches": 2, "Baby Care": 1},
        "global_correct": {"Watches": 1, "Baby Care": 0},
        "settings": {"only_correct": True, "global_per_category": 2},
    }
    text = global_text(ex)
    assert "of up to 2 correctly classified test images only: Watches (2), Baby Care (1)" in text
    assert "`only_correct` is off" not in text and "correct)" not in text
    off = global_text({**ex, "settings": {"only_correct": False, "global_per_category": 2}})
    assert "`only_correct` is off" in off and "Watches (2, 1 correct)" in off


def test_a_section_with_nothing_to_show_says_why_its_candidates_did_not_run() -> None:
    """Notebook 03 knows what it skipped before it records it: asked for and skipped is said so,
    never 'not among this run's models'."""
    from utils.report.prose.banners import nothing_here

    skipped = {"clip-head": "CLIP's weights are not on this machine"}
    line = nothing_here("augmented views", ["clip-head", "vgg16-head"], {}, skipped)
    assert "could not run here" in line and "not among" not in line
    recorded = nothing_here("augmented views", ["clip-head"], {"features": {"skipped": skipped}})
    assert "could not run here" in recorded
    assert "not among this run's models" in nothing_here("augmented views", ["clip-head"], {})


def test_each_per_category_panel_is_read_from_the_runs_numbers() -> None:
    from utils.report.prose.original import global_reading_text

    reading = {
        "Watches": {
            "on_product": 0.8, "product_area": 0.4, "peak": "centre", "peak_share": 0.3,
            "even_margin": 0.05,
        },
        "Home Furnishing": {
            "on_product": 0.5, "product_area": 0.9, "peak": "top left", "peak_share": 0.2,
            "positive_share": 0.25,
        },
        "Computers": {
            "on_product": 0.52, "product_area": 0.5, "peak": "bottom right", "peak_share": 0.25,
        },
    }  # fmt: skip
    text = global_reading_text({"global_reading": reading})
    assert (
        "Watches, 80% on the product, which covers 40% of the photo; strongest in the centre"
        in (text)
    )
    assert "leans on the product (more than 5 points above its area) for Watches" in text
    assert "on the background around it (more than 5 points below) for Home Furnishing" in text
    assert "Computers: within 5 points of an even spread." in text
    assert (
        "Mostly against the class on average" in text
        and "Home Furnishing (red: 25% of all its weight)" in text
    )
    assert "Watches (" not in text.split("Mostly against")[1]
    assert global_reading_text({}) == ""
