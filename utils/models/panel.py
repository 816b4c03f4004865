"""What the candidates of one run share (``Panel``): settings, encoders loaded once, cached
features; ``CachedPanel``, its features-only copy for worker processes; ``prepare`` (notebook 03:
compute or reuse everything the chosen candidates read) and what notebook 03 records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core import parallel, timing
from ..core.paths import Layout
from ..data.augment import Augmentation
from . import distributed, encoders, features, train
from .candidates import (
    CANDIDATES,
    PROMPTS,
    SOURCES,
    _all_inputs,
    _kinds,
    cache_only,
    category_name,
    encoder_kinds,
    needs,
    resolve,
)


# ------------------------------------------------------------------------ settings and shared state
@dataclass
class Settings:
    """The candidates' knobs (notebook parameters); defaults are the note's and the issues'
    choices."""

    clip_model: str = encoders.CLIP_DEFAULT
    vgg_weights: str = encoders.VGG_DEFAULT
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 16  # images per encoder forward pass
    num_workers: int = 1  # image-decoding processes
    engine: str = "local"  # image features: "local", "ray" (a local cluster) or a cluster address
    decode_min_side: int | None = encoders.DECODE_MIN_SIDE  # JPEG draft decode size; None: full
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
                self._encoders[kind] = encoders.load_clip(
                    s.clip_model, s.device, mdir, s.precision, self.corpus, s.decode_min_side
                )
            elif kind == "vgg16":
                self._encoders[kind] = encoders.load_vgg16(
                    s.vgg_weights, s.device, mdir, s.precision, s.decode_min_side
                )
            elif kind == "clip-text":
                self._encoders[kind] = encoders.load_clip_text(
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
            if distributed.is_local(s.engine):
                X, stats = features.extract(
                    self.encoder(kind),
                    part,
                    self.layout.features,
                    s.batch_size,
                    s.num_workers,
                    progress=self.progress,
                    also_activations=also,
                )
            else:  # the same cache, filled by Ray Data
                X, stats = distributed.extract(
                    self.encoder(kind),
                    part,
                    self.layout.features,
                    s.batch_size,
                    engine=s.engine,
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


def capture_kinds(names: list[str]) -> set[str]:
    """The encoder kinds whose fine-tuning activations ride along feature extraction for the
    candidates ``names`` (those a fine-tuning candidate reads). Set ``panel.capture`` to it before
    any image feature is computed (notebook 03 does, before its pretrained check), so that each
    photo goes through the encoder once."""
    return {
        CANDIDATES[n].inputs[0].split("-")[0]
        for n in resolve(names)
        if CANDIDATES[n].family == "finetune"
    }


def prepare(
    panel: Panel, names: list[str], inputs: pd.DataFrame, train_rows: pd.DataFrame
) -> pd.DataFrame:
    """Compute (or reuse from the caches) everything the candidates ``names`` read.

    ``inputs``: every row (no labels needed: encoders never see one); ``train_rows``: the rows whose
    augmented views are made. Fine-tuning activations of every row are captured during the same
    forward pass as the features. Returns what each source cost (cached / computed / seconds).
    With ``settings.engine`` other than ``"local"``, the image features (and the activations
    captured with them) are computed on Ray Data (``distributed``), one cluster session for all.
    """
    if not distributed.is_local(panel.settings.engine):
        with distributed.cluster(panel.settings.engine):
            return _prepare(panel, names, inputs, train_rows)
    return _prepare(panel, names, inputs, train_rows)


def _prepare(
    panel: Panel, names: list[str], inputs: pd.DataFrame, train_rows: pd.DataFrame
) -> pd.DataFrame:
    names = resolve(names)
    chosen = [CANDIDATES[n] for n in names]
    sources = needs(names)
    panel.capture = capture_kinds(names)
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


def features_summary(panel: Panel, names: list[str], skipped: dict[str, str], found: dict) -> dict:
    """What notebook 03 records: the candidates run and skipped (``missing_weights``: per encoder
    whose weights are missing, what to download and where to put it), the encoders, what the
    features cost (``panel.stats``), and the checks on the weights in ``found``: ``pretrained``
    (does CLIP behave like a pretrained one), ``precision`` (bfloat16 against float32, with the
    ``sha256`` of the rows it checked: notebook 05 compares the heads' predictions on those
    rows), ``decode`` (the decoded input against the reference pipelines)."""
    s = panel.settings
    weights = {"clip": s.clip_model, "vgg16": s.vgg_weights}
    missing = {
        kind: {
            **encoders.weights_source(kind, weights[kind], panel.layout.models),
            "candidates": [n for n in skipped if kind in encoder_kinds([n])],
        }
        for kind in sorted(encoder_kinds(list(skipped)))
    }
    return {
        "models": names,
        "skipped": skipped,
        "missing_weights": missing,
        "precision": s.precision,
        "encoders": {kind: encoders.describe(e) for kind, e in panel.loaded().items()},
        "extraction": pd.DataFrame(panel.stats).T.to_dict("index"),
        "views": s.views,
        "finetune_blocks": s.finetune_blocks,
        "pretrained_check": found.get("pretrained"),
        "precision_check": found.get("precision") or {},
        "decode": found.get("decode"),
    }
