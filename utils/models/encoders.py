"""The frozen encoders, loaded from the hub, a local folder or file, or built tiny (``tiny``).

- CLIP image tower: ``CLIPVisionModelWithProjection`` + ``CLIPImageProcessor`` (transformers);
  features are the projected image embeddings (512-d for ViT-B/32).
- CLIP text tower: ``CLIPTextModelWithProjection`` + ``CLIPTokenizer``, from the same CLIP folder
  or hub name (zero-shot classification and text features share the image embeddings' space).
- VGG16: torchvision's ``vgg16``; the conv base, frozen, then global average pooling (512-d).

``load_clip`` / ``load_clip_text`` / ``load_vgg16`` accept a hub name / torchvision weights name
(looked up first in ``models_dir``, i.e. ``data/models/clip-vit-base-patch32/`` or
``data/models/vgg16-397923af.pth``), a local folder (CLIP) or weights file (VGG16), ``"random"``
(full-size architecture, random weights drawn from the fixed seed ``RANDOM_SEED``: the same model in
every notebook, the same compute as the real one, for benchmarks and timing) or ``"tiny-random"``
(a tiny model from ``tiny``, saved under ``models_dir`` and loaded back through the same
loaders: the smoke profile and the tests). Offline,
a model that is not on disk fails at once with one sentence saying what to download and where.

Loading is strict: a checkpoint that lacks some of the loaded tower's weights, or holds them in
another shape, is refused in one sentence naming them (transformers would fill them with random
values and say so only in a load report); only the other CLIP tower's weights and ``logit_scale``
may be left unused. ``availability`` says, without loading anything, whether a model can be loaded
here, with the loaders' own sentence when it cannot.

Every encoder runs at a ``precision``: ``float32``, ``bfloat16`` through ``torch.autocast``, or
``auto``: the faster of the two, timed on a fixed synthetic batch the first time an architecture
runs on a device (``runtime.choose_precision``, remembered on the machine); ``precision_choice``
says how it was decided, with both throughputs where it was measured.
Every image encoder also carries its ``decode_min_side``: the size photos are decoded at (JPEG
draft mode) before its own preprocessing resizes them, part of its cache keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..core.paths import ROOT
from .preprocess import ClipPreprocess, Preprocess, TorchvisionPreprocess
from .runtime import (
    AUTO_BATCH,
    TEXT_MAX_TOKENS,
    _online,
    _quiet_transformers,
    _seeded,
    autocast,
    choose_precision,
    pick_device,
)
from .tiny import build_tiny_clip, build_tiny_vgg, train_tiny_tokenizer

CLIP_DEFAULT = "openai/clip-vit-base-patch32"
VGG_DEFAULT = "IMAGENET1K_V1"
TINY = "tiny-random"
RANDOM = "random"
RANDOM_SEED = 0  # the full-size random models are drawn from this seed: one model per name
VGG_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
MAX_TEMPERATURE = 100.0  # CLIP clamps its learned logit scale so that exp(scale) <= 100
# Photos are JPEG-draft-decoded with both sides at least this many pixels before an encoder's own
# preprocessing resizes them (None: full decode). Chosen with features.decode_sweep on real
# Flipkart photos: the cheapest size whose normalised input stays within about 1.5% (relative L2,
# 95th percentile) of the reference pipelines' on a full decode, for CLIP and VGG16. 30 photos,
# the 6 largest files among them: 1.70% (CLIP) and 1.71% (VGG16) at 512, against 12.9% and 9.5%
# at 256; 100 random photos: 0 at 512 (up to 1024 px, JPEG draft scaling cannot halve them).
DECODE_MIN_SIDE: int | None = 512


class ModelUnavailableError(RuntimeError):
    """The model is neither on disk nor downloadable; the message says what to do."""


class WeightsMismatchError(ModelUnavailableError):
    """A checkpoint lacks some of the model's weights or holds them in another shape."""


