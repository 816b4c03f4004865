"""A model card for the run's chosen candidate (``reports/model_card.md``), in the Hugging Face
model-card layout: YAML metadata, then model details, uses and out-of-scope uses, training data
(its provenance and licence), evaluation with intervals, limits and biases found by the run, and
how to use it. Every value comes from the run's records (``metrics.json``) and the candidate
registry; the card says when the choice is not yet a recommendation (``decision.recommend``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..core import runs
from ..models.candidates import CANDIDATES
from . import card_facts, prose
from .formatting import interval, listing, markdown_table, ms, pct, points_interval, upper_first

FITTED_BY = {
    "head": "a small neural head (the note's), trained with early stopping",
    "probe": "logistic regression on standardised features",
    "tfidf": "logistic regression on TF-IDF features of the name and description",
    "zeroshot": "nothing (zero-shot: category prompts)",
    "late-fusion": "a weighted average of its members' probabilities",
    "finetune": "the encoder's last blocks fine-tuned with a head",
}

DATA_LICENCE = (
    "The CSV has the columns of PromptCloud's “Flipkart Products” dataset, reported to be listed "
    "on Kaggle under CC BY-SA 4.0 (unverified here); the OpenClassrooms zip carries no licence "
    "statement; no licence is known for the photos, names and descriptions, made by Flipkart and "
    "its sellers (see `data/sample/README.md`). Check with the rights holders before "
    "redistributing a model trained on them."
)


def _yaml(m: dict, name: str) -> str:
    ev, rec = m["evaluation"], m["evaluation"]["recommendation"]
    t = ev["table"][name]
    reads = CANDIDATES[name].reads if name in CANDIDATES else "?"
    task = {"image": "image-classification", "text": "text-classification"}.get(
        reads, "multimodal-classification"
    )
    data = (m.get("data") or {}).get("source", "the Flipkart sample")
    repeats = (ev.get("repeats") or {}).get("summary", {}).get(name)
    steadier = (
        [
            f"    - {{type: accuracy, value: {repeats['mean']:.4f}, name: mean test accuracy "
            f"over {ev['repeats']['n_splits']} other group-aware splits "
            f"(range over the splits {repeats['min']:.4f} to {repeats['max']:.4f})}}"
        ]
        if repeats
        else []
    )
    test = (ev.get("threshold") or {}).get("test") or {}
    if test.get("threshold") is not None and test.get("accuracy") is not None:
        steadier += [
            f"    - {{type: coverage, value: {test['coverage']:.4f}, name: share of test products "
            "classified automatically at highest probability >= "
            f"{card_facts.threshold_text(test['threshold'])} "
            f"(95% CI {test['coverage_low']:.4f}-{test['coverage_high']:.4f})}}",
            f"    - {{type: accuracy, value: {test['accuracy']:.4f}, name: test accuracy among "
            f"them (95% CI {test['accuracy_low']:.4f}-{test['accuracy_high']:.4f})}}",
        ]
    return "\n".join(
        [
            "---",
            "language: en",
            "license: other",
            f"pipeline_tag: {task}",
            "tags: [e-commerce, product-categorisation, clip-poc]",
            "model-index:",
            f"- name: {name}",
            "  results:",
            "  - task:",
            f"      type: {task}",
            "    dataset:",
            "      name: Flipkart product sample",
            f"      description: {data!r}",
            "    metrics:",
            f"    - {{type: accuracy, value: {t['accuracy']:.4f}, "
            f"name: test accuracy (95% CI {t['accuracy_low']:.4f}-{t['accuracy_high']:.4f})}}",
            *steadier,
            f"    - {{type: f1, value: {t['macro_f1']:.4f}, name: test macro-F1}}",
            f"status: {rec.get('status', 'provisional')}",
            f"run: {m['run']['id']}",
            "---",
        ]
    )


def _per_class(ev: dict, name: str) -> str:
    details = ev.get("details", {}).get(name) or {}
    per = details.get("per_class") or {}
    if not per:
        return ""
    frame = pd.DataFrame(per).T
    keep = [c for c in ("precision", "recall", "f1", "support") if c in frame.columns]
    frame = frame[keep]
    for c in ("precision", "recall", "f1"):
        if c in frame:
            frame[c] = frame[c].map(lambda v: f"{v:.3f}")
    if "support" in frame:
        frame["support"] = frame["support"].map(lambda v: f"{int(v)}")
    return "Per category, on the test split:\n\n" + markdown_table(frame)


def _how_to_use(name: str, ev: dict | None = None) -> str:
    reads = CANDIDATES[name].reads if name in CANDIDATES else ""
    operating = card_facts.operating_args(ev or {})
    point = f" {operating}" if operating else ""
    if reads == "image":
        example = f"make predict ARGS='photo1.jpg photo2.jpg --model {name}{point}'"
        what = "Each photo gets its top categories with their probabilities"
        python = f'`predict.predict(["photo1.jpg"], "{name}")`'
    else:
        example = f"make predict ARGS='--catalog products.csv --model {name}{point}'"
        what = (
            "Each product of the CSV (columns `uniq_id`, `product_name`, `description`"
            + (", `image`, with an `Images/` folder beside the CSV" if "image" in reads else "")
            + ") gets its top categories with their probabilities, written as Parquet under "
            "`reports/predictions/` (`--engine ray` spreads a large catalog over a Ray cluster)"
        )
        python = f'`predict.predict_products(rows, "{name}")` (a DataFrame of products)'
    trouble = listing(
        (["a broken or missing photo"] if "image" in reads else [])
        + (["a product with neither name nor description"] if "text" in reads else []),
        "or",
    )
    if operating:
        what += (
            f"; `{operating}` is the operating point of the threshold section above: the "
            "probabilities are the ones the threshold reads, and the column `automatic` is True "
            "for a product classified without a person, False for one a person reviews"
        )
        python = python.replace(
            ")`", f", operating=predict.Operating({_keywords(card_facts.operating_point(ev))}))`", 1
        )
    return (
        "```bash\n"
        f"{example}\n"
        "```\n"
        f"{what}; {trouble} gets its status, "
        f"not a traceback. From Python: `from utils import predict`, then {python} returns the "
        "same table. The trained candidate lives in "
        f"`data/models/candidates/{name}/` (with the encoders and split it was trained on, "
        "checked when it is loaded)."
    )


def _keywords(point: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _in_the_card(line: str) -> str:
    """A limit as the note words it, said from the card: its tables and sections are the note's."""
    line = line.replace("the table below says", "the note's summary says")
    return re.sub(r"(?<!note's )\b(section \d+)", r"the note's \1", line)


