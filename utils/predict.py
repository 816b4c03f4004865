"""Classify new product photos with a trained candidate.

``python -m utils.predict photo.jpg [more.jpg ...]``, or a whole catalog (CSV + ``Images/``) to
Parquet: ``python -m utils.predict --catalog FOLDER --out predictions/ [--engine ray]``.

Each photo is checked exactly as a catalog row is (missing, unreadable, too small, too large...):
a broken file gets its status and the reason, not a traceback. The readable ones go through the
candidate in batches, the encoder loaded once, and each gets its top categories with probabilities.
``predict(paths)`` does the same from a notebook and returns a table; ``predict_catalog`` writes
that table, with each row's id, for millions of rows: on Ray Data (``engine="ray"`` or a cluster's
address: the CSV read by Ray, chunks of rows classified in one actor per GPU or CPU slot, Parquet
files written by Ray) or in process (``engine="local"``), the same rows either way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .core.paths import Layout
from .data import acquire, catalog
from .models import candidates, distributed, families
from .models.panel import Panel, Settings


def _settings(meta: dict, device: str, precision: str, batch_size: int) -> Settings:
    names = meta["info"].get("encoder_names", {})
    return Settings(
        clip_model=names.get("clip", Settings.clip_model),
        vgg_weights=names.get("vgg16", Settings.vgg_weights),
        device=device,
        precision=meta["info"].get("precision", precision),
        batch_size=batch_size,
        decode_min_side=meta["info"].get("decode_min_side", families.UNRECORDED_DECODE_MIN_SIDE),
    )


DATA_DIR = Layout().data_dir


def load_candidate(
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
) -> tuple[Panel, families.Fitted]:
    """The trained image candidate ``model`` and the panel it predicts through (encoders as it
    recorded them), checked; one sentence when it is not trained or does not read photos."""
    layout, meta = _trained(model, data_dir)
    panel = Panel(
        layout, _settings(meta, device, precision, batch_size), meta["classes"], progress=False
    )
    return panel, families.load(model, panel)


def _trained(model: str, data_dir: str | Path) -> tuple[Layout, dict]:
    layout = Layout(Path(data_dir))
    folder = layout.candidate(model)
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(
            f"candidate {model!r} is not trained ({folder} is missing): run notebook 04 with "
            f"{model!r} in models (make report / make smoke)."
        )
    c = candidates.CANDIDATES[model]
    if c.reads != "image":
        raise ValueError(
            f"{model} reads {c.reads}; utils.predict classifies photos: choose an image candidate "
            f"({', '.join(n for n, x in candidates.CANDIDATES.items() if x.reads == 'image')})."
        )
    return layout, json.loads((folder / "meta.json").read_text())


def classify(
    panel: Panel, fitted: families.Fitted, paths: list[str | Path], top: int = 3
) -> pd.DataFrame:
    """``predict``'s table for ``paths`` with a loaded candidate (``load_candidate``)."""
    facts = [catalog.inspect_image(Path(p)) for p in paths]
    table = pd.DataFrame(
        {
            "file": [str(p) for p in paths],
            "status": [f["status"] for f in facts],
            "detail": [f["detail"] for f in facts],
        }
    )
    ok = table["status"] == "ok"
    for k in range(1, top + 1):
        table[f"top{k}"] = ""
    table["category"], table["probability"] = "", np.nan
    if ok.any():
        rows = pd.DataFrame(
            {
                "path": table.loc[ok, "file"],
                "sha256": [f["sha256"] for f, good in zip(facts, ok) if good],
                "product_name": "",
                "description": "",
            }
        )
        proba = fitted.infer(panel, rows)
        order = np.argsort(-proba, axis=1)[:, :top]
        for j, (i, best) in enumerate(zip(table.index[ok], order)):
            for k, c_id in enumerate(best, start=1):
                table.loc[i, f"top{k}"] = f"{fitted.classes[c_id]} ({proba[j, c_id]:.2f})"
            table.loc[i, "category"] = fitted.classes[best[0]]
            table.loc[i, "probability"] = float(proba[j, best[0]])
    return table


def predict(
    paths: list[str | Path],
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    top: int = 3,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
) -> pd.DataFrame:
    """One row per photo: ``file``, ``status``, ``detail``, then ``top1`` ... ``top{top}`` as
    "category (p)", and ``category`` / ``probability`` of the best one (empty for photos that cannot
    be read)."""
    panel, fitted = load_candidate(model, data_dir, device, precision, batch_size)
    return classify(panel, fitted, paths, top)


