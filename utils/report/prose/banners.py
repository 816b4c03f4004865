"""Sentences the notebooks show as they run: the banner (stand-in weights, subsample, what did not
run, a CLIP that does not behave like a pretrained one), the weights checks, the decode size.
"""

from __future__ import annotations

import numpy as np

from ..formatting import (
    listing,
    pct,
    plural,
)
from .common import _p_is


# --------------------------------------------------------------------------- banners
def stand_in_warning(
    stand: dict[str, str], real: list[str] | None = None, few: bool = False
) -> str:
    """The stand-in sentence of banners and note sections (empty when every encoder is real)."""
    if not stand:
        return ""
    names = {"clip": "CLIP", "vgg16": "VGG16"}
    what = "; ".join(f"{names.get(k, k)}: {v}" for k, v in stand.items())
    text = (
        f"**Stand-in weights** ({what}). Every number that reads "
        f"{('this encoder', 'these encoders')[len(stand) > 1]} is a stand-in "
        "for timing and plumbing and says nothing about CLIP or VGG16."
    )
    if real:
        text += (
            f" Numbers of {listing(real)}, which read no encoder, are measured, not stand-ins"
            + (
                ", but on this run's few products: checks of the pipeline, not findings."
                if few
                else "."
            )
        )
    return text


def banner(
    number: str,
    metrics: dict,
    stand: dict[str, str],
    names: list[str] | None,
    not_run: bool = True,
) -> str:
    """A notebook's first output: stand-in weights, subsample, what was not run (one line; the
    note lists it as a table after its summary, ``not_run`` False), a CLIP that does not behave
    like a pretrained one. Empty when there is nothing to warn about."""
    from ...models.candidates import encoder_kinds

    lines = []
    real = [n for n in (names or []) if not encoder_kinds([n])]
    data, split = metrics.get("data", {}), metrics.get("split", {})
    few = data.get("dataset") == "sample" or bool(split.get("max_per_category"))
    if stand:
        lines.append(stand_in_warning(stand, real, few))
    if data.get("dataset") == "sample":
        lines.append(
            f"**Data: {data['source']}.** This run checks the pipeline; its numbers support no "
            "conclusion about the catalog."
        )
    if split.get("max_per_category") and number not in ("01",):
        lines.append(subsample_sentence(split, metrics.get("data", {})))
    skipped = metrics.get("features", {}).get("skipped") or {}
    if skipped and not_run:
        lines.append(
            f"**Not run: {plural(len(skipped), 'candidate')}** (their pretrained weights are not "
            "on this machine; notebook 03 and the note's list of what did not run say what to "
            "download and where to put it)."
        )
    check = metrics.get("features", {}).get("pretrained_check")
    if check and check.get("warning"):
        lines.append(pretrained_warning(check))
    return "\n\n".join(f"> {line}" for line in lines if line)


def subsample_sentence(split: dict, data: dict) -> str:
    usable = data.get("usable")
    of = f" of the {usable} usable ones" if usable else ""
    return (
        f"**Subsample.** This run keeps at most {split['max_per_category']} photos per category "
        f"(`max_per_category`): {split['images']} photos{of}."
    )


