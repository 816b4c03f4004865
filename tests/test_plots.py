"""The figures as drawn: the error table in fixed columns, the labels of the cost figure apart,
the loss-curve panels laid out to the candidates, each fusion panel on its own scale, no category
name cut, and the facts each figure hands its caption."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from utils.report import plots, prose  # noqa: E402
from utils.report.plots import style  # noqa: E402
from utils.report.plots.training import panel_grid  # noqa: E402

FLIPKART = [
    "Baby Care",
    "Beauty and Personal Care",
    "Computers",
    "Home Decor & Festive Needs",
    "Home Furnishing",
    "Kitchen & Dining",
    "Watches",
]
LONG = [*FLIPKART, "Garden Tools, Outdoor Furniture and Barbecue Accessories Extraordinaire"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def assert_nothing_cut(fig, names) -> None:
    """No text of ``fig`` ends a word with "…", and every name reads whole once line breaks are
    taken as spaces."""
    drawn = texts(fig)
    assert not [t for t in drawn if "…" in t], [t for t in drawn if "…" in t]
    flat = " ".join(" ".join(t.split()) for t in drawn)
    for name in names:
        assert name in flat, f"{name!r} is not drawn whole"


def boxes_overlap(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


# ---- the shared helpers
def test_labels_wrap_and_never_cut() -> None:
    assert style._label("Home Decor & Festive Needs", 14) == "Home Decor &\nFestive Needs"
    assert style._label("Home Furnishing >> Bed Linen", 30) == "Bed Linen"
    long = "Extraordinarily-long-single-word-category"
    assert style._label(long, 10) == long  # a word longer than the width stays whole
    name = "word " * 40
    three = style._lines(name, 20, 3)
    assert three.count("\n") == 2 and three.endswith("…")
    assert style._lines("Airtel B310s-927", 20, 3) == "Airtel B310s-927"


# ---- Figure 15: the errors
def _errors(tmp_path, n: int, classes=FLIPKART) -> pd.DataFrame:
    rows = []
    for k in range(n):
        path = tmp_path / f"p{k}.png"
        Image.new("RGB", (40, 30 + k), (20 * k % 255, 90, 160)).save(path)
        rows.append(
            {
                "path": str(path),
                "product_name": f"Product {k} "
                + "with a rather long descriptive name that goes on " * (k % 3),
                "true": classes[k % len(classes)],
                "predicted": classes[(k + 3) % len(classes)],
                "probability": 0.9 - 0.05 * k,
                "p_true": 0.05,
            }
        )
    return pd.DataFrame(rows)


def test_error_table_shows_n_of_m_in_aligned_columns(tmp_path) -> None:
    errors = {"text-tfidf": _errors(tmp_path, 8), "clip-head": _errors(tmp_path, 2)}
    fig = plots.error_gallery(errors, per_model=6)
    facts = plots.facts_of(fig)
    assert facts["names"] == ["text-tfidf", "clip-head"]
    assert facts["shown"] == {"text-tfidf": 6, "clip-head": 2}
    assert facts["errors"] == {"text-tfidf": 8, "clip-head": 2}
    assert len(facts["products"]["text-tfidf"]) == 6
    drawn = texts(fig)
    assert "text-tfidf: 6 of 8 errors shown, most confident first" in drawn
    assert "clip-head: 2 of 2 errors shown, most confident first" in drawn
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # one thumbnail per row shown, and the cells of each column start at the same x
    assert len([ax for ax in fig.axes if ax.images]) == 8
    for key in ("name", "true", "predicted", "probability", "loss"):
        cells = [t for t in fig.findobj(Text) if t.get_gid() == f"error-{key}"]
        assert len(cells) == 8
        assert len({round(t.get_position()[0], 6) for t in cells}) == 1
    # the loss is −ln p(true)
    assert {t.get_text() for t in fig.findobj(Text) if t.get_gid() == "error-loss"} == {"3.00"}
    # no cell runs into the next column
    order = ["name", "true", "predicted", "probability", "loss"]
    by_row: dict[float, dict[str, Text]] = {}
    for t in fig.findobj(Text):
        if (t.get_gid() or "").startswith("error-"):
            by_row.setdefault(round(t.get_position()[1], 6), {})[t.get_gid()[6:]] = t
    for row in by_row.values():
        extents = [row[k].get_window_extent(renderer) for k in order]
        for a, b in zip(extents, extents[1:]):
            assert a.x1 < b.x0
    # categories whole; a product name cut only beyond three lines, its full name in the facts
    categories = [t for t in fig.findobj(Text) if t.get_gid() in ("error-true", "error-predicted")]
    assert not [t for t in categories if "…" in t.get_text()]
    flat = " ".join(" ".join(t.get_text().split()) for t in categories)
    assert all(c in flat for c in FLIPKART)
    products = [t.get_text() for t in fig.findobj(Text) if t.get_gid() == "error-name"]
    assert all(p.count("\n") <= 2 for p in products)
    cut = [p for p in products if p.endswith("…")]
    assert cut and all(p.count("\n") == 2 for p in cut)
    full = errors["text-tfidf"]["product_name"].head(6).tolist()
    assert facts["products"]["text-tfidf"] == full


def test_error_table_without_errors_says_so(tmp_path) -> None:
    fig = plots.error_gallery({"text-tfidf": _errors(tmp_path, 0)})
    assert "text-tfidf: no test error" in texts(fig)
    assert plots.facts_of(fig)["shown"] == {"text-tfidf": 0}


# ---- Figure 22: loss curves
@pytest.mark.parametrize(
    "n, grid", [(1, (1, 1)), (2, (1, 2)), (3, (1, 3)), (4, (2, 2)), (6, (2, 3)), (8, (2, 4))]
)
def test_panels_are_laid_out_to_the_candidates(n, grid) -> None:
    assert panel_grid(n) == grid


def _history(epochs: int) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": e,
            "train_loss": 2.0 - 0.1 * e,
            "val_loss": 2.1 - 0.05 * e,
            "train_acc": 0.1 * e,
            "val_acc": 0.08 * e,
        }
    )


def test_every_loss_panel_has_integer_epoch_ticks_and_no_empty_cell_shows() -> None:
    names = ["clip-head-aug", "vgg16-head-aug", "clip-finetune", "vgg16-finetune", "x", "y"]
    histories = {n: _history(6 if "head" in n else 3) for n in names[:5]}
    fig = plots.loss_curves(histories, {n: 2 for n in histories}, 7)
    fig.canvas.draw()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5
    for ax in shown:
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert labels and all(s.lstrip("−-").isdigit() for s in labels), labels
        assert ax.get_ylim() == shown[0].get_ylim()  # the loss axis is shared
    assert plots.facts_of(fig)["names"] == list(histories)


# ---- Figure 24: accuracy against cost
def _table(names, rng) -> pd.DataFrame:
    acc = rng.choice([0.09, 0.09, 0.18, 0.27, 0.55, 0.64], size=len(names))
    return pd.DataFrame(
        {"accuracy": acc, "accuracy_low": acc - 0.08, "accuracy_high": acc + 0.2}, index=names
    )


@pytest.mark.parametrize("n, numbered", [(2, None), (16, None), (16, False)])
def test_cost_labels_sit_beside_their_points_without_overlapping(n, numbered) -> None:
    rng = np.random.default_rng(0)
    names = [f"candidate-{k}-{'aug' if k % 2 else 'head'}" for k in range(n)]
    table = _table(names, rng)
    ms = {m: float(v) for m, v in zip(names, rng.uniform(25, 80, size=n))}
    reads = {m: ("image", "text", "image+text")[k % 3] for k, m in enumerate(names)}
    fig = plots.accuracy_cost(
        table, ms, {m: 45 for m in names}, reads, 7, device="cpu", numbered=numbered
    )
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in fig.findobj(Text) if (t.get_gid() or "").startswith("label:")]
    assert len(labels) == n
    key = [t for t in fig.findobj(Text) if (t.get_gid() or "").startswith("key:")]
    facts = plots.facts_of(fig)
    if n > 8 and numbered is None:  # numbers at the points, the names in a key
        assert sorted(t.get_text() for t in labels) == sorted(str(k) for k in range(1, n + 1))
        assert len(key) == n + 1
        assert sorted(facts["numbered"]) == sorted(names)
        for name, k in facts["numbered"].items():
            assert key[k].get_text().startswith(f"{name}: ")
    else:  # the names beside the points
        assert not key and not facts["numbered"]
        assert sorted(t.get_text() for t in labels) == sorted(f"{m} (45 labels)" for m in names)
    extents = [Text.get_window_extent(t, renderer) for t in labels + key]  # text, not its line
    for i, a in enumerate(extents):
        for b in extents[i + 1 :]:
            assert not boxes_overlap(a, b)
    assert sorted(facts["names"]) == sorted(names) and facts["device"] == "cpu"
    # no leader line runs through another label or crosses another leader
    leaders = []
    for t in labels:
        if t.arrow_patch is None:
            continue
        box = Text.get_window_extent(t, renderer)
        end = (box.x0, box.y0 + box.height / 2)
        if t.get_horizontalalignment() == "right":
            end = (box.x1, end[1])
        leaders.append((t, tuple(t.axes.transData.transform(t.xy)), end))
    for t, p, q in leaders:
        along = [
            (p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1])) for f in np.linspace(0, 1, 60)
        ]
        for other, box in zip(labels, extents):
            if other is not t:
                shrunk = (box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1)
                assert not any(
                    shrunk[0] < x < shrunk[2] and shrunk[1] < y < shrunk[3] for x, y in along
                ), f"the line of {t.get_text()!r} runs through {other.get_text()!r}"
    for i, (_, p, q) in enumerate(leaders):
        for _, r, u in leaders[i + 1 :]:
            assert not _cross((p, q), (r, u))


def _cross(a, b) -> bool:
    def side(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    (p, q), (r, t) = a, b
    return side(p, q, r) * side(p, q, t) < 0 and side(r, t, p) * side(r, t, q) < 0


# ---- Figure 28: the fusions' parts
def test_each_fusion_panel_has_its_own_scale() -> None:
    index = pd.Index(FLIPKART, name="category")
    late = pd.DataFrame(
        {
            "products": 10,
            "base": 0.0,
            "photo_part": np.linspace(0.2, 0.6, 7),
            "text_part": np.linspace(0.3, 0.1, 7),
            "photo_share": 0.5,
        },
        index=index,
    )
    early = late.assign(photo_part=late["photo_part"] / 100, text_part=-late["text_part"] / 200)
    early["base"] = 0.14
    fig = plots.modality_shares({"fusion-late": late, "fusion-early": early})
    a, b = [ax for ax in fig.axes if ax.patches]
    assert a.get_xlim() != b.get_xlim()
    assert b.get_xlim()[1] < 0.05 < a.get_xlim()[1]
    assert b.get_xlim()[0] < 0  # the negative part shows
    assert "own" in a.get_xlabel() and "own" in b.get_xlabel()
    assert plots.facts_of(fig)["names"] == ["fusion-late", "fusion-early"]
    assert_nothing_cut(fig, FLIPKART)


# ---- no category name cut anywhere
def test_confusion_axes_show_whole_names() -> None:
    n = len(LONG)
    cm = (np.eye(n, dtype=int) * 5 + 1).tolist()
    fig = plots.confusion_matrices({"clip-head": cm, "text-tfidf": cm}, LONG)
    assert_nothing_cut(fig, LONG)
    assert plots.facts_of(fig)["names"] == ["clip-head", "text-tfidf"]


def test_catalog_figures_show_whole_names() -> None:
    counts = pd.Series(range(5, 5 + len(LONG)), index=LONG)
    fig = plots.category_counts(counts)
    assert_nothing_cut(fig, LONG)
    split = pd.DataFrame({"train": counts, "val": 2, "test": 3})
    assert_nothing_cut(plots.split_figure(split), LONG)


def test_global_maps_and_word_panels_show_whole_names() -> None:
    maps = {c: np.zeros((8, 8)) for c in LONG}
    fig = plots.global_maps(maps, {c: 2 for c in LONG}, {}, left_out=["Toys"])
    assert_nothing_cut(fig, LONG)
    assert plots.facts_of(fig)["left_out"] == ["Toys"]
    words = {
        c: pd.DataFrame({"mean_weight": [0.3, 0.1]}, index=["alpha", "beta"]) for c in LONG[:3]
    }
    fig = plots.word_importance(words, name="text-tfidf")
    assert_nothing_cut(fig, LONG[:3])
    assert plots.facts_of(fig)["name"] == "text-tfidf"


def test_disagreements_show_whole_category_names(tmp_path) -> None:
    path = tmp_path / "p.png"
    Image.new("RGB", (30, 40), "white").save(path)
    table = pd.DataFrame(
        [
            {
                "path": str(path),
                "product": "Tallenge Christmas Collection - Nativity Art - G",
                "true": LONG[-1],
                "fused": LONG[3],
                "fused_probability": 0.6,
                "photo_side": "clip-head",
                "photo": LONG[1],
                "photo_probability": 0.7,
                "text_side": "text-tfidf",
                "text": LONG[-1],
                "text_probability": 0.55,
            }
        ]
        * 3
    )
    fig = plots.modality_disagreements(table, max_shown=2, name="fusion-late")
    assert_nothing_cut(fig, [LONG[-1], LONG[3], LONG[1], table["product"][0]])
    assert plots.facts_of(fig) == {"name": "fusion-late", "shown": 2, "of": 3}


# ---- what each figure hands its caption
def test_curves_and_budget_describe_what_they_drew() -> None:
    fig = plots.log_loss_curve(np.array([0.1, 2.0, 0.5]), "clip-head", 7)
    assert plots.facts_of(fig)["name"] == "clip-head"
    histories = {"clip-head": _history(4), "vgg16-head": _history(4)}
    fig = plots.learning_curves(histories, {"clip-head": 2, "vgg16-head": 3}, 7)
    assert plots.facts_of(fig)["names"] == ["clip-head", "vgg16-head"]
    summary = pd.DataFrame(
        {
            "candidate": ["clip-probe"] * 2 + ["text-tfidf"] * 2,
            "k": [1, "all"] * 2,
            "mean": [0.3, 0.6, 0.4, 0.8],
            "min": [0.2, 0.6, 0.3, 0.8],
            "max": [0.4, 0.6, 0.5, 0.8],
        }
    )
    fig = plots.label_budget(summary, 7, {"clip-probe": "image", "text-tfidf": "text"})
    assert plots.facts_of(fig) == {
        "names": ["clip-probe", "text-tfidf"],
        "zeroshot": False,
        "x_scale": "evenly spaced steps of k, not to scale",
    }
    fig = plots.label_budget(summary, 7, {}, zeroshot=0.5)
    assert plots.facts_of(fig)["zeroshot"] is True


def test_facts_are_plain_json(tmp_path) -> None:
    import json

    rng = np.random.default_rng(1)
    names = ["clip-head", "text-tfidf"]
    cm = (np.eye(7, dtype=int) * 3).tolist()
    figs = [
        plots.error_gallery({"text-tfidf": _errors(tmp_path, 3)}),
        plots.accuracy_cost(_table(names, rng), {"clip-head": 30.0, "text-tfidf": 1.5}, {}, {}, 7),
        plots.loss_curves({"clip-finetune": _history(3)}, {"clip-finetune": np.int64(2)}, 7),
        plots.confusion_matrices({"clip-head": cm}, FLIPKART, max_categories=5),
        plots.duplicate_groups(
            pd.DataFrame({"image": [], "path": [], "label": []}), pd.DataFrame()
        ),
    ]
    for fig in figs:
        facts = plots.facts_of(fig)
        assert facts and json.loads(json.dumps(facts)) == facts


# ---- read at the note's width, and what each figure says it drew
NOTE_PX, DPI = 960, 150


def _width_px(fig) -> float:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).width


def _shown_px(fig, points: float) -> float:
    """How many pixels a font of ``points`` takes once the saved figure is shown at the note's
    width (960 px; never enlarged)."""
    return points * DPI / 72 * min(1.0, NOTE_PX / _width_px(fig))


def _evaluation() -> dict:
    table = {
        n: {"accuracy": a, "accuracy_low": max(0.0, a - 0.1), "accuracy_high": min(1.0, a + 0.1)}
        for n, a in (("text-tfidf", 0.9), ("pixels-classic", 0.6), ("fusion-late", 0.0))
    }
    return {
        "table": table,
        "reads": {"text-tfidf": "text", "pixels-classic": "image", "fusion-late": "image+text"},
        "stand_in": ["fusion-late"],
        "recommendation": {"candidate": "text-tfidf", "called": "the recommendation"},
        "classes": FLIPKART,
    }


def test_the_headline_legend_shows_what_the_plot_draws() -> None:
    from matplotlib.colors import to_rgb

    fig = plots.headline(_evaluation())
    (legend,) = fig.legends
    entries = {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legend_handles)}
    photo, text = fig.axes  # the photo candidates' panel, then the others'
    # shapes for what a candidate reads, in a neutral colour, whatever colour its row is drawn in
    for what in ("reads the photo", "reads the text", "reads the photo + text"):
        assert to_rgb(entries[what].get_color()) == to_rgb(plots.summary.NEUTRAL)
    # each colour drawn has its entry, in that colour
    drawn = {
        to_rgb(line.get_color())
        for ax in fig.axes
        for line in ax.lines
        if line.get_marker() not in ("", "None")
    }
    assert to_rgb(entries["the recommendation (bold)"].get_color()) in drawn
    assert to_rgb(entries["† stand-in weights"].get_color()) in drawn
    assert to_rgb(entries["other candidates (no stand-in weights)"].get_color()) in drawn
    # each band with its own colour and name, in the photo panel only
    spans = [p for p in photo.patches if p.get_width() < 1]
    bands = [h for t, h in entries.items() if t.startswith("original note: ")]
    assert len(bands) == len(spans) == 2
    assert {to_rgb(h.get_facecolor()) for h in bands} == {to_rgb(p.get_facecolor()) for p in spans}
    assert "original note: CLIP head 90% ± 5 points" in entries
    assert plots.facts_of(fig)["legend"] == list(entries)
    low, high = text.get_xlim()
    assert low < 0 and high > 1  # a marker at 0% shows whole


def test_the_headline_never_draws_a_text_candidate_against_the_photo_claims() -> None:
    """The original note's claims are about photos: they are shaded beside the candidates that
    read the photo, never behind a text candidate; with no photo candidate they are not drawn."""
    ev = _evaluation()
    fig = plots.headline(ev)
    photo, text = fig.axes
    assert [t.get_text() for t in photo.get_yticklabels()] == ["pixels-classic [photo]"]
    assert {t.get_text().split(" ")[0] for t in text.get_yticklabels()} == {
        "text-tfidf",
        "fusion-late",
    }
    assert [p for p in photo.patches if p.get_width() < 1]
    assert not [p for p in text.patches if p.get_width() < 1]
    facts = plots.facts_of(fig)
    assert facts["photo"] == ["pixels-classic"] and facts["other"] == ["text-tfidf", "fusion-late"]
    caption = prose.caption("headline", facts)
    assert "in a panel of their own, without the photo claims" in caption
    only_text = {**ev, "table": {"text-tfidf": ev["table"]["text-tfidf"]}}
    fig = plots.headline(only_text)
    (ax,) = fig.axes
    assert not [p for p in ax.patches if p.get_width() < 1]
    assert not [t for t in fig.legends[0].get_texts() if "original" in t.get_text()]
    assert "the original note's photo claims are not drawn" in prose.caption(
        "headline", plots.facts_of(fig)
    )


def test_the_loss_legend_sits_outside_the_data_and_counts_products() -> None:
    fig = plots.log_loss_curve(np.array([0.01] * 50 + [2.0, 0.5]), "text-tfidf", 7)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert not any(ax.get_legend() for ax in fig.axes)
    (legend,) = fig.legends
    assert not boxes_overlap(legend.get_window_extent(renderer), fig.axes[0].get_window_extent())
    labels = [t.get_text() for t in legend.get_texts()]
    assert "text-tfidf: 52 test products" in labels and not any("images" in t for t in labels)
    assert plots.facts_of(fig)["products"] == 52


def _lime_inputs():
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 200, np.uint8)
    seg = (np.arange(64)[:, None] // 8) * 8 + (np.arange(64)[None, :] // 8)

    def result(n, label):
        return {
            "segments": seg,
            "weights": rng.normal(size=64),
            "num_samples": n,
            "score": 0.9,
            "label": label,
            "probability": 0.8,
        }

    return [image, image], [result(100, 3), result(100, 6)], [result(250, 3), result(250, 6)]


def test_photo_figures_are_readable_at_the_notes_width() -> None:
    from types import SimpleNamespace

    images, at_note, at_chosen = _lime_inputs()
    rng = np.random.default_rng(1)
    shap_values = SimpleNamespace(
        values=rng.normal(size=(7, 32, 32, 3, 1)), data=np.full((7, 32, 32, 3), 0.5)
    )
    maps = {c: rng.normal(size=(16, 16)) for c in FLIPKART}
    figures = {
        "lime": plots.lime_examples(images, at_note, at_chosen, FLIPKART),
        "shap": plots.shap_figure(shap_values, FLIPKART, true_labels=FLIPKART[::-1]),
        "global": plots.global_maps(maps, {c: 3 for c in FLIPKART}, {}),
    }
    for key, fig in figures.items():
        titles = [ax.title for ax in fig.axes if ax.title.get_text()]
        titles += [t for ax in fig.axes for t in (ax._left_title,) if t.get_text()]
        assert titles, key
        smallest = min(t.get_fontsize() for t in titles)
        assert _shown_px(fig, smallest) >= 13, (key, smallest, _width_px(fig))
    drawn = texts(figures["shap"])
    assert not [t for t in drawn if "said" in t]
    assert "true: Watches\npredicted: Baby Care" in drawn
    # with the probability of each prediction, the SHAP map drawn over the photo it explains
    probs = list(np.linspace(0.3, 0.9, 7))
    fig = plots.shap_figure(shap_values, FLIPKART, FLIPKART[::-1], probs)
    assert "true: Watches\npredicted: Baby Care\nprobability 0.30" in texts(fig)
    heat = fig.axes[1]
    assert len(heat.images) == 2  # the photo, then its map over it
    assert heat.images[1].get_extent() == heat.images[0].get_extent()
    assert plots.facts_of(fig)["probabilities"][0] == 0.3
    caption = prose.caption("shap", plots.facts_of(fig))
    assert "with the probability of the prediction" in caption and "over it" in caption
    assert_nothing_cut(figures["lime"], ["Home Decor & Festive Needs", "Watches"])


def test_the_word_deletion_panel_has_chance_like_the_photo_one() -> None:
    stable = {
        "median_jaccard": {"50": 0.5, "100": 0.8},
        "per_product": [{"50": {"mean_jaccard": 0.5}, "100": {"mean_jaccard": 0.8}}],
        "settings": {"threshold": 0.7, "top_k": 10, "seeds": [0, 1, 2]},
        "chosen": 100,
    }
    deletion = {
        "curves": {"LIME": [0.6, 0.3, 0.2], "random": [0.6, 0.5, 0.3]},
        "auc": {"LIME": 0.3, "random": 0.5},
        "faithfulness": {
            "LIME": {"images": 7, "mean_gain": 0.2, "gain_low": 0.1, "gain_high": 0.3}
        },
    }
    fig = plots.text_trust({"text-tfidf": (stable, deletion)}, n_classes=7)
    deletion_panel = fig.axes[1]
    chance = [line for line in deletion_panel.lines if line.get_linestyle() == ":"]
    assert len(chance) == 1 and chance[0].get_ydata()[0] == pytest.approx(1 / 7)
    assert plots.facts_of(fig)["chance"] == pytest.approx(1 / 7)
    fig = plots.text_trust({"text-tfidf": (stable, deletion)})  # as before: no chance known
    assert not [line for line in fig.axes[1].lines if line.get_linestyle() == ":"]


def test_each_photo_share_sits_on_its_own_bar_and_says_it_is_of_magnitudes() -> None:
    index = pd.Index(FLIPKART[:3], name="category")
    early = pd.DataFrame(
        {
            "products": 2,
            "base": 0.14,
            "photo_part": [-0.0015, 0.004, 0.0],
            "text_part": [0.015, 0.001, 0.02],
            "photo_share": [0.45, 0.8, 0.0],
        },
        index=index,
    )
    fig = plots.modality_shares({"fusion-early": early})
    ax = [a for a in fig.axes if a.patches][0]
    photo_bars = ax.containers[0]
    shares = {t.get_gid(): t for t in fig.findobj(Text) if (t.get_gid() or "").startswith("share:")}
    assert len(shares) == 3
    for bar, category in zip(photo_bars, FLIPKART[:3]):
        label = shares[f"share:fusion-early:{category}"]
        y = bar.get_y() + bar.get_height() / 2
        assert label.xy[1] == pytest.approx(y)  # on the photo bar's row, not the text bar's
        assert label.get_text().startswith("|photo| share ")
    assert "magnitudes" in fig.legends[0].get_title().get_text()
    assert "|photo part|" in plots.facts_of(fig)["share"]


def test_the_forest_marks_stand_ins_and_keeps_its_notes_off_the_chance_line() -> None:
    names = ["text-tfidf", "clip-head", "vgg16-finetune"]
    table = pd.DataFrame(
        {
            "accuracy": [0.9, 0.3, 0.1],
            "accuracy_low": [0.8, 0.2, 0.0],
            "accuracy_high": [1.0, 0.4, 0.2],
            "macro_f1": [0.9, 0.3, 0.1],
            "macro_f1_low": [0.8, 0.2, 0.0],
            "macro_f1_high": [1.0, 0.4, 0.2],
        },
        index=names,
    )
    repeats = pd.DataFrame({"text-tfidf": [0.9, 0.8], "clip-head": [0.3, 0.2]})
    reads = {n: "image" for n in names} | {"text-tfidf": "text"}
    fig = plots.results_forest(
        table, repeats, "clip-head", reads, 7, stand_in=["clip-head", "vgg16-finetune"]
    )
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "clip-head † [photo] ★" in ticks and "text-tfidf [text]" in ticks
    assert "vgg16-finetune † [photo]" in ticks
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    right = fig.axes[1]
    (note,) = [t for t in right.texts if t.get_gid() == "not-refitted:vgg16-finetune"]
    box = note.get_window_extent(renderer)
    chance_x = right.transData.transform((1 / 7, 0))[0]
    assert not box.x0 <= chance_x <= box.x1
    # the two panel titles never run into each other (the smoke run's did, with its 16
    # candidates' long labels narrowing the left panel)
    from utils.models.candidates import CANDIDATES

    every = list(CANDIDATES)
    wide = pd.DataFrame({c: table.iloc[0] for c in every}).T
    crowded = plots.results_forest(
        wide, repeats, "clip-head", {n: "image" for n in every}, 7, stand_in=every
    )
    crowded.canvas.draw()
    drawn = crowded.canvas.get_renderer()
    left_title, right_title = (ax.title.get_window_extent(drawn) for ax in crowded.axes[:2])
    assert not boxes_overlap(left_title, right_title)
    facts = plots.facts_of(fig)
    assert facts["stand_in"] == ["clip-head", "vgg16-finetune"]
    assert facts["not_refitted"] == ["vgg16-finetune"]
    # without the new argument, as notebook 05 called it: no dagger
    plain = plots.results_forest(table, repeats, "clip-head", reads, 7)
    assert not any("†" in t.get_text() for t in plain.axes[0].get_yticklabels())


def test_cost_labels_at_zero_stay_inside_the_axes_and_the_title_names_the_cost() -> None:
    names = [f"c{k}" for k in range(12)]
    acc = [0.6, 0.5, 0.3, 0.25, 0.2, 0.1, 0.08, 0.08, 0.0, 0.0, 0.0, 0.0]
    table = pd.DataFrame(
        {"accuracy": acc, "accuracy_low": 0.0, "accuracy_high": np.add(acc, 0.2)}, index=names
    )
    ms = dict(zip(names, [0.4, 80, 10, 0.6, 12.6, 91, 99, 13.2, 13.8, 14.5, 89, 106]))
    fig = plots.accuracy_cost(table, ms, {n: 44 for n in names}, {}, 7, "cpu")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    frame = ax.get_window_extent(renderer)
    labels = [t for t in fig.findobj(Text) if (t.get_gid() or "").startswith("label:")]
    for t in labels:
        box = Text.get_window_extent(t, renderer)
        assert frame.y0 < box.y0 and box.y1 < frame.y1, t.get_text()
    assert ax.get_ylim()[0] < 0
    assert "cost of one prediction" in ax.get_title() and "milliseconds" in ax.get_xlabel()
    few = plots.accuracy_cost(table.iloc[:2], ms, {n: 44 for n in names}, {}, 7, "cpu")
    assert "labelled products it needs" in few.axes[0].get_title()


def test_near_duplicate_groups_are_packed_with_readable_labels(tmp_path) -> None:
    from utils.report.plots.catalog import _pack

    assert _pack([6, 4, 3, 3, 3, 3], 6) == [[0], [1], [2, 3], [4, 5]]
    assert _pack([4, 3, 2], 6) == [[0, 2], [1]]
    rows, groups = [], []
    for g, size in enumerate([6, 4, 3, 3, 3, 3]):
        members = []
        for k in range(size):
            path = tmp_path / f"g{g}_{k}.png"
            Image.new("RGB", (40, 30), (30 * g, 90, 160)).save(path)
            label = "Computers" if (g, k) != (1, 0) else "Home Decor & Festive Needs"
            rows.append({"image": path.name, "path": str(path), "label": label})
            members.append(path.name)
        groups.append({"size": size, "members": members})
    fig = plots.duplicate_groups(pd.DataFrame(rows), pd.DataFrame(groups))
    photos = [ax for ax in fig.axes if ax.images]
    assert len(photos) == 22
    heads = [t for t in fig.texts if (t.get_gid() or "").startswith("group:")]
    assert [t.get_text() for t in heads][:2] == ["Computers · 6 photos", "2 categories · 4 photos"]
    assert _shown_px(fig, min(t.get_fontsize() for t in heads)) >= 13
    assert_nothing_cut(fig, ["Home Decor & Festive Needs"])  # the odd one out, under its photo
    assert fig.get_figheight() < 4 * 2.5  # four lines of groups, not six rows
    assert plots.facts_of(fig) == {"shown": 6, "of": 6}


def test_label_axes_say_their_scale_and_ticks_read() -> None:
    from utils.report.plots.labels import apart

    summary = pd.DataFrame(
        {
            "candidate": ["text-tfidf"] * 4,
            "k": [1, 2, 4, "all"],
            "mean": [0.4, 0.5, 0.6, 0.9],
            "min": [0.3, 0.4, 0.5, 0.9],
            "max": [0.5, 0.6, 0.7, 0.9],
        }
    )
    fig = plots.label_budget(summary, 7, {"text-tfidf": "text"})
    ax = fig.axes[0]
    assert "not to scale" in ax.get_xlabel() and "doubles" in ax.get_xlabel()
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 10
    assert apart([14, 28, 56, 112, 168, 224, 336, 448, 560, 672]) == [
        14,
        28,
        56,
        112,
        168,
        224,
        336,
        448,
        672,
    ]
    curves = pd.DataFrame(
        {
            "candidate": "text-tfidf",
            "start": "labels",
            "strategy": ["random"] * 3 + ["uncertainty"] * 3,
            "round": [0, 1, 2] * 2,
            "labels": [14, 28, 56] * 2,
            "mean": [0.4, 0.5, 0.6, 0.4, 0.55, 0.7],
            "min": 0.3,
            "max": 0.8,
            "count": 2,
        }
    )
    fig = plots.active_learning(curves, {"text-tfidf": 0.9}, 0.95, 7)
    ax = fig.axes[0]
    assert "log scale" in ax.get_xlabel()
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    assert all(t.get_rotation() == 0 and t.get_fontsize() >= 9 for t in ticks)
