"""The notebook chain, executed through papermill on real images and texts.

Like recommenders' notebook tests: inject small parameters, then check what the run recorded
(catalog, split, figures, metrics, the note), not just that it did not crash. The smoke profile runs
every candidate with tiny models; the full profile runs offline with the candidates that need no
downloaded weights; a team's own unbalanced catalog runs through the same chain.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import metrics_of, smoke_settings

from utils.core import runs
from utils.core.paths import Layout
from utils.data import acquire, split
from utils.models import candidates
from utils.report import card_facts, figures, note, sections
from utils.report import runner as report
from utils.report.formatting import interval, pct

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = report.notebooks()
SMOKE = smoke_settings()  # the smoke chain: the profile and the overrides conftest injects
ALL = list(candidates.CANDIDATES)

pytestmark = pytest.mark.notebooks


def test_kernels_start_without_the_unencrypted_tcp_warning_and_errors_still_stop(
    tmp_path, capfd
) -> None:
    """ipykernel printed "Kernel is running over TCP without encryption" on the console once per
    notebook; the runner's kernels now run encrypted, and what a cell writes or raises is kept."""
    import nbformat

    (tmp_path / "out").mkdir()

    def notebook(name: str, source: str) -> Path:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, tmp_path / name)
        return tmp_path / name

    ok = notebook("98_ok.ipynb", "import sys\nprint('to stderr', file=sys.stderr)")
    out = report._execute(ok, "smoke", {}, tmp_path / "out")
    assert "without encryption" not in capfd.readouterr().err
    assert "to stderr" in nbformat.read(out, as_version=4).cells[0].outputs[0]["text"]
    with pytest.raises(report.NotebookFailed, match="ValueError: boom"):
        report._execute(
            notebook("99_bad.ipynb", "raise ValueError('boom')"), "smoke", {}, tmp_path / "out"
        )


def test_source_notebooks_have_no_outputs_and_one_parameters_cell() -> None:
    import nbformat

    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), (
            f"{nb_path.name} has outputs"
        )
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{nb_path.name} needs exactly one cell tagged 'parameters'"


# Digits that are names, not values: notebooks, the original note's figures, VGG16, k, number
# formats, a metric, LIME's scale and the late fusion's formula.
ALLOWED_DIGITS = re.compile(
    r"(?i)^# \d\d ·|notebooks? \d\d|\(0\d\)|original note's Figures? [\d, and]+|VGG16|\bk\b"
    r"|b?float(16|32)|2-D|macro-F1|\[-1, 1\]|\(1 - w\)"
)


def test_markdown_cells_state_no_number_the_run_did_not_use() -> None:
    """The notebooks' prose is static: a number in it would be true of one run only. Numbers are
    shown by the cells (generated from the run), the markdown names parameters instead."""
    import nbformat

    for nb_path in NOTEBOOKS:
        for cell in nbformat.read(nb_path, as_version=4).cells:
            if cell.cell_type == "markdown":
                text = ALLOWED_DIGITS.sub("", cell.source)
                assert not re.search(r"\d", text), f"{nb_path.name}: {cell.source[:120]!r}"


def _outputs(path: Path) -> list[tuple[int, dict]]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs]


# ------------------------------------------------------------ what the executed notebooks say
NOT_RAN = re.compile(r"(?i)did not run|\bnot run\b|(was|were) not among|not among this run|skipped")
WHY_NOT = re.compile(
    r"(?i)not run|did not|need|download|weights|not on this machine|skipped|missing|would|claim"
    r"|original note|asked|not in this run|absent|without|rerun|had run"
)


