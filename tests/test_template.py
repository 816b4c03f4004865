"""utils.explain.template: the catalogue's template phrases found by the rule on constructed text
(a planted boilerplate phrase, not a category's words), their removal, and the refit without them
on a tiny catalogue whose categories only the template tells apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.core.paths import Layout
from utils.data.split import Split
from utils.explain import template
from utils.models import fitting
from utils.models.panel import Panel, Settings
from utils.report import figures, plots, prose

PLANTED = "great discounts only genuine products"
OTHER = "free shipping cash on delivery"
OWN = {"Apples": "crunchy apple", "Bread": "baked loaf", "Cheese": "aged wheel"}


def _fillers(rng, k: int = 6) -> list[str]:
    return [f"w{i}" for i in rng.choice(400, k, replace=False)]


def planted_rows(n_per: int = 30, seed: int = 0) -> pd.DataFrame:
    """Three categories: each names its own two-word phrase (``OWN``) in most of its products;
    the planted template sentence is in every Apples product, half of Bread's and none of
    Cheese's; the rest are random single words."""
    rng = np.random.default_rng(seed)
    share = {"Apples": 1.0, "Bread": 0.5, "Cheese": 0.0}
    rows = []
    for c, own in OWN.items():
        for j in range(n_per):
            words = _fillers(rng)
            if j % 5:
                words.insert(2, own)
            description = " ".join(words)
            if j < share[c] * n_per:
                description += ". Great Discounts, Only Genuine Products!"
            rows.append({"product_name": f"{c} {j}", "description": description, "label": c})
    return pd.DataFrame(rows)


def test_the_rule_finds_the_planted_template_not_a_categorys_words() -> None:
    rows = planted_rows()
    rule = template.Rule(min_words=2, max_words=4, min_products=3, min_categories=2)
    found = template.find(rows, rule)
    assert found.shown == [PLANTED]  # the overlapping 4-grams joined back into the sentence
    assert all(f" {p} " in f" {PLANTED} " for p in found.removed)  # nothing else cut
    assert not any(own in p for own in OWN.values() for p in found.removed)
    rates = found.rates.loc[PLANTED]
    assert rates["Apples"] == 1.0 and rates["Bread"] == 0.5 and rates["Cheese"] == 0.0
    record = found.record()
    assert record == [{"phrase": PLANTED, "rate": {"Apples": 1.0, "Bread": 0.5, "Cheese": 0.0}}]
    # shared by one category only: a category's own words to this rule, never template
    assert template.find(rows, template.Rule(min_products=3, min_categories=3)).shown == []
    # the same rates everywhere are not template either (no spread)
    even = rows.assign(description=rows["description"] + ". Great Discounts, Only Genuine")
    assert "great discounts only genuine" not in template.find(even, rule).removed


def test_removal_cuts_the_phrase_whatever_its_case_and_punctuation() -> None:
    patterns = [template.pattern(p) for p in ("flipkart com", "cash on delivery only")]
    text = "Buy at Flipkart.com - Free Shipping & Cash On Delivery! Only genuine, flipkartcom"
    # the tokenizer skips punctuation, so "Delivery! Only" is the phrase's "delivery only"
    assert template.strip_text(text, patterns) == "Buy at - Free Shipping & genuine, flipkartcom"
    # a one-character word between tokens is skipped by the tokenizer, and by the cut
    assert template.strip_text("cash on a delivery only today", patterns) == "today"
    # overlapping phrases: the union of their spans goes
    both = [template.pattern(p) for p in ("only genuine products", "genuine products thirty")]
    assert template.strip_text("x only genuine products thirty y", both) == "x y"
    assert template.strip_text(None, patterns) == ""
    rows = pd.DataFrame(
        {"product_name": ["Flipkart.com Watch"], "description": ["at flipkart com"]}
    )
    stripped = template.strip_rows(rows, ["flipkart com"])
    assert stripped.loc[0, "product_name"] == "Watch" and stripped.loc[0, "description"] == "at"
    assert rows.loc[0, "product_name"] == "Flipkart.com Watch"  # the input is left as it was


def test_a_bad_rule_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="min_words"):
        template.Rule(min_words=3, max_words=2)
    with pytest.raises(ValueError, match="min_categories"):
        template.Rule(min_categories=1)
    with pytest.raises(ValueError, match="min_ratio"):
        template.Rule(min_ratio=1.0)
    with pytest.raises(ValueError, match="labels"):
        template.candidate_ngrams(["a b"], ["x", "y"], template.Rule())
    rule = template.Rule.from_params({"template_words": [1, 3], "template_min_share": 0.2})
    assert (rule.min_words, rule.max_words, rule.min_share) == (1, 3, 0.2)


