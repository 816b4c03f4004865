"""Which products to label next: a team's unlabelled products ranked by an active-learning strategy.

``python -m utils.labels.suggest --pool new_products.csv`` (``make suggest-labels ARGS=...``)
writes a CSV of the pool ranked by the strategy notebook 07 measured best for the chosen
candidate (``--model``, ``--strategy`` to choose others): the first ``--batch`` rows are the batch
in pick order, then the rest by the strategy's own utility; each with the current model's
prediction and its probability and the margin between its two most probable categories. The
current model is the candidate as notebook 04 trained it (this run's training and validation
labels). Without ``--pool`` it ranks notebook 07's demonstration: this run's training and
validation products as if only the start of the simulation were labelled.

``rank`` does the same in a notebook. A pool CSV has the catalog's columns (``image``,
``product_name``, ``description``); photos are looked for in ``Images/`` beside it, then beside it;
one that cannot be read gets its status and no rank (for a candidate that reads photos).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import runs
from ..core.paths import REPORTS, Layout
from . import active
from . import strategies as S

OUT_COLUMNS = [
    "rank",
    "in_batch",
    "uniq_id",
    "image",
    "product_name",
    "predicted",
    "probability",
    "margin",
    "strategy",
    "candidate",
]


def rank(
    panel,
    name: str,
    labelled: pd.DataFrame,
    pool: pd.DataFrame,
    strategy: str,
    batch: int,
    seed: int = 0,
    fitted=None,
) -> pd.DataFrame:
    """``pool`` ranked for labelling by ``strategy`` with candidate ``name``: the first ``batch``
    rows (``in_batch``) in the strategy's pick order, the rest after them by its utility.

    ``labelled``: the products already labelled (``label``; ``split`` says which are for training
    and which for choosing settings); ``fitted``: the current model (default: ``name`` fitted on
    ``labelled``). Each row: the model's prediction, its probability, and the margin between the
    two most probable categories (small: uncertain).
    """
    from ..models.fitting import fit

    (strategy,) = S.check_strategies([strategy])
    if fitted is None:  # refitted here: only a candidate that refits from cached features
        (name,) = S.check_candidates([name])
    if pool.empty:
        raise ValueError("the pool is empty: there is nothing to rank.")
    labelled = labelled.reset_index(drop=True)
    if "split" not in labelled:
        labelled = labelled.assign(split="train")
    classes = list(panel.classes)
    known = labelled["label"].map({c: i for i, c in enumerate(classes)})
    if known.isna().any():
        unknown = sorted(set(labelled.loc[known.isna(), "label"]))
        raise ValueError(f"labels {unknown} are not among the model's categories {classes}.")
    known = known.to_numpy(int)
    active.check_start(known, labelled["split"].to_numpy() == "train", classes)
    if batch > len(pool):
        raise ValueError(
            f"the pool holds {len(pool)} unlabelled products, fewer than a batch of {batch}: ask "
            "for a smaller batch or add products to the pool."
        )
    if fitted is None:
        train, val = labelled[labelled["split"] == "train"], labelled[labelled["split"] == "val"]
        fitted = fit(name, panel, train, val if len(val) else train)
    pool = pool.reset_index(drop=True)
    proba = fitted.predict_proba(panel, pool)
    everything = pd.concat([labelled, pool], ignore_index=True)
    emb = S.embedding(panel, name, everything, seed=seed) if strategy != "random" else None
    known_all = np.concatenate([known, np.full(len(pool), -1)])
    proba_all = np.vstack([np.zeros((len(labelled), len(classes))), proba])
    positions = np.arange(len(labelled), len(everything))
    ordered = S.order(strategy, positions, known_all, proba_all, emb, seed, first=batch)
    ordered = ordered - len(labelled)
    top2 = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.c_[proba, proba]
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(pool) + 1),
            "in_batch": np.arange(len(pool)) < batch,
            "uniq_id": pool["uniq_id"].to_numpy()[ordered] if "uniq_id" in pool else "",
            "image": pool["image"].to_numpy()[ordered] if "image" in pool else "",
            "product_name": pool["product_name"].to_numpy()[ordered],
            "predicted": [classes[i] for i in proba[ordered].argmax(1)],
            "probability": proba[ordered].max(1).round(4),
            "margin": (top2[ordered, 1] - top2[ordered, 0]).round(4),
            "strategy": strategy,
            "candidate": name,
        }
    )
    out.index = pool.index[ordered]
    return out


def catalog_facts(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the catalogue's product id (``uniq_id``) and category path
    (``category_path``, from ``product_category_tree``), read from the source CSV beside the
    photos by each row's ``row``; unchanged where that CSV or those columns cannot be found."""
    from ..data.acquire import find_csv, read_csv

    rows = rows.copy()
    try:
        folder = Path(str(rows["path"].iloc[0])).parent.parent
        csv = find_csv(folder)
        source = read_csv(csv) if csv else None
    except (KeyError, IndexError, OSError, ValueError):
        source = None
    if source is None or "row" not in rows or "product_category_tree" not in source:
        return rows
    at = pd.to_numeric(rows["row"], errors="coerce")
    ok = at.between(0, len(source) - 1)
    pick = at.where(ok, 0).astype(int).to_numpy()
    paths = source["product_category_tree"].str.strip('[]"').to_numpy()[pick]
    rows["category_path"] = np.where(ok, paths, "")
    if "uniq_id" in source:
        rows["uniq_id"] = np.where(ok, source["uniq_id"].to_numpy()[pick], "")
    return rows