def _said(path: Path) -> tuple[list[str], list[str]]:
    """An executed notebook's sentences: of its markdown cells, and of what its cells printed or
    displayed (the run's own words)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    source, written = [], []
    for c in nb.cells:
        if c.cell_type == "markdown":
            source.append(c.source)
        for o in c.get("outputs", []):
            text = o.get("data", {}).get("text/markdown") or (
                o.get("text", "") if o.get("output_type") == "stream" else ""
            )
            written.append(text)

    def split(parts: list[str]) -> list[str]:
        text = re.sub(r"\s+", " ", " ".join(parts))
        return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*`(])", text) if s.strip()]

    return split(source), split(written)


def _named(text: str) -> set[str]:
    return {c for c in ALL if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)}


def false_about_what_ran(run: Path) -> list[str]:
    """Sentences of the executed notebooks that are false for the run: a candidate that ran said
    not to have run (clause by clause), a candidate that did not run named in the run's own words
    without the reason, and the phrase "when they ran"."""
    ran = set(metrics_of(run)["evaluation"]["table"])
    found = []
    for nb in sorted((run / "reports").glob("*.ipynb")):
        source, written = _said(nb)
        for sentence in source + written:
            for clause in sentence.split(";"):
                named = _named(clause)
                if NOT_RAN.search(clause) and named & ran and not named - ran:
                    found.append(f"{nb.name}: said not to run: {clause[:160]}")
            if "when they ran" in sentence:
                found.append(f"{nb.name}: {sentence[:160]}")
        for sentence in written:
            if _named(sentence) - ran and not WHY_NOT.search(sentence):
                found.append(f"{nb.name}: names what did not run as if it ran: {sentence[:160]}")
    return found


def test_the_checker_of_what_ran_finds_a_false_sentence(smoke_run: Path, tmp_path: Path) -> None:
    import shutil

    import nbformat

    run = tmp_path / "run"
    shutil.copytree(smoke_run / "reports", run / "reports")
    path = run / "reports" / "05_evaluate.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(
        nbformat.v4.new_markdown_cell("Here `clip-head` was not among this run's models.")
    )
    nbformat.write(nb, path)
    assert any("said not to run" in f for f in false_about_what_ran(run))


def test_the_smoke_notebooks_say_nothing_false_of_what_ran(smoke_run: Path) -> None:
    assert false_about_what_ran(smoke_run) == []


def test_every_notebook_executed(smoke_run: Path) -> None:
    assert sorted(p.name for p in (smoke_run / "reports").glob("*.ipynb")) == [
        nb.name for nb in NOTEBOOKS
    ]


def test_executed_notebooks_hold_no_progress_bar_or_warning(smoke_run: Path) -> None:
    """Bars stay for interactive use; the executed notebooks keep only what a reader reads."""
    for path in sorted((smoke_run / "reports").glob("*.ipynb")):
        for i, o in _outputs(path):
            assert o.get("name") != "stderr", f"{path.name} cell {i}: {str(o.get('text'))[:200]}"
            text = str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
            assert not re.search(r"\d+%\|[█▏▎▍▌▋▊▉ ]*\||it/s\]|Warning:", text), (
                f"{path.name} cell {i}: {text[:200]}"
            )


def test_every_notebook_opens_with_the_stand_in_banner(smoke_run: Path) -> None:
    """Tiny random encoders: the first output of every notebook says its numbers are stand-ins."""
    for path in sorted((smoke_run / "reports").glob("*.ipynb")):
        first = _outputs(path)[0][1]
        text = first.get("data", {}).get("text/markdown", "")
        assert "**Stand-in weights**" in text, f"{path.name} opens with {text[:120]!r}"


def test_01_catalog_lists_every_row(smoke_run: Path) -> None:
    sample = acquire.SAMPLE_DIR
    given = pd.read_csv(acquire.find_csv(sample), dtype=str, keep_default_na=False)
    catalog = pd.read_csv(Layout(smoke_run / "data").catalog)
    assert len(catalog) == len(given)  # 73 rows on the bundled sample (1050 in the note's data)
    missing = catalog.loc[catalog["status"] == "missing", "image"]
    absent = [n for n in given["image"] if not (sample / "Images" / n).exists()]
    assert sorted(missing) == sorted(absent) and len(absent) == 3  # the note's 3 missing photos
    d = metrics_of(smoke_run)["data"]
    assert d["text_groups"] > 0 and d["duplicate_groups"] > 0 and d["category_level"] == 1
    assert d["dataset"] == "sample" and d["source"]


def test_02_split_is_small_stratified_leak_free_and_exported(smoke_run: Path) -> None:
    from datasets import load_from_disk

    layout = Layout(smoke_run / "data")
    s = split.load_split(layout.split)
    assert len(s) == 7 * SMOKE["max_per_category"]
    assert split.straddling_groups(s.all_rows_for_final_evaluation()) == []
    info = split.load_split_info(layout.split)
    m = metrics_of(smoke_run)["split"]
    assert info["seed"] == SMOKE["seed"] and info["split_id"] == s.split_id == m["split_id"]
    assert m["max_per_category"] == SMOKE["max_per_category"] and m["images"] == len(s)
    hf = load_from_disk(str(layout.hf_split))
    assert sum(len(v) for v in hf.values()) == len(s)
    assert hf["test"].features["label"].names == s.labels()


def test_03_features_and_the_checks_of_the_weights(smoke_run: Path) -> None:
    m = metrics_of(smoke_run)["features"]
    n = 7 * SMOKE["max_per_category"]
    for source in ("clip-image", "vgg16-image", "clip-text", "pixels"):
        stats = m["extraction"][source]
        assert stats["cached"] + stats["computed"] == n, source
    assert set(m["encoders"]) == {"clip", "vgg16", "clip-text"} and m["skipped"] == {}
    assert m["extraction"]["clip-views"]["computed"] == SMOKE["views"] * len(
        split.load_split(Layout(smoke_run / "data").split).train
    )
    check = m["pretrained_check"]  # a tiny random CLIP must be flagged
    assert check["warning"] and check["verdict"] in ("chance", "weak")
    assert set(m["decode"]["parity"]) == {"clip", "vgg16"} and m["decode"]["min_side"] == 512


def test_04_every_candidate_trained_on_train_and_selected_on_validation(smoke_run: Path) -> None:
    m = metrics_of(smoke_run)["training"]
    assert list(m["summary"]) == ALL
    for name in ("clip-head", "vgg16-head", "fusion-early", "clip-finetune"):
        history, best = m["history"][name], m["info"][name]["best_epoch"]
        assert min(history["val_loss"]) == history["val_loss"][best - 1]
    assert set(m["optimizers"]["chosen"]) == {"adam", "rmsprop", "sgd"}
    assert m["configs"]["vgg16-head"]["description"].startswith(
        "Linear 32 → 256 → ReLU → Dropout 0.5"
    )
    for name in ALL:
        assert (Layout(smoke_run / "data").candidate(name) / "meta.json").exists()


def test_05_every_candidate_with_intervals_paired_tests_claims_and_a_recommendation(
    smoke_run: Path,
) -> None:
    ev = metrics_of(smoke_run)["evaluation"]
    n_test = len(split.load_split(Layout(smoke_run / "data").split).test_for_final_evaluation())
    assert set(ev["table"]) == set(ALL) and ev["reference"] == "clip-head"
    for name, row in ev["table"].items():
        assert row["n_test"] == n_test
        assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
        assert np.sum(ev["details"][name]["confusion"]) == n_test
        assert ev["costs"][name]["inference_s_per_item"] > 0 and ev["costs"][name]["repeats"] >= 3
        if name != "clip-head":
            mc = ev["paired"][name]["mcnemar"]
            counts = ("a_right_b_wrong", "a_wrong_b_right", "both_right", "both_wrong")
            assert sum(mc[k] for k in counts) == n_test
            assert mc["p_value"] <= mc["holm_p"] <= 1
            assert ev["paired"][name]["difference_low"] <= ev["paired"][name]["difference_high"]
    assert ev["intervals"]["resamples"] == SMOKE["n_boot"] and "group" in ev["intervals"]["method"]
    assert ev["repeats"]["n_splits"] == SMOKE["repeat_seeds"]
    assert SMOKE["seed"] not in ev["repeats"]["seeds"]
    budget = pd.DataFrame(ev["label_budget"]["records"])
    assert set(budget["candidate"]) == {"clip-probe", "vgg16-probe", "text-tfidf", "fusion-late"}
    assert budget.groupby(["candidate", "k"]).size().max() == SMOKE["budget_draws"]
    small = budget[budget["k"].astype(str) != "all"]
    assert (small["labelled_val"] <= 7 * small["k"].astype(int)).all()  # k per category at most
    assert set(ev["versus_frozen"]) == {
        "clip-head-aug",
        "vgg16-head-aug",
        "clip-finetune",
        "vgg16-finetune",
        "clip-finetune-aug",
        "vgg16-finetune-aug",
    }
    assert [c["verdict"] for c in ev["claims"]] == ["not measured"] * 5  # stand-in weights
    rec = ev["recommendation"]
    assert rec["candidate"] in ("text-tfidf", "pixels-classic")  # the only real numbers here
    assert set(rec["excluded"]) == set(ALL) - {"text-tfidf", "pixels-classic"}
    assert set(ev["errors"]["models"]) == {"clip-head", rec["candidate"]}


def check_deployment_card(card: str, m: dict) -> None:
    """The model card of a run states its library versions, the data's checksums, the threshold
    and its coverage, as ``metrics.json`` recorded them."""
    from importlib import metadata

    ev = m["evaluation"]
    for library in ("torch", "transformers", "scikit-learn", "numpy"):
        assert ev["versions"][library] == metadata.version(library)
        assert f"| {library} | {metadata.version(library)} |" in card, library
    assert ev["data_checksum"]["images_sha256"] in card
    assert ev["data_checksum"]["csv_sha256"] in card
    th = ev["threshold"]
    assert "## Automation threshold" in card and f"{pct(th['validation']['target'])}" in card
    if th["validation"]["threshold"] is None:
        assert "every product goes to a person" in card
    else:
        written = card_facts.threshold_text(th["validation"]["threshold"])
        assert f"highest probability ≥ {written}" in card and f"--threshold {written}" in card
        assert f"{th['test']['to_person']} products go to a person" in card
        if th["test"]["accepted"]:
            assert f"coverage {pct(th['test']['coverage'])} (" in card
    assert "## Citation" in card and m["run"]["id"] in card


def card_s_operating_point_gives_the_recorded_coverage(card: str, m: dict, data: Path) -> None:
    """The model card's command, as a team would run it: its ``--temperature`` and
    ``--threshold`` given to ``predict`` on the test products mark as ``automatic`` as many
    products as notebook 05 recorded, with as many errors."""
    from utils import predict

    point = re.search(r"--temperature ([\d.]+) --threshold ([\d.]+)", card)
    assert point, "the card's command carries the operating point"
    th = m["evaluation"]["threshold"]
    test = split.load_split(Layout(data).split).test_for_final_evaluation()
    rows = test[["product_name", "description", "path", "label"]].reset_index(drop=True)
    operating = predict.Operating(float(point[1]), float(point[2]))
    got = predict.predict_products(
        rows.assign(image=rows["path"]), th["candidate"], data, top=1, operating=operating
    )
    auto = got["automatic"]
    assert int(auto.sum()) == th["test"]["accepted"]
    assert int((got.loc[auto, "category"] != rows.loc[auto, "label"]).sum()) == th["test"]["errors"]


def test_05_the_chosen_candidate_is_calibrated_and_gets_an_automation_threshold(
    smoke_run: Path,
) -> None:
    m = metrics_of(smoke_run)
    ev = m["evaluation"]
    the_split = split.load_split(Layout(smoke_run / "data").split)
    n_val, n_test = len(the_split.val), len(the_split.test_for_final_evaluation())
    chosen = ev["recommendation"]["candidate"]
    cal, th = ev["calibration"], ev["threshold"]
    assert cal["candidate"] == th["candidate"] == chosen
    rel = cal["reliability"]
    assert sum(b["count"] for b in rel["validation"]["bins"]) == rel["validation"]["products"]
    assert rel["validation"]["products"] == n_val and rel["test"]["products"] == n_test
    assert cal["temperature"] == (cal["fitted_temperature"] if cal["kept"] else 1.0)
    val, test = th["validation"], th["test"]
    assert val["products"] == n_val and test["products"] == n_test
    assert test["accepted"] + test["to_person"] == n_test
    if val["threshold"] is None:
        assert test["accepted"] == 0
    if test["accepted"]:
        assert test["accuracy_low"] <= test["accuracy"] <= test["accuracy_high"]
        assert test["coverage_low"] <= test["coverage"] <= test["coverage_high"]
    assert len(th["curves"]["test"]["coverage"]) == n_test
    assert ev["data_checksum"]["images"] == len(the_split)
    assert chosen in ev["hyperparameters"]
    check_deployment_card((smoke_run / "reports" / "model_card.md").read_text(), m)


def test_06_explanations_of_photos_words_and_fusions_record_their_checks(smoke_run: Path) -> None:
    ex = metrics_of(smoke_run)["explanations"]
    image = ex["image"]
    test = split.load_split(Layout(smoke_run / "data").split).test_for_final_evaluation()
    categories = sorted(test["label"].unique())
    assert image["stability"]["categories"] == categories
    assert image["deletion"]["categories"] == categories
    n = len(categories) * SMOKE["stability_per_category"]
    assert len(image["stability"]["images_used"]) == n
    assert image["lime_samples"] in SMOKE["stability_samples"]
    assert set(image["deletion"]["faithfulness"]) == {"LIME", "SHAP"}
    assert len(image["deletion"]["auc_per_image"]["random"]) == image["deletion"]["images"]
    assert image["agreement"]["images"] > 0 and 0 <= image["agreement"]["rate"] <= 1
    assert image["settings"]["only_correct"] is SMOKE["only_correct"]
    text = ex["text"]["text"]
    assert set(text) == {"text-tfidf", "clip-text"}
    tfidf = text["text-tfidf"]
    assert tfidf["lime_samples"] in SMOKE["text_samples"]["text-tfidf"]
    assert tfidf["coefficients"]["overall"]["spearman"] is not None
    assert set(tfidf["deletion"]["faithfulness"]) == {"LIME"}
    assert text["clip-text"]["coefficients"] is None  # no exact reference for an embedding probe
    assert set(ex["fusion"]) == {"fusion-late", "fusion-early"}
    for f in ex["fusion"].values():
        assert 0 <= f["photo_share"] <= 1 and f["products"] == len(test)
    # the template phrases and every candidate that reads text refitted without them
    template = ex["template"]
    assert set(template) == {"text-tfidf", "clip-text", "fusion-late", "fusion-early"}
    for r in template.values():
        assert r["phrases"] and set(r["phrases"][0]["rate"]) == set(categories)
        assert r["difference_low"] <= r["difference"] <= r["difference_high"]
        assert r["difference"] == pytest.approx(r["accuracy_without"] - r["accuracy"])
        assert r["n_test"] == len(test) and r["intervals"]["resamples"] == SMOKE["n_boot"]


def test_07_labels_simulates_strategies_ranks_a_pool_and_audits_the_labels(
    smoke_run: Path,
) -> None:
    lab = metrics_of(smoke_run)["labels"]
    recommended = metrics_of(smoke_run)["evaluation"]["recommendation"]["candidate"]
    assert lab["candidates"][: len(SMOKE["al_models"])] == SMOKE["al_models"]
    assert recommended in lab["candidates"] or recommended in lab["skipped"]
    records = pd.DataFrame(lab["records"])
    plain = records[records["start"] == "labels"]
    assert set(plain["strategy"]) == {"random", "uncertainty", "diversity", "hybrid"}
    assert plain.groupby(["candidate", "strategy"])["seed"].nunique().eq(SMOKE["al_seeds"]).all()
    rounds = plain.groupby(["candidate", "strategy", "seed"]).size()
    steps = lab["plan"]["steps"]
    assert steps == list(range(3, SMOKE["al_fine_until"] + 1))  # one label per category a round
    assert rounds.eq(1 + len(steps)).all()
    assert (records["labels"] == records["labelled_train"] + records["labelled_val"]).all()
    assert lab["totals"] == [7 * k for k in steps]
    assert lab["pool"] == sum(lab["pool_parts"].values())
    assert lab["simulation_pool"] + lab["holdout"] == lab["pool"] and lab["holdout"] > 0
    tests = pd.DataFrame(lab["tests"])
    assert set(tests["labels_verdict"]) <= {"fewer", "more", "not resolved"}
    assert len(tests) >= 3 * len(lab["candidates"]) and (tests["seeds"] == SMOKE["al_seeds"]).all()
    assert "clip-probe" in lab["zeroshot_start"]  # a CLIP candidate: tried, or why not
    s = lab["suggest"]
    assert s["candidate"] == recommended or recommended in lab["skipped"]
    assert s["chosen_on"] in {"held-out fold", "parameter"}
    ranked = pd.read_csv(smoke_run / "reports" / s["csv"])
    assert len(ranked) == s["pool"] and ranked["in_batch"].sum() == SMOKE["suggest_batch"]
    a = lab["audit"]
    assert a["candidates"][0] == metrics_of(smoke_run)["evaluation"]["recommendation"]["candidate"]
    assert len(a["candidates"]) == 2 and a["folds"] == SMOKE["audit_folds"]
    for name, p in a["per_candidate"].items():
        assert sum(p["per_category"].values()) == p["flagged"]
        real = p["planted"]["confusion"]
        assert real["flipped"] == SMOKE["planted_flips"] * SMOKE["planted_draws"]
        assert real["low"] <= real["recall"] <= real["high"]
        assert sum(p["kinds"].values()) == p["flagged"]
        assert set(lab["cleaning"][name]["paired"]) == {"flagged dropped", "flagged relabelled"}
    issues = pd.read_csv(smoke_run / "reports" / a["csv"])
    assert set(issues["candidate"]) <= set(a["candidates"])
    assert lab["gallery"]["shown"] <= SMOKE["gallery_shown"]


def test_suggest_labels_ranks_a_teams_own_pool_and_the_demonstration(
    smoke_run: Path, dataset_dir: Path, real_csv: pd.DataFrame, tmp_path: Path
) -> None:
    from utils.labels import suggest

    own = tmp_path / "own"
    own.mkdir()
    (own / "Images").symlink_to(dataset_dir / "Images")  # photos beside the CSV, as a catalog's
    rows = real_csv[real_csv["present"]].head(12)
    rows[["image", "product_name", "description"]].to_csv(own / "new.csv", index=False)
    where = ["--data-dir", str(smoke_run / "data"), "--reports-dir", str(smoke_run / "reports")]
    out = tmp_path / "ranked.csv"
    args = ["--pool", str(own / "new.csv"), "--strategy", "uncertainty", "--out", str(out)]
    suggest.main([*args, "--batch", "4", *where])
    table = pd.read_csv(out)
    assert list(table.columns) == suggest.OUT_COLUMNS and len(table) == 12
    assert table["in_batch"].sum() == 4 and table["rank"].tolist() == list(range(1, 13))
    assert table["margin"].is_monotonic_increasing
    with pytest.raises(SystemExit, match="fewer than a batch of 50"):
        suggest.main([*args, "--batch", "50", *where])
    # a photo head and a fusion, recommended or not, rank without a strategy named
    trained = metrics_of(smoke_run)["evaluation"]["table"]
    for model in [m for m in ("clip-head", "fusion-late") if m in trained]:
        own_args = ["--pool", str(own / "new.csv"), "--model", model, "--out", str(out)]
        suggest.main([*own_args, "--batch", "3", *where])
        ranked = pd.read_csv(out)
        assert len(ranked) == 12 and set(ranked["candidate"]) == {model}
    suggest.main(["--strategy", "random", "--batch", "3", "--out", str(out), *where])
    demo = pd.read_csv(out)  # the demonstration: the run's pool as if only the start were labelled
    assert len(demo) == metrics_of(smoke_run)["labels"]["suggest"]["pool"]


def test_08_note_answers_first_and_shows_every_figure_once_in_reading_order(
    smoke_run: Path,
) -> None:
    from utils.report import note

    run_id = metrics_of(smoke_run)["run"]["id"]
    assert note.missing_figures(smoke_run / "figures", run_id) == []
    text = (smoke_run / "reports" / "note.md").read_text()
    assert "not produced by this run" not in text
    positions = []
    for f in figures.FIGURES:
        link = f"]({Path('..') / 'figures' / (f.name + '.png')})"
        assert text.count(link) == 1, f.name
        positions.append(text.index(link))
    assert positions == sorted(positions), "figures are numbered in the order the note shows them"
    labels = re.findall(r"^\*Figure (\d+)\. ", text, flags=re.M)
    assert list(map(int, labels)) == [f.number for f in figures.FIGURES]
    for f in figures.FIGURES:
        if f.original:
            assert f"{f.label}. " in text and f"Figure {f.original} of the original note" in text
    summary = text.split("## Summary: the answer first\n")[1].split("\n## ")[0]
    # Stand-in encoders: the original note's claims are named with the note's values, and the one
    # reason none can be checked (the measured table is tested in test_prose).
    assert "**The original note's claims cannot be checked in this run**: stand-in" in summary
    assert "It claimed: CLIP head, test accuracy: about 90%;" in summary
    assert "| CLIP head: test accuracy |" not in summary
    # a run on a subsample with stand-in encoders recommends nothing: it names its best, and
    # every sentence names the choice with the one word decision.recommend gave it
    assert "**The best candidate of this run, not yet a recommendation: `" in summary
    assert "**Recommended" not in summary and "recommended candidate" not in text
    assert "*The rule" in summary and "**The limits of this run.**" in summary
    assert "**What this run answers.** Neither part" in summary
    ev = metrics_of(smoke_run)["evaluation"]
    rec = ev["recommendation"]
    assert rec["status"] == "provisional" and rec["called"] == "the best candidate of this run"
    assert f"{100 * rec['test_accuracy']:.1f}%" in summary
    assert re.search(r"^## \d+\. What the best candidate of this run looks at †$", text, re.M)
    # a stand-in run is not titled as if it answered the CLIP question
    assert text.startswith("# Classifying e-commerce product photos: the CLIP against VGG16 ")
    assert "run on stand-in weights" in text.splitlines()[0]
    assert text.count("**Stand-in weights**") == 1, "the warning once, then a short mark"
    assert "Sections marked † hold numbers that read these stand-in encoders." in text
    assert "the numbers here that read them are stand-ins" not in text, "said once, at the top"
    for section in note.SECTIONS:
        if section.encoders and section.key != "summary":
            title = note.section_title(section, metrics_of(smoke_run))
            assert title.endswith(" †") and f"## {title}\n" in text, title
    # the limits once (the summary), the template-words paragraph once (section 10)
    assert text.count("**The limits of this run.**") == 1
    assert text.count("partly reads each category's description template: ") == 1
    # the summary's limit on the template is the measured one (section 12), said once
    assert summary.count("Refitted without the catalogue's template phrases") == 1
    assert text.count("Refitted without the catalogue's template phrases") == 1
    assert text.count("which tell categories apart only through") == 1
    html = (smoke_run / "reports" / "note.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures.FIGURES)
    assert '<nav class="toc">' in html and 'href="06_explain.ipynb"' in html
    assert runs.check(metrics_of(smoke_run)) == []


def _prose(text: str) -> str:
    """The note without figures, captions and the list of what did not run (which names the
    figures not drawn): the text that cites."""
    if "\n## What did not run here\n" in text:
        before, after = text.split("\n## What did not run here\n", 1)
        text = before + ("\n## " + after.split("\n## ", 1)[1] if "\n## " in after else "")
    keep = [
        line for line in text.splitlines() if not line.startswith(("![", "*Figure", "*Not drawn"))
    ]
    return "\n".join(keep)


def citations(text: str) -> list[int]:
    """Figure numbers in the order the note's text first cites them."""
    first: list[int] = []
    for n in map(int, re.findall(r"Figure (\d+)(?!\d)(?! of the original)", _prose(text))):
        if n not in first:
            first.append(n)
    return first