def decode_tag(decode_min_side: int | None) -> str:
    """The decode size as it appears in cache names: ``s256``, or ``sfull`` for a full decode."""
    return "sfull" if decode_min_side is None else f"s{int(decode_min_side)}"


# --------------------------------------------------------------------------- encoders
class _Weights:
    """What image and text encoders share: the cache key and their size."""

    kind: str
    identity: str
    precision: str
    module: nn.Module

    @property
    def key(self) -> str:
        """Cache key of what this encoder computes: weights, preprocessing and precision."""
        return f"{self.kind}-{self.identity}-{self.precision}"

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def architecture(self) -> str:
        """What the speed of a forward pass depends on (not the weights' values): ``auto``'s
        decisions are remembered per architecture."""
        shapes = hashlib.sha256(
            repr([(k, tuple(v.shape)) for k, v in self.module.state_dict().items()]).encode()
        ).hexdigest()[:12]
        return f"{self.kind} {type(self.module).__name__} {self.n_parameters()} params {shapes}"

    def size_mb(self) -> float:
        return sum(p.numel() * p.element_size() for p in self.module.parameters()) / 2**20


@dataclass
class Encoder(_Weights):
    """A frozen image encoder: ``preprocess`` (PIL -> CHW tensor) then ``module`` (NCHW -> N x
    dim)."""

    kind: str
    name: str
    module: nn.Module
    preprocess: Preprocess
    dim: int
    device: torch.device
    precision: str = "float32"
    identity: str = field(default="")
    random_seed: int | None = None
    decode_min_side: int | None = DECODE_MIN_SIDE  # photos decoded this large first (None: full)
    precision_choice: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.module.eval().requires_grad_(False).to(self.device)
        if not self.identity:
            self.identity = fingerprint(self.kind, self.module, self.preprocess)
        self.precision, self.precision_choice = self.decide_precision(self.precision)

    def decide_precision(self, precision: str, use_cache: bool = True) -> tuple[str, dict]:
        """``runtime.choose_precision`` for this encoder: ``auto`` times a fixed batch of
        ``AUTO_BATCH`` synthetic photos (seeded noise through ``preprocess``) in each precision."""

        def forward(p: str) -> torch.Tensor:
            with torch.inference_mode(), autocast(self.device, p):
                return self.module(x.to(self.device)).float().cpu()

        x = None
        if precision == "auto":
            rng = np.random.default_rng(0)
            noise = [rng.integers(0, 256, (256, 256, 3), np.uint8) for _ in range(AUTO_BATCH)]
            x = torch.stack([self.preprocess(Image.fromarray(a)) for a in noise])
        return choose_precision(
            precision, self.device, forward, self.architecture(), AUTO_BATCH, use_cache
        )

    @property
    def input_key(self) -> str:
        """Cache key of what this encoder computes from a photo file: ``key`` and the decode
        size."""
        return f"{self.key}-{decode_tag(self.decode_min_side)}"

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            return self.module(batch.to(self.device)).float().cpu()


def fingerprint(kind: str, module: nn.Module, preprocess: object = "") -> str:
    """A short hash of the weights and the preprocessing: the caches' model key."""
    h = hashlib.sha256(kind.encode())
    h.update(repr(preprocess).encode())
    for key, tensor in module.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def describe(encoder) -> dict:
    """Facts about an encoder (image or text) for tables and metrics.json."""
    out = {
        "kind": encoder.kind,
        "name": encoder.name,
        "dim": encoder.dim,
        "identity": encoder.identity,
        "parameters": encoder.n_parameters(),
        "size_mb": round(encoder.size_mb(), 1),
        "device": str(encoder.device),
        "precision": encoder.precision,
        "precision_choice": encoder.precision_choice,
        "random_seed": encoder.random_seed,
    }
    if isinstance(encoder, Encoder):
        out["decode_min_side"] = encoder.decode_min_side
    if isinstance(encoder, TextEncoder):
        out["temperature"] = round(encoder.temperature, 4)
        out["temperature_source"] = encoder.temperature_source
    return out