def demonstration(split, plan_start: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(labelled, pool)``: this run's training and validation products as if only the start of
    the simulation's first draw were labelled (notebook 07's demonstration)."""
    pool = pd.concat([split.train, split.val]).reset_index(drop=True)
    start = active.start_sets(pool, plan_start, 1, seed)[0]
    rest = np.setdiff1d(np.arange(len(pool)), start)
    return pool.iloc[start].reset_index(drop=True), pool.iloc[rest].reset_index(drop=True)


def read_pool(path: Path, reads_photos: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(usable rows, rows left out with their status)`` of a pool CSV."""
    from ..data import catalog

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no pool CSV at {path}.")
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = ["product_name", "description"] + (["image"] if reads_photos else [])
    missing = [c for c in need if c not in rows]
    if missing:
        raise ValueError(f"{path} has no column {', '.join(map(repr, missing))}.")
    if not reads_photos:
        return rows, rows.iloc[0:0].assign(status=[])
    paths, facts = [], []
    for name in rows["image"]:
        inside = path.parent / "Images" / name
        file = inside if inside.exists() else path.parent / name
        paths.append(str(file))
        facts.append(catalog.inspect_image(file))
    rows = rows.assign(
        path=paths, sha256=[f["sha256"] for f in facts], status=[f["status"] for f in facts]
    )
    ok = rows["status"] == "ok"
    return rows[ok].drop(columns="status").reset_index(drop=True), rows[~ok].reset_index(drop=True)


def _panel(layout: Layout, name: str, classes: list[str], split_id: str):
    from ..models import families
    from ..models.panel import Panel, Settings

    meta = json.loads((layout.candidate(name) / "meta.json").read_text())
    info = meta["info"]
    names = info.get("encoder_names", {})
    settings = Settings(
        clip_model=names.get("clip", Settings.clip_model),
        vgg_weights=names.get("vgg16", Settings.vgg_weights),
        precision=info.get("precision", "auto"),
        decode_min_side=info.get("decode_min_side", families.UNRECORDED_DECODE_MIN_SIDE),
    )
    return Panel(layout, settings, classes, split_id, progress=False)


def choices(metrics: dict, model: str | None, strategy: str | None) -> tuple[str, str, int, str]:
    """The candidate (default: the chosen one), the strategy (default: the one notebook 07
    chose for it on the held-out fold; for a candidate it did not simulate, the default
    ``active.DEFAULT``), the start of the simulation, and where the strategy comes from, from this
    run's ``metrics.json``."""
    rec = (metrics.get("evaluation") or {}).get("recommendation") or {}
    lab = metrics.get("labels") or {}
    model = model or rec.get("candidate")
    if not model:
        raise ValueError("no chosen candidate in metrics.json: run the notebooks or --model.")
    chosen = (lab.get("suggest") or {}).get("strategies", {}).get(model)
    if strategy:
        why = "--strategy"
    elif chosen:
        strategy, why = chosen, "chosen by notebook 07 on the held-out fold"
    else:
        strategy = active.DEFAULT
        why = f"a default: notebook 07 did not simulate {model}"
    return model, strategy, int((lab.get("plan") or {}).get("start", 1)), why


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", help="CSV of unlabelled products (default: the demonstration)")
    parser.add_argument("--model", help="candidate (default: the chosen one)")
    parser.add_argument("--strategy", help=f"one of {', '.join(S.STRATEGIES)}")
    parser.add_argument("--batch", type=int, default=50, help="products to label next")
    parser.add_argument("--data-dir", default=str(Layout().data_dir))
    parser.add_argument("--reports-dir", default=str(REPORTS))
    parser.add_argument("--out", help="CSV written (default: <reports-dir>/suggested_labels.csv)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from ..data import split as split_

    try:
        layout = Layout(Path(args.data_dir))
        metrics = runs.load(Path(args.reports_dir) / "metrics.json")
        model, strategy, start, why = choices(metrics, args.model, args.strategy)
        the_split = split_.load_split(layout.split)
        panel = _panel(layout, model, the_split.labels(), the_split.split_id)
        left_out = pd.DataFrame()
        if args.pool:
            from ..models import families
            from ..models.candidates import CANDIDATES

            pool, left_out = read_pool(Path(args.pool), "image" in CANDIDATES[model].reads)
            if pool.empty and len(left_out):
                first = left_out.iloc[0]
                raise ValueError(
                    f"none of the {len(left_out)} products of {args.pool} has a readable photo "
                    f"for {model} (the first, {first['path']}: {first['status']}): photos are "
                    "looked for in Images/ beside the CSV, then beside it."
                )
            labelled = pd.concat([the_split.train, the_split.val])
            table = rank(
                panel, model, labelled, pool, strategy, args.batch, args.seed,
                families.load(model, panel),
            )  # fmt: skip
        else:
            labelled, pool = demonstration(the_split, start, metrics["run"]["seed"])
            pool = catalog_facts(pool)
            table = rank(panel, model, labelled, pool, strategy, args.batch, args.seed)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    out = Path(args.out or Path(args.reports_dir) / "suggested_labels.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(left_out):
        table = pd.concat([table, left_out[["image", "product_name", "status"]]], ignore_index=True)
    table.to_csv(out, index=False)
    what = f"{args.pool}" if args.pool else "the demonstration pool (notebook 07)"
    print(
        f"{len(pool)} products of {what} ranked by {strategy} ({why}) with {model}; the first "
        f"{min(args.batch, len(pool))} are the batch to label next: {out}"
        + (f" ({len(left_out)} rows left out: photo not readable)" if len(left_out) else "")
    )


if __name__ == "__main__":
    main()
