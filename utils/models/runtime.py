"""Where and how the encoders run: the device, the precision (bfloat16 where the hardware computes
it natively), random weights drawn from a seed without touching the caller's random state, quiet
transformers loading, whether a host can be reached; and CLIP's context length, shared by the
loaders and the tiny tokenizer.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
TEXT_MAX_TOKENS = 77  # CLIP's context: start token + 75 tokens + end token


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA if present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX), as PyTorch detects it.

    Without it, bfloat16 autocast on CPU is emulated and several times slower than float32.
    """
    try:
        caps = torch._C._cpu._get_cpu_capability()
        return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    except (AttributeError, RuntimeError):  # older/newer torch: read the CPU flags
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``float32`` or ``bfloat16`` for ``precision`` (``auto`` decides from the hardware)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if device.type == "cpu" and cpu_has_native_bf16() else "float32"


def autocast(device: torch.device, precision: str):
    """The context a forward pass runs in: bfloat16 autocast, or nothing for float32."""
    if precision == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _online(host: str, timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1" and "huggingface" in host:
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def _seeded(seed: int):
    """Draw random weights from ``seed`` without touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _quiet_transformers():
    """No load report (``_strict_load`` checks the loading information itself) and no bars."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:  # re-enabling bars that the environment switched off warns
            hf_logging.enable_progress_bar()