# --------------------------------------------------------------------------- CLIP
class ClipImageEmbeds(nn.Module):
    """``CLIPVisionModelWithProjection`` -> projected image embeddings."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).image_embeds


def _clip_source(name: str, models_dir: str | os.PathLike, corpus: Iterable[str] | None) -> str:
    """Where to load CLIP ``name`` from: a local folder (tiny models built on first use), else the
    hub name."""
    if name == TINY:
        folder = Path(models_dir) / "tiny-clip"
        if not (folder / "config.json").exists() or not (folder / "tokenizer_config.json").exists():
            build_tiny_clip(folder, corpus=corpus)
        return str(folder)
    if name == RANDOM or Path(name).is_dir():
        return name
    local = Path(models_dir) / Path(name).name  # e.g. data/models/clip-vit-base-patch32
    return str(local) if (local / "config.json").exists() else name


# What a CLIP folder (or hub repository) must hold for each tower: one file of each group.
CLIP_FILES = {
    "config": ("config.json",),
    "weights": ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"),
    "image processor": ("preprocessor_config.json",),
    "tokenizer": ("tokenizer.json", "vocab.json"),
}
CLIP_NEEDS = {
    "clip": ("config", "weights", "image processor"),
    "clip-text": ("config", "weights", "tokenizer"),
}
# Keys of a full CLIP checkpoint that a tower may leave unused: the other tower's and the scale.
OTHER_TOWER = {
    "vision": ("text_model.", "text_projection.", "logit_scale"),
    "text": ("vision_model.", "visual_projection.", "logit_scale"),
}


def _find_file(source: str, filename: str) -> str | None:
    """``filename`` of a CLIP folder or of a hub repository in the local cache, or None (no
    network)."""
    if Path(source).is_dir():
        path = Path(source) / filename
        return str(path) if path.is_file() else None
    from transformers.utils import cached_file

    try:
        return cached_file(
            source,
            filename,
            local_files_only=True,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except (OSError, ValueError):
        return None


def _missing_clip_files(source: str, kind: str = "clip") -> list[str]:
    """The file groups of ``CLIP_NEEDS[kind]`` that ``source`` (folder or cached hub name) lacks."""
    return [
        " or ".join(CLIP_FILES[group])
        for group in CLIP_NEEDS[kind]
        if not any(_find_file(source, f) for f in CLIP_FILES[group])
    ]


def shown(path: str | os.PathLike) -> str:
    """A path as a reader of this project writes it: relative to the project when inside it
    (``data/models/...``), else absolute."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def weights_source(kind: str, name: str, models_dir: str | os.PathLike) -> dict:
    """Where the pretrained weights ``name`` of encoder ``kind`` come from and where to put them:
    ``what``, ``download`` (a command or an address) and ``put_in`` (a folder, relative to the
    project when inside it)."""
    if kind in ("clip", "clip-text"):
        folder = Path(models_dir) / Path(name).name
        return {
            "what": f"CLIP `{name}` (image and text towers)",
            "download": f"hf download {name} --local-dir {shown(folder)}",
            "put_in": f"{shown(folder)}/",
        }
    from torchvision.models import VGG16_Weights

    url = VGG16_Weights[name].url if name in VGG16_Weights.__members__ else name
    return {
        "what": f"VGG16 `{name}`",
        "download": url,
        "put_in": f"{shown(models_dir)}/",
    }


