"""``make bench`` labels section: notebook 07's active-learning simulation, timed.

The simulation of notebook 07's default plan (one label per category per round up to 32 per
category, then 48, 64 and 80; every strategy; ``seeds`` start draws; a held-out fold) for the
weight-free candidates (``text-tfidf``, ``pixels-classic``) on the real catalogue (``--source``),
else on synthetic rows of its shapes; and, on one seed, the same campaigns refitted through
``models.fitting.fit`` at every round (no fast refits, settings re-chosen every round), for the
cost per refit of each path.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from .scale import REFIT_CANDIDATES, _real_refit_panel, _synthetic_refit_panel


def _campaigns(panel, rows, plan, n_jobs, fast: bool) -> tuple[float, pd.DataFrame]:
    from ..labels import active

    pool = rows[rows["split"] != "test"].reset_index(drop=True)
    test = rows[rows["split"] == "test"]
    kept, held = active.holdout_fold(pool, plan.holdout_folds, 42)
    start = time.perf_counter()
    records = active.run(
        panel, REFIT_CANDIDATES, pool.iloc[kept], test, plan, 42, None, n_jobs, False,
        pool.iloc[held], fast_refits=fast,
    )  # fmt: skip
    return time.perf_counter() - start, records


def bench_labels(source: str | None, seeds: int = 20, n_jobs: int | None = None) -> list[dict]:
    """Rows: the simulation as notebook 07 runs it (fast refits, ``seeds`` seeds), then one seed
    of it with fast refits and through ``fit`` at every round."""
    from ..labels import active

    with tempfile.TemporaryDirectory() as tmp:
        real = _real_refit_panel(source, Path(tmp)) if source else None
        panel, rows = real if real else _synthetic_refit_panel()
        out = []
        for label, plan, fast in (
            (f"notebook 07's plan, {seeds} seeds", active.Plan(seeds=seeds), True),
            ("1 seed, fast refits", active.Plan(seeds=1), True),
            ("1 seed, fit() every round", active.Plan(seeds=1, rechoose=1), False),
        ):
            seconds, records = _campaigns(panel, rows, plan, n_jobs if seeds > 1 else 1, fast)
            out.append(
                {
                    "variant": label,
                    "data": "real" if real else "synthetic",
                    "candidates": ", ".join(REFIT_CANDIDATES),
                    "seeds": plan.seeds,
                    "campaigns": int(records.groupby(["candidate", "strategy", "seed"]).ngroups),
                    "refits": len(records),
                    "processes": records.attrs["parallel"]["processes"],
                    "total_s": round(seconds, 2),
                    "ms_per_refit": round(1000 * seconds / max(len(records), 1), 1),
                }
            )
        return out