def card(m: dict) -> str:
    """The model card of the run's chosen candidate as Markdown (empty string when nothing was
    evaluated)."""
    ev = m.get("evaluation") or {}
    rec = ev.get("recommendation") or {}
    if not rec:
        return ""
    name = rec["candidate"]
    c = CANDIDATES.get(name)
    t = ev["table"][name]
    tr = (m.get("training") or {}).get("summary", {}).get(name, {})
    stand = runs.run_stand_ins(m)
    status = (
        "Recommended by this run."
        if rec.get("status") == "recommended"
        else f"{upper_first(rec['called'])}, not yet a recommendation: "
        + " ".join(
            prose.recommendation_lines(
                rec, prose.context(m), "the note's list of what did not run names them"
            )[2:]
        )
    )
    repeats = (ev.get("repeats") or {}).get("summary", {}).get(name)
    paired = ev.get("paired", {}).get(name)
    if ev.get("reference") in set(ev.get("stand_in") or []):
        paired = None  # a difference to a stand-in says nothing
    split = m.get("split") or {}
    warning = prose.stand_in_warning(stand) if stand else ""
    missing = (ev.get("missing_descriptions") or {}).get(name)
    lines = [
        _yaml(m, name),
        f"# Model card: `{name}` (clip-poc)\n",
        f"> {warning}\n" if warning else None,
        f"*{status}* Written by notebook {runs.NOTE} from run `{m['run']['id']}`; the note "
        "(`reports/note.html`) has the evidence behind every line.\n",
        "## Model details\n",
        f"- **What it is:** {c.about if c else name}; it reads the "
        f"{prose.READS_WORDS.get(c.reads, c.reads) if c else '?'}.",
        f"- **Fitted by:** {FITTED_BY.get(c.family, c.family) if c else '?'} "
        f"({tr.get('chosen', 'see notebook 04')}, chosen on the validation split).",
        f"- **One prediction runs:** {c.cost if c else '?'}; measured "
        f"{ms(rec['s_per_product'])} per product ({rec.get('device') or 'cpu'}).",
        f"- **Labels:** {rec['labelled']} labelled products"
        f"{prose.fitted_on(name, prose.context(m))}, "
        f"{len(ev['classes'])} categories: {', '.join(ev['classes'])}.",
        card_facts.hyperparameters(ev, name),
        f"- **Developed by:** the clip-poc project; code version "
        f"`{m['run'].get('code_version')}`.\n",
        "## Uses\n",
        card_facts.intended_use(ev),
        "**Out of scope.** Categories it was not trained on (it always answers one of the "
        "above); catalogues written or photographed differently without re-evaluating it (the "
        "failure modes below); decisions about people; its probabilities read as risks on "
        "another catalogue (their calibration, below, was measured on this one only).\n",
        "## Training data\n",
        f"{upper_first((m.get('data') or {}).get('source', 'the Flipkart sample'))}: "
        f"{(m.get('data') or {}).get('usable', '?')} usable products"
        + (
            f", of which this run keeps {split['images']} (at most {split['max_per_category']} "
            "per category)"
            if split.get("max_per_category")
            else ""
        )
        + f". Split {split.get('fractions', '?')} (training / validation / test), stratified by "
        "category, near-duplicate photos and descriptions kept on one side (notebook 02).\n",
        card_facts.checksum(ev),
        f"**Provenance and licence.** {DATA_LICENCE}\n",
        "## Evaluation\n",
        f"On the locked test split ({ev['n_test']} products, scored by notebook 05; nothing was "
        "chosen on it): accuracy "
        f"{interval(t['accuracy'], t['accuracy_low'], t['accuracy_high'])}, macro-F1 "
        f"{interval(t['macro_f1'], t['macro_f1_low'], t['macro_f1_high'], percent=False)} "
        f"(95% intervals, {ev.get('intervals', {}).get('method', 'cluster bootstrap')})."
        + (
            f" On {ev['repeats']['n_splits']} other group-aware splits: mean "
            f"{pct(repeats['mean'])} (from {pct(repeats['min'])} to {pct(repeats['max'])})."
            if repeats
            else ""
        )
        + (
            f" Against {ev['reference']}, paired: "
            + points_interval(
                paired["accuracy_difference"], paired["difference_low"], paired["difference_high"]
            )
            + "."
            if paired
            else ""
        )
        + (
            " Without the product descriptions (the name alone): "
            f"{interval(missing['accuracy'], missing['accuracy_low'], missing['accuracy_high'])}."
            if missing
            else ""
        )
        + "\n",
        _per_class(ev, name),
        "## Automation threshold: which answers need no review\n",
        card_facts.automation(ev),
        "## Failure modes measured by this run\n",
        "Of the model, on this catalogue (the run's own limits, such as candidates it could not "
        "run or its sample size, are in the note's summary and section on limits):\n",
        card_facts.failure_modes(m, name),
        "",
        "## How to use it\n",
        _how_to_use(name, ev),
        "",
        "## Environment\n",
        "The libraries that scored it (read at run time):\n",
        card_facts.versions(m),
        "## Citation\n",
        card_facts.citation(m, name),
    ]
    return "\n".join(line for line in lines if line is not None)


def write(m: dict, out_dir: str | os.PathLike) -> Path | None:
    """Write ``model_card.md`` into ``out_dir``; None (and no file) when nothing was evaluated."""
    text = card(m)
    if not text:
        return None
    path = Path(out_dir) / "model_card.md"
    path.write_text(text + "\n")
    return path
