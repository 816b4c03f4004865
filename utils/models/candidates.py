"""The candidate registry: every candidate model declared once (``CANDIDATES``).

A candidate says what it reads (image, text, both), how its features are made (feature *sources*:
cached CLIP image / text embeddings, VGG16 pooled features, classical pixel features, raw text for
TF-IDF), how it is fitted (its *family*: a head through ``train.fit``, a scikit-learn logistic
regression on standardised features with ``C`` chosen on validation, nothing for zero-shot, a
weight for late fusion, a few encoder blocks for fine-tuning) and what one prediction costs.
Notebooks take a list of candidate names (``models``) and call the same functions for every one:
``panel.Panel`` (what they share), ``fitting.fit`` (a trained candidate), ``families.load`` (a
saved one). A new candidate of an existing family is one entry here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from . import encoders

if TYPE_CHECKING:  # annotations only: the module above imports this one
    from .panel import Settings


@dataclass(frozen=True)
class Candidate:
    name: str
    reads: str  # "image", "text" or "image+text"
    family: str  # "head", "probe", "tfidf", "zeroshot", "late-fusion", "finetune"
    inputs: tuple[str, ...] = ()  # feature sources, concatenated (see SOURCES)
    design: str | None = None  # head design (train.HEAD_DESIGNS)
    augment: bool = False  # also trained on augmented views of the training photos
    members: tuple[str, ...] = ()  # late fusion: (image candidate, text candidate)
    cost: str = ""  # what one prediction runs
    about: str = ""


SOURCES = {
    "clip-image": "CLIP image embedding (frozen vision tower)",
    "vgg16-image": "VGG16 conv base, globally average-pooled",
    "clip-text": "CLIP text embedding of the product name (77-token context: longer names are "
    "cut at the end)",
    "pixels": "HSV colour histogram + HOG of the grey levels (scikit-image)",
    "text": "product name and description (raw text)",
}

CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate(
            "clip-head",
            "image",
            "head",
            ("clip-image",),
            design="clip",
            cost="CLIP image forward + 2-layer head",
            about="the note's model: frozen CLIP, Linear-ReLU-Linear, Adam",
        ),
        Candidate(
            "vgg16-head",
            "image",
            "head",
            ("vgg16-image",),
            design="vgg16",
            cost="VGG16 conv forward + head",
            about="the note's baseline: frozen VGG16, Dense-ReLU-Dropout-Linear, RMSprop",
        ),
        Candidate(
            "clip-zeroshot",
            "image",
            "zeroshot",
            ("clip-image",),
            cost="CLIP image forward + cosine to the class prompts",
            about="no labelled image: category names in prompt templates, CLIP text tower, prompt "
            "ensembling",
        ),
        Candidate(
            "clip-probe",
            "image",
            "probe",
            ("clip-image",),
            cost="CLIP image forward + logistic regression",
            about="logistic regression on standardised features, C chosen on validation",
        ),
        Candidate(
            "vgg16-probe",
            "image",
            "probe",
            ("vgg16-image",),
            cost="VGG16 conv forward + logistic regression",
            about="logistic regression on standardised VGG16 features, C chosen on validation",
        ),
        Candidate(
            "text-tfidf",
            "text",
            "tfidf",
            ("text",),
            cost="TF-IDF + logistic regression",
            about="TF-IDF of product name and description, logistic regression",
        ),
        Candidate(
            "clip-text",
            "text",
            "probe",
            ("clip-text",),
            cost="CLIP text forward + logistic regression",
            about="CLIP text embedding of the product name + logistic regression on standardised "
            "features, C chosen on validation",
        ),
        Candidate(
            "fusion-late",
            "image+text",
            "late-fusion",
            members=("clip-probe", "text-tfidf"),
            cost="both members",
            about="weighted average of clip-probe and text-tfidf probabilities, weight chosen on "
            "validation",
        ),
        Candidate(
            "fusion-early",
            "image+text",
            "head",
            ("clip-image", "clip-text"),
            design="clip",
            cost="CLIP image + text forwards + head",
            about="CLIP image and name embeddings concatenated, then the CLIP head",
        ),
        Candidate(
            "pixels-classic",
            "image",
            "probe",
            ("pixels",),
            cost="colour histogram + HOG + logistic regression",
            about="a pre-deep-learning floor: logistic regression on standardised features, "
            "C chosen on validation",
        ),
        Candidate(
            "clip-head-aug",
            "image",
            "head",
            ("clip-image",),
            design="clip",
            augment=True,
            cost="as clip-head",
            about="clip-head trained on the photos and their augmented views",
        ),
        Candidate(
            "vgg16-head-aug",
            "image",
            "head",
            ("vgg16-image",),
            design="vgg16",
            augment=True,
            cost="as vgg16-head",
            about="vgg16-head trained on the photos and their augmented views",
        ),
        Candidate(
            "clip-finetune",
            "image",
            "finetune",
            ("clip-image",),
            design="clip",
            cost="as clip-head (fine-tuned last block(s))",
            about="CLIP's last k blocks, post-layernorm and projection fine-tuned with the head "
            "(AdamW)",
        ),
        Candidate(
            "vgg16-finetune",
            "image",
            "finetune",
            ("vgg16-image",),
            design="vgg16",
            cost="as vgg16-head (fine-tuned block5)",
            about="VGG16's last conv block fine-tuned with the head (AdamW)",
        ),
        Candidate(
            "clip-finetune-aug",
            "image",
            "finetune",
            ("clip-image",),
            design="clip",
            augment=True,
            cost="as clip-finetune",
            about="clip-finetune on the photos and their augmented views",
        ),
        Candidate(
            "vgg16-finetune-aug",
            "image",
            "finetune",
            ("vgg16-image",),
            design="vgg16",
            augment=True,
            cost="as vgg16-finetune",
            about="vgg16-finetune on the photos and their augmented views",
        ),
    ]
}
REFERENCE = "clip-head"  # the note's model: every candidate is tested against it
HEADLINE = ("clip-head", "vgg16-head")


def resolve(names: list[str]) -> list[str]:
    """Check candidate names; unknown names fail with the list of known ones."""
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate(s) {unknown}; known: {', '.join(CANDIDATES)}")
    return list(dict.fromkeys(names))


def needs(names: list[str]) -> set[str]:
    """Feature sources (and encoder kinds) the candidates ``names`` read, members of fusions
    included."""
    out: set[str] = set()
    for n in names:
        c = CANDIDATES[n]
        out |= set(c.inputs) | needs(list(c.members))
        if c.family == "zeroshot":
            out.add("clip-text-tower")
    return out


def encoder_kinds(names: list[str]) -> set[str]:
    """The pretrained encoders (``"clip"``, ``"vgg16"``) the candidates ``names`` need."""
    sources = needs(names)
    kinds = {s.split("-")[0] for s in sources if s.startswith(("clip", "vgg16"))}
    return kinds


def registry_table() -> pd.DataFrame:
    """The registry as a table (README, notebooks)."""
    return pd.DataFrame(
        [
            {
                "candidate": c.name,
                "reads": c.reads,
                "fitted by": c.family,
                "features": " + ".join(c.inputs) or " + ".join(c.members),
                "one prediction": c.cost,
                "what": c.about,
            }
            for c in CANDIDATES.values()
        ]
    ).set_index("candidate")


# --------------------------------------------------------------------------- zero-shot prompts
PROMPTS = (
    "a photo of a {}, a product sold online.",
    "a photo of a {}.",
    "a product photo of {}.",
    "{} for sale in an online shop.",
    "a close-up photo of {}.",
)


def category_name(label: str) -> str:
    """A category as words for a prompt: the last level of the path, ``&`` as "and", lower case."""
    name = label.split(">>")[-1].strip()
    return re.sub(r"\s+", " ", name.replace("&", "and")).strip().lower()


def cache_only(name: str) -> bool:
    """True when fitting ``name`` reads cached features only (no encoder pass, no activations):
    heads without augmented views, probes, TF-IDF, zero-shot, and late fusions of such members."""
    c = CANDIDATES[name]
    if c.family == "late-fusion":
        return all(cache_only(m) for m in c.members)
    return c.family in ("probe", "tfidf", "zeroshot") or (c.family == "head" and not c.augment)


def _all_inputs(name: str) -> set[str]:
    c = CANDIDATES[name]
    out = set(c.inputs)
    for m in c.members:
        out |= _all_inputs(m)
    if c.family == "zeroshot":
        out |= {"clip-image", "clip-text"}
    return out


def _kinds(sources) -> set[str]:
    """Encoder kinds behind feature ``sources`` (``clip``, ``vgg16``, ``clip-text``)."""
    return {
        s.split("-")[0] if s != "clip-text" else "clip-text"
        for s in sources
        if s not in ("text", "pixels")
    }


def fit_order(names: list[str]) -> list[str]:
    """``names`` with the late-fusion candidates last, so that their members are fitted first and
    shared."""
    return sorted(names, key=lambda n: CANDIDATES[n].family == "late-fusion")


# --------------------------------------------------------------------------- what this run can run
def runnable(
    names: list[str], settings: Settings, models_dir, strict: bool = False
) -> tuple[list[str], dict[str, str]]:
    """``(runnable, skipped)``: the candidates of ``names`` whose encoders' weights are on this
    machine (or downloadable), and ``{name: why not}`` for the others, the reason saying what to
    download and where to put it. ``strict``: a missing input is an error
    (``encoders.ModelUnavailableError``) instead of a skip."""
    names = resolve(names)
    reasons = {}
    for kind, weights in (("clip", settings.clip_model), ("vgg16", settings.vgg_weights)):
        if kind in encoder_kinds(names):
            why = encoders.availability(kind, weights, models_dir)
            if why:
                reasons[kind] = why
    run, skipped = [], {}
    for n in names:
        missing = [reasons[k] for k in sorted(encoder_kinds([n])) if k in reasons]
        if missing:
            skipped[n] = " ".join(dict.fromkeys(missing))
        else:
            run.append(n)
    if strict and skipped:
        raise encoders.ModelUnavailableError(
            f"strict run: {len(skipped)} candidate(s) cannot run ({', '.join(skipped)}): "
            + " ".join(dict.fromkeys(skipped.values()))
        )
    return run, skipped


def stand_in_candidates(names: list[str], stand: dict[str, str]) -> set[str]:
    """The candidates of ``names`` that read an encoder with stand-in weights."""
    return {n for n in names if encoder_kinds([n]) & set(stand)}