def cited_in_order(text: str) -> bool:
    first = citations(text)
    return first == sorted(first)


def every_figure_cited(text: str) -> bool:
    shown = {int(n) for n in re.findall(r"^\*Figure (\d+)\. ", text, flags=re.M)}
    return shown <= set(citations(text))


def test_the_citation_checks_see_a_figure_cited_out_of_order() -> None:
    text = "See Figure 2 and Figure 1.\n\n*Figure 1. x*\n\n*Figure 2. y*\n\n*Figure 3. z*"
    assert not cited_in_order(text) and not every_figure_cited(text)
    assert cited_in_order("Figure 1, then Figure 2.") and every_figure_cited(
        "*Figure 1. x*\nFigure 1"
    )


def test_08_every_caption_is_written_from_what_its_figure_drew(smoke_run: Path) -> None:
    """A caption names what this run drew (its candidates, how many of how many), never what
    it would show "when it ran"; the note prints the caption stamped in the figure."""
    from utils.report.prose import captions

    text = (smoke_run / "reports" / "note.md").read_text()
    for f in figures.FIGURES:
        drawn = figures.caption_of(smoke_run / "figures" / f"{f.name}.png")
        assert drawn, f.key
        if f.key in captions.CAPTIONS:
            assert drawn != f.caption, f"{f.key}: the registry's general caption"
        assert "when it ran" not in drawn and "(one row per model)" not in drawn, f.key
        assert f"*{f.label}. {f.with_origin(drawn)}*" in text, f.key
    assert "Confusion matrices of clip-head and vgg16-head on the test split" in text