def not_run_text(skipped: dict[str, str]) -> str:
    """The candidates this run could not run, grouped by the reason (what to download, where)."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped.items():
        by_reason.setdefault(why, []).append(f"`{name}`")
    items = " ".join(f"{listing(names)}: {why}" for why, names in by_reason.items())
    return (
        f"**Not run: {plural(len(skipped), 'candidate')} whose weights are not on this machine.** "
        + items
    )


def _check_facts(check: dict) -> str:
    return (
        f"`{check.get('model', '?')}` names {check['correct']} of the {check['images']} validation "
        f"photos correctly with the category prompts, zero-shot: {pct(check['accuracy'])} (Wilson "
        f"CI {pct(check['ci_low'])}–{pct(check['ci_high'])}), against {pct(check['chance'])} by "
        f"chance (one-sided binomial {_p_is(check['p_value'])}; temperature "
        f"{check['temperature']:.3g}: "
        f"{check.get('temperature_source') or 'where it came from was not recorded'})"
    )


def pretrained_warning(check: dict) -> str:
    """The warning of banners and the note when the loaded CLIP is far from pretrained behaviour."""
    why = {
        "chance": "indistinguishable from chance: random or tiny weights, or a wrong or damaged "
        "model folder",
        "weak": f"above chance but entirely below {pct(check.get('floor', np.nan), 0)}, far from "
        "a pretrained CLIP on these categories: check clip_model (a wrong folder, another model, "
        "a damaged checkpoint)",
    }.get(check.get("verdict"), "far from a pretrained CLIP")
    return (
        f"**The loaded CLIP does not behave like a pretrained one.** {_check_facts(check)}: {why}. "
        "Every CLIP number of this run says nothing about CLIP."
    )


def pretrained_sentence(check: dict) -> str:
    """Notebook 03's reading of the pretrained-behaviour check."""
    if not check:
        return ""
    if check.get("warning"):
        return pretrained_warning(check)
    return f"{_check_facts(check)}: it behaves like a pretrained CLIP."


def decode_sentence(decode: dict) -> str:
    """How photos are decoded, and how far that input is from the reference pipelines'."""
    size = decode.get("min_side")
    what = (
        "in full"
        if not size
        else f"at a reduced size where the file is large (JPEG draft mode, both sides kept at "
        f"{size} px or more; smaller photos in full)"
    )
    text = f"Photos are decoded {what} before each encoder's own resize and crop"
    parity = decode.get("parity") or {}
    if parity:
        text += (
            "; against the reference pipeline on a full decode, the normalised input differs by "
            + listing(
                f"{k}: {pct(v['rel_l2_median'], 2)} median and {pct(v['rel_l2_p95'], 2)} at the "
                f"95th percentile (relative L2, {int(v['images'])} photos)"
                for k, v in parity.items()
            )
        )
    return text + "."


def image_study_intro(name: str, n_test: int, correct: int, kernels: str) -> str:
    return (
        f"Explaining **{name}** on the {n_test} test products, {correct} of them correctly "
        f"classified (explanation passes: {kernels})."
    )


def precision_sentence(check: dict) -> str:
    """The bfloat16 check of notebook 03 (empty when every encoder runs in float32)."""
    if not check:
        return "Every encoder runs in float32 here."
    return (
        "bfloat16 against float32: "
        + "; ".join(
            f"{k}: embedding cosine {v['cosine_min']:.5f} at worst, {v['cosine_median']:.5f} "
            "median, "
            f"on {v['images']} photos"
            for k, v in check.items()
        )
        + " (notebook 05 compares the heads' predictions on them)."
    )


def nothing_here(what: str, needs, metrics: dict, skipped: dict | None = None) -> str:
    """One line for a notebook section with nothing to show: ``what`` needs one of ``needs``,
    and why none of them ran (its weights are missing, or it was not in this run's models).
    ``skipped``: the candidates this run skipped, where the notebook knows them before it
    records them (notebook 03); else the recorded ``features.skipped``."""
    needs = list(needs)
    if skipped is None:
        skipped = (metrics.get("features") or {}).get("skipped") or {}
    names = listing((f"`{n}`" for n in needs), "or")
    why = (
        "which could not run here (its weights are not on this machine)"
        if any(n in skipped for n in needs)
        else "which was not among this run's models"
    )
    return f"*Nothing to show here: {what} needs {names}, {why}.*"


def nothing_because(why: str) -> str:
    """One line for a notebook section with nothing to show, and why."""
    return f"*Nothing to show here: {why}.*"


def errors_line(name: str, wrong: int, tested: int) -> str:
    return f"**{name}**: {wrong} of {tested} test products misclassified."


def per_class_line(names: list[str]) -> str:
    return f"Per class, on the test split: {listing(f'`{n}`' for n in names)}."


def note_written(paths: list, missing: list[str]) -> str:
    """Notebook 07's line: the files written and the figures this run did not draw."""
    shown = listing(f"`{m}`" for m in missing) or "none"
    wrote = listing(f"`{p}`" for p in paths if p)
    return f"Wrote {wrote}; figures not drawn in this run: {shown}."
