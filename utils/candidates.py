"""The panel: every candidate model declared once, fitted and evaluated through one contract.

A candidate (``CANDIDATES``) says what it reads (image, text, both), how its features are made
(feature *sources*: cached CLIP image / text embeddings, VGG16 pooled features, classical pixel
features, raw text for TF-IDF), how it is fitted (a head through ``train.fit``, a scikit-learn
logistic regression on standardised features with ``C`` chosen on validation, nothing for
zero-shot, a weight for late fusion, a few encoder blocks for fine-tuning) and what one prediction
costs. Notebooks take a list of candidate names (``models``) and call the same functions for
every one:

- ``Panel``: what candidates share in a run: settings, encoders (loaded once), cached features.
- ``fit(name, panel, train_rows, val_rows)``: a ``Fitted`` candidate (training and validation rows
  only).
- ``Fitted.save`` / ``load(name, panel)``: ``data/models/candidates/<name>/``
  (``Layout.candidate``); a candidate records the encoders and the split it was trained on, and
  loading it with other encoders or another split fails with one sentence saying which notebook to
  re-run.
- ``Fitted.predict_proba(panel, rows)``: from cached features; ``Fitted.infer(panel, rows)``:
  from the files themselves, no cache (timing, ``utils.predict``).
- Checks on the run's weights (notebook 03): ``pretrained_check`` (does CLIP behave like a
  pretrained CLIP?), ``input_check`` (decoded input against the reference pipelines) and
  ``precision_check`` (bfloat16 features against float32 ones).
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax
from torch import nn

from . import features, models, parallel, runs, timing, train
from .augment import Augmentation
from .paths import Layout
from .progress import bar


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
# Candidates saved before the decode size was recorded read photos decoded at 256.
UNRECORDED_DECODE_MIN_SIDE = 256
HEADLINE = ("clip-head", "vgg16-head")


class CandidateMismatch(RuntimeError):
    """A saved candidate does not match this run (another encoder, split or class list)."""


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


# ------------------------------------------------------------------------ settings and shared state
@dataclass
class Settings:
    """The candidates' knobs (notebook parameters); defaults are the note's and the issues'
    choices."""

    clip_model: str = models.CLIP_DEFAULT
    vgg_weights: str = models.VGG_DEFAULT
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 16  # images per encoder forward pass
    num_workers: int = 1  # image-decoding processes
    decode_min_side: int | None = models.DECODE_MIN_SIDE  # JPEG draft decode size; None: full
    seed: int = 42
    epochs: int = 30  # heads
    patience: int = 5
    head_batch_size: int = 32
    head_overrides: dict = field(default_factory=dict)  # {"clip": {"lr": ...}, "vgg16": {...}}
    probe_cs: tuple = train.PROBE_CS
    fusion_weights: tuple = tuple(np.round(np.linspace(0, 1, 11), 2))
    prompts: tuple = PROMPTS
    finetune_blocks: int = 1  # k: the last k blocks are trained
    finetune_epochs: int = 10
    finetune_patience: int = 3
    finetune_lr: float = 1e-5  # encoder blocks (AdamW)
    finetune_head_lr: float = 1e-3  # head (AdamW)
    finetune_weight_decay: float = 0.01
    finetune_objective: str = (
        "head"  # "head": a new head; "text": cosine to the class prompts (CLIP only)
    )
    views: int = 4  # augmented views per training photo
    augment_seed: int = 0

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(views=self.views, seed=self.augment_seed)

    @classmethod
    def from_params(cls, params: dict) -> Settings:
        """Settings from a notebook's variables (unknown names are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in params.items() if k in known})


