"""Cutting an encoder at its last ``k`` blocks: the frozen prefix whose activations are cached
(``tap``), the trainable tail that fine-tuning updates (``split_at``), and the compiled module the
explanation passes run (``fast_module``).
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import Encoder
from .runtime import autocast


# ------------------------------------------------------------------- frozen prefix / trainable tail
class ClipPrefix(nn.Module):
    """CLIP vision tower up to (not including) its last ``k`` transformer blocks: pixels -> N x
    tokens x width."""

    def __init__(self, vision_model: nn.Module, k: int) -> None:
        super().__init__()
        self.embeddings, self.pre_layrnorm = vision_model.embeddings, vision_model.pre_layrnorm
        self.layers = nn.ModuleList(
            list(vision_model.encoder.layers)[: len(vision_model.encoder.layers) - k]
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden = self.pre_layrnorm(self.embeddings(pixel_values))
        for layer in self.layers:
            hidden = layer(hidden, None)
        return hidden


def class_token_block(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """One CLIP encoder block computed for the class token only (N x 1 x width).

    The embedding reads only the class token of the last block's output, so that block needs keys
    and values for every token but queries, attention output and MLP for one: about a fifth of the
    block's work. Same weights, same result as ``layer(hidden)[:, :1]`` (to float rounding).
    """
    attn = layer.self_attn
    n, t, width = hidden.shape
    heads, head_dim = attn.num_heads, attn.head_dim
    h = layer.layer_norm1(hidden)
    q = attn.q_proj(h[:, :1]).view(n, 1, heads, head_dim).transpose(1, 2)
    k = attn.k_proj(h).view(n, t, heads, head_dim).transpose(1, 2)
    v = attn.v_proj(h).view(n, t, heads, head_dim).transpose(1, 2)
    out = nn.functional.scaled_dot_product_attention(q, k, v, scale=attn.scale)
    out = attn.out_proj(out.transpose(1, 2).reshape(n, 1, width))
    x = hidden[:, :1] + out
    return x + layer.mlp(layer.layer_norm2(x))


class ClipTail(nn.Module):
    """CLIP's last ``k`` blocks, post-layernorm of the class token and projection: N x tokens x
    width -> N x dim.

    The very last block is computed for the class token only (``class_token_block``).
    """

    def __init__(self, model: nn.Module, k: int) -> None:
        super().__init__()
        vision = model.vision_model
        self.layers = nn.ModuleList(list(vision.encoder.layers)[len(vision.encoder.layers) - k :])
        self.post_layernorm, self.projection = vision.post_layernorm, model.visual_projection

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            hidden = layer(hidden, None)
        hidden = class_token_block(self.layers[-1], hidden)
        return self.projection(self.post_layernorm(hidden[:, 0, :]))


def _vgg_cut(features: nn.Sequential, k: int) -> int:
    pools = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
    if not 1 <= k < len(pools):
        raise ValueError(
            f"k={k}: this VGG has {len(pools)} blocks; fine-tune between 1 and {len(pools) - 1} "
            "of them"
        )
    return pools[-(k + 1)] + 1


def split_at(encoder: Encoder, k: int) -> tuple[nn.Module, nn.Module]:
    """``(prefix, tail)`` of ``encoder`` with its last ``k`` blocks in the tail (weights shared, not
    copied).

    ``tail(prefix(x)) == encoder.module(x)``. CLIP: the last ``k`` transformer blocks,
    post-layernorm and projection; VGG16: the last ``k`` conv blocks (``block5`` for k=1) and the
    global pooling.
    """
    if encoder.kind == "clip":
        model = encoder.module.model
        layers = len(model.vision_model.encoder.layers)
        if not 1 <= k <= layers:
            raise ValueError(f"k={k}: this CLIP has {layers} blocks")
        return ClipPrefix(model.vision_model, k), ClipTail(model, k)
    if encoder.kind == "vgg16":
        features = encoder.module.features
        cut = _vgg_cut(features, k)
        return features[:cut], nn.Sequential(features[cut:], nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    raise ValueError(f"cannot split a {encoder.kind!r} encoder")


def tap(encoder: Encoder, k: int) -> nn.Module:
    """The module whose input is the activation entering the last ``k`` blocks (for a forward
    pre-hook)."""
    if encoder.kind == "clip":
        layers = encoder.module.model.vision_model.encoder.layers
        return layers[len(layers) - k]
    features = encoder.module.features
    return features[_vgg_cut(features, k)]


def fast_module(
    encoder: Encoder, batch_size: int = 2
) -> tuple[nn.Module, torch.memory_format, str]:
    """The encoder's module made faster for long inference-only runs (explanations): channels-last
    memory (VGG16) and ``torch.compile``. ``make bench`` measured 1.1-1.8x; results differ from the
    plain module in the last float bits, so the plain module stays the one that makes cached
    features. Returns
    ``(module, memory format, what was done)``; falls back to the plain module, saying why, if
    compiling fails (no C++ compiler, say).
    """
    import copy
    import warnings

    fmt = torch.channels_last if encoder.kind == "vgg16" else torch.contiguous_format
    module = copy.deepcopy(encoder.module).to(memory_format=fmt)
    compiled = torch.compile(module)
    try:
        with torch.inference_mode(), autocast(encoder.device, encoder.precision):
            compiled(
                torch.zeros(batch_size, 3, 224, 224, device=encoder.device).contiguous(
                    memory_format=fmt
                )
            )
    except Exception as exc:  # noqa: BLE001 - any compiler failure: keep the plain, correct path
        warnings.warn(
            f"torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); using the plain model",
            stacklevel=2,
        )
        return encoder.module, torch.contiguous_format, "plain (compile failed)"
    return compiled, fmt, "torch.compile" + (" + channels_last" if encoder.kind == "vgg16" else "")
