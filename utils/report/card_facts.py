"""The deployment facts of the model card (``model_card.card``), each from ``metrics.json``: the
chosen candidate's hyperparameters, the data's checksums, the automation threshold with its
coverage, the failure modes measured on the test split (most-confused pairs, catch-all
categories by precision, template dependence, taxonomy boundaries), the library versions and how
to cite. A fact the run did not measure is said to be not measured, never left out silently.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .formatting import interval, listing, pct, plural, points_interval
from .prose.automation import intervals_words


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def hyperparameters(ev: dict, name: str) -> str:
    """A nested list of the chosen candidate's settings as fitted
    (``evaluation.hyperparameters``)."""
    hp = (ev.get("hyperparameters") or {}).get(name)
    if not hp:
        return "- **Hyperparameters:** not recorded by this run (notebook 05 predates them)."
    lines = [
        "- **Hyperparameters** (as fitted; a value listed beside the values tried was chosen "
        "among them on the validation split):"
    ]

    def add(d: dict, depth: int) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and v and depth < 2:
                lines.append(f"{'  ' * depth}  - `{k}`:")
                add(v, depth + 1)
            else:
                lines.append(f"{'  ' * depth}  - `{k}`: `{_value(v)}`")

    add(hp, 0)
    return "\n".join(lines)


def checksum(ev: dict) -> str:
    """The data's checksums (``evaluation.data_checksum``)."""
    c = ev.get("data_checksum")
    if not c:
        return "**Checksums.** Not recorded by this run.\n"
    csv = (
        f"the catalog `{c['csv']}` has sha256 `{c['csv_sha256']}`"
        + (" (the note's CSV)" if c.get("note_dataset") else "")
        if c.get("csv")
        else "no single catalog CSV was found beside the photos"
    )
    return (
        f"**Checksums.** {csv[:1].upper()}{csv[1:]}; the {c['images']} photos of the split have "
        f"the digest `{c['images_sha256']}` ({c['images_digest']}). A catalogue with other "
        "checksums is other data: re-evaluate before trusting the numbers below.\n"
    )


def threshold_text(t: float) -> str:
    """The threshold as the card writes it, everywhere: rounded down to 4 decimals, so that a
    product the recorded threshold accepts is accepted at the written one too."""
    return f"{math.floor(t * 10_000) / 10_000:.4f}"


def operating_point(ev: dict) -> dict[str, str]:
    """The run's operating point as ``predict`` takes it (``temperature``, ``threshold``, as the
    card writes them): empty when notebook 05 chose no threshold and kept no temperature."""
    auto, cal = ev.get("threshold") or {}, ev.get("calibration") or {}
    point = {}
    if cal.get("kept"):
        point["temperature"] = f"{cal['temperature']:.6f}"
    if auto and auto["validation"]["threshold"] is not None:
        point["threshold"] = threshold_text(auto["validation"]["threshold"])
    return point


def operating_args(ev: dict) -> str:
    """``predict``'s options for the run's operating point (``--temperature``, ``--threshold``)."""
    return " ".join(f"--{k} {v}" for k, v in operating_point(ev).items())


def intended_use(ev: dict) -> str:
    """Who decides what: the threshold's share classified automatically, the rest to a person."""
    auto = ev.get("threshold") or {}
    if not auto:
        return (
            "**Intended use.** Assigning a product of a catalogue like the Flipkart sample to one "
            "of the categories above, as a first pass whose answers a person reviews (this run "
            "chose no automation threshold).\n"
        )
    val, test = auto["validation"], auto["test"]
    if val["threshold"] is None:
        return (
            "**Intended use.** Assigning a product of a catalogue like the Flipkart sample to one "
            "of the categories above as a suggestion a person confirms: no probability threshold "
            f"reached the target accuracy of {pct(val['target'])} on validation, so every answer "
            "is reviewed.\n"
        )
    return (
        "**Intended use.** Assigning a product of a catalogue like the Flipkart sample to one of "
        "the categories above: a product whose highest "
        + ("temperature-scaled " if (ev.get("calibration") or {}).get("kept") else "")
        + f"probability is at least {threshold_text(val['threshold'])} is classified "
        "automatically, every other product goes to a person (`make predict` with "
        f"`{operating_args(ev)}` marks each product so, column `automatic`; on the test split, "
        f"{pct(test['coverage'])} classified automatically, "
        f"{test['to_person']} of {test['products']} products to a person; the threshold section "
        "below).\n"
    )