def template_only_rows(n_per: int, seed: int) -> pd.DataFrame:
    """Categories told apart only by the template: Apples carry the planted sentence, Bread the
    other one, Cheese each in a fifth of its products; every other word is random."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in ("Apples", "Bread", "Cheese"):
        for j in range(n_per):
            text = " ".join(_fillers(rng, 8))
            if c == "Apples" or (c == "Cheese" and j % 5 == 0):
                text += ". Great Discounts, Only Genuine Products!"
            if c == "Bread" or (c == "Cheese" and j % 5 == 1):
                text += " Free Shipping. Cash On Delivery."
            rows.append(
                {
                    "image": f"{c}-{seed}-{j}.jpg",
                    "product_name": f"item {seed} {j}",
                    "description": text,
                    "label": c,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    parts = {"train": (30, 0), "val": (10, 1), "test": (20, 2)}
    rows = pd.concat(
        [template_only_rows(n, seed).assign(split=name) for name, (n, seed) in parts.items()],
        ignore_index=True,
    )
    rows["group"] = np.arange(len(rows))
    the_split = Split(rows, "tiny-template")
    layout = Layout(tmp_path_factory.mktemp("template"))
    panel = Panel(
        layout, Settings(probe_cs=(1.0, 10.0)), the_split.labels(), "tiny-template", progress=False
    )
    fitted = {"text-tfidf": fitting.fit("text-tfidf", panel, the_split.train, the_split.val)}
    return panel, fitted, the_split


def test_refit_without_the_template_loses_what_only_the_template_told(tiny) -> None:
    panel, fitted, the_split = tiny
    params = {"template_min_products": 3, "template_min_categories": 2, "n_boot": 300, "seed": 0}
    rule = template.Rule.from_params(params)
    phrases, records = template.study(
        panel, fitted, the_split, ["text-tfidf", "pixels-classic"], params
    )
    assert set(phrases.shown) == {PLANTED, OTHER}
    r = records["text-tfidf"]  # the photo candidate reads no text: not refitted
    assert set(records) == {"text-tfidf"}
    assert r["accuracy"] > 0.8 and r["accuracy_without"] < 0.6  # chance: a third
    assert r["difference"] == pytest.approx(r["accuracy_without"] - r["accuracy"])
    assert r["difference_low"] <= r["difference"] <= r["difference_high"] < 0
    assert r["verdict"] == "lower"
    assert r["errors_without"] - r["errors"] == r["newly_wrong"] - r["newly_right"] > 0
    assert r["test_texts_changed_per_category"]["Apples"] == 1.0
    assert r["phrases"][0]["rate"]["Cheese"] == pytest.approx(0.2)
    lost = template.losses(r)
    assert lost and all(d < 0 for _, d in lost)
    # the run's own model on the full text is what the refit reproduces when nothing is removed
    none = {**params, "template_min_categories": 3, "template_min_share": 1.0}
    phrases, same = template.study(panel, fitted, the_split, ["text-tfidf"], none)
    assert phrases.shown == [] and phrases.removed == []
    assert same["text-tfidf"]["accuracy_without"] == same["text-tfidf"]["accuracy"]
    assert same["text-tfidf"]["changed_predictions"] == 0
    assert same["text-tfidf"]["verdict"] == "not resolved"

    # the figure, its caption and the note's section and summary limit read the record
    fig = plots.template_rates(template.find(the_split.train, rule).rates, shown=1)
    assert len(fig.axes) == 2 and plots.facts_of(fig)["phrases"] == 1  # heatmap + colour bar
    caption = prose.caption("template", plots.facts_of(fig))
    assert "the 1 of 2 phrases" in caption
    m = {"explanations": {"template": records}}
    section = prose.section_template(m)
    assert figures.get("template").label in section
    assert f"{100 * r['accuracy_without']:.1f}%" in section and "interval excludes zero" in section
    (limit,) = prose.template_limit(m)
    assert limit.startswith("Refitted without the catalogue's template phrases")
    assert "`text-tfidf` " in limit and "cost `text-tfidf` about that much accuracy" in limit
    assert prose.template_limit({"explanations": {"template": same}}) == []
    with pytest.raises(KeyError, match="n_boot"):
        template.study(panel, fitted, the_split, ["text-tfidf"], {"seed": 0})
    with pytest.raises(ValueError, match="no template phrase"):
        plots.template_rates(pd.DataFrame(), shown=5)