# --------------------------------------------------------------------- a whole catalog to Parquet
class CatalogPredictor:
    """Catalog rows (``id_column``, ``image``) -> ``predict``'s table with ``id`` and ``image``
    first. The candidate is loaded once: a Ray Data actor, or the local loop's one instance."""

    def __init__(self, model, data_dir, images, top, device, precision, batch_size, id_column):
        self.panel, self.fitted = load_candidate(model, data_dir, device, precision, batch_size)
        self.images, self.top, self.id_column = Path(images), top, id_column

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        names = chunk["image"].fillna("").astype(str).tolist()
        problems = [catalog.name_problem(n) for n in names]  # never opened
        readable = [i for i, p in enumerate(problems) if p is None]
        table = classify(
            self.panel, self.fitted, [self.images / names[i] for i in readable], self.top
        )
        out = pd.DataFrame(
            {"file": "", "status": problems, "detail": "", "category": "", "probability": np.nan},
            index=range(len(names)),
        )
        for k in range(1, self.top + 1):
            out[f"top{k}"] = ""
        out = out[table.columns]
        for i, problem in enumerate(problems):
            if problem:
                out.loc[i, "detail"] = f"{catalog.STATUSES[problem]}: {names[i]!r}"
        out.iloc[readable] = table.to_numpy()
        out.insert(0, "image", names)
        out.insert(0, "id", chunk[self.id_column].astype(str).to_numpy())
        return out.astype({"probability": float})


def _catalog_files(source: str | Path, id_column: str) -> tuple[Path, Path]:
    """The catalog CSV and its ``Images/`` folder: ``source`` is the folder or the CSV itself."""
    source = Path(source)
    csv = acquire.find_csv(source) if source.is_dir() else source
    if csv is None or not csv.is_file() or not (csv.parent / "Images").is_dir():
        raise FileNotFoundError(f"{source}: no catalog CSV beside an Images/ folder")
    columns = pd.read_csv(csv, nrows=0).columns
    missing = [c for c in (id_column, "image") if c not in columns]
    if missing:
        raise ValueError(f"{csv.name} has no column {missing[0]!r} (--id-column names the id)")
    return csv, csv.parent / "Images"


def predict_catalog(
    source: str | Path,
    out: str | Path,
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    top: int = 3,
    engine: str = "ray",
    chunk_rows: int = 256,
    id_column: str = "uniq_id",
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
    actors: int | None = None,
) -> dict:
    """Every row of a catalog (``source``: a folder holding the CSV and ``Images/``, or the CSV)
    classified by ``model`` into Parquet files under ``out`` (a folder; its old ``*.parquet``
    removed): ``id``, ``image``, then ``predict``'s columns. Returns rows, statuses and seconds."""
    csv, images = _catalog_files(source, id_column)
    _trained(model, data_dir)  # one sentence now rather than in every worker
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    args = (model, str(data_dir), str(images), top, device, precision, batch_size, id_column)
    start = time.perf_counter()
    if distributed.is_local(engine):
        predictor = CatalogPredictor(*args)
        read = pd.read_csv(
            csv,
            dtype=str,
            keep_default_na=False,
            usecols=[id_column, "image"],
            chunksize=chunk_rows,
        )
        for i, chunk in enumerate(read):
            predictor(chunk.reset_index(drop=True)).to_parquet(out / f"part-{i:05d}.parquet")
    else:
        import pyarrow as pa
        from pyarrow import csv as pcsv

        with distributed.cluster(engine) as ray, distributed.configured(ray):
            n_actors, reserve, _ = distributed.actor_pool(ray, actors)
            ray.data.read_csv(
                str(csv),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    include_columns=[id_column, "image"],
                    column_types={id_column: pa.string(), "image": pa.string()},
                    strings_can_be_null=False,
                ),
            ).map_batches(
                CatalogPredictor,
                batch_size=chunk_rows,
                batch_format="pandas",
                compute=ray.data.ActorPoolStrategy(size=n_actors),
                fn_constructor_args=args,
                **reserve,
            ).write_parquet(str(out))
    seconds = time.perf_counter() - start
    statuses = pd.read_parquet(out, columns=["status"])["status"].value_counts()
    return {
        "rows": int(statuses.sum()),
        "statuses": statuses.to_dict(),
        "seconds": round(seconds, 2),
        "engine": engine,
        "out": str(out),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", help="image files")
    parser.add_argument("--catalog", help="a catalog (CSV + Images/) to classify into --out")
    parser.add_argument("--out", default="reports/predictions", help="Parquet folder (--catalog)")
    parser.add_argument("--engine", default="ray", help="--catalog: ray, local or a Ray address")
    parser.add_argument("--id-column", default="uniq_id", help="--catalog: the rows' id")
    parser.add_argument(
        "--model",
        default=candidates.REFERENCE,
        help="a trained image candidate (default: %(default)s)",
    )
    parser.add_argument("--data-dir", default=str(Layout().data_dir))
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if bool(args.photos) == bool(args.catalog):
        parser.error("give photos, or --catalog (not both)")
    errors = (FileNotFoundError, ValueError, families.CandidateMismatch)
    try:
        if args.catalog:
            done = predict_catalog(
                args.catalog,
                args.out,
                args.model,
                args.data_dir,
                args.top,
                args.engine,
                id_column=args.id_column,
                device=args.device,
            )
            print(
                f"{done['rows']} rows in {done['seconds']} s -> {done['out']}: {done['statuses']}"
            )
            return
        table = predict(args.photos, args.model, args.data_dir, args.top, args.device)
    except (*errors, distributed.EngineUnavailable) as exc:
        raise SystemExit(f"error: {exc}") from None
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.drop(columns=["category", "probability"]).to_string(index=False))


if __name__ == "__main__":
    main()