def test_08_note_cites_every_figure_in_order_and_shows_it_where_it_is_discussed(
    smoke_run: Path,
) -> None:
    text = (smoke_run / "reports" / "note.md").read_text()
    assert cited_in_order(text), citations(text)
    assert every_figure_cited(text)
    blocks = text.split("\n\n")
    for n in citations(text):
        cited = next(
            i
            for i, b in enumerate(blocks)
            if re.search(rf"Figure {n}(?!\d)", b) and not b.startswith(("![", "*Figure"))
        )
        shown = next((i for i, b in enumerate(blocks) if b.startswith(f"![Figure {n}. ")), None)
        assert shown is None or cited < shown <= cited + 8, f"Figure {n} far from its text"


def test_08_note_renders_in_headless_chromium(smoke_run: Path, tmp_path: Path) -> None:
    """A real browser opens the page: every image must load; a screenshot is kept beside it."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--virtual-time-budget=10000",
    ]
    page = (smoke_run / "reports" / "note.html").resolve().as_uri()
    dom = subprocess.run(
        [*flags, f"--user-data-dir={tmp_path / 'a'}", "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "chromium returned no page"
    total = int(re.search(r'data-images-total="(\d+)"', body.group(1)).group(1))
    broken = int(re.search(r'data-images-broken="(\d+)"', body.group(1)).group(1))
    assert (total, broken) == (len(figures.FIGURES), 0)
    shot = smoke_run / "reports" / "note_screenshot.png"
    subprocess.run(
        [
            *flags,
            f"--user-data-dir={tmp_path / 'b'}",
            "--window-size=1200,4000",
            f"--screenshot={shot}",
            page,
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 10_000


def test_predict_new_photos_with_a_trained_candidate(
    smoke_run: Path, real_images, tmp_path: Path
) -> None:
    from utils import predict

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff nothing")
    paths = [*real_images[:3], broken, tmp_path / "absent.jpg"]
    table = predict.predict(paths, "clip-head", smoke_run / "data", top=2)
    assert table["status"].tolist() == ["ok"] * 3 + ["unreadable", "missing"]
    assert (
        table.loc[:2, "category"]
        .isin(split.load_split(Layout(smoke_run / "data").split).labels())
        .all()
    )
    assert table.loc[:2, "probability"].between(0, 1).all() and table.loc[3, "top1"] == ""
    with pytest.raises(ValueError, match="reads text"):
        predict.predict(paths, "text-tfidf", smoke_run / "data")


def test_predict_products_with_text_and_fusion_candidates(smoke_run: Path, tmp_path: Path) -> None:
    """Candidates that read text take each product's name and description (a product with
    neither is said so), fusion also its photo (a missing one said so); a CSV of products goes to
    Parquet without an Images/ folder when the candidate reads no photo, with the same rows."""
    from utils import predict

    data = smoke_run / "data"
    train = split.load_split(Layout(data).split).train
    rows = train[["product_name", "description", "path", "label"]].head(12).reset_index(drop=True)
    rows["image"] = rows["path"]
    rows.loc[10, ["product_name", "description"]] = ["", "  "]
    rows.loc[11, "image"] = str(tmp_path / "absent.jpg")
    text = predict.predict_products(rows, "text-tfidf", data, top=2)
    assert text["status"].tolist() == ["ok"] * 10 + ["no_text", "ok"]
    assert text.loc[10, "category"] == "" and np.isnan(text.loc[10, "probability"])
    # it read the words: its own training products come back mostly under their labels
    seen = text.loc[text["status"] == "ok"]
    assert (seen["category"] == rows.loc[seen.index, "label"]).mean() >= 0.7
    fused = predict.predict_products(rows, "fusion-late", data, top=2)
    assert fused["status"].tolist() == ["ok"] * 10 + ["no_text", "missing"]
    assert fused.loc[:9, "probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="no 'image' column"):
        predict.predict_products(rows.drop(columns=["image"]), "fusion-late", data)
    # a CSV of products, no Images/ folder: text-tfidf's catalog path gives the same rows
    shop = tmp_path / "shop"
    shop.mkdir()
    rows.assign(uniq_id=[f"p{i}" for i in range(len(rows))]).drop(
        columns=["path", "label", "image"]
    ).to_csv(shop / "products.csv", index=False)
    done = predict.predict_catalog(shop, tmp_path / "out", "text-tfidf", data, top=2)
    got = pd.read_parquet(tmp_path / "out").reset_index(drop=True)
    assert done["rows"] == 12 and got["id"].tolist() == [f"p{i}" for i in range(12)]
    assert got["category"].tolist() == text["category"].tolist()
    # the model card's command for a text candidate
    card = ["--catalog", str(shop / "products.csv"), "--model", "text-tfidf"]
    predict.main([*card, "--data-dir", str(data), "--out", str(tmp_path / "cli")])
    assert pd.read_parquet(tmp_path / "cli")["category"].tolist() == got["category"].tolist()
    # ... with its operating point: sharper probabilities (T < 1), the same categories, and
    # `automatic` where the highest one reaches the threshold (never for an unreadable row)
    scaled = predict.predict_products(rows, "text-tfidf", data, operating=predict.Operating(0.5))
    ok = scaled["status"] == "ok"
    cut = f"{np.median(scaled.loc[ok, 'probability']):.6f}"
    point = ["--temperature", "0.5", "--threshold", cut]
    predict.main([*card, *point, "--data-dir", str(data), "--out", str(tmp_path / "op")])
    op = pd.read_parquet(tmp_path / "op")
    assert op["category"].tolist() == got["category"].tolist()
    assert (op.loc[ok, "probability"] >= got.loc[ok, "probability"] - 1e-12).all()
    assert (op.loc[ok, "probability"] > got.loc[ok, "probability"]).any()
    assert op["automatic"].tolist() == (ok & (op["probability"] >= float(cut))).tolist()
    assert op["automatic"].any() and not op.loc[~ok, "automatic"].any()
    with pytest.raises(ValueError, match="temperature must be positive"):
        predict.Operating(0.0)
    with pytest.raises(FileNotFoundError, match="Images/"):
        predict.predict_catalog(shop, tmp_path / "out", "fusion-late", data)


def test_a_fresh_clone_runs_the_smoke_chain_offline_on_the_bundled_sample(smoke_run: Path) -> None:
    m = metrics_of(smoke_run)
    assert m["data"]["dataset"] == "sample" and m["run"]["seed"] == SMOKE["seed"]
    assert (smoke_run / "reports" / "note.html").exists()
    assert not (smoke_run / "data" / "raw" / "flipkart").exists(), "the sample is read in place"


def test_the_note_states_the_settings_the_run_used(smoke_run: Path) -> None:
    """Non-default seed, LIME sample count, averaging and repeats: the note says what was used,
    and nothing of the defaults."""
    m = metrics_of(smoke_run)
    image = m["explanations"]["image"]
    text = (smoke_run / "reports" / "note.md").read_text()
    assert image["settings"]["note_samples"] == 30
    assert "beside the 30 copies of `num_samples` (the original note used 100)" in text
    assert "with seed 7" in text and "with seed 42" not in text
    assert "On 2 other group-aware splits" in text and m["evaluation"]["repeats"]["n_splits"] == 2
    assert m["evaluation"]["intervals"]["resamples"] == 150 and "150 resamples" in text
    global_counts = image["global"]
    assert all(n <= 3 for n in global_counts.values())  # up to 3, as many as the test split has
    assert "(scaled to [−1, 1]) of up to 3 test images of each category" in text


@pytest.fixture(scope="module")
def weight_free_run(full_dataset_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    """``make report`` as most readers run it: the full profile, the note's full data, offline, no
    weights on disk (CLIP and VGG16 missing, the models folder empty). Returns the run's folder
    and what the command printed."""
    import contextlib
    import io

    run = tmp_path_factory.mktemp("weight-free")
    env = {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(run / "hf"),
        "TORCH_HOME": str(run / "torch"),
    }
    argv = ["--profile", "full", "--output-dir", str(run / "reports")]
    for name, value in {
        "data_dir": run / "data",
        "figures_dir": run / "figures",
        "reports_dir": run / "reports",
        "data_source": full_dataset_dir,
    }.items():
        argv += ["-p", name, str(value)]
    printed = io.StringIO()
    with report._environment(env), contextlib.redirect_stdout(printed):
        report.main(argv)  # no SystemExit: status 0
    (run / "reports" / "run.log").write_text(printed.getvalue())  # each notebook's time
    return run, printed.getvalue()


def test_without_weights_make_report_runs_what_it_can_and_lists_the_rest(
    weight_free_run: tuple[Path, str], monkeypatch
) -> None:
    """CLIP's and VGG16's weights missing (offline, not on disk): their candidates are skipped
    with one sentence saying what to download and where, the others run, the note's summary ends
    with the list, the command ends with status 0 and prints the list last; strict makes it an
    error."""
    run, printed = weight_free_run
    last = printed.strip().splitlines()[-1]
    assert last.startswith("- ") and "hf download openai/clip-vit" in printed
    assert "clip-head" in printed.split("Not run")[-1] and "vgg16-head" in printed
    m = metrics_of(run)
    assert set(m["features"]["skipped"]) == set(ALL) - {"text-tfidf", "pixels-classic"}
    assert set(m["evaluation"]["table"]) == {"text-tfidf", "pixels-classic"}
    text = (run / "reports" / "note.md").read_text()
    assert "Not run" not in text.split("## Summary")[0], "what ran comes first"
    listed = text.split("\n## What did not run here\n")[1].split("\n## ")[0]
    assert text.index("## What did not run here") > text.index("## 1. The dataset")
    table = listed.split(f"**Not run here: {len(ALL) - 2} candidates.**")[1]
    row = "| CLIP `openai/clip-vit-base-patch32` (image and text towers) | `clip-head`"
    assert row in table and "`hf download openai/clip-vit-base-patch32" in table
    # where the loader looks: this run's data folder (outside the project here, so written whole;
    # inside it, relative: tested in test_models)
    assert f"`{run / 'data' / 'models' / 'clip-vit-base-patch32'}/` |" in table
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(run / "hf"))
    with pytest.raises(report.NotebookFailed, match="ModelUnavailableError: strict run"):
        report.run(
            "full",
            run / "strict",
            only=["03"],
            data_dir=str(run / "data"),
            reports_dir=str(run / "strict"),
            figures_dir=str(run / "strict"),
            strict=True,
        )


def test_with_the_full_data_and_no_weights_make_report_writes_a_note_of_real_numbers(
    weight_free_run: tuple[Path, str],
) -> None:
    """The full profile offline on all 1047 products: text-tfidf and pixels-classic run (they need
    no downloaded weights), the 14 others are listed as not run, the note is written."""
    run, _ = weight_free_run
    m = metrics_of(run)
    assert m["run"]["profile"] == "full" and m["split"]["images"] == 1047
    assert set(m["features"]["models"]) == {"text-tfidf", "pixels-classic"}
    assert len(m["features"]["skipped"]) == len(ALL) - 2
    acc = m["evaluation"]["table"]["text-tfidf"]["accuracy"]
    assert acc > 0.8
    # the photo candidate that ran is explained: LIME, SHAP, the per-category maps and their
    # trust checks, on the very pixels its colour histogram and HOG are computed from
    image = m["explanations"]["image"]
    assert image["candidate"] == "pixels-classic" and image["encoder_kind"] == "pixels"
    assert image["agreement"]["rate"] == 1.0
    assert set(image["deletion"]["faithfulness"]) == {"LIME", "SHAP"}
    assert len(image["global"]) == 7 and image["lime_samples"] > 0
    for key in ("lime", "shap", "averaging", "global_importance", "trust"):
        assert figures.state(figures.get(key), run / "figures", m["run"]["id"]) == "drawn", key
    assert m["explanations"]["text"]["text"]["text-tfidf"]["coefficients"]["overall"]["spearman"]
    text = (run / "reports" / "note.md").read_text()
    assert f"{100 * acc:.1f}%" in text and "Stand-in weights" not in text
    assert "**Not run here: 14 candidates.**" in text
    # what ran leads: the title and the first lines say what this run answers, not the CLIP note's
    title = text.splitlines()[0]
    assert title.startswith("# What this catalogue's text and classical pixels give")
    assert "CLIP against" not in title
    summary = text.split("## Summary: the answer first\n")[1].split("\n## ")[0]
    assert summary.lstrip().startswith(
        "**What this run answers.** What `text-tfidf` (text) and `pixels-classic` (classical "
        "pixels) give on this catalogue"
    )
    assert (
        "## 2. Split and architecture" in text
        and "CLIP, and what it knows" not in (text.split("## What did not run here")[0])
    )
    headline = figures.caption_of(run / "figures" / f"{figures.get('headline').name}.png")
    assert "the candidates that read the text (text-tfidf) in a panel of their own" in headline
    # the note's heads did not run: the best photo candidate's confusions and errors are shown
    assert m["evaluation"]["confusions_shown"] == ["text-tfidf", "pixels-classic"]
    assert set(m["evaluation"]["errors"]["models"]) == {"text-tfidf", "pixels-classic"}
    # two candidates: no cost chart, one line says why, and nothing lists it as not run
    assert figures.state(figures.get("cost"), run / "figures") == "missing"
    assert "No accuracy-cost chart: with 2 candidates (fewer than 3)" in text
    assert figures.get("cost").label not in text
    # one interval per quantity: notebook 07's "labels as given" is notebook 05's recorded one
    recorded = m["evaluation"]["table"]["text-tfidf"]
    given = m["labels"]["cleaning"]["text-tfidf"]["table"]["labels as given"]
    assert given == {k: recorded[k] for k in given}
    shown = interval(recorded["accuracy"], recorded["accuracy_low"], recorded["accuracy_high"])
    assert shown in text
    low, high = (f"{100 * recorded[k]:.1f}%" for k in ("accuracy_low", "accuracy_high"))
    acc_shown = f"{100 * recorded['accuracy']:.1f}%"
    executed = (run / "reports" / "07_labels.ipynb").read_text()
    row = rf"text-tfidf\s+labels as given\s+\d+\s+{acc_shown}\s+{low}\s+{high}\s"
    assert re.search(row, executed), "notebook 07's table shows the recorded interval"
    assert "**What pixels-classic looks at, and what CLIP would.**" in text
    explained = note.section_title(sections.BY_KEY["explanations"], m)
    assert "through the encoder" not in text.split(f"## {explained}\n")[1].split("\n## ")[0]
    missing = m["evaluation"]["missing_descriptions"]["text-tfidf"]
    assert missing["accuracy_low"] <= missing["accuracy"] <= missing["accuracy_high"]
    template = m["explanations"]["template"]["text-tfidf"]  # the template phrases, measured
    assert template["accuracy"] == acc and len(template["phrases"]) > 0
    assert template["difference_low"] <= template["difference"] <= template["difference_high"]
    assert figures.state(figures.get("template"), run / "figures", m["run"]["id"]) == "drawn"
    assert f"## {note.section_title(sections.BY_KEY['template'], m)}\n" in text
    assert "of its top words are generic words" not in text  # the measured result replaces it
    assert "**Against the original note.**" in text
    card = (run / "reports" / "model_card.md").read_text()
    assert card.startswith("---\n") and "# Model card: `text-tfidf`" in card
    assert "make predict ARGS='--catalog products.csv --model text-tfidf --temperature " in card
    for part in ("## Uses", "## Training data", "## Evaluation", "## Failure modes measured"):
        assert part in card, part
    check_deployment_card(card, m)
    card_s_operating_point_gives_the_recorded_coverage(card, m, run / "data")
    assert m["evaluation"]["data_checksum"]["csv_sha256"] == acquire.CSV_SHA256
    assert "Template dependence" in card and "Taxonomy boundaries" in card
    assert cited_in_order(text) and every_figure_cited(text)
    lab = m["labels"]  # active learning and the label audit on real numbers
    assert lab["candidates"] == ["text-tfidf", "pixels-classic"] and lab["plan"]["seeds"] >= 20
    assert lab["plan"]["steps"][:30] == list(range(3, 33))  # one label per category up to 32
    tests = pd.DataFrame(lab["tests"])
    assert set(tests["strategy"]) >= {"uncertainty", "diversity", "hybrid"}
    assert (tests["seeds"] >= 20).all() and tests["p_labels_holm"].between(0, 1).all()
    assert lab["suggest"]["chosen_on"] == "held-out fold"
    assert set(lab["audit"]["candidates"]) == {"text-tfidf", "pixels-classic"}
    assert lab["audit"]["per_candidate"]["text-tfidf"]["flagged"] > 0
    assert "In one sentence: For `text-tfidf`, random labelling " in text
    assert lab["gallery"]["shown"] > 0
    assert lab["audit"]["per_candidate"]["text-tfidf"]["planted"]["confusion"]["draws"] >= 3


def test_the_weight_free_notebooks_say_nothing_false_of_what_ran(
    weight_free_run: tuple[Path, str],
) -> None:
    """The run most readers get: two candidates ran, fourteen did not."""
    assert false_about_what_ran(weight_free_run[0]) == []


def test_suggest_labels_ranks_a_pool_for_the_weight_free_runs_recommended_candidate(
    weight_free_run: tuple[Path, str], full_dataset_dir: Path, real_csv: pd.DataFrame, tmp_path
) -> None:
    """`make suggest-labels ARGS='--pool ...'` on the run most readers get: the recommended
    candidate (text-tfidf here), by the strategy notebook 07 chose on its held-out fold."""
    from utils.labels import suggest

    run, _ = weight_free_run
    own = tmp_path / "own"
    own.mkdir()
    (own / "Images").symlink_to(full_dataset_dir / "Images")
    rows = real_csv[real_csv["present"]].sample(30, random_state=0)
    rows[["image", "product_name", "description"]].to_csv(own / "new.csv", index=False)
    out = tmp_path / "ranked.csv"
    where = ["--data-dir", str(run / "data"), "--reports-dir", str(run / "reports")]
    suggest.main(["--pool", str(own / "new.csv"), "--batch", "10", "--out", str(out), *where])
    table = pd.read_csv(out)
    chosen = metrics_of(run)["evaluation"]["recommendation"]["candidate"]
    assert len(table) == 30 and table["in_batch"].sum() == 10
    assert set(table["candidate"]) == {chosen}
    assert table["rank"].tolist() == list(range(1, 31))


def test_own_unbalanced_catalog_runs_through_the_chain(own_catalog: Path, tmp_path: Path) -> None:
    """A same-schema catalog with extra columns, faulty rows and a long tail of small categories,
    through the notebooks that read the categories: validation and rare categories (01), the
    split (02), features, fits and evaluation on five categories (03-05), the per-category maps
    that leave the rare ones out (06). The labels study and the note read only records, as in
    the smoke chain."""
    run = tmp_path
    report.run(
        "smoke",
        run / "reports",
        only=["01", "02", "03", "04", "05", "06"],
        data_dir=str(run / "data"),
        figures_dir=str(run / "figures"),
        reports_dir=str(run / "reports"),
        data_source=str(own_catalog),
        max_categories_shown=3,
        models=["clip-head", "vgg16-head", "clip-zeroshot", "text-tfidf", "fusion-late"],
        lime_examples={"Watches": "watch"},
    )
    m = metrics_of(run)
    assert set(m["data"]["rare_categories"]) == {
        "Beauty and Personal Care",
        "Home Decor & Festive Needs",
    }
    assert len(m["data"]["categories"]) == 5 and m["data"]["status"]["unsafe_name"] == 2
    assert set(m["evaluation"]["table"]) == {
        "clip-head",
        "vgg16-head",
        "clip-zeroshot",
        "text-tfidf",
        "fusion-late",
    }
    assert len(m["explanations"]["image"]["global_left_out"]) == 2


def test_report_overrides_are_parsed_and_checked() -> None:
    assert report.parse_overrides(
        [["models", '["text-tfidf"]'], ["seed", "7"], ["clip_model", "random"]], ["{n_boot: 100}"]
    ) == {"models": ["text-tfidf"], "seed": 7, "clip_model": "random", "n_boot": 100}
    with pytest.raises(ValueError, match="no notebook has a parameter named 'sed'"):
        report.run("smoke", "/nonexistent", sed=7)
    declared = report.declared_parameters()
    for profile in (ROOT / "profiles").glob("*.yaml"):
        assert set(report.profile_parameters(profile.stem)) <= declared, profile.name
