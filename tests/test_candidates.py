"""utils.models (candidates, panel, families, fitting, checks): every family fitted, saved, reloaded
and checked on tiny models and real photos and texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from utils.core.paths import Layout
from utils.data import split
from utils.data.catalog import build_catalog, usable
from utils.evaluation import refits
from utils.explain import photos
from utils.models import blocks, candidates, checks, encoders, families, fitting, tiny
from utils.models.panel import Panel, Settings, class_embeddings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Layout:
    return Layout(tmp_path_factory.mktemp("data"))


def _panel(layout, s: split.Split, **kw) -> Panel:
    base = dict(
        clip_model="tiny-random",
        vgg_weights="tiny-random",
        device="cpu",
        precision="float32",
        epochs=4,
        finetune_epochs=2,
        views=2,
        probe_cs=(0.1, 1.0),
    )
    settings = Settings(**{**base, **kw})
    return Panel(layout, settings, s.labels(), s.split_id, progress=False)


@pytest.fixture(scope="module")
def panel(layout, small_split) -> Panel:
    return _panel(layout, small_split)


def test_the_registry_declares_every_candidate_once() -> None:
    table = candidates.registry_table()
    assert len(table) == len(candidates.CANDIDATES) >= 16 and table.index.is_unique
    for c in candidates.CANDIDATES.values():
        assert c.reads in ("image", "text", "image+text") and c.family in families.FAMILIES
        assert set(c.inputs) <= set(candidates.SOURCES) and set(c.members) <= set(
            candidates.CANDIDATES
        )
    assert candidates.needs(["fusion-late"]) == {"clip-image", "text"}
    assert "clip-text-tower" in candidates.needs(["clip-zeroshot"])
    with pytest.raises(ValueError, match="unknown candidate"):
        candidates.resolve(["clip-head", "resnet-head"])


@pytest.mark.parametrize("name", list(candidates.CANDIDATES))
def test_each_candidate_fits_saves_reloads_and_predicts(name, panel, small_split, layout) -> None:
    fitted = fitting.fit(name, panel, small_split.train, small_split.val)
    val = fitted.predict_proba(panel, small_split.val)
    assert val.shape == (len(small_split.val), len(panel.classes))
    np.testing.assert_allclose(val.sum(axis=1), 1, rtol=1e-5)
    fitted.save(layout.candidate(name))
    again = families.load(name, panel)
    np.testing.assert_allclose(
        again.predict_proba(panel, small_split.val), val, rtol=1e-5, atol=1e-6
    )
    test = small_split.test_for_final_evaluation()
    np.testing.assert_allclose(
        again.infer(panel, test), again.predict_proba(panel, test), rtol=1e-3, atol=1e-4
    )
    assert fitted.info["labelled_train"] == (
        0 if name == "clip-zeroshot" else len(small_split.train)
    )
    assert fitted.fingerprint() == again.fingerprint()


def test_zero_shot_reads_the_prompts_through_the_text_tower(panel, small_split) -> None:
    zs = fitting.fit("clip-zeroshot", panel, small_split.train, small_split.val)
    E = zs.class_embeddings
    assert E.shape == (len(panel.classes), panel.encoder("clip").dim)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1, rtol=1e-5)
    assert (
        zs.info["class_names"][panel.classes.index("Home Decor & Festive Needs")]
        == "home decor and festive needs"
    )
    assert candidates.category_name("Watches >> Wrist Watches") == "wrist watches"
    other = class_embeddings(panel, prompts=("a photo of a {}.",))
    assert not np.allclose(other, E), "prompt ensembling changes the class embeddings"


def test_a_candidate_loaded_with_another_encoder_is_refused(
    panel, small_split, layout, tmp_path
) -> None:
    fitting.fit("clip-head", panel, small_split.train, small_split.val).save(
        layout.candidate("clip-head")
    )
    tiny.build_tiny_clip(tmp_path / "other-clip", seed=1)
    other = Panel(
        layout,
        Settings(clip_model=str(tmp_path / "other-clip"), device="cpu", precision="float32"),
        panel.classes,
        panel.split_id,
    )
    with pytest.raises(families.CandidateMismatch, match="re-run notebook 04"):
        families.load("clip-head", other)
    moved = Panel(layout, panel.settings, panel.classes, "another-split")
    with pytest.raises(families.CandidateMismatch, match="split"):
        families.load("clip-head", moved)


def test_fine_tuning_changes_only_the_last_blocks_and_its_cached_path_is_the_full_forward(
    panel, small_split
) -> None:
    encoder = panel.encoder("clip")
    before = {k: v.clone() for k, v in encoder.module.state_dict().items()}
    fitted = fitting.fit("clip-finetune", panel, small_split.train, small_split.val)
    assert all(torch.equal(before[k], v) for k, v in encoder.module.state_dict().items()), (
        "the run's encoder is untouched"
    )
    tuned = fitted.encoder(panel)
    assert tuned.identity != encoder.identity == fitted.encoders["clip"]
    changed = {k for k, v in tuned.module.state_dict().items() if not torch.equal(before[k], v)}
    last = len(encoder.module.model.vision_model.encoder.layers) - 1
    assert changed and all(
        f"encoder.layers.{last}." in k or "post_layernorm" in k or "visual_projection" in k
        for k in changed
    ), changed
    test = small_split.test_for_final_evaluation()
    np.testing.assert_allclose(
        fitted.infer(panel, test), fitted.predict_proba(panel, test), rtol=1e-3, atol=1e-4
    )


def test_vgg_fine_tuning_trains_block5_only(panel, small_split) -> None:
    encoder = panel.encoder("vgg16")
    fitted = fitting.fit("vgg16-finetune", panel, small_split.train, small_split.val)
    tuned = fitted.encoder(panel)
    base = encoder.module.state_dict()
    changed = {k for k, v in tuned.module.state_dict().items() if not torch.equal(base[k], v)}
    cut = blocks._vgg_cut(encoder.module.features, 1)
    assert changed and all(int(k.split(".")[1]) >= cut for k in changed)


def test_augmented_views_are_made_for_training_rows_only(panel, small_split, monkeypatch) -> None:
    import utils.models.features as f

    made = []
    real = f.make_view
    monkeypatch.setattr(
        f, "make_view", lambda image, aug, sha, v: made.append(sha) or real(image, aug, sha, v)
    )
    layout2 = Layout(panel.layout.data_dir / "fresh")
    fresh = _panel(layout2, small_split)
    fitting.fit("clip-head-aug", fresh, small_split.train, small_split.val)
    assert made and set(made) <= set(small_split.train["sha256"])
    assert len(made) == fresh.settings.views * len(small_split.train)


def test_text_only_candidate_on_the_whole_real_catalog(full_dataset_dir, tmp_path_factory) -> None:
    """text-tfidf needs no downloaded weights: real numbers on all 1047 products, in seconds,
    reproducibly."""
    folder = tmp_path_factory.mktemp("full")
    catalog = build_catalog(full_dataset_dir, progress=False)
    split.save_split(split.make_split(usable(catalog), seed=42), folder / "split.csv")
    s = split.load_split(folder / "split.csv")
    panel = Panel(Layout(folder), Settings(), s.labels(), s.split_id, progress=False)
    test = s.test_for_final_evaluation()
    accuracies = []
    for _ in range(2):
        fitted = fitting.fit("text-tfidf", panel, s.train, s.val)
        accuracies.append(
            float(np.mean(fitted.predict_proba(panel, test).argmax(1) == panel.y(test)))
        )
    assert accuracies[0] == accuracies[1]
    assert accuracies[0] > 0.8, (
        f"text alone: {accuracies[0]:.3f} (chance: {1 / len(s.labels()):.3f})"
    )


def test_contrastive_reading_of_fine_tuning_trains_through_the_class_prompts(
    layout, small_split
) -> None:
    panel = _panel(layout, small_split, finetune_objective="text")
    fitted = fitting.fit("clip-finetune", panel, small_split.train, small_split.val)
    assert fitted.info["objective"] == "text" and isinstance(fitted.head, families.TextClassifier)
    assert fitted.parameters() == fitted.info["trainable_encoder_parameters"], (
        "the prompts are fixed, only blocks train"
    )
    test = small_split.test_for_final_evaluation()
    # cached activations are float16 and the prompt classifier scales cosines by the temperature:
    # a looser tolerance
    full, cached = fitted.infer(panel, test), fitted.predict_proba(panel, test)
    np.testing.assert_allclose(full, cached, atol=2e-3)
    assert (full.argmax(1) == cached.argmax(1)).all()
    with pytest.raises(ValueError, match="clip-finetune only"):
        fitting.fit("vgg16-finetune", panel, small_split.train, small_split.val)


def test_a_fine_tuned_candidate_can_be_explained_on_its_own_pixels(
    panel, small_split, layout
) -> None:

    fitting.fit("clip-finetune", panel, small_split.train, small_split.val).save(
        layout.candidate("clip-finetune")
    )
    fitted = families.load("clip-finetune", panel)
    encoder = fitted.image_encoder(panel)
    assert encoder.identity == fitted.info["finetuned_identity"] != panel.encoder("clip").identity
    pipeline = photos.Pipeline(encoder, fitted.predict_vectors, fitted.fingerprint())
    test = small_split.test_for_final_evaluation()
    pixels = np.stack([photos.prepare_image(encoder, p) for p in test["path"]])
    np.testing.assert_allclose(
        pipeline(pixels), fitted.predict_proba(panel, test), rtol=1e-3, atol=1e-4
    )


def test_a_loaded_fine_tuned_candidate_is_a_cpu_float32_module_wherever_the_encoder_sits(
    panel, small_split, layout
) -> None:
    """Its tail reads cached float32 activations on the CPU, as when it was fitted, whatever the
    run's encoder placement (a CUDA run stopped here: tail on the GPU, activations on the CPU; on
    this CPU-only machine another dtype stands in for another device)."""
    fitted = fitting.fit("clip-finetune", panel, small_split.train, small_split.val)
    fitted.save(layout.candidate("clip-finetune"))
    test = small_split.test_for_final_evaluation()
    expected = fitted.predict_proba(panel, test)
    elsewhere = _panel(layout, small_split)
    elsewhere.encoder("clip").module.double()
    loaded = families.load("clip-finetune", elsewhere)
    assert {(p.device.type, p.dtype) for p in loaded.tail.parameters()} == {("cpu", torch.float32)}
    np.testing.assert_allclose(
        loaded.predict_proba(elsewhere, test), expected, rtol=1e-5, atol=1e-6
    )


def test_repeated_splits_fit_each_fusion_member_once_per_split(
    panel, small_split, monkeypatch
) -> None:

    calls = []
    real = fitting._fit
    monkeypatch.setattr(
        fitting, "_fit", lambda name, *a, **kw: calls.append(name) or real(name, *a, **kw)
    )
    rows = small_split.all_rows_for_final_evaluation()
    others = split.other_splits(rows, 3, 2, 0.2, 0.2)
    names = ["fusion-late", "clip-probe", "text-tfidf"]
    accuracies = refits.panel_repeats(panel, rows, names, others, progress=False, n_jobs=1)
    assert list(accuracies.columns) == names and list(accuracies.index) == list(others)
    assert sorted(calls) == sorted(names * len(others)), "members are not refitted for the fusion"


def test_zero_shot_uses_and_keeps_the_checkpoint_temperature(layout, small_split, tmp_path) -> None:
    import math

    from scipy.special import softmax

    folder = tiny.build_tiny_clip(tmp_path / "clip-t25", logit_scale=math.log(25.0))
    settings = Settings(clip_model=str(folder), device="cpu", precision="float32")
    panel = Panel(layout, settings, small_split.labels(), small_split.split_id)
    zs = fitting.fit("clip-zeroshot", panel, small_split.train, small_split.val)
    assert zs.temperature == pytest.approx(25.0, rel=1e-5) == zs.info["temperature"]
    assert zs.info["temperature_source"] == "the checkpoint's logit scale"
    X = panel.features("clip-image", small_split.val)
    np.testing.assert_allclose(
        zs.predict_vectors(X), softmax(25.0 * zs.similarities(X), axis=1), rtol=1e-4
    )
    zs.save(tmp_path / "zs")
    again = families._load_folder(tmp_path / "zs")
    assert again.temperature == zs.temperature
    np.testing.assert_allclose(again.predict_vectors(X), zs.predict_vectors(X), rtol=1e-6)


def test_a_fine_tuned_encoder_is_built_once(panel, small_split, layout, monkeypatch) -> None:
    fitting.fit("vgg16-finetune", panel, small_split.train, small_split.val).save(
        layout.candidate("vgg16-finetune")
    )
    fitted = families.load("vgg16-finetune", panel)
    calls = []
    real = encoders.fingerprint
    monkeypatch.setattr(encoders, "fingerprint", lambda *a, **k: calls.append(1) or real(*a, **k))
    test = small_split.test_for_final_evaluation()
    first = fitted.infer(panel, test)
    second = fitted.infer(panel, test)
    np.testing.assert_array_equal(first, second)
    assert len(calls) == 1, "the tuned encoder is copied and fingerprinted once, not per call"
    assert fitted.encoder(panel) is fitted.image_encoder(panel)
    assert fitted.encoder(panel).identity == fitted.info["finetuned_identity"]


def test_a_candidate_is_refused_with_another_decode_size(panel, small_split, layout) -> None:
    fitting.fit("vgg16-probe", panel, small_split.train, small_split.val).save(
        layout.candidate("vgg16-probe")
    )
    other = _panel(layout, small_split, decode_min_side=None)
    assert other.encoder("vgg16").decode_min_side is None
    assert other.encoder("clip").decode_min_side is None
    with pytest.raises(families.CandidateMismatch, match="decode_min_side"):
        families.load("vgg16-probe", other)
    loaded = families.load("vgg16-probe", panel)
    assert loaded.info["decode_min_side"] == encoders.DECODE_MIN_SIDE
    del loaded.info["decode_min_side"]  # saved before the decode size was recorded: 256 then
    with pytest.raises(families.CandidateMismatch, match="decode_min_side=256"):
        loaded.check(panel)
    loaded.check(_panel(layout, small_split, decode_min_side=256))


def test_precision_check_compares_bfloat16_with_float32_on_a_sample(layout, small_split) -> None:
    from dataclasses import replace

    from utils.models import features

    rows = small_split.inputs()
    assert checks.precision_check(_panel(layout, small_split), rows, n=8) == {}
    b16 = _panel(layout, small_split, precision="bfloat16")
    b16.encoder("clip"), b16.encoder("vgg16")
    out = checks.precision_check(b16, rows, n=8, seed=0)
    assert set(out) == {"clip", "vgg16"}
    for kind, r in out.items():
        assert r["images"] == 8 and 0.9 < r["cosine_min"] <= r["cosine_median"] <= 1.0 + 1e-6
        f32 = replace(b16.encoder(kind), precision="float32")
        cache = features.VectorCache(features.cache_dir(f32, layout.features), (f32.dim,))
        assert all(cache.read(sha) is not None for sha in r["rows"]), "float32 cached"
        assert set(r["rows"]) <= set(rows["sha256"])
    assert checks.precision_check(b16, rows, n=8, seed=0)["clip"]["rows"] == out["clip"]["rows"]


def test_bfloat16_agreement_is_measured_on_the_checked_rows_of_a_larger_split(
    small_split, tmp_path
) -> None:
    """Float32 features exist only for the rows the precision check sampled: the heads' agreement
    compares those rows (it was empty whenever the split was larger than the sample)."""
    from utils.evaluation.costs import precision_agreement

    b16 = _panel(Layout(tmp_path), small_split, precision="bfloat16")
    names = ("clip-probe", "vgg16-head", "clip-zeroshot")
    fitted = {n: fitting.fit(n, b16, small_split.train, small_split.val) for n in names}
    test = small_split.test_for_final_evaluation()
    found = checks.precision_check(b16, test, n=3, seed=0)
    assert len(test) > 3 and {k: r["images"] for k, r in found.items()} == {"clip": 3, "vgg16": 3}
    for f in fitted.values():
        f.predict_proba(b16, test)  # every test row's bfloat16 features cached, as in notebook 05
    rows = {k: r["rows"] for k, r in found.items()}
    out = precision_agreement(b16, fitted, test, rows)
    assert set(out) == set(names)
    for r in out.values():
        assert r["images"] == r["checked"] == 3 and r["test_rows"] == len(test)
        assert 0 <= r["agree"] <= 3 and r["rate"] == pytest.approx(r["agree"] / 3)
    assert precision_agreement(b16, fitted, test)["clip-probe"]["images"] == 3, "cached rows"
    assert precision_agreement(b16, fitted, test, {"vgg16": rows["vgg16"]}).keys() == {"vgg16-head"}


def test_pretrained_check_flags_random_weights(panel, small_split, monkeypatch) -> None:
    val = small_split.val
    out = checks.pretrained_check(panel, val, panel.classes)
    assert out["verdict"] in ("chance", "weak") and out["warning"]
    assert out["chance"] == pytest.approx(1 / len(panel.classes), abs=1e-4)
    assert out["ci_low"] <= out["accuracy"] <= out["ci_high"] and out["images"] == len(val)
    from utils.report import prose

    assert "does not behave like a pretrained one" in prose.pretrained_sentence(out)
    assert out["model"] == panel.encoder("clip").name
    # the same check on embeddings that do name the categories: the verdict turns
    E = class_embeddings(panel)
    y = panel.y(val)
    rng = np.random.default_rng(0)
    good = E[y] + 0.05 * rng.normal(size=(len(y), E.shape[1]))
    real = panel.features
    monkeypatch.setattr(
        panel, "features", lambda s, rows: good if s == "clip-image" else real(s, rows)
    )
    right = checks.pretrained_check(panel, val)
    assert right["verdict"] == "pretrained" and not right["warning"] and right["accuracy"] == 1.0
    assert right["p_value"] < 0.01
    assert prose.pretrained_sentence(right).endswith("it behaves like a pretrained CLIP.")


@pytest.mark.parametrize(
    "n_classes, accuracy, verdict, fixed_half",
    [(2, 0.6, "weak", "pretrained"), (50, 0.44, "pretrained", "weak")],
)
def test_the_pretrained_floor_scales_with_the_number_of_classes(
    layout, n_classes, accuracy, verdict, fixed_half, monkeypatch
) -> None:
    """60% with 2 categories is well above chance yet weak; 44% with 50 categories is what a
    pretrained CLIP may well score. A fixed floor of 50% read both the other way round."""
    floor = checks.pretrained_floor(n_classes)
    chance = 1 / n_classes
    assert chance < floor < 1
    assert (floor - chance) / (1 - chance) == pytest.approx(checks.PRETRAINED_GAP)
    assert checks.pretrained_floor(7) == pytest.approx(0.4857, abs=1e-4)
    classes = [f"category {i:02d}" for i in range(n_classes)]
    settings = Settings(clip_model="tiny-random", device="cpu", precision="float32")
    panel = Panel(layout, settings, classes, progress=False)
    n = 400
    y = np.arange(n) % n_classes
    right = np.random.default_rng(0).permutation(n) < round(accuracy * n)
    predicted = np.where(right, y, (y + 1) % n_classes)
    E = np.eye(n_classes, dtype=np.float32)  # one direction per category
    monkeypatch.setattr(checks, "class_embeddings", lambda panel: E)
    monkeypatch.setattr(panel, "features", lambda source, rows: E[predicted])
    val = pd.DataFrame({"label": [classes[i] for i in y]})
    out = checks.pretrained_check(panel, val)
    assert out["accuracy"] == pytest.approx(accuracy) and out["p_value"] < checks.PRETRAINED_ALPHA
    assert out["floor"] == pytest.approx(floor, abs=1e-4) and out["verdict"] == verdict
    assert checks.pretrained_check(panel, val, floor=0.5)["verdict"] == fixed_half


def test_a_loadable_but_wrong_clip_counts_as_a_stand_in(layout, small_split, tmp_path) -> None:
    """Tiny random weights loaded from a folder: by name they look real ("/.../tiny-clip"), but
    they fail the pretrained check, so CLIP's candidates are stand-ins: set aside by the choice,
    their claims not measured, the banners saying so."""
    from utils.core import runs
    from utils.evaluation import decision
    from utils.report import note, notebook

    _panel(layout, small_split).encoder("clip")  # builds the tiny CLIP folder
    folder = str(layout.models / "tiny-clip")
    weights = {"clip": folder, "vgg16": "IMAGENET1K_V1"}
    assert runs.stand_ins(weights) == {}, "by its name a real CLIP"
    check = checks.pretrained_check(_panel(layout, small_split, clip_model=folder), small_split.val)
    assert check["model"] == folder and check["verdict"] in ("chance", "weak")
    stand = runs.stand_ins(weights, check)
    assert list(stand) == ["clip"] and stand["clip"].startswith(runs.FAILED_CHECK)
    assert runs.stand_ins(weights, {**check, "verdict": "pretrained", "warning": False}) == {}
    names = ["clip-head", "clip-zeroshot", "fusion-late", "vgg16-head", "text-tfidf"]
    clip = {"clip-head", "clip-zeroshot", "fusion-late"}
    assert candidates.stand_in_candidates(names, stand) == clip
    params = {
        "clip_model": folder,
        "vgg_weights": "IMAGENET1K_V1",
        "reports_dir": str(tmp_path / "reports"),
        "figures_dir": str(tmp_path / "figures"),
        "models": names,
    }
    first = notebook.start("01", params, show=False)
    assert first.stand_in_candidates(names) == set() and not first.banner
    first.record("features", {"pretrained_check": check})
    later = notebook.start("05", params, show=False)
    assert later.stand_in_candidates(names) == clip
    assert "**Stand-in weights** (CLIP: weights that fail the pretrained check" in later.banner
    assert runs.run_stand_ins(later.metrics()) == stand
    assert "weights that fail the pretrained check" in note.header(later.metrics())
    table = {n: {"accuracy": 0.9, "accuracy_low": 0.85, "accuracy_high": 0.95} for n in names}
    evaluation = {
        "table": table,
        "paired": {},
        "costs": {n: {"inference_s_per_item": 0.01} for n in names},
        "labelled": {n: 10 for n in names},
    }
    info = {n: {"val_accuracy": 0.9 if n in clip else 0.5} for n in names}
    rec = decision.recommend(evaluation, {"info": info}, 100, exclude=clip)
    assert rec["candidate"] not in clip and rec["excluded"] == sorted(clip)
    rows = decision.claims(evaluation, {"info": info}, clip)
    assert {r["key"]: r["verdict"] for r in rows}["clip_accuracy"] == "not measured"


def test_notebook_03_sends_each_photo_through_clip_once(small_split, tmp_path) -> None:
    """The pretrained check computes the validation features before ``prepare``: unless the
    fine-tuning capture is set first, ``prepare`` runs the CLIP prefix over those photos again."""
    import json

    from utils.models.panel import capture_kinds, prepare

    names = ["clip-finetune", "clip-zeroshot"]
    assert capture_kinds(names) == {"clip"} and capture_kinds(["clip-head"]) == set()
    inputs, val = small_split.inputs(), small_split.val

    def images_encoded(capture_first: bool, folder) -> int:
        panel = _panel(Layout(folder), small_split)
        seen = []

        def count(module, args, kw) -> None:
            x = args[0] if args else kw["pixel_values"]
            seen.append(int((x.flatten(1).abs().sum(1) > 0).sum()))  # not the zero shape probes

        embeddings = panel.encoder("clip").module.model.vision_model.embeddings
        embeddings.register_forward_pre_hook(count, with_kwargs=True)
        if capture_first:
            panel.capture = capture_kinds(names)
        checks.pretrained_check(panel, val)
        prepare(panel, names, inputs, small_split.train)
        return sum(seen)

    assert images_encoded(True, tmp_path / "once") == len(inputs)
    assert images_encoded(False, tmp_path / "twice") == len(inputs) + len(val)
    nb = json.loads((ROOT / "notebooks" / "03_features.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert code.index("panel.capture = capture_kinds(runnable)") < code.index("pretrained_check(")


def test_input_check_measures_each_loaded_encoder_at_its_decode_size(layout, small_split) -> None:
    panel = _panel(layout, small_split, decode_min_side=256)
    assert checks.input_check(panel, small_split.inputs(), n=3) == {}, "nothing loaded"
    panel.encoder("vgg16")
    out = checks.input_check(panel, small_split.inputs(), n=3, largest=1)
    assert set(out) == {"vgg16"}
    r = out["vgg16"]
    assert r["decode_min_side"] == 256 and r["decode"] == 256 and r["images"] == 3
    assert 0 <= r["rel_l2_median"] <= r["rel_l2_p95"] <= r["rel_l2_max"]
    full = _panel(layout, small_split, decode_min_side=None)
    assert (
        checks.input_check(full, small_split.inputs(), 3, kinds=["clip"])["clip"]["rel_l2_max"]
        == 0.0
    )
