"""The two frozen image encoders, loaded from the hub, a local folder or file, or built tiny for tests.

- CLIP: ``CLIPVisionModelWithProjection`` + ``CLIPImageProcessor`` (transformers); features are the
  projected image embeddings (512-d for ViT-B/32).
- VGG16: torchvision's ``vgg16``; the conv base, frozen, then global average pooling (512-d).

``load_encoder(kind, name)`` accepts a hub name / torchvision weights name (looked up first in
``models_dir``, i.e. ``data/models/clip-vit-base-patch32/`` or ``data/models/vgg16-397923af.pth``), a
local folder (CLIP) or weights file (VGG16), ``"random"`` (full-size architecture, random weights: same compute, for
benchmarks) or ``"tiny-random"`` (a tiny model built from a config, saved under ``models_dir`` and
loaded back through the same loader: the smoke profile and the tests). Offline, a model that is not
on disk fails at once with one sentence saying what to download and where to put it.
"""
from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch import nn

CLIP_DEFAULT = "openai/clip-vit-base-patch32"
VGG_DEFAULT = "IMAGENET1K_V1"
TINY = "tiny-random"
RANDOM = "random"
VGG_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
TINY_VGG_CFG = [8, "M", 16, "M", 32, "M", 32, "M"]


class ModelUnavailableError(RuntimeError):
    """The model is neither on disk nor downloadable; the message says what to do."""


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA if present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _online(host: str, timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1" and "huggingface" in host:
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@dataclass
class Encoder:
    """A frozen image encoder: ``preprocess`` (PIL -> CHW tensor) then ``module`` (NCHW -> N x dim)."""

    kind: str
    name: str
    module: nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]
    dim: int
    device: torch.device
    identity: str = field(default="")

    def __post_init__(self) -> None:
        self.module.eval().requires_grad_(False).to(self.device)
        if not self.identity:
            self.identity = fingerprint(self.kind, self.module, self.preprocess)

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module(batch.to(self.device)).float().cpu()

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def size_mb(self) -> float:
        return sum(p.numel() * p.element_size() for p in self.module.parameters()) / 2**20


def fingerprint(kind: str, module: nn.Module, preprocess: object) -> str:
    """A short hash of the weights and the preprocessing: the feature cache's model key."""
    h = hashlib.sha256(kind.encode())
    h.update(repr(preprocess).encode())
    for key, tensor in module.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- CLIP
class _ClipImageEmbeds(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).image_embeds


class _ClipPreprocess:
    def __init__(self, processor) -> None:
        self.processor = processor

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def __repr__(self) -> str:
        return f"CLIPPreprocess({self.processor.to_json_string()})"


def build_tiny_clip(folder: str | os.PathLike, seed: int = 0) -> Path:
    """A tiny random CLIP vision tower (2 layers, 32-d, 16-d projection) + the standard processor."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=224, patch_size=32, projection_dim=16)
    folder = Path(folder)
    CLIPVisionModelWithProjection(config).save_pretrained(folder)
    CLIPImageProcessor().save_pretrained(folder)
    return folder


def load_clip(name: str = CLIP_DEFAULT, device: str = "auto", models_dir: str | os.PathLike = "data/models") -> Encoder:
    """CLIP image encoder from a hub name, a local folder, ``"random"`` or ``"tiny-random"``."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    if name == TINY:
        folder = Path(models_dir) / "tiny-clip"
        if not (folder / "config.json").exists():
            build_tiny_clip(folder)
        name = str(folder)
    if name == RANDOM:
        model, processor = CLIPVisionModelWithProjection(CLIPVisionConfig()), CLIPImageProcessor()
    elif Path(name).is_dir():
        model = CLIPVisionModelWithProjection.from_pretrained(name)
        processor = CLIPImageProcessor.from_pretrained(name)
    else:
        local = Path(models_dir) / Path(name).name          # e.g. data/models/clip-vit-base-patch32
        source = str(local) if (local / "config.json").exists() else name
        try:
            model = CLIPVisionModelWithProjection.from_pretrained(source, local_files_only=True)
            processor = CLIPImageProcessor.from_pretrained(source, local_files_only=True)
        except OSError:
            if not _online("huggingface.co"):
                raise ModelUnavailableError(
                    f"CLIP model {name!r} is not on this machine and the Hugging Face hub cannot be reached: "
                    f"on a machine with internet run `hf download {name} --local-dir {Path(name).name}` "
                    f"and copy that folder to {local.resolve()}/ (or set clip_model to the folder's path)."
                ) from None
            model = CLIPVisionModelWithProjection.from_pretrained(name)
            processor = CLIPImageProcessor.from_pretrained(name)
    return Encoder("clip", name, _ClipImageEmbeds(model), _ClipPreprocess(processor),
                   model.config.projection_dim, pick_device(device))