def _clip_unavailable(name: str, models_dir: str | os.PathLike, kind: str = "clip") -> str | None:
    """None if CLIP ``name`` can be loaded here (``kind``: "clip" the image tower, "clip-text" the
    text tower), else the one sentence the loaders raise. Reads no weights."""
    if name in (TINY, RANDOM):
        return None
    if Path(name).is_dir():
        missing = _missing_clip_files(name, kind)
        if not missing:
            return None
        return (
            f"CLIP folder {shown(name)} lacks {'; '.join(missing)}: save a complete "
            "CLIP model there (`hf download <model> --local-dir <folder>`) or set clip_model to "
            "a hub name."
        )
    local = Path(models_dir) / Path(name).name
    if (local / "config.json").exists():
        return _clip_unavailable(str(local), models_dir, kind)
    if not _missing_clip_files(name, kind) or _online("huggingface.co"):
        return None
    return (
        f"CLIP model {name!r} is not on this machine and the Hugging Face hub cannot be reached: "
        f"on a machine with internet run `hf download {name} --local-dir {shown(local)}` in the "
        "project (or copy the folder there; or set clip_model to the folder's path)."
    )


def _listed(keys: Iterable[str], limit: int = 6) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _refusal(what: str, missing=(), mismatched=(), unexpected=(), fix: str = "") -> str | None:
    """One sentence naming the keys a checkpoint lacks, holds in another shape or adds; None if
    none."""
    parts = [
        f"{label} {_listed(keys)}"
        for label, keys in (
            ("lacks", missing),
            ("holds in another shape", mismatched),
            ("adds unknown", unexpected),
        )
        if keys
    ]
    if not parts:
        return None
    return f"{what} " + "; ".join(parts) + f": {fix}"


def _strict_load(cls, tower: str):
    """``cls.from_pretrained`` that refuses a partial or mismatched checkpoint of ``tower``."""

    def load(source, **kw):
        model, info = cls.from_pretrained(
            source, output_loading_info=True, ignore_mismatched_sizes=True, **kw
        )
        unexpected = [k for k in info["unexpected_keys"] if not k.startswith(OTHER_TOWER[tower])]
        message = _refusal(
            f"The CLIP checkpoint at {source} ({tower} tower)",
            info["missing_keys"],
            [m[0] for m in info["mismatched_keys"]],
            unexpected,
            "it is partial or of another architecture, and those weights would be random; "
            "download the complete model again (or set clip_model to a complete folder).",
        )
        if message:
            raise WeightsMismatchError(message)
        return model

    return load


def _from_hub(name: str, models_dir: str | os.PathLike, load: Callable[..., object]):
    """``load(name, local_files_only=True)``, then the hub if reachable, else one clear sentence."""
    with _quiet_transformers():
        return _from_hub_loud(name, models_dir, load)


def _from_hub_loud(name: str, models_dir: str | os.PathLike, load: Callable[..., object]):
    try:
        return load(name, local_files_only=True)
    except OSError:
        if not _online("huggingface.co"):
            raise ModelUnavailableError(
                _clip_unavailable(name, models_dir)
                or f"CLIP model {name!r} could not be loaded from this machine's files."
            ) from None
        return load(name)


def checkpoint_value(source: str, key: str) -> float | None:
    """A scalar of a CLIP checkpoint (folder or cached hub name) read without loading the model,
    or None if the checkpoint holds no ``key``."""
    index = _find_file(source, "model.safetensors.index.json")
    if index:
        shard = json.loads(Path(index).read_text())["weight_map"].get(key)
        path = _find_file(source, shard) if shard else None
    else:
        path = _find_file(source, "model.safetensors")
    if path:
        from safetensors import safe_open

        with safe_open(path, "pt") as f:
            return float(f.get_tensor(key)) if key in f.keys() else None
    path = _find_file(source, "pytorch_model.bin")
    if path:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return float(state[key]) if key in state else None
    return None


def clip_temperature(source: str) -> tuple[float, str]:
    """CLIP's zero-shot temperature, ``exp(logit_scale)`` clamped at 100 as CLIP does, and where
    it came from: the checkpoint's ``logit_scale``, else (``"random"``, or a checkpoint without
    one) the configuration's initial value."""
    import math

    from transformers import CLIPConfig

    value = None if source == RANDOM else checkpoint_value(source, "logit_scale")
    if value is None:
        value = CLIPConfig().logit_scale_init_value
        where = (
            "the configuration's initial logit scale (random weights, no checkpoint)"
            if source == RANDOM
            else "the configuration's initial logit scale (the checkpoint saves none)"
        )
    else:
        where = "the checkpoint's logit scale"
    return min(math.exp(value), MAX_TEMPERATURE), where


