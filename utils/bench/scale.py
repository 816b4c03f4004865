"""``make bench`` sections on scale.

- ``scale``: a synthetic catalog (long-tailed categories, small generated photos) at 1k, 5k and
  20k rows: validation, grouping and splitting time with peak memory.
- ``refits``: notebook 05's refits (repeated splits, then the label budget) of text-tfidf and
  pixels-classic on the same inputs, in one run: one after the other with the thread pools as they
  are (the old behaviour), one after the other with one thread per small fit, and in parallel
  processes (``--refit-jobs``, default one per core; worker start included, as in the notebook).
  Real data when a dataset is found (``DATA_SOURCE``), synthetic features otherwise; the thread
  settings are recorded beside the times.
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import parallel
from ..core.paths import Layout
from ..data import acquire, dedup, split
from ..data.catalog import build_catalog, usable
from ..evaluation import refits

# --------------------------------------------------------------------------- scale
WORDS = (
    "cotton printed analog steel ceramic wooden premium stylish combo pack set gift kids men women "
    "home kitchen office travel classic modern floral digital wireless portable soft large small "
    "blue red black"
).split()


def synthetic_catalog(
    folder: Path, n: int, n_categories: int = 200, seed: int = 0, side: int = 64
) -> Path:
    """A same-schema catalog of ``n`` products over ``n_categories`` long-tailed (Zipf) categories:
    small generated photos (some near-duplicates), templated descriptions (some near-identical)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, n_categories + 1) ** 1.1
    cats = rng.choice(n_categories, size=n, p=weights / weights.sum())
    images = folder / "Images"
    images.mkdir(parents=True, exist_ok=True)
    names, descriptions, trees = [], [], []
    base = None
    for i in range(n):
        name = f"p{i:06d}.jpg"
        if i % 50 == 1 and base is not None:  # a near-duplicate of the previous photo
            pixels = np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(
                np.uint8
            )
        else:
            blocks = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            pixels = np.kron(blocks, np.ones((side // 4, side // 4, 1), dtype=np.uint8))
        base = pixels
        Image.fromarray(pixels).save(images / name, quality=85)
        names.append(name)
        words = rng.choice(WORDS, 12)
        descriptions.append(
            " ".join(words) if i % 40 else descriptions[-1] if descriptions else " ".join(words)
        )
        trees.append(json.dumps([f"Category {cats[i]:03d} >> Sub {cats[i] % 7} >> Item"]))
    pd.DataFrame(
        {
            "uniq_id": [f"u{i}" for i in range(n)],
            "product_name": [f"product {i}" for i in range(n)],
            "product_category_tree": trees,
            "image": names,
            "description": descriptions,
            "brand": "synthetic",
        }
    ).to_csv(folder / "catalog.csv", index=False)
    return folder


def _measured(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, round(seconds, 2), round(peak / 2**20, 1)


def bench_scale(sizes: list[int], workers: int = 2) -> list[dict]:
    """Validation, grouping and splitting of synthetic catalogs of each size: seconds and peak
    memory (MiB)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        full = synthetic_catalog(Path(tmp) / "full", max(sizes))
        rows = pd.read_csv(full / "catalog.csv", dtype=str, keep_default_na=False)
        for n in sizes:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            (folder / "Images").symlink_to(full / "Images")
            rows.head(n).to_csv(folder / "catalog.csv", index=False)
            catalog, t_val, m_val = _measured(
                lambda: build_catalog(folder, workers=workers, progress=False)
            )
            ok = usable(catalog)
            groups, t_grp, m_grp = _measured(lambda: dedup.leak_groups(ok))
            ok = ok.join(groups)
            _, t_split, m_split = _measured(
                lambda: split.assign(ok["label"].to_numpy(), ok["group"].to_numpy(), 0)
            )
            out.append(
                {
                    "rows": n,
                    "usable": len(ok),
                    "categories": int(ok["label"].nunique()),
                    "rare_excluded": int((catalog["status"] == "rare_category").sum()),
                    "groups": int(ok["group"].value_counts().gt(1).sum()),
                    "validate_s": t_val,
                    "validate_peak_mib": m_val,
                    "group_s": t_grp,
                    "group_peak_mib": m_grp,
                    "split_s": t_split,
                    "split_peak_mib": m_split,
                }
            )
    return out


# --------------------------------------------------------------------------- refits (notebook 05)
REFIT_CANDIDATES = ["text-tfidf", "pixels-classic"]


def _synthetic_refit_panel(n: int = 1050, n_classes: int = 7, dim: int = 1892, seed: int = 0):
    """Rows and a ``CachedPanel`` of synthetic features in the real data's shapes: HOG-sized pixel
    vectors (class means plus noise) and product texts (class-dependent words among common ones)."""
    from ..models.panel import CachedPanel, Settings

    rng = np.random.default_rng(seed)
    labels = np.repeat([f"Category {c}" for c in range(n_classes)], int(np.ceil(n / n_classes)))[:n]
    codes = pd.factorize(labels, sort=True)[0]
    X = (rng.normal(size=(n_classes, dim))[codes] * 0.3 + rng.normal(size=(n, dim))).astype(
        np.float32
    )
    vocabulary = np.array(WORDS)
    own = [vocabulary[rng.permutation(len(vocabulary))[:6]] for _ in range(n_classes)]
    texts = [
        " ".join(np.concatenate([rng.choice(vocabulary, 25), rng.choice(own[c], 4)])) for c in codes
    ]
    rows = pd.DataFrame(
        {
            "sha256": [f"synthetic{i}" for i in range(n)],
            "label": labels,
            "product_name": [f"product {i}" for i in range(n)],
            "description": texts,
            "group": np.arange(n),
        }
    )
    rows["split"] = split.assign(rows["label"].to_numpy(), rows["group"].to_numpy(), 42)
    classes = sorted(set(labels))
    panel = CachedPanel(Settings(), classes, "synthetic", {"pixels": (list(rows["sha256"]), X)}, {})
    return panel, rows


def _real_refit_panel(source: str, folder: Path):
    """Rows (the usable catalog, split as notebook 02 does by default) and a ``Panel`` whose pixel
    features are computed and held in memory (not timed)."""
    from ..models.panel import Panel, Settings

    dataset = acquire.find_dataset_dir(Path(source))
    if dataset is None:
        return None
    catalog = build_catalog(dataset, progress=False)
    split.save_split(split.make_split(usable(catalog), seed=42), folder / "split.csv")
    s = split.load_split(folder / "split.csv")
    panel = Panel(Layout(folder), Settings(), s.labels(), s.split_id, progress=False)
    rows = s.all_rows_for_final_evaluation()
    panel.features("pixels", rows)
    return panel, rows


def _refits_once(panel, rows, names, n_splits, ks, draws, n_jobs) -> tuple[dict, object, object]:

    others = split.other_splits(rows, 42, n_splits, 0.2, 0.2)
    part = {name: rows[rows["split"] == name] for name in ("train", "val", "test")}
    start = time.perf_counter()
    repeats = refits.panel_repeats(panel, rows, names, others, progress=False, n_jobs=n_jobs)
    middle = time.perf_counter()
    budget = refits.label_budget(
        panel, part["train"], part["val"], part["test"], names, ks, draws, 42, False, n_jobs
    )
    end = time.perf_counter()
    times = {
        "repeats_s": round(middle - start, 2),
        "budget_s": round(end - middle, 2),
        "total_s": round(end - start, 2),
        "processes": max(
            repeats.attrs["parallel"]["processes"], budget.attrs["parallel"]["processes"]
        ),
    }
    return times, repeats, budget


def bench_refits(
    source: str | None,
    n_splits: int = 5,
    ks: tuple = (1, 2, 4, 8, 16, 32, "all"),
    draws: int = 3,
    n_jobs: int | None = None,
    baseline: bool = True,
) -> list[dict]:
    """Notebook 05's refits of text-tfidf and pixels-classic, on the same inputs: sequential with
    the thread pools as they are (``baseline``), sequential with one thread per small fit, in
    ``n_jobs`` processes (default: one per core), and as notebook 05 runs them by default."""
    with tempfile.TemporaryDirectory() as tmp:
        real = _real_refit_panel(source, Path(tmp)) if source else None
        panel, rows = real if real else _synthetic_refit_panel()
        pools = parallel.thread_settings()
        common = {
            "data": "real" if real else "synthetic",
            "candidates": ", ".join(REFIT_CANDIDATES),
            "rows": len(rows),
            "splits": n_splits,
            "budget_draws": len([k for k in ks if k != "all"]) * draws + ("all" in ks),
            "cores": pools["cores"],
            "pools": "; ".join(f"{p['api']} {p['threads']}" for p in pools["pools"])
            + f"; torch {pools['torch_threads']}",
        }
        variants = [("sequential, pools as they are", 1, None)] if baseline else []
        jobs = n_jobs or parallel.cores()
        variants += [
            ("sequential, 1 thread per fit", 1, 1),
            (f"parallel, {jobs} processes", jobs, 1),
            ("default (n_jobs=None: parallel where it pays)", None, 1),
        ]
        out, results = [], {}
        for label, jobs, threads in variants:
            with parallel.small_fit_threads(threads):
                times, repeats, budget = _refits_once(
                    panel, rows, REFIT_CANDIDATES, n_splits, list(ks), draws, jobs
                )
            results[label] = (repeats, budget)
            out.append(
                {
                    "variant": label,
                    "n_jobs": jobs,
                    "small_fit_threads": threads,
                    **times,
                    **common,
                }
            )
        reference = results["sequential, 1 thread per fit"]
        first = out[0]["total_s"]
        for row, (label, _, _) in zip(out, variants):
            repeats, budget = results[label]
            row["speedup_vs_first"] = round(first / row["total_s"], 2) if row["total_s"] else None
            row["same_results_as_sequential"] = bool(
                repeats.equals(reference[0]) and budget.equals(reference[1])
            )
            row["max_accuracy_difference"] = float(
                max(
                    (repeats - reference[0]).abs().to_numpy().max(),
                    (budget["accuracy"] - reference[1]["accuracy"]).abs().max(),
                )
            )
    return out
