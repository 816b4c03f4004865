"""Where a notebook's time goes: named steps, timed, summed, and recorded in ``metrics.json``.

``step(name)`` times a block; nested steps are named by their path (``"repeated splits/fit
text-tfidf"``). A ``Recorder`` started in a notebook collects every step run while it is active,
in the notebook's own code and in the ``utils`` functions it calls (they open steps themselves:
fits per candidate, predictions, the bootstrap, repeated splits, the label budget, timing runs).
Without an active recorder a step costs two clock reads.

Steps run in worker processes (parallel refits) are timed there and merged into the parent's
recorder under the step that started them, flagged ``in_workers``: their seconds are summed over
processes running at the same time, so they can add up to more than the wall time around them.

    timer = timing.Recorder().start()
    with timing.step("figures"):
        ...
    metrics["timings"] = timer.stop().to_dict()
"""

from __future__ import annotations

import contextlib
import time

import pandas as pd

_ACTIVE: list[Recorder] = []  # recorders collecting steps, innermost last
_PATH: list[str] = []  # names of the steps open now, outermost first


class Recorder:
    """Seconds and calls per step path while started (``start``/``stop``, or ``with``)."""

    def __init__(self) -> None:
        self.steps: dict[str, dict] = {}
        self.total: float | None = None
        self._t0: float | None = None

    # ---- collecting
    def start(self) -> Recorder:
        self.total, self._t0 = None, time.perf_counter()
        if self not in _ACTIVE:
            _ACTIVE.append(self)
        return self

    def stop(self) -> Recorder:
        if self._t0 is not None:
            self.total = time.perf_counter() - self._t0
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        return self

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add(self, path: str, seconds: float, calls: int = 1, in_workers: bool = False) -> None:
        entry = self.steps.setdefault(path, {"seconds": 0.0, "calls": 0})
        entry["seconds"] += seconds
        entry["calls"] += calls
        if in_workers:
            entry["in_workers"] = True

    def merge(self, steps: dict[str, dict], prefix: str | None = None) -> None:
        """Add the ``steps`` of another recorder (``to_dict()["steps"]``, e.g. a worker's) under
        ``prefix`` (default: the step open now), flagged as run in workers."""
        prefix = current() if prefix is None else prefix
        for path, entry in steps.items():
            full = f"{prefix}/{path}" if prefix else path
            self.add(full, entry["seconds"], entry["calls"], in_workers=True)

    # ---- reading
    def elapsed(self) -> float:
        if self.total is not None:
            return self.total
        return time.perf_counter() - self._t0 if self._t0 is not None else 0.0

    def top(self) -> dict[str, float]:
        """Seconds of each outermost step, and ``unaccounted`` (the rest of the recorded time)."""
        out = {p: round(e["seconds"], 3) for p, e in self.steps.items() if "/" not in p}
        out["unaccounted"] = round(max(self.elapsed() - sum(out.values()), 0.0), 3)
        return out

    def to_dict(self) -> dict:
        total = self.elapsed()
        return {
            "total_seconds": round(total, 3),
            "top": self.top(),
            "steps": {
                p: {**e, "seconds": round(e["seconds"], 4)} for p, e in sorted(self.steps.items())
            },
            "note": "seconds per step (path: step/inner step); in_workers: summed over parallel "
            "worker processes, so they can exceed the wall time of the step around them",
        }

    def table(self) -> pd.DataFrame:
        """One row per step: seconds, calls, share of the recorded wall time (none for workers)."""
        total = self.elapsed() or 1.0
        rows = {
            p: {
                "seconds": round(e["seconds"], 3),
                "calls": e["calls"],
                "share": round(e["seconds"] / total, 3) if not e.get("in_workers") else None,
                "in_workers": bool(e.get("in_workers")),
            }
            for p, e in sorted(self.steps.items())
        }
        return pd.DataFrame(rows).T


def current() -> str:
    """The path of the step open now ("" outside any step)."""
    return "/".join(_PATH)


@contextlib.contextmanager
def step(name: str):
    """Time the block as step ``name`` (under the steps open around it) for the active recorders."""
    _PATH.append(name)
    path = "/".join(_PATH)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - t0
        _PATH.pop()
        for recorder in _ACTIVE:
            recorder.add(path, seconds)


def recording() -> bool:
    """True when some recorder is collecting steps."""
    return bool(_ACTIVE)