def load_clip(
    name: str = CLIP_DEFAULT,
    device: str = "auto",
    models_dir: str | os.PathLike = "data/models",
    precision: str = "float32",
    corpus: Iterable[str] | None = None,
    decode_min_side: int | None = DECODE_MIN_SIDE,
) -> Encoder:
    """CLIP image encoder from a hub name, a local folder, ``"random"`` or ``"tiny-random"``."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    source = _clip_source(name, models_dir, corpus)
    seed = None
    if source == RANDOM:
        with _seeded(RANDOM_SEED):
            model = CLIPVisionModelWithProjection(CLIPVisionConfig())
        processor, seed = CLIPImageProcessor(), RANDOM_SEED
    else:
        reason = _clip_unavailable(source, models_dir) if Path(source).is_dir() else None
        if reason:
            raise ModelUnavailableError(reason)
        vision = _strict_load(CLIPVisionModelWithProjection, "vision")

        def load(src, **kw):
            return vision(src, **kw), CLIPImageProcessor.from_pretrained(src, **kw)

        model, processor = _from_hub(source, models_dir, load)
    return Encoder(
        "clip",
        name,
        ClipImageEmbeds(model),
        ClipPreprocess(processor),
        model.config.projection_dim,
        pick_device(device),
        precision,
        random_seed=seed,
        decode_min_side=decode_min_side,
    )


@dataclass
class TextEncoder(_Weights):
    """CLIP's text tower: a list of strings -> N x dim projected text embeddings (truncated to 77
    tokens).

    ``temperature``: the checkpoint's zero-shot temperature (``clip_temperature``).
    """

    name: str
    module: nn.Module
    tokenizer: object
    dim: int
    device: torch.device
    precision: str = "float32"
    identity: str = ""
    random_seed: int | None = None
    kind: str = "clip-text"
    max_tokens: int = TEXT_MAX_TOKENS
    temperature: float = MAX_TEMPERATURE
    temperature_source: str = "CLIP's clamp"
    precision_choice: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.module.eval().requires_grad_(False).to(self.device)
        if not self.identity:
            vocab = json.dumps(self.tokenizer.get_vocab(), sort_keys=True)
            self.identity = fingerprint(
                self.kind, self.module, hashlib.sha256(vocab.encode()).hexdigest()
            )
        self.precision, self.precision_choice = self.decide_precision(self.precision)

    def decide_precision(self, precision: str, use_cache: bool = True) -> tuple[str, dict]:
        """``runtime.choose_precision`` for the text tower: ``auto`` times ``AUTO_BATCH`` fixed
        product-like texts of the full 77-token context in each precision."""
        words = "cotton printed single bedsheet with two pillow covers at best prices".split()
        texts = [" ".join(words[i % 5 :] * 12) for i in range(AUTO_BATCH)]

        def forward(p: str) -> torch.Tensor:
            batch = {k: v.to(self.device) for k, v in self.tokenize(texts).items()}
            with torch.inference_mode(), autocast(self.device, p):
                return self.module(**batch).text_embeds.float().cpu()

        return choose_precision(
            precision, self.device, forward, self.architecture(), AUTO_BATCH, use_cache
        )

    def tokenize(self, texts: list[str]) -> dict:
        return self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )

    def truncated(self, texts: list[str]) -> int:
        """How many of ``texts`` are longer than the 77-token context (their end is cut)."""
        ids = self.tokenizer(list(texts), truncation=False)["input_ids"]
        return int(sum(len(i) > self.max_tokens for i in ids))

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        batch = {k: v.to(self.device) for k, v in self.tokenize(texts).items()}
        with autocast(self.device, self.precision):
            return self.module(**batch).text_embeds.float().cpu()


def load_clip_text(
    name: str = CLIP_DEFAULT,
    device: str = "auto",
    models_dir: str | os.PathLike = "data/models",
    precision: str = "float32",
    corpus: Iterable[str] | None = None,
) -> TextEncoder:
    """CLIP text tower and tokenizer, by the same rules as ``load_clip`` (same folder or hub name),
    with the checkpoint's zero-shot temperature.

    ``"random"``: a full-size text tower drawn from ``RANDOM_SEED``, with the tiny BPE tokenizer
    (no real vocabulary offline; the compute is the real one's).
    """
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    source = _clip_source(name, models_dir, corpus)
    seed = None
    if source == RANDOM:
        folder = Path(models_dir) / "random-clip-tokenizer"
        if not (folder / "tokenizer_config.json").exists():
            train_tiny_tokenizer(folder, corpus)
        tokenizer = CLIPTokenizer.from_pretrained(folder)
        with _seeded(RANDOM_SEED):
            model = CLIPTextModelWithProjection(
                CLIPTextConfig(
                    eos_token_id=tokenizer.eos_token_id,
                    bos_token_id=tokenizer.bos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
            )
        seed = RANDOM_SEED
    else:
        reason = (
            _clip_unavailable(source, models_dir, "clip-text") if Path(source).is_dir() else None
        )
        if reason:
            raise ModelUnavailableError(reason)
        text = _strict_load(CLIPTextModelWithProjection, "text")

        def load(src, **kw):
            return text(src, **kw), CLIPTokenizer.from_pretrained(src, **kw)

        model, tokenizer = _from_hub(source, models_dir, load)
    temperature, where = clip_temperature(source)
    if name == TINY:  # built here with random weights: its saved logit scale was never trained
        where = "the tiny random model's initial logit scale (untrained, no checkpoint)"
    return TextEncoder(
        name,
        model,
        tokenizer,
        model.config.projection_dim,
        pick_device(device),
        precision,
        random_seed=seed,
        temperature=temperature,
        temperature_source=where,
    )


# --------------------------------------------------------------------------- VGG16
class ConvBasePooled(nn.Module):
    """VGG conv base followed by global average pooling: N x C feature vectors."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


def _vgg_unavailable(weights: str, models_dir: str | os.PathLike) -> str | None:
    """None if VGG16 ``weights`` can be loaded here, else the one sentence ``load_vgg16`` raises.
    Reads no weights (a file that is present but incomplete is refused by the loader only)."""
    from torchvision.models import VGG16_Weights

    if weights in (TINY, RANDOM) or Path(weights).is_file():
        return None
    try:
        w = VGG16_Weights[weights]
    except KeyError:
        return (
            f"vgg_weights={weights!r} is neither a torchvision weights name (IMAGENET1K_V1) "
            "nor a file."
        )
    local = Path(models_dir) / Path(w.url).name  # e.g. data/models/vgg16-397923af.pth
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(w.url).name
    if local.exists() or cached.exists() or _online("download.pytorch.org"):
        return None
    return (
        f"VGG16 {weights} weights are not on this machine and download.pytorch.org cannot be "
        f"reached: download {w.url} and put it in {shown(local.parent)}/ (or set vgg_weights "
        "to the file's path)."
    )


def _load_state_strict(module: nn.Module, state: dict, path: str, what: str) -> None:
    """``module.load_state_dict(state)``, refusing any missing, extra or reshaped key in one
    sentence."""
    own = module.state_dict()
    message = _refusal(
        f"The VGG16 weights file {path} ({what})",
        sorted(set(own) - set(state)),
        sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape)),
        sorted(set(state) - set(own)),
        f"it is partial or of another architecture; download {VGG_URL} again (or set "
        "vgg_weights to a complete file).",
    )
    if message:
        raise WeightsMismatchError(message)
    module.load_state_dict(state, strict=True)


