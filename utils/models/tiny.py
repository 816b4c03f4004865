"""Tiny, randomly initialised encoders for the smoke profile and the tests, built offline and loaded
back through the real loaders (``encoders.load_clip`` / ``load_vgg16``): a CLIP with both towers and
a small byte-level BPE tokenizer learned from the catalog's own text, and a VGG-shaped conv net.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from .runtime import TEXT_MAX_TOKENS, _quiet_transformers, _seeded

TINY_VGG_CFG = [8, "M", 16, "M", 32, "M", 32, "M"]


def train_tiny_tokenizer(
    folder: str | os.PathLike, corpus: Iterable[str] | None = None, merges: int = 200
) -> Path:
    """A small byte-level BPE learned offline from ``corpus``, saved in CLIP's tokenizer format.

    Words are cut exactly as CLIP's own tokenizer cuts them (its normaliser and pre-tokeniser, from
    ``CLIPTokenizer``), then ``merges`` byte-pair merges are learned, the most frequent pair first
    and ties broken alphabetically, so the same corpus always gives the same tokenizer (the
    ``tokenizers`` trainer breaks ties in hash order, a new vocabulary at every run). Vocabulary
    layout as CLIP's: 256 byte symbols, the same with ``</w>`` (end of word), the merges, then the
    two special tokens. ``corpus``: the catalog's product texts (any strings; a few category words
    when None).
    """
    from collections import Counter

    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    corpus = list(corpus or []) or [
        "a photo of a product sold online",
        "watches wrist watch analog",
        "home furnishing bed linen curtains",
        "baby care infant wear",
        "kitchen dining coffee mug cookware",
        "beauty personal care fragrance",
        "computers laptop accessories network",
        "home decor festive needs showpiece",
    ]
    backend = CLIPTokenizer()._tokenizer  # CLIP's normaliser and pre-tokeniser
    counts: Counter = Counter()
    for text in corpus:
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(
            backend.normalizer.normalize_str(str(text))
        ):
            counts[tuple(word[:-1]) + (word[-1] + "</w>",)] += 1
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = sorted(alphabet) + sorted(a + "</w>" for a in alphabet)
    learned: list[tuple[str, str]] = []
    words = dict(counts)
    for _ in range(merges):
        pairs: Counter = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        learned.append(best)
        vocab.append(best[0] + best[1])
        merged = {}
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        words = merged
    vocab = list(dict.fromkeys(vocab + ["<|startoftext|>", "<|endoftext|>"]))
    folder = Path(folder)
    CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=learned).save_pretrained(folder)
    return folder


def build_tiny_clip(
    folder: str | os.PathLike,
    seed: int = 0,
    corpus: Iterable[str] | None = None,
    logit_scale: float | None = None,
) -> Path:
    """A tiny random CLIP (both towers: 2 layers, 32-d, 16-d projection), processor and a BPE
    tokenizer.

    ``logit_scale``: the saved (log) temperature; None keeps the config's initial value (exp: 14.3).
    """
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPTextConfig,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    folder = Path(folder)
    train_tiny_tokenizer(folder, corpus)
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=TEXT_MAX_TOKENS,
        projection_dim=16,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=224,
        patch_size=32,
        projection_dim=16,
    )
    with _seeded(seed):
        model = CLIPModel(
            CLIPConfig(
                text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16
            )
        )
    if logit_scale is not None:
        with torch.no_grad():
            model.logit_scale.fill_(float(logit_scale))
    with _quiet_transformers():
        model.save_pretrained(folder)
    CLIPImageProcessor().save_pretrained(folder)
    return folder


def build_tiny_vgg(path: str | os.PathLike, seed: int = 0) -> Path:
    """A tiny VGG-style conv base (4 blocks, 8-32 channels), saved as {"cfg", "features"}."""
    from torchvision.models.vgg import make_layers

    with _seeded(seed):
        features = make_layers(TINY_VGG_CFG)
        for m in features.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": TINY_VGG_CFG, "features": features.state_dict()}, path)
    return path
