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
import yaml
from conftest import metrics_of

from utils import candidates, figures, report, runs
from utils import split as split_mod
from utils.paths import Layout

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = report.notebooks()
SMOKE = yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text())
ALL = list(candidates.CANDIDATES)

pytestmark = pytest.mark.notebooks


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


def test_every_notebook_executed(smoke_run: Path) -> None:
    assert sorted(p.name for p in (smoke_run / "reports").glob("*.ipynb")) == [
        nb.name for nb in NOTEBOOKS
    ]


def test_01_catalog_lists_every_row(smoke_run: Path, real_csv: pd.DataFrame) -> None:
    catalog = pd.read_csv(Layout(smoke_run / "data").catalog)
    assert len(catalog) == len(real_csv)  # 1050 (73 on the bundled sample)
    missing = catalog.loc[catalog["status"] == "missing", "image"]
    assert sorted(missing) == sorted(real_csv.loc[~real_csv["present"], "image"])  # 3 on both
    d = metrics_of(smoke_run)["data"]
    assert d["text_groups"] > 0 and d["duplicate_groups"] > 0 and d["category_level"] == 1


def test_02_split_is_small_stratified_leak_free_and_exported(smoke_run: Path) -> None:
    from datasets import load_from_disk

    layout = Layout(smoke_run / "data")
    s = split_mod.load_split(layout.split)
    assert len(s) == 7 * SMOKE["max_per_category"]
    assert split_mod.straddling_groups(s.all_rows_for_final_evaluation()) == []
    info = split_mod.load_split_info(layout.split)
    assert (
        info["seed"] == 42
        and info["split_id"] == s.split_id == metrics_of(smoke_run)["split"]["split_id"]
    )
    hf = load_from_disk(str(layout.hf_split))
    assert (
        sum(len(v) for v in hf.values()) == len(s)
        and hf["test"].features["label"].names == s.labels()
    )


def test_03_features_cached_for_every_source(smoke_run: Path) -> None:
    m = metrics_of(smoke_run)["features"]
    n = 7 * SMOKE["max_per_category"]
    for source in ("clip-image", "vgg16-image", "clip-text", "pixels"):
        stats = m["extraction"][source]
        assert stats["cached"] + stats["computed"] == n, source
    assert set(m["encoders"]) == {"clip", "vgg16", "clip-text"}
    assert m["extraction"]["clip-views"]["computed"] == SMOKE["views"] * len(
        split_mod.load_split(Layout(smoke_run / "data").split).train
    )


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


def test_05_every_candidate_with_intervals_and_a_paired_test_against_clip_head(
    smoke_run: Path,
) -> None:
    ev = metrics_of(smoke_run)["evaluation"]
    n_test = len(split_mod.load_split(Layout(smoke_run / "data").split).test_for_final_evaluation())
    assert set(ev["table"]) == set(ALL) and ev["reference"] == "clip-head"
    for name, row in ev["table"].items():
        assert (
            row["n_test"] == n_test
            and row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
        )
        assert np.sum(ev["details"][name]["confusion"]) == n_test
        assert ev["costs"][name]["inference_s_per_item"] > 0 and ev["costs"][name]["repeats"] >= 3
        if name != "clip-head":
            mc = ev["paired"][name]["mcnemar"]
            assert (
                sum(
                    mc[k]
                    for k in ("a_right_b_wrong", "a_wrong_b_right", "both_right", "both_wrong")
                )
                == n_test
            )
            assert ev["paired"][name]["difference_low"] <= ev["paired"][name]["difference_high"]
    assert ev["intervals"]["resamples"] == SMOKE["n_boot"] and "group" in ev["intervals"]["method"]
    assert ev["repeats"]["n_splits"] == SMOKE["repeat_seeds"] and 42 not in ev["repeats"]["seeds"]
    budget = pd.DataFrame(ev["label_budget"]["records"])
    assert set(budget["candidate"]) == {"clip-probe", "vgg16-probe", "text-tfidf", "fusion-late"}
    assert budget.groupby(["candidate", "k"]).size().max() == SMOKE["budget_draws"]
    assert set(ev["versus_frozen"]) == {
        "clip-head-aug",
        "vgg16-head-aug",
        "clip-finetune",
        "vgg16-finetune",
        "clip-finetune-aug",
        "vgg16-finetune-aug",
    }