def automation(ev: dict) -> str:
    """The threshold section: calibration, the threshold and what it gives on test."""
    auto, cal = ev.get("threshold") or {}, ev.get("calibration") or {}
    if not auto:
        return "Not measured by this run (notebook 05 ran without it).\n"
    val, test, full = auto["validation"], auto["test"], auto["no_abstention"]
    level = pct((auto.get("intervals") or {}).get("level", 0.95), 0)
    v = cal.get("validation") or {}
    lines = [
        f"- **Calibration (validation, {cal['reliability']['validation']['n_bins']} "
        f"{cal['reliability']['validation']['binning']} bins):** expected calibration error "
        f"{v['raw']['ece']:.3f}; temperature scaling (T = {cal['fitted_temperature']:.3f}) "
        f"gives {v['scaled']['ece']:.3f}, NLL {v['raw']['nll']:.3f} → {v['scaled']['nll']:.3f}: "
        + (
            "kept, the threshold reads the scaled probabilities "
            f"(softmax(log p / {cal['temperature']:.6f}); `predict`'s `--temperature`)."
            if cal["kept"]
            else "not kept, the threshold reads the probabilities as given."
        ),
        f"- **Rule:** {val['rule']} (target {pct(val['target'])}, at least "
        f"{val['min_accepted']} products).",
    ]
    if val["threshold"] is None:
        lines.append(
            f"- **Threshold:** none meets the target on the {val['products']} validation "
            "products: every product goes to a person. Without abstention, test accuracy "
            f"{pct(full['test'])}."
        )
        return "\n".join(lines) + "\n"
    lines += [
        f"- **Threshold:** highest probability ≥ {threshold_text(val['threshold'])} (validation: "
        f"{val['accepted']} of {val['products']} accepted, {pct(val['accuracy'])} right).",
        f"- **On the test split ({test['products']} products; {level} intervals: "
        f"{intervals_words(test)}):** coverage "
        + (
            f"{interval(test['coverage'], test['coverage_low'], test['coverage_high'])}, accuracy"
            " among the accepted "
            f"{interval(test['accuracy'], test['accuracy_low'], test['accuracy_high'])} "
            f"({plural(test['errors'], 'error')}); {test['to_person']} products go to a person. "
            if test["accepted"]
            else "0: no test product reaches the threshold; all go to a person. "
        )
        + f"Without abstention: {pct(full['test'])}.",
    ]
    return "\n".join(lines) + "\n"


def _confused_pairs(ev: dict, name: str, top: int = 3) -> str:
    details = (ev.get("details") or {}).get(name) or {}
    cm = np.asarray(details.get("confusion") or [])
    classes = ev.get("classes") or []
    if not cm.size:
        return "- **Most-confused pairs:** not measured."
    support = cm.sum(1)
    off = [
        (int(cm[i, j]), classes[i], classes[j], int(support[i]))
        for i in range(len(classes))
        for j in range(len(classes))
        if i != j and cm[i, j] > 0
    ]
    off.sort(key=lambda r: (-r[0], r[1], r[2]))
    if not off:
        return "- **Most-confused pairs:** none: no test product was misclassified."
    repeated = [r for r in off if r[0] > 1]
    items = [f"{n} of {s} *{a}* taken for *{b}*" for n, a, b, s in repeated[:top]]
    singles = len(off) - len(repeated)
    if len(repeated) < top and singles:  # ties of one error each: counted, none picked
        items.append(f"{plural(singles, 'other pair')} with one error each")
    errors = int(cm.sum() - np.trace(cm))
    return f"- **Most-confused pairs** (test, {plural(errors, 'error')} in all): {listing(items)}."


def _catch_all(ev: dict, name: str, top: int = 2) -> str:
    details = (ev.get("details") or {}).get(name) or {}
    cm = np.asarray(details.get("confusion") or [])
    per = details.get("per_class") or {}
    classes = ev.get("classes") or []
    if not cm.size or not per:
        return "- **Catch-all categories:** not measured."
    wrong_in = cm.sum(0) - np.diag(cm)  # products of other categories predicted as this one
    rows = sorted(
        (
            (per[c]["precision"], c, int(wrong_in[i]), int(cm[:, i].sum()))
            for i, c in enumerate(classes)
            if wrong_in[i] > 0
        ),
        key=lambda r: (r[0], r[1]),
    )
    if not rows:
        return "- **Catch-all categories:** none: no category received another's products."
    items = []
    for p, c, wrong, predicted in rows[:top]:
        i = classes.index(c)
        sources = [
            classes[k] for k in np.argsort(-cm[:, i], kind="stable") if k != i and cm[k, i] > 0
        ]
        items.append(
            f"*{c}* (precision {p:.3f}: {wrong} of the {predicted} products it received belong "
            f"to {listing(sources)})"
        )
    return (
        "- **Catch-all categories** (lowest precision on test, where others' products land): "
        f"{listing(items)}."
    )


