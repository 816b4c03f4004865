"""utils.explain_text: word explanations on a model whose answer is known, their trust checks,
the photo/text split of the fusion candidates, and the real text candidates on tiny models and
real rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from utils.core import runs
from utils.core.paths import Layout
from utils.explain import fusions, photos, text_study
from utils.explain.words import (
    TextLime,
    TextPipeline,
    boilerplate,
    category_words,
    coefficient_agreement,
    deletion_curve,
    example_record,
    faithfulness_check,
    highlight_html,
    lime_text,
    model_texts,
    stability_check,
    tfidf_coefficients,
    timing,
    top_words,
    top_words_record,
    weights_for,
    word_colour,
    words_of,
)
from utils.models import candidates, families, fitting
from utils.models.panel import Panel, Settings
from utils.report import plots, prose

CLASSES = ["Apples", "Bread", "Cheese"]
DECIDING = {"crunchy": 0, "baked": 1, "aged": 2}
FILLERS = ["fresh", "sweet", "round", "soft", "sliced", "sharp", "golden", "mild", "rich", "light"]


def toy_rows(n_per: int, seed: int) -> pd.DataFrame:
    """Products whose category is decided by one word (``DECIDING``); four shared fillers each."""
    rng = np.random.default_rng(seed)
    rows = []
    for word, k in DECIDING.items():
        for j in range(n_per):
            words = [word, *rng.choice(FILLERS, 4, replace=False)]
            rng.shuffle(words)
            name = " ".join(words[:2]).title()  # names in title case, as the catalogue's
            rows.append(
                {
                    "image": f"{word}-{seed}-{j}.jpg",
                    "product_name": name,
                    "description": " ".join(words[2:]),
                    "label": CLASSES[k],
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def toy():
    """A real text-tfidf candidate (``families.ProbeModel``) fitted on the toy products."""
    train = toy_rows(12, seed=0)
    estimator = fitting._tfidf_pipeline(0)(10.0)
    y = train["label"].map(CLASSES.index).to_numpy()
    estimator.fit(model_texts("text-tfidf", train), y)
    fitted = families.ProbeModel(
        candidates.CANDIDATES["text-tfidf"],
        CLASSES,
        info={},
        encoders={},
        split_id="toy",
        estimator=estimator,
    )
    test = toy_rows(4, seed=1)
    return fitted, TextPipeline(fitted), test, model_texts("text-tfidf", test)


def test_the_pipeline_predicts_as_the_candidate_and_remembers(toy) -> None:
    fitted, pipe, test, texts = toy
    expected = fitted.predict_vectors(texts)
    np.testing.assert_allclose(pipe(texts), expected)
    assert pipe.calls == len(set(texts))
    pipe(texts)
    assert pipe.calls == len(set(texts)), "strings already seen are not sent again"
    small = TextPipeline(fitted, memory=3)
    np.testing.assert_allclose(small(texts), expected)  # more new strings than it remembers
    np.testing.assert_allclose(small(texts[:2] + texts[-2:]), expected[[0, 1, -2, -1]])
    assert len(small._memo) == 3 and small.calls == len(set(texts)) + 2
    assert (expected.argmax(1) == test["label"].map(CLASSES.index)).all()


def test_lime_names_the_word_that_decides_and_prints_nothing(toy, capfd) -> None:
    _, pipe, test, texts = toy
    for i in (0, 5, 9):
        r = lime_text(pipe, texts[i], num_samples=300, seed=0)
        deciding = next(w for w in DECIDING if w in texts[i].lower())
        assert r["label"] == DECIDING[deciding]
        assert r["case_folded"] and r["text"] == texts[i].lower()
        assert set(r["words"]) == set(r["text"].replace(".", " ").split())
        assert top_words(r, 1) == [(deciding, pytest.approx(r["weights"].max()))]
        assert r["weights"].max() > 2 * np.sort(np.abs(r["weights"]))[-2], "one word decides"
    out, err = capfd.readouterr()
    assert out == "" and err == "", "LIME's text explainer must print nothing"


def test_a_word_the_model_cannot_read_sits_at_the_noise_floor(toy) -> None:
    fitted, pipe, _, texts = toy
    results = [lime_text(pipe, t + " zebra", 300, seed=0) for t in texts[:6]]
    for r in results:
        unread = r["weights"][list(r["words"]).index("zebra")]
        assert abs(unread) < 0.1 * r["weights"].max()
    words = category_words({CLASSES[results[0]["label"]]: results[:1]})
    floor = coefficient_agreement(words, tfidf_coefficients(fitted))["noise_floor"]
    assert floor["unread_words"] == 1 and floor["read_words"] == len(results[0]["words"]) - 1
    assert floor["unread_mean_abs_weight"] < floor["read_mean_abs_weight"]


def test_lime_explains_the_true_class_too_and_keeps_case_when_the_model_reads_it(toy) -> None:
    _, pipe, _, texts = toy
    r = lime_text(pipe, texts[0], 300, seed=0, also=(2, 1))
    assert list(r["labels"])[0] == r["label"] and set(r["labels"]) == {0, 1, 2}
    np.testing.assert_allclose(weights_for(r, r["label"]), r["weights"])
    deciding = next(w for w in DECIDING if w in r["text"])
    other = next(k for k in (0, 1, 2) if k != r["label"])
    assert weights_for(r, other)[list(r["words"]).index(deciding)] < 0

    def case_sensitive(texts):  # a model that reads capitals: case folding would change it
        p = np.array([[t.count("C") + 1.0, 1.0] for t in texts])
        return p / p.sum(axis=1, keepdims=True)

    kept = lime_text(case_sensitive, "Crunchy crunchy", 50, seed=0)
    assert not kept["case_folded"] and set(kept["words"]) == {"Crunchy", "crunchy"}
    assert top_words(kept, 1)[0][0] == "Crunchy"


def test_deletion_in_lime_order_beats_random_orders_of_the_same_words(toy) -> None:
    _, pipe, test, texts = toy
    items = [(i, test.loc[i, "label"]) for i in range(len(test))]
    results = [lime_text(pipe, texts[i], 300, seed=0) for i, _ in items]
    first = deletion_curve(pipe, results[0], photos.ranking(results[0]["weights"]), steps=5)
    assert first[0] == pytest.approx(results[0]["probability"]) and first[1] < first[0] - 0.3
    check = faithfulness_check(pipe, results, test, items, steps=5, random_orders=5, seed=0)
    f = check["faithfulness"]["LIME"]
    assert check["auc"]["LIME"] < check["auc"]["random"]
    assert f["gain_low"] > 0 and f["wilcoxon_p"] < 0.01 and f["better_on"] == len(items)
    assert [p["image"] for p in check["products"]] == test["image"].tolist()
    assert check["settings"]["num_samples"] == [300]
    json.dumps(check)


def test_coefficients_agree_with_lime_averages_and_not_with_another_class(toy) -> None:
    fitted, pipe, test, texts = toy
    coef = tfidf_coefficients(fitted)
    assert list(coef.columns) == CLASSES and {"crunchy", "fresh"} <= set(coef.index)
    assert coef.loc["crunchy"].idxmax() == "Apples" and coef.loc["aged"].idxmax() == "Cheese"
    by_cat = {
        c: [lime_text(pipe, texts[i], 500, seed=0) for i in np.flatnonzero(test["label"] == c)]
        for c in CLASSES
    }
    words = category_words(by_cat)
    for c in CLASSES:
        assert words[c].index[0] == next(w for w, k in DECIDING.items() if CLASSES[k] == c)
        assert (words[c]["products"] <= len(by_cat[c])).all()
    agree = coefficient_agreement(words, coef)
    assert agree["overall"]["spearman"] > 0.7, agree
    assert all(v["spearman"] > 0.5 for v in agree["per_category"].values()), agree
    rotated = coef.rename(columns=dict(zip(CLASSES, CLASSES[1:] + CLASSES[:1])))
    wrong = coefficient_agreement(words, rotated)
    assert wrong["overall"]["spearman"] < agree["overall"]["spearman"] - 0.3, (
        "the check can fail: another class's coefficients agree less"
    )
    json.dumps(agree)
    assert top_words_record(words, 2)["Bread"][0][0] == "baked"


def test_stability_is_measured_per_count_and_the_smallest_stable_count_chosen(toy) -> None:
    _, pipe, test, texts = toy
    items = photos.round_robin(
        photos.per_category(test, np.ones(len(test), bool), 1, only_correct=True), 1
    )
    check = stability_check(
        pipe,
        texts,
        test,
        items,
        [20, 200],
        [0, 1, 2],
        k=1,
        threshold=0.9,
        progress=False,
    )
    assert check["categories"] == CLASSES and len(check["per_product"]) == len(CLASSES)
    assert check["median_jaccard"]["200"] == 1.0 and check["reached"]
    assert check["chosen"] == (20 if check["median_jaccard"]["20"] >= 0.9 else 200)
    unstable = stability_check(
        pipe, texts, test, items, [20], [0, 1, 2], k=4, threshold=1.01, progress=False
    )
    assert not unstable["reached"] and unstable["chosen"] == 20
    json.dumps(check)


def test_cached_explanations_come_back_equal(toy, tmp_path) -> None:
    _, pipe, _, texts = toy
    lime = TextLime(pipe, tmp_path, seed=3)
    first = lime(texts[0], 100, also=(1,))
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = lime(texts[0], 100, also=(1,))
    assert again["text"] == first["text"] and again["case_folded"] is True
    np.testing.assert_allclose(again["weights_all"], first["weights_all"])
    assert list(again["words"]) == list(first["words"]) and again["seed"] == 3


def test_the_html_snippet_colours_every_word_and_states_the_convention(toy) -> None:
    _, pipe, test, texts = toy
    r = lime_text(pipe, texts[0], 200, seed=0)
    snippet = highlight_html(r, texts[0], class_name="Apples & co")
    assert snippet.count("<span") == len(words_of(texts[0])) + 2  # + the legend's two
    assert "Apples &amp; co" in snippet and "towards" in snippet and "away" in snippet
    deciding = next(w for w in DECIDING if w in r["text"])
    original = next(w for w in texts[0].replace(".", " ").split() if w.lower() == deciding)
    top = max(r["weights"])
    assert f'title="{top:+.4f}">{original}</span>' in snippet, "the original case is shown"
    assert word_colour(top, top)[0] > word_colour(-top, top)[0], "towards is red"
    cut = highlight_html(r, texts[0], max_words=2)
    assert cut.count("<span") == 2 + 2 and "first 2 words" in cut


def test_late_fusion_parts_add_up_to_the_fused_probability() -> None:
    rng = np.random.default_rng(0)
    p_img, p_txt = rng.dirichlet(np.ones(4), 50), rng.dirichlet(np.ones(4), 50)
    parts = fusions.late_parts(0.3, p_img, p_txt, y=rng.integers(0, 4, 50))
    mixed = families.LateFusionModel.mix(0.3, p_img, p_txt)
    n = np.arange(50)
    np.testing.assert_allclose(parts["predicted"], mixed.argmax(1))
    np.testing.assert_allclose(parts["photo_part"] + parts["text_part"], parts["probability"])
    np.testing.assert_allclose(parts["probability"], mixed[n, mixed.argmax(1)])
    np.testing.assert_allclose(parts["photo_part"], 0.3 * p_img[n, mixed.argmax(1)])
    assert ((parts["photo_share"] >= 0) & (parts["photo_share"] <= 1)).all()
    text_only = fusions.late_parts(0.0, p_img, p_txt)
    assert (text_only["photo_share"] == 0).all() and (text_only["photo_part"] == 0).all()


def test_block_shapley_is_exact() -> None:
    rng = np.random.default_rng(1)
    a, b, c = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    ma, mb, mc = a.mean(0) * 0 + 0.5, b.mean(0) * 0 - 0.2, np.zeros(1)

    def additive(X):  # g(a) + h(b); the third block is ignored
        v = np.tanh(X[:, :3]).sum(1) + X[:, 3:5].sum(1) ** 2
        return np.stack([-v, v], axis=1)

    s = fusions.block_shapley(additive, [a, b, c], [ma, mb, mc], label=1)
    v = lambda X: additive(X)[:, 1]
    np.testing.assert_allclose(s["phi"].sum(1), s["v_all"] - s["v_none"], atol=1e-9)
    full = np.hstack([a, b, c])
    only_b_out = np.hstack([a, np.broadcast_to(mb, b.shape), c])
    np.testing.assert_allclose(s["phi"][:, 0], np.tanh(a).sum(1) - np.tanh(ma).sum(), atol=1e-6)
    np.testing.assert_allclose(s["phi"][:, 1], v(full) - v(only_b_out), atol=1e-5)
    np.testing.assert_allclose(s["phi"][:, 2], 0, atol=1e-9)

    def product(X):  # an interaction: each of two blocks gets half of it
        v = X[:, 0] * X[:, 1]
        return np.stack([1 - v, v], axis=1)

    x, z = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
    two = fusions.block_shapley(product, [x, z], [np.zeros(1), np.zeros(1)], label=1)
    np.testing.assert_allclose(two["phi"][:, 0], two["phi"][:, 1])
    np.testing.assert_allclose(two["phi"].sum(1), (x * z)[:, 0], atol=1e-6)


def test_the_errors_table_names_the_words_and_what_the_photos_said(toy) -> None:
    fitted, pipe, test, texts = toy
    rows = test.copy()
    rows.loc[0, "label"] = "Bread" if rows.loc[0, "label"] != "Bread" else "Cheese"
    proba = pipe(texts)
    wrong = np.flatnonzero(proba.argmax(1) != rows["label"].map(CLASSES.index).to_numpy())
    assert list(wrong) == [0]
    y0 = CLASSES.index(rows.loc[0, "label"])
    lime = {0: lime_text(pipe, texts[0], 300, seed=0, also=(y0,))}
    photo = {"clip-probe": np.eye(3)[[y0] * len(rows)], "vgg16-probe": np.eye(3)[[2] * len(rows)]}
    table = text_study.text_errors(rows, proba, CLASSES, lime, photo, k=2)
    assert len(table) == 1 and table.loc[0, "true"] == rows.loc[0, "label"]
    deciding = next(w for w in DECIDING if w in texts[0].lower())
    assert table.loc[0, "words towards predicted"].startswith(deciding)
    assert bool(table.loc[0, "clip-probe right"]) and table.loc[0, "clip-probe"].startswith(
        rows.loc[0, "label"]
    )
    record = text_study.errors_record(table, len(rows), ["clip-probe", "vgg16-probe"])
    assert record["misclassified"] == 1 and record["photo_right"]["clip-probe"] == 1
    json.dumps(record, default=runs.jsonable)
    none = text_study.text_errors(test, proba, CLASSES, {}, photo)
    assert none.empty and list(none.columns) == list(table.columns)
    assert text_study.errors_record(none, len(test), ["clip-probe"])["photo_right"] == {
        "clip-probe": 0
    }


def test_plots_draw_the_text_figures(toy, tmp_path) -> None:
    fitted, pipe, test, texts = toy
    long_text = texts[0] + ". " + " ".join(FILLERS * 12)
    results = [lime_text(pipe, t, 200, seed=0) for t in (texts[0], texts[5], long_text)]
    headers = [
        f"{test.loc[i, 'label']}: predicted {CLASSES[r['label']]}"
        for i, r in zip((0, 5, 0), results)
    ]
    headers[2] = "A Very Long Category Name That A Team's Own Catalog Might Use: " * 3 + "end"
    fig = plots.text_explanations(
        results, [texts[0], texts[5], long_text], headers, max_words=40, name="text-tfidf"
    )
    assert fig.get_size_inches()[0] * 150 == pytest.approx(1000, rel=0.01)
    drawn = [t.get_text() for t in fig.findobj(Text)]
    assert " ".join(headers[2].split()) in [" ".join(t.split()) for t in drawn]  # wrapped, whole
    assert plots.facts_of(fig) == {"name": "text-tfidf", "products": 3}
    fig.savefig(tmp_path / "words.png", dpi=150, bbox_inches="tight")
    assert 900 <= Image.open(tmp_path / "words.png").width <= 1100
    by_cat = {c: [results[0]] for c in CLASSES}
    words = category_words(by_cat)
    coef = tfidf_coefficients(fitted)
    agree = coefficient_agreement(words, coef)
    plots.word_importance(words, coef, agree, n=5, counts={c: 1 for c in CLASSES}).savefig(
        tmp_path / "importance.png"
    )
    plots.word_importance(words).savefig(tmp_path / "importance_lime_only.png")
    items = [(0, test.loc[0, "label"]), (5, test.loc[5, "label"])]
    st = stability_check(pipe, texts, test, items, [20, 50], [0, 1], k=2, progress=False)
    de = faithfulness_check(pipe, results[:2], test, items, steps=4, random_orders=2)
    fig = plots.text_trust({"text-tfidf": (st, de), "clip-text": (st, de)})
    assert fig.axes[1].get_xlim() == (0, 1) and fig.axes[1].get_ylim() == (0, 1)
    fig.savefig(tmp_path / "trust.png")
    assert all((tmp_path / f).stat().st_size > 10_000 for f in ("words.png", "trust.png"))


# --------------------------------------------------------------------------- real rows, tiny CLIP
@pytest.fixture(scope="module")
def panel(small_split, tmp_path_factory) -> Panel:
    settings = Settings(
        clip_model="tiny-random",
        vgg_weights="tiny-random",
        device="cpu",
        precision="float32",
        epochs=4,
        probe_cs=(0.1, 1.0),
    )
    return Panel(
        Layout(tmp_path_factory.mktemp("data")),
        settings,
        small_split.labels(),
        small_split.split_id,
        progress=False,
    )


@pytest.fixture(scope="module")
def fitted(panel, small_split) -> dict:
    names = ["clip-probe", "text-tfidf", "clip-text", "fusion-late", "fusion-early"]
    return fitting.fit_all(names, panel, small_split.train, small_split.val, progress=False)


def test_clip_text_is_explained_through_the_text_tower(panel, fitted, small_split) -> None:
    test = small_split.test_for_final_evaluation()
    clip_text = fitted["clip-text"]
    pipe = TextPipeline(clip_text, panel, batch_size=16)
    names = model_texts("clip-text", test)
    assert names == test["product_name"].tolist()
    np.testing.assert_allclose(
        pipe(names), clip_text.predict_proba(panel, test), rtol=1e-4, atol=1e-5
    )
    with pytest.raises(ValueError, match="panel"):
        TextPipeline(clip_text)
    i = int(np.argmin([len(n) for n in names]))
    before = pipe.calls
    r = lime_text(pipe, names[i], num_samples=200, seed=0)
    assert r["case_folded"], "CLIP's tokenizer lower-cases: the name is explained case-folded"
    assert list(r["words"]) == words_of(names[i].lower()) and np.isfinite(r["weights"]).all()
    assert pipe.calls - before <= min(200, 2 ** len(r["words"])) + 2, "perturbations remembered"
    curve = deletion_curve(pipe, r, photos.ranking(r["weights"]), steps=4)
    assert curve.shape == (5,) and curve[0] == pytest.approx(r["probability"])
    with pytest.raises(ValueError, match="text-tfidf and clip-text"):
        model_texts("fusion-early", test)


def test_fusion_candidates_split_into_photo_and_text(panel, fitted, small_split, tmp_path) -> None:
    test = small_split.test_for_final_evaluation()
    assert fusions.fusion_candidates(list(fitted)) == ["fusion-late", "fusion-early"]
    assert text_study.text_candidates(list(fitted)) == ["text-tfidf", "clip-text"]
    summaries, per_cat = {}, {}
    for name in ("fusion-late", "fusion-early"):
        parts = fusions.modality_parts(fitted[name], panel, test, small_split.train)
        proba = fitted[name].predict_proba(panel, test)
        n = np.arange(len(test))
        np.testing.assert_allclose(parts["predicted"], proba.argmax(1))
        np.testing.assert_allclose(parts["probability"], proba[n, proba.argmax(1)], rtol=1e-5)
        np.testing.assert_allclose(
            parts["base"] + parts["photo_part"] + parts["text_part"],
            parts["probability"],
            atol=1e-6,
        )
        np.testing.assert_array_equal(parts["true"], panel.y(test))
        per_cat[name] = fusions.modality_by_category(parts, test)
        assert per_cat[name]["products"].sum() == len(test)
        summaries[name] = fusions.modality_summary(
            name, parts, test, panel.classes, {"baseline": "training mean"}
        )
        json.dumps(summaries[name])
    late = fitted["fusion-late"]
    p_img = late.members[0].predict_proba(panel, test)
    parts = fusions.modality_parts(late, panel, test, small_split.train)
    np.testing.assert_allclose(
        parts["photo_part"], late.weight * p_img[np.arange(len(test)), parts["predicted"]]
    )
    early = fitted["fusion-early"]
    X = panel.inputs(early.candidate.inputs, test)
    dim = panel.features("clip-image", test).shape[1]
    means = panel.inputs(early.candidate.inputs, small_split.train).mean(0)
    none = early.predict_vectors(np.broadcast_to(means, X.shape).astype(np.float32))
    photo_only = early.predict_vectors(
        np.hstack([X[:, :dim], np.broadcast_to(means[dim:], (len(X), X.shape[1] - dim))])
    )
    parts = fusions.modality_parts(early, panel, test, small_split.train)
    k = parts["predicted"].to_numpy()
    np.testing.assert_allclose(parts["base"], none[np.arange(len(k)), k], rtol=1e-5)
    np.testing.assert_array_equal(parts["photo_predicted"], photo_only.argmax(1))
    table = fusions.disagreements(parts, test, panel.classes, fusions.sides("fusion-early"))
    assert len(table) == summaries["fusion-early"]["disagreements"]["products"]
    plots.modality_shares(per_cat).savefig(tmp_path / "shares.png")
    both = fusions.disagreements(
        fusions.modality_parts(late, panel, test, small_split.train),
        test,
        panel.classes,
        fusions.sides("fusion-late"),
    )
    plots.modality_disagreements(pd.concat([both, table]).head(3)).savefig(tmp_path / "dis.png")
    plots.modality_disagreements(table.iloc[:0]).savefig(tmp_path / "none.png")
    verdict = prose.text_verdict({"fusion": summaries})
    assert "fusion-late" in verdict and "fusion-early" in verdict and "% of the decision" in verdict


def test_text_tfidf_on_real_rows_end_to_end(panel, fitted, small_split) -> None:
    """The notebook's path on real products: explain, average per category, check against the
    coefficients, stability, deletion, errors, and the verdict."""
    test = small_split.test_for_final_evaluation()
    tfidf = fitted["text-tfidf"]
    pipe = TextPipeline(tfidf)
    texts = model_texts("text-tfidf", test)
    proba = tfidf.predict_proba(panel, test)
    correct = proba.argmax(1) == panel.y(test)
    lime = TextLime(pipe, seed=0)
    checked = photos.per_category(test, correct, 1, only_correct=False)
    items = photos.round_robin(checked, 1)
    st = stability_check(
        pipe, texts, test, items, [100, 400], [0, 1], k=5, explainer=lime, progress=False
    )
    results = [lime(texts[i], st["chosen"]) for i, _ in items]
    de = faithfulness_check(pipe, results, test, items, steps=5, random_orders=3)
    chosen = photos.per_category(test, correct, 3)
    words = category_words(
        {c: [lime(texts[i], st["chosen"]) for i in idx] for c, idx in chosen.items()}
    )
    agree = coefficient_agreement(words, tfidf_coefficients(tfidf))
    assert agree["overall"]["pairs"] > 20
    wrong = np.flatnonzero(~correct)
    y = panel.y(test)
    err = text_study.text_errors(
        test,
        proba,
        panel.classes,
        {int(i): lime(texts[i], st["chosen"], also=(int(y[i]),)) for i in wrong},
        {"clip-probe": fitted["clip-probe"].predict_proba(panel, test)},
    )
    assert len(err) == len(wrong)
    summary = {
        "text": {
            "text-tfidf": {
                "stability": st,
                "deletion": de,
                "coefficients": agree,
                "errors": text_study.errors_record(err, len(test), ["clip-probe"]),
                "timing": timing(tfidf, panel, [texts[i] for i, _ in items[:2]], 100),
                "examples": [
                    example_record(test, i, r, panel.classes) for (i, _), r in zip(items, results)
                ],
            }
        }
    }
    json.dumps(summary, default=runs.jsonable)
    assert summary["text"]["text-tfidf"]["timing"]["device"] == "cpu"
    verdict = prose.text_verdict(summary)
    assert verdict.startswith("**text-tfidf** (reads the product name and description)")
    assert "Spearman" in verdict and f"of {len(test)} test products" in verdict
    assert "(median over 2 products" in verdict


def test_boilerplate_counts_top_words_common_to_every_kind_of_product() -> None:
    words = {
        "Watches": pd.DataFrame(
            {"mean_weight": [0.3, 0.2, 0.1]}, index=["watch", "flipkart", "for"]
        ),
        "Mugs": pd.DataFrame({"mean_weight": [0.4, 0.1]}, index=["mug", "flipkart"]),
    }
    texts = ["Buy watch at Flipkart.com", "Ceramic mug at flipkart", "Lamp for the desk, flipkart"]
    bp = boilerplate(words, texts, k=3, threshold=0.5)
    assert bp["pairs"] == 5 and bp["common_pairs"] == 2 and bp["share"] == pytest.approx(0.4)
    assert bp["examples"] == ["flipkart"]  # "for" is in 1 of 3 texts, "watch" and "mug" in 1