def test_06_trust_checks_use_every_category_and_record_it(smoke_run: Path) -> None:
    ex = metrics_of(smoke_run)["explanations"]
    test = split_mod.load_split(Layout(smoke_run / "data").split).test_for_final_evaluation()
    categories = sorted(test["label"].unique())
    assert (
        ex["stability"]["categories"] == categories and ex["deletion"]["categories"] == categories
    )
    assert len(ex["stability"]["images_used"]) == len(categories) * SMOKE["stability_per_category"]
    assert ex["lime_samples"] in SMOKE["stability_samples"]
    assert set(ex["deletion"]["faithfulness"]) == {"LIME", "SHAP"}
    assert len(ex["deletion"]["auc_per_image"]["random"]) == ex["deletion"]["images"]
    assert ex["agreement"]["images"] > 0 and 0 <= ex["agreement"]["rate"] <= 1
    assert ex["r2"]["explanations"] > 0 and all(e["superpixels"] > 0 for e in ex["examples"])


def test_07_note_has_every_registered_figure_once_under_its_number(smoke_run: Path) -> None:
    from utils import note

    assert note.missing_figures(smoke_run / "figures") == []
    text = (smoke_run / "reports" / "note.md").read_text()
    assert "not produced by this run" not in text
    for f in figures.FIGURES:
        assert text.count(f"]({Path('..') / 'figures' / (f.name + '.png')})") == 1, f.name
        assert f"*{f.label}. " in text
    labels = re.findall(r"^\*Figure (\d+)\. ", text, flags=re.M)
    assert sorted(map(int, labels)) == sorted(f.number for f in figures.FIGURES)
    ev = metrics_of(smoke_run)["evaluation"]
    assert f"{100 * ev['table']['text-tfidf']['accuracy']:.1f}%" in text
    html = (smoke_run / "reports" / "note.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures.FIGURES)
    assert runs.check(metrics_of(smoke_run)) == []


def test_07_note_renders_in_headless_chromium(smoke_run: Path, tmp_path: Path) -> None:
    """A real browser opens the page: every image must load; a screenshot is kept beside the note."""
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
        .isin(split_mod.load_split(Layout(smoke_run / "data").split).labels())
        .all()
    )
    assert table.loc[:2, "probability"].between(0, 1).all() and table.loc[3, "top1"] == ""
    with pytest.raises(ValueError, match="reads text"):
        predict.predict(paths, "text-tfidf", smoke_run / "data")


def test_full_profile_offline_stops_with_one_clear_sentence(
    smoke_run: Path, tmp_path: Path, monkeypatch
) -> None:
    """Without the pretrained weights, `make report` stops at notebook 03 saying what to download."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(report.NotebookFailed) as info:
        report.run(
            "full",
            tmp_path,
            only=["03"],
            data_dir=str(smoke_run / "data"),
            reports_dir=str(tmp_path),
            figures_dir=str(tmp_path),
        )
    message = str(info.value)
    assert message.startswith("03_features.ipynb stopped: ModelUnavailableError:")
    assert "hf download openai/clip-vit-base-patch32" in message


def test_full_profile_with_text_only_runs_offline_on_the_whole_dataset(
    full_dataset_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """text-tfidf needs no downloaded weights: the full profile gives real numbers on all 1047 products."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = tmp_path
    report.run(
        "full",
        run / "reports",
        data_dir=str(run / "data"),
        figures_dir=str(run / "figures"),
        reports_dir=str(run / "reports"),
        data_source=str(full_dataset_dir),
        models=["text-tfidf"],
    )
    m = metrics_of(run)
    assert m["run"]["profile"] == "full" and m["split"]["images"] == 1047
    acc = m["evaluation"]["table"]["text-tfidf"]["accuracy"]
    assert acc > 0.8
    assert m["explanations"]["skipped"].startswith(
        "Explanations skipped: clip-head was not trained"
    )
    text = (run / "reports" / "note.md").read_text()
    assert f"{100 * acc:.1f}%" in text and "Smoke profile" not in text


def test_own_unbalanced_catalog_runs_through_the_chain(own_catalog: Path, tmp_path: Path) -> None:
    """A same-schema catalog with extra columns, faulty rows and a long tail of small categories."""
    run = tmp_path
    report.run(
        "smoke",
        run / "reports",
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
    assert len(m["explanations"]["global_left_out"]) == 2
    assert (run / "reports" / "note.html").exists()


def test_report_overrides_are_parsed_and_checked() -> None:
    assert report.parse_overrides(
        [["models", '["text-tfidf"]'], ["seed", "7"], ["clip_model", "random"]], ["{n_boot: 100}"]
    ) == {"models": ["text-tfidf"], "seed": 7, "clip_model": "random", "n_boot": 100}
    with pytest.raises(ValueError, match="no notebook has a parameter named 'sed'"):
        report.run("smoke", "/nonexistent", sed=7)
    declared = report.declared_parameters()
    for profile in (ROOT / "profiles").glob("*.yaml"):
        assert set(report.profile_parameters(profile.stem)) <= declared, profile.name