class Panel:
    """What the candidates of one run share: settings, encoders (loaded once, lazily), cached
    features."""

    def __init__(
        self,
        layout: Layout,
        settings: Settings,
        classes: list[str],
        split_id: str = "",
        corpus: list[str] | None = None,
        progress: bool = True,
    ) -> None:
        self.layout, self.settings, self.classes, self.split_id = (
            layout,
            settings,
            list(classes),
            split_id,
        )
        self.corpus, self.progress = corpus, progress
        self._encoders: dict[str, object] = {}
        self._memo: dict[str, dict[str, np.ndarray]] = {}
        self.stats: dict[str, dict] = {}
        self.capture: set[str] = (
            set()
        )  # encoder kinds whose fine-tuning activations ride along feature extraction

    # ---- encoders
    def encoder(self, kind: str):
        """``"clip"``, ``"vgg16"`` (image encoders) or ``"clip-text"`` (the text tower), loaded
        once."""
        if kind not in self._encoders:
            s, mdir = self.settings, self.layout.models
            if kind == "clip":
                self._encoders[kind] = models.load_clip(
                    s.clip_model, s.device, mdir, s.precision, self.corpus, s.decode_min_side
                )
            elif kind == "vgg16":
                self._encoders[kind] = models.load_vgg16(
                    s.vgg_weights, s.device, mdir, s.precision, s.decode_min_side
                )
            elif kind == "clip-text":
                self._encoders[kind] = models.load_clip_text(
                    s.clip_model, s.device, mdir, s.precision, self.corpus
                )
            else:
                raise ValueError(f"unknown encoder {kind!r}")
        return self._encoders[kind]

    def loaded(self) -> dict:
        return dict(self._encoders)

    # ---- features
    def features(self, source: str, rows: pd.DataFrame) -> np.ndarray | list[str]:
        """The cached features of ``rows`` from ``source`` (computed and cached if missing)."""
        if source == "text":
            return features.product_text(rows)
        keys = self._keys(source, rows)
        memo = self._memo.setdefault(source, {})
        missing = [i for i, k in enumerate(keys) if k not in memo]
        if missing:
            with timing.step(f"features {source}"):
                self._compute(source, rows, keys, missing, memo)
        return np.stack([memo[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def _compute(self, source: str, rows: pd.DataFrame, keys: list, missing: list, memo: dict):
        """Features of ``rows.iloc[missing]`` into ``memo`` (disk cache, else encoder)."""
        part = rows.iloc[missing]
        s = self.settings
        if source in ("clip-image", "vgg16-image"):
            kind = source.split("-")[0]
            also = (s.finetune_blocks, self.layout.activations) if kind in self.capture else None
            X, stats = features.extract(
                self.encoder(kind),
                part,
                self.layout.features,
                s.batch_size,
                s.num_workers,
                progress=self.progress,
                also_activations=also,
            )
        elif source == "clip-text":
            X, stats = features.extract_text(
                self.encoder("clip-text"),
                part["product_name"].tolist(),
                self.layout.features,
                progress=self.progress,
            )
        elif source == "pixels":
            X, stats = features.extract_pixels(
                part,
                self.layout.features,
                progress=self.progress,
                decode_min_side=s.decode_min_side,
            )
        else:
            raise ValueError(f"unknown feature source {source!r}; known: {', '.join(SOURCES)}")
        self._add_stats(source, stats)
        for i, vec in zip(missing, X):
            memo[keys[i]] = vec

    def _keys(self, source: str, rows: pd.DataFrame) -> list[str]:
        if source == "clip-text":
            return [features.text_sha(t) for t in rows["product_name"]]
        return rows["sha256"].tolist()

    def _add_stats(self, source: str, stats: dict) -> None:
        old = self.stats.get(source)
        if old is None:
            self.stats[source] = dict(stats)
        else:
            for k in ("cached", "computed", "seconds"):
                old[k] = round(old[k] + stats[k], 3)
            old["seconds_per_item"] = (
                round(old["seconds"] / old["computed"], 4) if old["computed"] else None
            )
            if "truncated" in stats:
                old["truncated"] = old.get("truncated", 0) + stats["truncated"]

    def inputs(self, sources: tuple[str, ...], rows: pd.DataFrame):
        parts = [self.features(s, rows) for s in sources]
        if len(parts) == 1:
            return parts[0]
        return np.hstack(parts)

    def raw(self, source: str, rows: pd.DataFrame):
        """Features computed from the files themselves, no cache (timing, new photos)."""
        s = self.settings
        if source == "text":
            return features.product_text(rows)
        if source in ("clip-image", "vgg16-image"):
            encoder = self.encoder(source.split("-")[0])
            out = [
                encoder(batch).numpy()
                for batch in features.image_loader(
                    rows["path"].tolist(), encoder, s.batch_size, num_workers=0
                )
            ]
            return np.concatenate(out)
        if source == "clip-text":
            return self.encoder("clip-text")(rows["product_name"].tolist()).numpy()
        if source == "pixels":
            return np.stack(
                [
                    features.pixel_vector(features.load_model_input(p, s.decode_min_side))
                    for p in rows["path"]
                ]
            )
        raise ValueError(f"unknown feature source {source!r}")

    def raw_inputs(self, sources: tuple[str, ...], rows: pd.DataFrame):
        parts = [self.raw(s, rows) for s in sources]
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    def views(self, kind: str, rows: pd.DataFrame) -> np.ndarray:
        """Frozen features of the augmented views of ``rows`` (training rows only), ``views`` per
        row."""
        s = self.settings
        X, stats = features.view_features(
            self.encoder(kind),
            s.finetune_blocks,
            rows,
            self.layout.activations,
            s.augmentation,
            progress=self.progress,
        )
        self._add_stats(f"{kind}-views", stats)
        return X

    def activations(
        self, kind: str, rows: pd.DataFrame, augmented: bool = False, k: int | None = None
    ) -> np.ndarray:
        """Cached activations entering the last ``k`` blocks (default ``finetune_blocks``) of
        ``rows`` (the photos, or their augmented views)."""
        s = self.settings
        with timing.step(f"{kind} {'views' if augmented else 'activations'}"):
            A, stats = features.activations(
                self.encoder(kind),
                k or s.finetune_blocks,
                rows,
                self.layout.activations,
                s.augmentation if augmented else None,
                s.batch_size,
                progress=self.progress,
            )
        self._add_stats(f"{kind}-views" if augmented else f"{kind}-activations", stats)
        return A

    def y(self, rows: pd.DataFrame) -> np.ndarray:
        return features.label_ids(rows["label"], self.classes)

    def class_embeddings(self) -> np.ndarray:
        """The classes' prompt embeddings through the CLIP text tower (``class_embeddings``)."""
        return class_embeddings(self)


@dataclass(frozen=True)
class EncoderInfo:
    """What a fit records of an encoder (its name and identity, and a text tower's temperature),
    without the encoder."""

    name: str
    identity: str
    temperature: float | None = None
    temperature_source: str | None = None


class CachedPanel:
    """A ``Panel`` reduced to what refitting the ``cache_only`` candidates reads: settings, classes,
    the cached features of some rows, the encoders' names and identities, the class prompt
    embeddings. No encoder and no file: it is what worker processes receive (``from_panel``)."""

    progress = False

    def __init__(
        self,
        settings: Settings,
        classes: list[str],
        split_id: str,
        vectors: dict[str, tuple[list[str], np.ndarray]],
        encoders: dict[str, EncoderInfo],
        prompt_embeddings: np.ndarray | None = None,
    ) -> None:
        self.settings, self.classes, self.split_id = settings, list(classes), split_id
        self.vectors, self.encoders = vectors, encoders
        self.prompt_embeddings = prompt_embeddings
        self._index = {s: {k: i for i, k in enumerate(keys)} for s, (keys, _) in vectors.items()}

    @classmethod
    def from_panel(cls, panel: Panel, names: list[str], rows: pd.DataFrame) -> CachedPanel:
        """Everything ``names`` read on ``rows``, computed here (features from the caches, encoder
        identities, prompt embeddings for zero-shot)."""
        unfit = [n for n in names if not cache_only(n)]
        if unfit:
            raise ValueError(f"{unfit} read more than cached features: they are refitted in place")
        sources = needs(names)
        vectors = {}
        for source in SOURCES:
            if source in sources and source != "text":
                X = panel.features(source, rows)
                keys = panel._keys(source, rows)
                unique = dict(zip(keys, range(len(keys))))  # last row of each key, as the memo
                vectors[source] = (list(unique), X[list(unique.values())])
        kinds = {k for n in names for k in _kinds(_all_inputs(n))}
        if "clip-text-tower" in sources:
            kinds |= {"clip", "clip-text"}
        encoders = {
            k: EncoderInfo(
                panel.encoder(k).name,
                panel.encoder(k).identity,
                getattr(panel.encoder(k), "temperature", None),
                getattr(panel.encoder(k), "temperature_source", None),
            )
            for k in kinds
        }
        prompts = None
        if "clip-text-tower" in sources:
            with parallel.limited(parallel.SMALL_FIT_THREADS):  # as ``fit`` computes them
                prompts = panel.class_embeddings()
        return cls(panel.settings, panel.classes, panel.split_id, vectors, encoders, prompts)

    def encoder(self, kind: str) -> EncoderInfo:
        if kind not in self.encoders:
            raise KeyError(f"encoder {kind!r} was not recorded for these refits")
        return self.encoders[kind]

    def features(self, source: str, rows: pd.DataFrame):
        if source == "text":
            return features.product_text(rows)
        keys, X = self.vectors[source]
        index = self._index[source]
        return X[[index[k] for k in self._keys(source, rows)]]

    _keys = Panel._keys
    inputs = Panel.inputs
    y = Panel.y

    def class_embeddings(self) -> np.ndarray:
        if self.prompt_embeddings is None:
            raise KeyError("the class prompt embeddings were not recorded for these refits")
        return self.prompt_embeddings


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


def prepare(
    panel: Panel, names: list[str], inputs: pd.DataFrame, train_rows: pd.DataFrame
) -> pd.DataFrame:
    """Compute (or reuse from the caches) everything the candidates ``names`` read.

    ``inputs``: every row (no labels needed: encoders never see one); ``train_rows``: the rows whose
    augmented views are made. Fine-tuning activations of every row are captured during the same
    forward pass as the features. Returns what each source cost (cached / computed / seconds).
    """
    names = resolve(names)
    chosen = [CANDIDATES[n] for n in names]
    sources = needs(names)
    panel.capture = {c.inputs[0].split("-")[0] for c in chosen if c.family == "finetune"}
    for source in SOURCES:
        if source in sources and source != "text":
            panel.features(source, inputs)
    if "clip-text-tower" in sources:
        panel.encoder("clip-text")
    for kind in sorted(panel.capture):
        panel.activations(kind, inputs)  # already cached by the pass above: a check
    for kind in sorted({c.inputs[0].split("-")[0] for c in chosen if c.augment}):
        panel.activations(
            kind, train_rows, augmented=True
        )  # what is cached; heads run the frozen tail in 04
    return pd.DataFrame(panel.stats).T


def fit_order(names: list[str]) -> list[str]:
    """``names`` with the late-fusion candidates last, so that their members are fitted first and
    shared."""
    return sorted(names, key=lambda n: CANDIDATES[n].family == "late-fusion")


def fit_all(
    names: list[str],
    panel: Panel,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    layout: Layout | None = None,
    progress: bool = True,
) -> dict[str, Fitted]:
    """Fit every candidate (training rows, selection on validation rows) and save it under
    ``layout``."""
    out = {}
    for name in bar(fit_order(resolve(names)), desc="fit candidates", disable=not progress):
        out[name] = fit(name, panel, train_rows, val_rows, fitted=out)
        if layout is not None:
            with timing.step(f"save {name}"):
                out[name].save(layout.candidate(name))
    return {n: out[n] for n in resolve(names)}


def training_table(fitted: dict[str, Fitted]) -> pd.DataFrame:
    """One row per fitted candidate: how it was chosen on validation and what it cost."""
    rows = {}
    for name, f in fitted.items():
        i = f.info
        rows[name] = {
            "family": f.candidate.family,
            "val_accuracy": i.get("val_accuracy"),
            "val_loss": i.get("val_loss"),
            "chosen": _chosen(f),
            "train_seconds": i.get("train_seconds"),
            "trained_parameters": f.parameters(),
            "labelled (train + val)": i.get("labelled_train", 0) + i.get("labelled_val", 0),
        }
    return pd.DataFrame(rows).T


def _chosen(f: Fitted) -> str:
    i = f.info
    if f.candidate.family in ("head", "finetune"):
        return f"epoch {i['best_epoch']} of {i['epochs_run']}"
    if f.candidate.family in ("probe", "tfidf"):
        return f"C = {i['C']:g}"
    if f.candidate.family == "late-fusion":
        return f"image weight {i['weight']:g}"
    return "nothing (zero-shot)"


# --------------------------------------------------------------------------- fitted candidates
class Fitted:
    """A trained candidate. Subclasses implement ``predict_vectors`` and their payload's
    save/load."""

    def __init__(
        self,
        candidate: Candidate,
        classes: list[str],
        info: dict,
        encoders: dict[str, str],
        split_id: str,
    ) -> None:
        self.candidate, self.classes, self.info = candidate, list(classes), info
        self.encoders, self.split_id = encoders, split_id

    @property
    def name(self) -> str:
        return self.candidate.name

    # ---- prediction
    def predict_vectors(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        """Class probabilities of ``rows`` from cached features."""
        return self.predict_vectors(panel.inputs(self.candidate.inputs, rows))

    def infer(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        """Class probabilities of ``rows`` computed from the files and texts themselves (no
        cache)."""
        return self.predict_vectors(panel.raw_inputs(self.candidate.inputs, rows))

    def image_encoder(self, panel: Panel):
        """The image encoder whose output ``predict_vectors`` reads (explanations), or None for
        non-image candidates."""
        c = self.candidate
        if (
            c.reads != "image"
            or len(c.inputs) != 1
            or c.inputs[0] not in ("clip-image", "vgg16-image")
        ):
            return None
        return panel.encoder(c.inputs[0].split("-")[0])

    def parameters(self) -> int:
        """Trained parameters (head weights, probe coefficients...)."""
        return 0

    def weights(self) -> list[np.ndarray]:
        """The fitted numbers (for the fingerprint)."""
        return []

    def fingerprint(self) -> str:
        """A short hash of the candidate, its encoders and its fitted numbers (explanation cache
        key)."""
        import hashlib

        h = hashlib.sha256(
            json.dumps({"name": self.name, "enc": self.encoders}, sort_keys=True).encode()
        )
        for w in self.weights():
            h.update(np.ascontiguousarray(w).tobytes())
        return h.hexdigest()[:16]

    # ---- saving
    def save(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_payload(folder)
        meta = {
            "candidate": asdict(self.candidate),
            "classes": self.classes,
            "info": self.info,
            "encoders": self.encoders,
            "split_id": self.split_id,
            "family": self.candidate.family,
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=runs.jsonable))
        return folder

    def _save_payload(self, folder: Path) -> None:
        raise NotImplementedError

    def check(self, panel: Panel) -> None:
        """Fail with one sentence if this candidate was trained with other encoders, split or
        classes."""
        for kind, identity in self.encoders.items():
            current = panel.encoder(kind).identity
            if current != identity:
                raise CandidateMismatch(
                    f"{self.name} was trained on {kind} encoder {identity}, but this run's {kind} "
                    f"encoder is {current} ({panel.encoder(kind).name!r}): re-run notebook 04 "
                    "(training) with these models."
                )
        if panel.split_id and self.split_id and panel.split_id != self.split_id:
            raise CandidateMismatch(
                f"{self.name} was trained on split {self.split_id}, but the current split is "
                f"{panel.split_id}: re-run notebook 04 (training) after notebook 02."
            )
        if self.classes != panel.classes:
            raise CandidateMismatch(
                f"{self.name} was trained on classes {self.classes}, this run has "
                f"{panel.classes}: re-run notebook 04 (training)."
            )
        decode = self.info.get("decode_min_side", UNRECORDED_DECODE_MIN_SIDE)
        if "image" in self.candidate.reads and decode != panel.settings.decode_min_side:
            raise CandidateMismatch(
                f"{self.name} was trained on photos decoded at decode_min_side={decode}, this run "
                f"decodes them at {panel.settings.decode_min_side}: set decode_min_side={decode} "
                "or re-run notebook 04 (training)."
            )


class HeadModel(Fitted):
    """A head (``train.make_head``) on cached vectors."""

    def __init__(
        self, *args, head: nn.Module, config: train.HeadConfig, history: pd.DataFrame, **kw
    ) -> None:
        super().__init__(*args, **kw)
        self.head, self.config, self.history = head.eval(), config, history

    def predict_vectors(self, X) -> np.ndarray:
        return train.predict_proba(self.head, X)

    def parameters(self) -> int:
        return sum(p.numel() for p in self.head.parameters())

    def weights(self) -> list[np.ndarray]:
        return [t.detach().numpy() for t in self.head.state_dict().values()]

    def _save_payload(self, folder: Path) -> None:
        torch.save(
            {
                "state_dict": self.head.state_dict(),
                "config": asdict(self.config),
                "history": self.history.to_dict("list"),
            },
            folder / "head.pt",
        )

    @classmethod
    def _load(cls, folder: Path, base: dict) -> HeadModel:
        ckpt = torch.load(folder / "head.pt", map_location="cpu", weights_only=False)
        config = train.HeadConfig(**ckpt["config"])
        head = train.make_head(config)
        head.load_state_dict(ckpt["state_dict"])
        return cls(**base, head=head, config=config, history=pd.DataFrame(ckpt["history"]))


class ProbeModel(Fitted):
    """A scikit-learn estimator (logistic regression on standardised features, or the TF-IDF
    pipeline) on cached vectors or raw text."""

    def __init__(self, *args, estimator, **kw) -> None:
        super().__init__(*args, **kw)
        self.estimator = estimator

    def predict_vectors(self, X) -> np.ndarray:
        return train.full_proba(self.estimator, X, len(self.classes))

    def parameters(self) -> int:
        lr = self.estimator[-1]
        return int(lr.coef_.size + lr.intercept_.size)

    def weights(self) -> list[np.ndarray]:
        lr = self.estimator[-1]
        return [lr.coef_, lr.intercept_]

    def _save_payload(self, folder: Path) -> None:
        import joblib

        joblib.dump(self.estimator, folder / "model.joblib")

    @classmethod
    def _load(cls, folder: Path, base: dict) -> ProbeModel:
        import joblib

        return cls(**base, estimator=joblib.load(folder / "model.joblib"))


class ZeroShotModel(Fitted):
    """Cosine similarity between the image embedding and each class's averaged prompt embeddings,
    times the checkpoint's temperature (``exp(logit_scale)``, at most 100), then a softmax."""

    def __init__(
        self,
        *args,
        class_embeddings: np.ndarray,
        temperature: float = models.MAX_TEMPERATURE,
        **kw,
    ) -> None:
        super().__init__(*args, **kw)
        self.class_embeddings = np.asarray(class_embeddings, dtype=np.float32)
        self.temperature = float(temperature)

    def similarities(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return X @ self.class_embeddings.T

    def predict_vectors(self, X) -> np.ndarray:
        return softmax(self.temperature * self.similarities(X), axis=1)

    def weights(self) -> list[np.ndarray]:
        return [self.class_embeddings, np.array([self.temperature])]

    def _save_payload(self, folder: Path) -> None:
        np.save(folder / "class_embeddings.npy", self.class_embeddings)

    @classmethod
    def _load(cls, folder: Path, base: dict) -> ZeroShotModel:
        # candidates saved before the temperature was recorded used CLIP's clamp, 100
        return cls(
            **base,
            class_embeddings=np.load(folder / "class_embeddings.npy"),
            temperature=base["info"].get("temperature", models.MAX_TEMPERATURE),
        )


class LateFusionModel(Fitted):
    """``weight * p(image member) + (1 - weight) * p(text member)``."""

    def __init__(self, *args, members: list[Fitted], weight: float, **kw) -> None:
        super().__init__(*args, **kw)
        self.members, self.weight = members, float(weight)

    @staticmethod
    def mix(weight: float, image: np.ndarray, text: np.ndarray) -> np.ndarray:
        p = weight * np.asarray(image, np.float64) + (1 - weight) * np.asarray(text, np.float64)
        return p / p.sum(axis=1, keepdims=True)

    def combine(self, image: np.ndarray, text: np.ndarray) -> np.ndarray:
        return self.mix(self.weight, image, text)

    def predict_proba(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        return self.combine(*(m.predict_proba(panel, rows) for m in self.members))

    def infer(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        return self.combine(*(m.infer(panel, rows) for m in self.members))

    def parameters(self) -> int:
        return sum(m.parameters() for m in self.members) + 1

    def weights(self) -> list[np.ndarray]:
        return [np.array([self.weight])] + [w for m in self.members for w in m.weights()]

    def check(self, panel: Panel) -> None:
        super().check(panel)
        for m in self.members:
            m.check(panel)

    def _save_payload(self, folder: Path) -> None:
        for m in self.members:
            m.save(folder / m.name)

    @classmethod
    def _load(cls, folder: Path, base: dict) -> LateFusionModel:
        members = [_load_folder(folder / name) for name in base["candidate"].members]
        return cls(**base, members=members, weight=base["info"]["weight"])


class TextClassifier(nn.Module):
    """Logits = temperature x cosine(embedding, class prompt embedding): the zero-shot classifier
    as a layer (``scale``: the checkpoint's temperature)."""

    def __init__(self, class_embeddings: np.ndarray, scale: float = models.MAX_TEMPERATURE) -> None:
        super().__init__()
        self.register_buffer(
            "classes", torch.as_tensor(np.asarray(class_embeddings, dtype=np.float32))
        )
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * nn.functional.normalize(x, dim=1) @ self.classes.T


class FinetuneModel(Fitted):
    """The last ``k`` encoder blocks (fine-tuned) and a head, on cached frozen-prefix
    activations."""

    def __init__(
        self,
        *args,
        tail: nn.Module,
        head: nn.Module,
        config: train.HeadConfig,
        history: pd.DataFrame,
        k: int,
        **kw,
    ) -> None:
        super().__init__(*args, **kw)
        self.tail, self.head, self.config, self.history, self.k = (
            tail.eval(),
            head.eval(),
            config,
            history,
            k,
        )
        self._tuned: tuple[models.Encoder, models.Encoder] | None = None  # (base, tuned)

    @property
    def kind(self) -> str:
        return self.candidate.inputs[0].split("-")[0]

    def predict_vectors(self, X) -> np.ndarray:
        """``X``: fine-tuned embeddings (what the fine-tuned encoder outputs)."""
        return train.predict_proba(self.head, X)

    def embed(self, acts: np.ndarray, batch_size: int = 64) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for b in range(0, len(acts), batch_size):
                out.append(
                    self.tail(
                        torch.from_numpy(np.asarray(acts[b : b + batch_size], dtype=np.float32))
                    ).numpy()
                )
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict_proba(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        return self.predict_vectors(self.embed(panel.activations(self.kind, rows, k=self.k)))

    def encoder(self, panel: Panel) -> models.Encoder:
        """The fine-tuned encoder: the run's encoder with these blocks, a new model with its own
        identity. Built once per base encoder (a copy of the whole encoder and its fingerprint:
        seconds on a full-size one), then reused by every ``infer`` and explanation."""
        base = panel.encoder(self.kind)
        if self._tuned is None or self._tuned[0] is not base:
            self._tuned = (base, self._build_encoder(base))
        return self._tuned[1]

    def _build_encoder(self, base: models.Encoder) -> models.Encoder:
        module = copy.deepcopy(base.module)
        tuned = replace(
            base,
            module=module,
            identity="pending",  # fingerprinted once, with the tuned blocks loaded
            name=f"{base.name} + fine-tuned last {self.k} block(s)",
        )
        _, tail = models.split_at(tuned, self.k)
        tail.load_state_dict(self.tail.state_dict())
        tuned.identity = models.fingerprint(tuned.kind, module, tuned.preprocess)
        return tuned

    def image_encoder(self, panel: Panel):
        return self.encoder(panel)

    def infer(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        encoder = self.encoder(panel)
        out = [
            encoder(b).numpy()
            for b in features.image_loader(
                rows["path"].tolist(), encoder, panel.settings.batch_size, num_workers=0
            )
        ]
        return self.predict_vectors(np.concatenate(out))

    def parameters(self) -> int:
        return sum(p.numel() for p in self.head.parameters()) + sum(
            p.numel() for p in self.tail.parameters()
        )

    def weights(self) -> list[np.ndarray]:
        return [
            t.detach().numpy()
            for t in [*self.tail.state_dict().values(), *self.head.state_dict().values()]
        ]

    def _save_payload(self, folder: Path) -> None:
        torch.save(
            {
                "tail": self.tail.state_dict(),
                "head": self.head.state_dict(),
                "config": asdict(self.config),
                "history": self.history.to_dict("list"),
                "k": self.k,
                "class_embeddings": getattr(self.head, "classes", None),
                "temperature": getattr(self.head, "scale", None),
            },
            folder / "finetuned.pt",
        )

    @classmethod
    def _load(cls, folder: Path, base: dict, panel: Panel) -> FinetuneModel:
        ckpt = torch.load(folder / "finetuned.pt", map_location="cpu", weights_only=False)
        kind = base["candidate"].inputs[0].split("-")[0]
        encoder = panel.encoder(kind)
        if encoder.identity != base["encoders"].get(kind):
            raise CandidateMismatch(
                f"{base['candidate'].name} fine-tuned {kind} encoder "
                f"{base['encoders'].get(kind)}, but this run's {kind} encoder is "
                f"{encoder.identity} ({encoder.name!r}): re-run notebook 04 (training)."
            )
        _, tail = models.split_at(encoder, ckpt["k"])
        tail = (
            copy.deepcopy(tail).cpu().float()
        )  # like the cached activations it reads (and as fitted)
        tail.load_state_dict(ckpt["tail"])
        config = train.HeadConfig(**ckpt["config"])
        head = (
            TextClassifier(
                ckpt["class_embeddings"].numpy(),
                ckpt.get("temperature") or models.MAX_TEMPERATURE,
            )
            if ckpt["class_embeddings"] is not None
            else train.make_head(config)
        )
        head.load_state_dict(ckpt["head"])
        return cls(
            **base,
            tail=tail,
            head=head,
            config=config,
            history=pd.DataFrame(ckpt["history"]),
            k=ckpt["k"],
        )


FAMILIES = {
    "head": HeadModel,
    "probe": ProbeModel,
    "tfidf": ProbeModel,
    "zeroshot": ZeroShotModel,
    "late-fusion": LateFusionModel,
    "finetune": FinetuneModel,
}


def _load_folder(folder: Path, panel: Panel | None = None) -> Fitted:
    meta = json.loads((folder / "meta.json").read_text())
    c = meta["candidate"]
    candidate = Candidate(**{**c, "inputs": tuple(c["inputs"]), "members": tuple(c["members"])})
    base = dict(
        candidate=candidate,
        classes=meta["classes"],
        info=meta["info"],
        encoders=meta["encoders"],
        split_id=meta["split_id"],
    )
    cls = FAMILIES[candidate.family]
    if cls is FinetuneModel:
        if panel is None:
            raise ValueError("a fine-tuned candidate needs the panel (its base encoder) to load")
        return cls._load(folder, base, panel)
    return cls._load(folder, base)


def load(name: str, panel: Panel) -> Fitted:
    """The saved candidate ``name``, checked against this run's encoders, split and classes."""
    folder = panel.layout.candidate(name)
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(
            f"candidate {name!r} is not trained ({folder} is missing): run notebook 04 with "
            f"{name!r} in models."
        )
    fitted = _load_folder(folder, panel)
    fitted.check(panel)
    return fitted


# --------------------------------------------------------------------------- fitting
def _identities(panel: Panel, sources) -> dict[str, str]:
    return {k: panel.encoder(k).identity for k in sorted(_kinds(sources))}


def class_embeddings(panel: Panel, prompts: tuple[str, ...] | None = None) -> np.ndarray:
    """Each class's prompts through the CLIP text tower, normalised, averaged, normalised (prompt
    ensembling)."""
    prompts = prompts or panel.settings.prompts
    text = panel.encoder("clip-text")
    out = []
    for label in panel.classes:
        E = text([p.format(category_name(label)) for p in prompts]).numpy()
        E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
        mean = E.mean(axis=0)
        out.append(mean / max(np.linalg.norm(mean), 1e-12))
    return np.stack(out).astype(np.float32)


def fit(
    name: str,
    panel: Panel,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    fitted: dict[str, Fitted] | None = None,
) -> Fitted:
    """Fit candidate ``name`` on ``train_rows``, choosing its settings on ``val_rows`` (never the
    test rows).

    ``fitted``: candidates already fitted on the same rows, reused as fusion members. The result
    records the encoders it read (names and identities) and their precision. Candidates that read
    cached features only (``cache_only``: small matrices) are fitted with
    ``parallel.SMALL_FIT_THREADS`` threads, wherever they are fitted, so that a refit in a worker
    process gives the same numbers as one here.
    """
    threads = parallel.SMALL_FIT_THREADS if cache_only(name) else None
    with timing.step(f"fit {name}"), parallel.limited(threads):
        out = _fit(name, panel, train_rows, val_rows, fitted)
    out.info["encoder_names"] = {k: panel.encoder(k).name for k in out.encoders}
    out.info["precision"] = panel.settings.precision
    out.info["decode_min_side"] = panel.settings.decode_min_side
    return out


def _fit(
    name: str,
    panel: Panel,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    fitted: dict[str, Fitted] | None = None,
) -> Fitted:
    c = CANDIDATES[name]
    s = panel.settings
    n_classes = len(panel.classes)
    y_train, y_val = panel.y(train_rows), panel.y(val_rows)
    base = dict(candidate=c, classes=panel.classes, split_id=panel.split_id)
    labelled = {"labelled_train": len(train_rows), "labelled_val": len(val_rows)}

    if c.family == "head":
        X_train, X_val = panel.inputs(c.inputs, train_rows), panel.inputs(c.inputs, val_rows)
        if c.augment:
            kind = c.inputs[0].split("-")[0]
            X_train = np.vstack([X_train, panel.views(kind, train_rows)])
            y_train = np.concatenate([y_train, np.repeat(y_train, s.views)])
        config = train.head_config(
            c.design,
            X_train.shape[1],
            n_classes,
            epochs=s.epochs,
            patience=s.patience,
            batch_size=s.head_batch_size,
            seed=s.seed,
            **s.head_overrides.get(c.design, {}),
        )
        result = train.fit(config, (X_train, y_train), (X_val, y_val))
        info = {
            **result.summary(),
            **labelled,
            "train_samples": len(X_train),
            "config": asdict(config),
        }
        return HeadModel(
            **base,
            info=info,
            encoders=_identities(panel, c.inputs),
            head=result.model,
            config=config,
            history=result.history,
        )

    if c.family in ("probe", "tfidf"):
        X_train, X_val = panel.inputs(c.inputs, train_rows), panel.inputs(c.inputs, val_rows)
        make = (
            _tfidf_pipeline(s.seed)
            if c.family == "tfidf"
            else (lambda C: train.logistic_probe(C, s.seed))
        )
        estimator, info = train.fit_probe(
            make, (X_train, y_train), (X_val, y_val), n_classes, tuple(s.probe_cs)
        )
        return ProbeModel(
            **base,
            info={**info, **labelled},
            encoders=_identities(panel, c.inputs),
            estimator=estimator,
        )

    if c.family == "zeroshot":
        text = panel.encoder("clip-text")
        fitted = ZeroShotModel(
            **base,
            info={},
            encoders=_identities(panel, ("clip-image", "clip-text")),
            class_embeddings=panel.class_embeddings(),
            temperature=text.temperature,
        )
        val = fitted.predict_proba(panel, val_rows)
        fitted.info = {
            "prompts": list(s.prompts),
            "class_names": [category_name(label) for label in panel.classes],
            "temperature": float(text.temperature),
            "temperature_source": text.temperature_source,
            "val_accuracy": round(float(np.mean(val.argmax(1) == y_val)), 6),
            "labelled_train": 0,
            "labelled_val": 0,
        }
        return fitted

    if c.family == "late-fusion":
        members = [(fitted or {}).get(m) or fit(m, panel, train_rows, val_rows) for m in c.members]
        image, text = (m.predict_proba(panel, val_rows) for m in members)
        from sklearn.metrics import log_loss

        sweep = []
        for w in s.fusion_weights:
            p = LateFusionModel.mix(w, image, text)
            sweep.append(
                {
                    "weight": float(w),
                    "val_loss": float(log_loss(y_val, p, labels=list(range(n_classes)))),
                    "val_accuracy": float(np.mean(p.argmax(1) == y_val)),
                }
            )
        best = min(sweep, key=lambda r: (r["val_loss"], -r["weight"]))
        encoders = {}
        for m in members:
            encoders.update(m.encoders)
        return LateFusionModel(
            **base,
            info={
                "weight": best["weight"],
                "val_loss": round(best["val_loss"], 4),
                "val_accuracy": round(best["val_accuracy"], 6),
                "sweep": sweep,
                **labelled,
            },
            encoders=encoders,
            members=members,
            weight=best["weight"],
        )

    if c.family == "finetune":
        return _fit_finetune(c, panel, train_rows, val_rows, y_train, y_val, base, labelled)
    raise ValueError(f"unknown family {c.family!r}")


def _tfidf_pipeline(seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return lambda C: make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, dtype=np.float32),
        train.logistic_regression(C, seed),
    )


def _fit_finetune(
    c: Candidate, panel: Panel, train_rows, val_rows, y_train, y_val, base, labelled
) -> FinetuneModel:
    s = panel.settings
    kind = c.inputs[0].split("-")[0]
    encoder = panel.encoder(kind)
    A_train = panel.activations(kind, train_rows)
    if c.augment:
        A_train = np.concatenate([A_train, panel.activations(kind, train_rows, augmented=True)])
        y_train = np.concatenate([y_train, np.repeat(y_train, s.views)])
    A_val = panel.activations(kind, val_rows)
    _, tail = models.split_at(encoder, s.finetune_blocks)
    tail = copy.deepcopy(tail).cpu().float().requires_grad_(True)
    config = train.head_config(
        c.design,
        encoder.dim,
        len(panel.classes),
        optimizer="adamw",
        lr=s.finetune_head_lr,
        encoder_lr=s.finetune_lr,
        epochs=s.finetune_epochs,
        patience=s.finetune_patience,
        batch_size=s.head_batch_size,
        seed=s.seed,
        weight_decay=s.finetune_weight_decay,
        **{
            k: v
            for k, v in s.head_overrides.get(c.design, {}).items()
            if k in ("hidden", "dropout")
        },
    )
    objective = s.finetune_objective
    if objective == "text":
        if kind != "clip":
            raise ValueError(
                "finetune_objective='text' needs CLIP's text tower: it applies to clip-finetune "
                "only"
            )
        with torch.random.fork_rng(devices=[]):
            head = TextClassifier(class_embeddings(panel), panel.encoder("clip-text").temperature)
    elif objective == "head":
        torch.manual_seed(s.seed)
        head = train.make_head(config)
    else:
        raise ValueError(f"finetune_objective={objective!r}: use 'head' or 'text'")
    model = nn.Sequential(tail, head)
    result = train.fit(
        config,
        (A_train, y_train),
        (A_val, y_val),
        model=model,
        encoder_params=list(tail.parameters()),
        device=encoder.device,
    )
    info = {
        **result.summary(),
        **labelled,
        "train_samples": len(A_train),
        "blocks": s.finetune_blocks,
        "objective": objective,
        **({"temperature": float(head.scale)} if objective == "text" else {}),
        "config": asdict(config),
        "trainable_encoder_parameters": sum(p.numel() for p in tail.parameters()),
    }
    fitted = FinetuneModel(
        **base,
        info=info,
        encoders={kind: encoder.identity},
        tail=tail.requires_grad_(False),
        head=head,
        config=config,
        history=result.history,
        k=s.finetune_blocks,
    )
    fitted.info["finetuned_identity"] = fitted.encoder(panel).identity
    return fitted


# --------------------------------------------------------------------------- what this run can run
def runnable(
    names: list[str], settings: Settings, models_dir, strict: bool = False
) -> tuple[list[str], dict[str, str]]:
    """``(runnable, skipped)``: the candidates of ``names`` whose encoders' weights are on this
    machine (or downloadable), and ``{name: why not}`` for the others, the reason saying what to
    download and where to put it. ``strict``: a missing input is an error
    (``models.ModelUnavailableError``) instead of a skip."""
    names = resolve(names)
    reasons = {}
    for kind, weights in (("clip", settings.clip_model), ("vgg16", settings.vgg_weights)):
        if kind in encoder_kinds(names):
            why = models.availability(kind, weights, models_dir)
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
        raise models.ModelUnavailableError(
            f"strict run: {len(skipped)} candidate(s) cannot run ({', '.join(skipped)}): "
            + " ".join(dict.fromkeys(skipped.values()))
        )
    return run, skipped


def features_summary(
    panel: Panel,
    names: list[str],
    skipped: dict[str, str],
    stats: pd.DataFrame,
    pretrained: dict | None,
    precision: dict,
    decode: dict,
) -> dict:
    """What notebook 03 records: the candidates run and skipped, the encoders, what the features
    cost, the pretrained-behaviour check, the bfloat16 check and the decode parity."""
    s = panel.settings
    return {
        "models": names,
        "skipped": skipped,
        "precision": s.precision,
        "encoders": {kind: models.describe(e) for kind, e in panel.loaded().items()},
        "extraction": stats.to_dict("index"),
        "views": s.views,
        "finetune_blocks": s.finetune_blocks,
        "pretrained_check": pretrained,
        "precision_check": {
            k: {m: v for m, v in r.items() if m != "rows"} for k, r in precision.items()
        },
        "decode": decode,
    }


# --------------------------------------------------------------------------- what notebook 04
# records
def head_configs(fitted: dict[str, Fitted]) -> dict[str, dict]:
    """Each trained head's configuration and its description in words."""
    return {
        n: {**asdict(f.config), "description": train.describe_head(f.config)}
        for n, f in fitted.items()
        if hasattr(f, "config")
    }


def head_descriptions(configs: dict[str, dict]) -> pd.DataFrame:
    return pd.DataFrame({"head": {n: c["description"] for n, c in configs.items()}})


def looped(fitted: dict[str, Fitted]) -> tuple[dict[str, Fitted], dict[str, Fitted]]:
    """``(frozen heads, improvements)``: candidates trained by the shared loop, split into the
    frozen-encoder heads and the fine-tuned or augmented ones."""
    trained = {n: f for n, f in fitted.items() if hasattr(f, "history")}
    frozen = {
        n: f for n, f in trained.items() if f.candidate.family == "head" and not f.candidate.augment
    }
    return frozen, {n: f for n, f in trained.items() if n not in frozen}


def training_summary(
    fitted: dict[str, Fitted],
    table: pd.DataFrame,
    configs: dict,
    optimizers: dict | None,
    settings: Settings,
) -> dict:
    """What notebook 04 records: the choices made on validation, the heads, the curves, the
    optimiser comparison and the fine-tuning settings."""
    trained = {n: f for n, f in fitted.items() if hasattr(f, "history")}
    _, improved = looped(fitted)
    finetune = {
        n: {
            "objective": f.info.get("objective", "head"),
            "seconds_per_epoch": f.info["seconds_per_epoch"],
            "train_samples": f.info["train_samples"],
            "epochs_run": f.info["epochs_run"],
            "trainable_encoder_parameters": f.info.get("trainable_encoder_parameters", 0),
            "finetuned_identity": f.info.get("finetuned_identity"),
        }
        for n, f in improved.items()
    }
    return {
        "models": list(fitted),
        "summary": table.to_dict("index"),
        "configs": configs,
        "info": {n: f.info for n, f in fitted.items()},
        "history": {n: f.history.to_dict("list") for n, f in trained.items()},
        "optimizers": optimizers,
        "finetune": {
            **finetune,
            "blocks": settings.finetune_blocks,
            "encoder_lr": settings.finetune_lr,
            "head_lr": settings.finetune_head_lr,
            "views": settings.views,
        },
    }


def finetune_table(summary: dict) -> pd.DataFrame:
    """The fine-tuned and augmented candidates' training facts (notebook 04)."""
    ft = {n: v for n, v in summary["finetune"].items() if isinstance(v, dict)}
    return pd.DataFrame(ft).T if ft else pd.DataFrame({"fine-tuned or augmented candidates": []})


# --------------------------------------------------------------------------- checks on the weights
PRETRAINED_ALPHA = 0.01  # one-sided binomial test of zero-shot accuracy against chance
PRETRAINED_FLOOR = 0.5  # a pretrained CLIP names these product categories far above this


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def _image_kinds(panel: Panel, kinds) -> list[str]:
    loaded = panel.loaded()
    return [k for k in (kinds or ("clip", "vgg16")) if kinds or k in loaded]


def precision_check(
    panel: Panel, rows: pd.DataFrame, n: int = 64, seed: int = 0, kinds=None
) -> dict[str, dict]:
    """How far bfloat16 image features are from float32 ones, on the run's own weights.

    For each image encoder (``kinds``, default those the panel has loaded) that runs in bfloat16:
    the features of a seeded sample of ``n`` rows at both precisions, each cached under its own
    key (so the float32 ones are there for ``evaluate.precision_agreement``), and the cosine
    between them. Returns ``{kind: {images, cosine_min, cosine_median, rows}}`` (``rows``: the
    sampled ``sha256``); empty when no encoder runs in bfloat16.
    """
    s = panel.settings
    sample = rows.sample(n=min(n, len(rows)), random_state=seed) if len(rows) else rows
    out = {}
    for kind in _image_kinds(panel, kinds):
        encoder = panel.encoder(kind)
        if encoder.precision != "bfloat16" or not len(sample):
            continue
        b16 = panel.features(f"{kind}-image", sample)
        f32, _ = features.extract(
            replace(encoder, precision="float32"),
            sample,
            panel.layout.features,
            s.batch_size,
            s.num_workers,
            progress=panel.progress,
        )
        cos = _cosines(f32, b16)
        out[kind] = {
            "images": len(sample),
            "cosine_min": round(float(cos.min()), 6),
            "cosine_median": round(float(np.median(cos)), 6),
            "rows": sample["sha256"].tolist(),
        }
    return out


def input_check(
    panel: Panel, rows: pd.DataFrame, n: int = 30, largest: int = 6, seed: int = 0, kinds=None
) -> dict[str, dict]:
    """For each image encoder (default: those loaded), how far its input, photos decoded at
    ``decode_min_side``, is from the reference pipeline's on a full decode
    (``features.input_difference``) on ``n`` photos of ``rows``: the ``largest`` files and a
    seeded draw of the others."""
    paths = features.sample_paths(rows["path"].tolist(), n, largest, seed)
    return {
        k: features.input_difference(panel.encoder(k), paths) for k in _image_kinds(panel, kinds)
    }


def _wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def pretrained_check(
    panel: Panel,
    val_rows: pd.DataFrame,
    classes: list[str] | None = None,
    alpha: float = PRETRAINED_ALPHA,
    floor: float = PRETRAINED_FLOOR,
) -> dict:
    """Does the run's CLIP behave like a pretrained CLIP? Zero-shot accuracy on ``val_rows`` with
    the category prompts (``class_embeddings``) and the checkpoint's temperature, its 95% Wilson
    interval, chance (1 / number of classes) and a one-sided exact binomial test against chance.

    The rule (``verdict``):

    - ``"chance"``: the test does not reject chance at ``alpha`` (0.01): the weights name the
      categories no better than a coin would (random or tiny weights, a wrong or damaged folder);
    - ``"weak"``: better than chance, but the whole 95% interval lies below ``floor`` (0.5):
      far from a pretrained CLIP, which names 7 coarse product categories well above one in two
      (the CLIP paper's ViT-B/32 exceeds 60% zero-shot on the 1000 ImageNet classes);
    - ``"pretrained"``: otherwise.

    ``warning`` is True unless pretrained; ``message`` says it in one paragraph for the report.
    """
    from scipy.stats import binomtest

    classes = list(classes or panel.classes)
    if classes != panel.classes:
        raise ValueError("classes must be the panel's classes, in its order")
    text = panel.encoder("clip-text")
    model = ZeroShotModel(
        CANDIDATES["clip-zeroshot"],
        classes,
        {},
        {},
        panel.split_id,
        class_embeddings=class_embeddings(panel),
        temperature=text.temperature,
    )
    y = features.label_ids(val_rows["label"], classes)
    n = len(y)
    pred = model.predict_vectors(panel.features("clip-image", val_rows)).argmax(1) if n else y
    k = int((pred == y).sum())
    chance = 1 / len(classes)
    p = float(binomtest(k, n, chance, alternative="greater").pvalue) if n else 1.0
    low, high = _wilson(k, n)
    accuracy = k / n if n else 0.0
    if p >= alpha:
        verdict = "chance"
    elif high < floor:
        verdict = "weak"
    else:
        verdict = "pretrained"
    return {
        "images": n,
        "correct": k,
        "accuracy": round(accuracy, 6),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "chance": round(chance, 4),
        "p_value": p,
        "alpha": alpha,
        "floor": floor,
        "temperature": float(text.temperature),
        "temperature_source": text.temperature_source,
        "model": panel.encoder("clip").name,
        "verdict": verdict,
        "warning": verdict != "pretrained",
    }