def load_vgg16(
    weights: str = VGG_DEFAULT,
    device: str = "auto",
    models_dir: str | os.PathLike = "data/models",
    precision: str = "float32",
    decode_min_side: int | None = DECODE_MIN_SIDE,
) -> Encoder:
    """VGG16 conv base from torchvision weights (``IMAGENET1K_V1``), a weights file, ``random`` or
    ``tiny-random``.

    A weights file is either a full ``vgg16`` state dict (as torchvision publishes it) or a
    ``{"cfg": [...], "features": state_dict}`` checkpoint of a smaller VGG-style conv base; either
    is loaded strictly (a missing, extra or reshaped key is refused in one sentence).
    """
    from torchvision.models import VGG16_Weights, vgg16
    from torchvision.models.vgg import make_layers

    preprocess = TorchvisionPreprocess(
        VGG16_Weights.IMAGENET1K_V1.transforms()
    )  # resize 256, crop 224
    name, seed = str(weights), None
    if weights == TINY:
        path = Path(models_dir) / "tiny-vgg.pt"
        if not path.exists():
            build_tiny_vgg(path)
        weights = str(path)
    reason = _vgg_unavailable(weights, models_dir)
    if reason:
        raise ModelUnavailableError(reason)
    if weights == RANDOM:
        with _seeded(RANDOM_SEED):
            features = vgg16(weights=None).features
        seed = RANDOM_SEED
    elif Path(weights).is_file():
        state = torch.load(weights, map_location="cpu", weights_only=True)
        if "cfg" in state:
            features = make_layers(state["cfg"])
            _load_state_strict(features, state["features"], weights, "a VGG-style conv base")
        else:
            model = vgg16(weights=None)
            _load_state_strict(model, state, weights, "a torchvision vgg16 state dict")
            features = model.features
    else:
        w = VGG16_Weights[weights]
        local = Path(models_dir) / Path(w.url).name  # e.g. data/models/vgg16-397923af.pth
        if local.exists():
            encoder = load_vgg16(
                str(local),
                device=device,
                models_dir=models_dir,
                precision=precision,
                decode_min_side=decode_min_side,
            )
            encoder.name = name
            return encoder
        features = vgg16(weights=w).features  # torchvision loads it strictly
    dim = [m for m in features.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    return Encoder(
        "vgg16",
        name,
        ConvBasePooled(features),
        preprocess,
        dim,
        pick_device(device),
        precision,
        random_seed=seed,
        decode_min_side=decode_min_side,
    )


def availability(kind: str, name: str, models_dir: str | os.PathLike = "data/models") -> str | None:
    """None when the ``kind`` encoder ``name`` can be loaded here, else the loaders' one sentence
    saying what to download and where to put it.

    ``kind``: ``"clip"`` (image tower; ``"clip-text"``: text tower) with a hub name, a folder,
    ``"random"`` or ``"tiny-random"``; ``"vgg16"`` with a torchvision weights name, a file,
    ``"random"`` or ``"tiny-random"``. Available means: on disk (``models_dir``, the Hugging Face or
    torch hub cache), buildable here, or its host reachable. Fast: it loads no model (a present
    but incomplete checkpoint is refused by the loader only).
    """
    if kind in ("clip", "clip-text"):
        return _clip_unavailable(name, models_dir, kind)
    if kind == "vgg16":
        return _vgg_unavailable(name, models_dir)
    raise ValueError(f"unknown encoder kind {kind!r}; expected clip, clip-text or vgg16")


def load_encoder(
    kind: str,
    name: str,
    device: str = "auto",
    models_dir: str | os.PathLike = "data/models",
    precision: str = "float32",
    **kw,
) -> Encoder:
    """``kind`` is ``"clip"`` or ``"vgg16"``; ``kw``: ``decode_min_side``, ``corpus`` (CLIP)."""
    loaders = {"clip": load_clip, "vgg16": load_vgg16}
    if kind not in loaders:
        raise ValueError(f"unknown encoder kind {kind!r}; expected one of {sorted(loaders)}")
    return loaders[kind](name, device=device, models_dir=models_dir, precision=precision, **kw)
