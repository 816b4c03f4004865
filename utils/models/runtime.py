"""Where and how the encoders run: the device; the precision (``auto``: the faster of float32 and
bfloat16 autocast, measured once per encoder, device, batch size and torch version and remembered
on the machine: ``choose_precision``); random weights drawn from a seed without touching the
caller's random state; quiet transformers loading; whether a host can be reached; and CLIP's
context length, shared by the loaders and the tiny tokenizer.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
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
    """``float32`` or ``bfloat16`` for a forced ``precision``; for ``auto``, what the hardware
    allows at all (float32 where bfloat16 would be emulated). ``choose_precision`` then measures
    which of the two allowed is faster; this alone never picks bfloat16 for speed."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "auto" if bfloat16_allowed(device)[0] else "float32"


def bfloat16_allowed(device: torch.device | str) -> tuple[bool, str]:
    """Whether bfloat16 is worth measuring on ``device``, and if not, why (one clause)."""
    device = torch.device(device)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return True, ""
        return False, "this GPU has no bfloat16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return True, ""
    return False, "this CPU has no native bfloat16 (emulated, many times slower): not measured"


# ``auto``: bfloat16 is kept only where it is at least this much faster than float32 (float32 is
# the plain model, bit for bit; a gain within the timing noise is not worth other bits) and where
# its embeddings stay this close to float32's (cosine of every row of the measured batch).
AUTO_MIN_GAIN = 1.05
AUTO_COSINE_FLOOR = 0.999
AUTO_BATCH = 16  # images (or texts) in the batch auto times
AUTO_REPEATS = 3  # timed passes per precision (2 where one pass takes over AUTO_SLOW_PASS_S)
AUTO_SLOW_PASS_S = 2.0


def precision_cache_file() -> Path:
    """Where ``auto``'s decisions are remembered on this machine: ``$CLIP_POC_CACHE`` (a folder),
    else ``$XDG_CACHE_HOME/clip-poc``, else ``~/.cache/clip-poc``; the file ``precision.json``."""
    folder = (
        os.environ.get("CLIP_POC_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clip-poc"
    )
    return Path(folder) / "precision.json"


def device_name(device: torch.device | str) -> str:
    """The processor a decision holds for: the GPU's name, or the CPU's model name."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, key: str, decision: dict) -> None:
    """Add one decision (read, update, replace atomically: a concurrent writer loses at worst a
    decision, which is then measured again)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cache = _read_cache(path)
        cache[key] = decision
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError:  # a read-only home: measured again next time, nothing else lost
        pass


def _load_average() -> float | None:
    """The machine's 1-minute load average when a decision was timed (None where unknown)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def measure_precision(forward: Callable[[str], torch.Tensor], items: int) -> dict:
    """Time ``forward(precision)`` (one batch of ``items``, float32 output on the CPU) in each
    precision: a warm-up pass each, then passes alternating in order, the median of each.
    Returns both throughputs, their ratio, the embeddings' lowest cosine and the faster one."""
    seconds: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    out = {}
    warm = 0.0
    for p in seconds:  # warm-up: kernels chosen, memory allocated
        start = time.perf_counter()
        out[p] = forward(p)
        warm = max(warm, time.perf_counter() - start)
    repeats = AUTO_REPEATS if warm <= AUTO_SLOW_PASS_S else 2
    for r in range(repeats):
        for p in ("float32", "bfloat16") if r % 2 == 0 else ("bfloat16", "float32"):
            start = time.perf_counter()
            forward(p)
            seconds[p].append(time.perf_counter() - start)
    a, b = (
        out["float32"].reshape(len(out["float32"]), -1),
        out["bfloat16"].reshape(len(out["bfloat16"]), -1),
    )
    cosine = torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=1, eps=1e-12)
    f32 = items / statistics.median(seconds["float32"])
    b16 = items / statistics.median(seconds["bfloat16"])
    agree = float(cosine.min()) >= AUTO_COSINE_FLOOR
    return {
        "float32_per_s": round(f32, 2),
        "bfloat16_per_s": round(b16, 2),
        "ratio": round(b16 / f32, 3),
        "cosine_min": round(float(cosine.min()), 6),
        "cosine_floor": AUTO_COSINE_FLOOR,
        "min_gain": AUTO_MIN_GAIN,
        "repeats": repeats,
        "choice": "bfloat16" if agree and b16 >= AUTO_MIN_GAIN * f32 else "float32",
        "why": (
            "bfloat16's embeddings disagree with float32's"
            if not agree
            else "faster"
            if b16 >= AUTO_MIN_GAIN * f32
            else f"bfloat16 is not at least {AUTO_MIN_GAIN:g}x faster"
        ),
    }


def choose_precision(
    precision: str,
    device: torch.device | str,
    forward: Callable[[str], torch.Tensor] | None,
    architecture: str,
    items: int = AUTO_BATCH,
    use_cache: bool = True,
) -> tuple[str, dict]:
    """The precision an encoder runs at, and how it was decided (``metrics.json`` records it).

    ``float32`` / ``bfloat16`` force. ``auto``: float32 where bfloat16 is not worth measuring
    (``bfloat16_allowed``); else the decision remembered on this machine for the same
    ``architecture``, device, batch size and torch version (``precision_cache_file``); else
    ``measure_precision`` on ``forward`` (a fixed batch of ``items``), remembered.
    """
    chosen = resolve_precision(precision, device)
    if chosen != "auto":
        how = "forced" if precision != "auto" else bfloat16_allowed(device)[1]
        return chosen, {"choice": chosen, "how": how}
    key = (
        f"{architecture} | {torch.device(device).type}: {device_name(device)} | batch {items} "
        f"| torch {torch.__version__}"
    )
    path = precision_cache_file()
    if use_cache and key in (cache := _read_cache(path)):
        return cache[key]["choice"], {**cache[key], "how": "remembered", "cache": str(path)}
    if forward is None:
        raise ValueError("precision='auto' needs a forward pass to time")
    decision = {
        **measure_precision(forward, items),
        "how": "measured",
        "key": key,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # a decision timed on a busy machine is remembered too: delete the file to re-measure
        "load_average": _load_average(),
    }
    if use_cache:
        _write_cache(path, key, decision)
    return decision["choice"], decision


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