# --------------------------------------------------------------------------- VGG16
class _ConvBasePooled(nn.Module):
    """VGG conv base followed by global average pooling: N x C feature vectors."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


def build_tiny_vgg(path: str | os.PathLike, seed: int = 0) -> Path:
    """A tiny VGG-style conv base (4 blocks, 8-32 channels), saved as {"cfg", "features"}."""
    from torchvision.models.vgg import make_layers

    torch.manual_seed(seed)
    features = make_layers(TINY_VGG_CFG)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": TINY_VGG_CFG, "features": features.state_dict()}, path)
    return path


def load_vgg16(weights: str = VGG_DEFAULT, device: str = "auto", models_dir: str | os.PathLike = "data/models") -> Encoder:
    """VGG16 conv base from torchvision weights (``IMAGENET1K_V1``), a weights file, ``random`` or ``tiny-random``.

    A weights file is either a full ``vgg16`` state dict (as torchvision publishes it) or a
    ``{"cfg": [...], "features": state_dict}`` checkpoint of a smaller VGG-style conv base.
    """
    from torchvision.models import VGG16_Weights, vgg16
    from torchvision.models.vgg import make_layers

    preprocess = VGG16_Weights.IMAGENET1K_V1.transforms()   # resize 256, crop 224, ImageNet mean/std
    if weights == TINY:
        path = Path(models_dir) / "tiny-vgg.pt"
        if not path.exists():
            build_tiny_vgg(path)
        weights = str(path)
    if weights == RANDOM:
        features = vgg16(weights=None).features
    elif Path(weights).is_file():
        state = torch.load(weights, map_location="cpu", weights_only=True)
        if "cfg" in state:
            features = make_layers(state["cfg"])
            features.load_state_dict(state["features"])
        else:
            model = vgg16(weights=None)
            model.load_state_dict(state)
            features = model.features
    else:
        try:
            w = VGG16_Weights[weights]
        except KeyError:
            raise ModelUnavailableError(
                f"vgg_weights={weights!r} is neither a torchvision weights name (IMAGENET1K_V1) nor a file."
            ) from None
        local = Path(models_dir) / Path(w.url).name          # e.g. data/models/vgg16-397923af.pth
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(w.url).name
        if local.exists():
            return load_vgg16(str(local), device=device, models_dir=models_dir)
        if not cached.exists() and not _online("download.pytorch.org"):
            raise ModelUnavailableError(
                f"VGG16 {weights} weights are not on this machine and download.pytorch.org cannot be reached: "
                f"download {w.url} and put it in {local.resolve().parent}/ (or set vgg_weights to the file's path)."
            )
        features = vgg16(weights=w).features
    dim = [m for m in features.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    return Encoder("vgg16", str(weights), _ConvBasePooled(features), preprocess, dim, pick_device(device))


def load_encoder(kind: str, name: str, device: str = "auto", models_dir: str | os.PathLike = "data/models") -> Encoder:
    """``kind`` is ``"clip"`` or ``"vgg16"``."""
    loaders = {"clip": load_clip, "vgg16": load_vgg16}
    if kind not in loaders:
        raise ValueError(f"unknown encoder kind {kind!r}; expected one of {sorted(loaders)}")
    return loaders[kind](name, device=device, models_dir=models_dir)


def describe(encoder: Encoder) -> dict:
    """Facts about an encoder for tables and metrics.json."""
    return {"kind": encoder.kind, "name": encoder.name, "dim": encoder.dim, "identity": encoder.identity,
            "parameters": encoder.n_parameters(), "size_mb": round(encoder.size_mb(), 1),
            "device": str(encoder.device)}