def _template(m: dict, name: str) -> str:
    t = (((m.get("explanations") or {}).get("template")) or {}).get(name)
    if not t:
        return (
            "- **Template dependence:** not measured for this candidate in this run (notebook "
            "06 recorded no template-phrase study of it)."
        )
    phrases = t.get("phrases") or []
    shown = []
    for ph in phrases[:4]:
        rate = ph.get("rate") or {}
        if rate:
            hi = max(rate, key=rate.get)
            lo = min(rate, key=rate.get)
            shown.append(
                f"“{ph['phrase']}” (in {pct(rate[hi], 0)} of *{hi}*, {pct(rate[lo], 0)} of *{lo}*)"
            )
    diff = (
        points_interval(t["difference"], t["difference_low"], t["difference_high"])
        if t.get("difference_low") is not None
        else f"{t['difference']:+.3f}"
    )
    return (
        f"- **Template dependence:** with the catalogue's template phrases removed from training "
        f"and test text, test accuracy {pct(t['accuracy_without'])} against "
        f"{pct(t['accuracy'])} ({diff}, paired): what a catalogue written without this "
        "marketplace's template would lose with the candidate refitted on it (this fit, trained "
        "with the template, was not scored on text without it)."
        + (f" Phrases such as {listing(shown)}." if shown else "")
    )


def _boundaries(m: dict, name: str, top: int = 3) -> str:
    audit = ((m.get("labels") or {}).get("audit") or {}).get("per_candidate") or {}
    if name not in audit:
        return (
            "- **Taxonomy boundaries:** not measured for this candidate (notebook 07's label "
            "audit did not cover it)."
        )
    bounds = audit[name].get("boundaries") or []
    if not bounds:
        return (
            "- **Taxonomy boundaries:** none found by the label audit (training and validation "
            "products)."
        )
    items = []
    for b in bounds[:top]:
        ex = (b.get("examples") or [{}])[0]
        shared = (
            f", e.g. “{ex['product_name']}” (shares “{ex['shared']}”)" if ex.get("shared") else ""
        )
        items.append(f"*{b['pair'][0]}* / *{b['pair'][1]}*: {plural(b['flags'], 'flag')}{shared}")
    return (
        "- **Taxonomy boundaries** (label-audit flags on training and validation products where "
        "the product's own category path supports its given label and a word of that path also "
        "names products of the suggested category: both categories file such products): "
        f"{'; '.join(items)}."
    )


def failure_modes(m: dict, name: str) -> str:
    """The failure modes measured by the run, one bullet each."""
    ev = m.get("evaluation") or {}
    return "\n".join(
        [
            _confused_pairs(ev, name),
            _catch_all(ev, name),
            _template(m, name),
            _boundaries(m, name),
        ]
    )


def versions(m: dict) -> str:
    """The libraries that scored the candidate (``evaluation.versions``, else the run's)."""
    v = (m.get("evaluation") or {}).get("versions") or (m.get("run") or {}).get("versions")
    if not v:
        return "Not recorded by this run.\n"
    return "| library | version |\n|---|---|\n" + "".join(
        f"| {k} | {val} |\n" for k, val in v.items()
    )


def citation(m: dict, name: str) -> str:
    run = m.get("run") or {}
    year = str(run.get("started", ""))[:4] or "n.d."
    key = f"clip_poc_{name.replace('-', '_')}"
    return (
        "```bibtex\n"
        f"@misc{{{key},\n"
        f"  title  = {{clip-poc: {name}, a product categoriser for the Flipkart sample}},\n"
        "  author = {the clip-poc project},\n"
        f"  year   = {{{year}}},\n"
        f"  note   = {{run {run.get('id')}, code version {run.get('code_version')}}}\n"
        "}\n"
        "```\n"
        "Cite the data's own source too (the training data section) and, for the method, the "
        "model card format (Mitchell et al., 2019, Model Cards for Model Reporting) and "
        "temperature scaling (Guo et al., 2017, On Calibration of Modern Neural Networks).\n"
    )
