"""Classify new products with a trained candidate: photos, texts, or both, as the candidate reads.

``python -m utils.predict photo.jpg [more.jpg ...]`` for a candidate that reads the photo alone, or
a catalog of products (a CSV, with ``Images/`` beside it when the candidate reads photos) to
Parquet: ``python -m utils.predict --catalog FOLDER_OR_CSV --out predictions/ [--engine ray]``. A
candidate that reads text takes each row's ``product_name`` and ``description``.

Each photo is checked exactly as a catalog row is (missing, unreadable, too small, too large...),
and a product with neither name nor description is said so: a broken row gets its status and the
reason, not a traceback. The readable ones go through the candidate in batches, the encoders loaded
once, and each gets its top categories with probabilities. ``predict(paths)`` and
``predict_products(rows)`` do the same from a notebook and return a table; ``predict_catalog``
writes that table, with each row's id, for millions of rows: on Ray Data (``engine="ray"`` or a
cluster's address: the CSV read by Ray, chunks of rows checked and their photos decoded in CPU
tasks, classified in actors (one per GPU or CPU slot), Parquet shards keyed by product id written
by the workers, counted by the driver, ``resume`` skipping the ids already written) or in process
(``engine="local"``), the same rows either way. Every path is resolved on the driver.

The operating point the model card gives (``Operating``: ``--temperature`` and ``--threshold``)
turns the probabilities into the temperature-scaled ones the threshold was chosen on, and adds
``automatic``: True for a product classified without a person, False for one a person reviews.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .core.paths import Layout
from .data import acquire, catalog
from .evaluation import calibration
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
    """The trained candidate ``model`` and the panel it predicts through (encoders as it recorded
    them), checked; one sentence when it is not trained."""
    layout, meta = _trained(model, data_dir)
    panel = Panel(
        layout, _settings(meta, device, precision, batch_size), meta["classes"], progress=False
    )
    return panel, families.load(model, panel)


def _trained(model: str, data_dir: str | Path) -> tuple[Layout, dict]:
    if model not in candidates.CANDIDATES:
        raise ValueError(f"unknown candidate {model!r}: one of {', '.join(candidates.CANDIDATES)}.")
    layout = Layout(Path(data_dir))
    folder = layout.candidate(model)
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(
            f"candidate {model!r} is not trained ({folder} is missing): run notebook 04 with "
            f"{model!r} in models (make report / make smoke)."
        )
    return layout, json.loads((folder / "meta.json").read_text())


def _reads(model: str) -> str:
    return candidates.CANDIDATES[model].reads


TEXT_COLUMNS = ("product_name", "description")
NO_TEXT = "no_text"  # a product whose name and description are both empty (text candidates)


@dataclasses.dataclass(frozen=True)
class Operating:
    """A deployed candidate's operating point (notebook 05; the model card states it): its
    probabilities at ``temperature`` (``calibration.scale``; 1: as fitted) and, with
    ``threshold``, the column ``automatic``: the highest (scaled) probability at or above it
    (classified without a person), or not (to a person; unreadable rows too)."""

    temperature: float = 1.0
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"the temperature must be positive, got {self.temperature}")
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError(f"the threshold is a probability in [0, 1], got {self.threshold}")

    def apply(self, proba: np.ndarray) -> np.ndarray:
        return proba if self.temperature == 1 else calibration.scale(proba, self.temperature)


AS_FITTED = Operating()


def classify(
    panel: Panel,
    fitted: families.Fitted,
    paths: list[str | Path] | None = None,
    top: int = 3,
    texts: pd.DataFrame | None = None,
    operating: Operating = AS_FITTED,
) -> pd.DataFrame:
    """``predict``'s table with a loaded candidate (``load_candidate``): ``paths`` are the photos
    (for a candidate that reads them), ``texts`` the products' ``product_name`` and
    ``description`` (for one that reads text), row for row with ``paths`` when both are read."""
    return score(panel, fitted, *check(Reads.of(fitted), paths, texts), top, operating)


@dataclasses.dataclass(frozen=True)
class Reads:
    """What a candidate reads (``image``, ``text`` or both) and its name: all the checks need."""

    name: str
    reads: str

    @classmethod
    def of(cls, fitted: families.Fitted) -> Reads:
        return cls(fitted.name, fitted.candidate.reads)


def check(
    fitted: Reads, paths: list | None, texts: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """What ``classify`` checks before the model runs: the table (``file``, ``status``,
    ``detail``: each photo inspected as a catalog row is, empty texts said so), each photo's
    sha256 and the texts. CPU work: Ray runs it in tasks, apart from the model."""
    reads = fitted.reads
    if "image" in reads and paths is None:
        raise ValueError(f"{fitted.name} reads the photo: give each product's image file.")
    if "text" in reads and texts is None:
        raise ValueError(
            f"{fitted.name} reads text: give each product's {' and '.join(TEXT_COLUMNS)}."
        )
    n = len(paths) if paths is not None else len(texts)
    if "image" in reads:
        facts = [catalog.inspect_image(Path(p)) for p in paths]
    else:
        facts = [{"status": "ok", "detail": "", "sha256": ""} for _ in range(n)]
    table = pd.DataFrame(
        {
            "file": [str(p) for p in paths] if paths is not None else "",
            "status": [f["status"] for f in facts],
            "detail": [f["detail"] for f in facts],
        },
        index=range(n),
    )
    words = pd.DataFrame({c: [""] * n for c in TEXT_COLUMNS})
    if "text" in reads:
        if len(texts) != n:
            raise ValueError(f"{len(texts)} texts for {n} photos: give one per product.")
        missing = [c for c in TEXT_COLUMNS if c not in texts.columns]
        if missing:
            raise ValueError(f"{fitted.name} reads text: the products have no {missing[0]!r}.")
        words = texts[list(TEXT_COLUMNS)].fillna("").astype(str).reset_index(drop=True)
        empty = (words.apply(lambda c: c.str.strip()) == "").all(axis=1) & (table["status"] == "ok")
        table.loc[empty, "status"] = NO_TEXT
        table.loc[empty, "detail"] = "neither a product name nor a description to read"
    return table, [f["sha256"] or "" for f in facts], words


def score(
    panel,
    fitted: families.Fitted,
    table: pd.DataFrame,
    shas: list[str],
    words: pd.DataFrame,
    top: int = 3,
    operating: Operating = AS_FITTED,
) -> pd.DataFrame:
    """``check``'s table with each readable product's top categories: the model's part (at the
    ``operating`` point: its temperature, and ``automatic`` when it has a threshold)."""
    table = table.copy()
    ok = table["status"] == "ok"
    for k in range(1, top + 1):
        table[f"top{k}"] = ""
    table["category"], table["probability"] = "", np.nan
    if operating.threshold is not None:
        table["automatic"] = False
    if ok.any():
        rows = pd.DataFrame(
            {
                "path": table.loc[ok, "file"],
                "sha256": [sha for sha, good in zip(shas, ok) if good],
                "product_name": words.loc[ok, "product_name"],
                "description": words.loc[ok, "description"],
            }
        )
        proba = operating.apply(fitted.infer(panel, rows))
        order = np.argsort(-proba, axis=1)[:, :top]
        for j, (i, best) in enumerate(zip(table.index[ok], order)):
            for k, c_id in enumerate(best, start=1):
                table.loc[i, f"top{k}"] = f"{fitted.classes[c_id]} ({proba[j, c_id]:.2f})"
            table.loc[i, "category"] = fitted.classes[best[0]]
            table.loc[i, "probability"] = float(proba[j, best[0]])
        if operating.threshold is not None:
            table.loc[ok, "automatic"] = proba.max(axis=1) >= operating.threshold
    return table


def predict(
    paths: list[str | Path],
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    top: int = 3,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
    operating: Operating = AS_FITTED,
) -> pd.DataFrame:
    """One row per photo: ``file``, ``status``, ``detail``, then ``top1`` ... ``top{top}`` as
    "category (p)", and ``category`` / ``probability`` of the best one (empty for photos that cannot
    be read), at the ``operating`` point (``automatic`` when it has a threshold). ``model`` reads
    the photo alone; ``predict_products`` takes any candidate."""
    if _reads(model) != "image":
        raise ValueError(
            f"{model} reads {_reads(model)}; predict() classifies photos alone: give products "
            f"(name, description{', photo' if 'image' in _reads(model) else ''}) to "
            "predict_products(), or a CSV to --catalog."
        )
    panel, fitted = load_candidate(model, data_dir, device, precision, batch_size)
    return classify(panel, fitted, paths, top, operating=operating)


def predict_products(
    rows: pd.DataFrame,
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    images: str | Path | None = None,
    top: int = 3,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
    operating: Operating = AS_FITTED,
) -> pd.DataFrame:
    """``predict``'s table for products (one row each) with whatever ``model`` reads: the columns
    ``product_name`` and ``description`` for text, ``image`` (a file name under ``images``, or a
    path) for the photo. A row whose image name is empty or leaves ``images`` is said so, never
    opened."""
    panel, fitted = load_candidate(model, data_dir, device, precision, batch_size)
    return _classify_products(panel, fitted, rows.reset_index(drop=True), images, top, operating)


def _classify_products(
    panel, fitted, rows: pd.DataFrame, images, top: int, operating: Operating = AS_FITTED
) -> pd.DataFrame:
    checked = check_products(Reads.of(fitted), rows, images)
    return score_products(panel, fitted, checked, top, operating)


def check_products(fitted: Reads, rows: pd.DataFrame, images) -> pd.DataFrame:
    """Products (``image`` names under ``images`` and / or texts) checked before the model runs:
    ``file``, ``status``, ``detail``, ``sha256`` and the texts, one row per product. A row whose
    image name is empty or leaves ``images`` is said so, never opened."""
    reads = fitted.reads
    rows = rows.reset_index(drop=True)
    texts = rows if "text" in reads else None
    n = len(rows)
    if "image" not in reads:
        table, shas, words = check(fitted, None, texts)
        return table.assign(sha256=shas, **{c: words[c] for c in TEXT_COLUMNS})
    if "image" not in rows.columns:
        raise ValueError(f"{fitted.name} reads the photo: the products have no 'image' column.")
    names = rows["image"].fillna("").astype(str).tolist()
    problems = [catalog.name_problem(n) if images is not None else None for n in names]
    problems = [p or (None if n.strip() else "no_image_name") for p, n in zip(problems, names)]
    readable = [i for i, p in enumerate(problems) if p is None]
    folder = Path(images) if images is not None else None
    table, shas, words = check(
        fitted,
        [folder / names[i] if folder else Path(names[i]) for i in readable],
        None if texts is None else texts.iloc[readable].reset_index(drop=True),
    )
    out = pd.DataFrame(
        {"file": "", "status": problems, "detail": "", "sha256": ""}, index=range(n)
    ).assign(**{c: "" for c in TEXT_COLUMNS})
    for i, problem in enumerate(problems):
        if problem:
            out.loc[i, "detail"] = f"{catalog.STATUSES[problem]}: {names[i]!r}"
    if readable:
        checked = table.assign(sha256=shas, **{c: words[c] for c in TEXT_COLUMNS})
        out.iloc[readable] = checked[out.columns].to_numpy()
    return out


def score_products(
    panel, fitted, checked: pd.DataFrame, top: int, operating: Operating = AS_FITTED
) -> pd.DataFrame:
    """``check_products``' rows classified: ``predict``'s table."""
    checked = checked.reset_index(drop=True)
    words = checked[list(TEXT_COLUMNS)]
    files = checked[["file", "status", "detail"]]
    table = score(panel, fitted, files, checked["sha256"].tolist(), words, top, operating)
    types = {"probability": float} | ({"automatic": bool} if "automatic" in table else {})
    return table.astype(types)


# --------------------------------------------------------------------- a whole catalog to Parquet
class CatalogPredictor:
    """Catalog rows (``id_column`` and what the candidate reads) -> ``predict``'s table with ``id``
    (and ``image`` for a candidate that reads photos) first. The candidate is loaded once (the
    local loop's one instance); on Ray, ``PrepareProducts`` (CPU tasks) and ``ScoreProducts``
    (actors) split the same work in two."""

    def __init__(
        self,
        model,
        data_dir,
        images,
        top,
        device,
        precision,
        batch_size,
        id_column,
        operating: Operating = AS_FITTED,
    ):
        self.panel, self.fitted = load_candidate(model, data_dir, device, precision, batch_size)
        self.images, self.top, self.id_column = images, top, id_column
        self.operating = operating

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        chunk = chunk.reset_index(drop=True)
        out = _classify_products(
            self.panel, self.fitted, chunk, self.images, self.top, self.operating
        )
        return _with_ids(out, chunk, self.fitted, self.id_column)


def _with_ids(out: pd.DataFrame, chunk: pd.DataFrame, fitted, id_column: str) -> pd.DataFrame:
    if "image" in fitted.candidate.reads:
        out.insert(0, "image", chunk["image"].fillna("").astype(str).to_numpy())
    out.insert(0, "id", chunk[id_column].astype(str).to_numpy())
    return out


IMAGE_SOURCES = ("clip-image", "vgg16-image", "pixels")


def image_inputs(panel: Panel, fitted: families.Fitted) -> list[str]:
    """The photo inputs a CPU task can prepare for ``fitted`` (the frozen encoders' and the
    classical features'); a fine-tuned candidate decodes its own photos in the actor."""
    members = getattr(fitted, "members", None)
    if members:
        return sorted({s for m in members for s in image_inputs(panel, m)})
    if type(fitted).infer is not families.Fitted.infer:
        return []
    return [s for s in fitted.candidate.inputs if s in IMAGE_SOURCES]


def prepare_products(
    chunk: pd.DataFrame,
    reads: Reads,
    images: str | None,
    id_column: str,
    decoders: dict,
    done=None,
) -> dict:
    """Ray's first stage, in CPU tasks: a chunk of catalog rows checked (``check_products``:
    names, files, hashes, texts) and the readable photos decoded into what each image input reads
    (``decoders``: source -> (the encoder's preprocessing, its decode size); its resized and
    cropped uint8 pixels go to the actor; ``"pixels"``: the classical feature vector itself).
    Rows whose id is in ``done`` (sorted: already written, a resumed run) are left out."""
    from .models import features

    chunk = chunk.reset_index(drop=True)
    if done is not None and len(done):
        chunk = chunk[~np.isin(chunk[id_column].astype(str).to_numpy(), done)]
        chunk = chunk.reset_index(drop=True)
    checked = check_products(reads, chunk, images)
    out = {c: checked[c].astype(str).to_numpy() for c in checked.columns}
    out["id"] = chunk[id_column].astype(str).to_numpy()
    out["image"] = (
        chunk["image"].fillna("").astype(str).to_numpy() if "image" in chunk else out["id"]
    )
    ok = np.flatnonzero(checked["status"].to_numpy() == "ok")
    for source, (preprocess, decode_min_side) in decoders.items():
        arrays = []
        for i in ok:
            path = checked.loc[i, "file"]
            image = features.load_model_input(path, decode_min_side)
            arrays.append(
                features.pixel_vector(image) if preprocess is None else preprocess.geometry(image)
            )
        if source == "pixels":
            block = np.zeros((len(chunk), features.pixel_dim()), np.float32)
        else:
            block = np.zeros((len(chunk), 224, 224, 3), np.uint8)
        if arrays:
            block = np.zeros((len(chunk), *arrays[0].shape), arrays[0].dtype)
            block[ok] = np.stack(arrays)
        out[f"input:{source}"] = block
    return out


class _Prepared:
    """A panel whose photo inputs were prepared by ``PrepareProducts``: ``raw`` gives them for
    those inputs (the encoder run on the pixels, in the panel's batches), the panel's own
    otherwise."""

    def __init__(self, panel: Panel, prepared: dict) -> None:
        self._panel, self._prepared = panel, prepared

    def __getattr__(self, name):
        return getattr(self._panel, name)

    def raw(self, source: str, rows: pd.DataFrame):
        if source not in self._prepared:
            return self._panel.raw(source, rows)
        arrays = self._prepared[source]
        if source == "pixels":
            return arrays
        encoder, size = self._panel.encoder(source.split("-")[0]), self._panel.settings.batch_size
        return np.concatenate(
            [
                encoder(encoder.preprocess.normalise_batch(arrays[b : b + size])).numpy()
                for b in range(0, len(arrays), size)
            ]
        )

    def raw_inputs(self, sources: tuple[str, ...], rows: pd.DataFrame):
        parts = [self.raw(s, rows) for s in sources]
        return parts[0] if len(parts) == 1 else np.hstack(parts)


class ScoreProducts:
    """Ray's second stage, in actors: the candidate loaded once, each chunk's readable products
    classified from what ``PrepareProducts`` made: ``predict``'s table with ``id`` (and
    ``image``) first. ``fail``: a planted failure (tests, ``distributed.Failure``)."""

    def __init__(
        self,
        model,
        data_dir,
        top,
        device,
        precision,
        batch_size,
        fail=None,
        operating: Operating = AS_FITTED,
    ) -> None:
        self.panel, self.fitted = load_candidate(model, data_dir, device, precision, batch_size)
        self.top, self.fail, self.operating = top, distributed.Failure(fail), operating

    def __call__(self, batch: dict) -> pd.DataFrame:
        self.fail()
        ok = batch["status"] == "ok"
        prepared = {
            key.split(":", 1)[1]: np.asarray(value)[ok]
            for key, value in batch.items()
            if key.startswith("input:")
        }
        checked = pd.DataFrame(
            {c: batch[c] for c in ("file", "status", "detail", "sha256", *TEXT_COLUMNS)}
        )
        panel = _Prepared(self.panel, prepared)
        out = score_products(panel, self.fitted, checked, self.top, self.operating)
        chunk = pd.DataFrame({"id": batch["id"], "image": batch["image"]})
        return _with_ids(out, chunk, self.fitted, "id")


def columns_read(model: str, id_column: str = "uniq_id") -> list[str]:
    """The catalog columns a prediction of ``model`` reads: the id, then ``image`` and / or the
    text columns."""
    reads = _reads(model)
    return (
        [id_column]
        + (["image"] if "image" in reads else [])
        + (list(TEXT_COLUMNS) if "text" in reads else [])
    )


def _catalog_files(source: str | Path, columns: list[str]) -> tuple[Path, Path | None]:
    """The catalog CSV and its ``Images/`` folder (None when no photo is read): ``source`` is the
    folder or the CSV itself; one sentence when a column the candidate reads is missing."""
    source = Path(source)
    photos = "image" in columns
    csv = acquire.find_csv(source) if source.is_dir() else source
    if source.is_dir() and csv is None and not photos:
        found = sorted(source.glob("*.csv"))
        csv = found[0] if len(found) == 1 else None
    if csv is None or not csv.is_file():
        raise FileNotFoundError(
            f"{source}: no catalog CSV" + (" beside an Images/ folder" if photos else "")
        )
    if photos and not (csv.parent / "Images").is_dir():
        raise FileNotFoundError(f"{csv}: no Images/ folder beside it (the candidate reads photos)")
    present = pd.read_csv(csv, nrows=0).columns
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(
            f"{csv.name} has no column {missing[0]!r}: the candidate reads "
            f"{', '.join(columns[1:])} (--id-column names the id)"
        )
    return csv, (csv.parent / "Images" if photos else None)


def predict_catalog(
    source: str | Path,
    out: str | Path,
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    top: int = 3,
    engine: str = "local",
    chunk_rows: int = 256,
    id_column: str = "uniq_id",
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
    actors: int | tuple[int, int] | None = None,
    resume: bool = False,
    fail: str | None = None,
    operating: Operating = AS_FITTED,
) -> dict:
    """Every row of a catalog (``source``: a folder holding the CSV, with ``Images/`` beside it
    when ``model`` reads photos, or the CSV) classified by ``model`` into Parquet files under
    ``out`` (a folder or, on Ray, a URI; its old ``*.parquet`` removed unless ``resume``): ``id``,
    ``image`` (photo candidates), then ``predict``'s columns. Every path is resolved here, on the
    driver. Returns rows, statuses, seconds and ``skipped`` (ids already written, ``resume``)."""
    _trained(model, data_dir)  # one sentence now rather than in every worker
    columns = columns_read(model, id_column)
    csv, images = _catalog_files(source, columns)
    images = location(images) if images else None
    args = (
        model,
        location(data_dir),
        images,
        top,
        device,
        precision,
        batch_size,
        id_column,
        operating,
    )
    start = time.perf_counter()
    if distributed.is_local(engine):
        out = Path(location(out))
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.parquet"):
            old.unlink()
        predictor = CatalogPredictor(*args)
        read = pd.read_csv(
            csv,
            dtype=str,
            keep_default_na=False,
            usecols=columns,
            chunksize=chunk_rows,
        )
        for i, chunk in enumerate(read):
            predictor(chunk.reset_index(drop=True)).to_parquet(out / f"part-{i:05d}.parquet")
        written = {"rows": None, "skipped": 0}
    else:
        with distributed.cluster(engine) as ray, distributed.configured(ray):
            written = _predict_on_ray(
                ray, location(csv), location(out), args, columns, chunk_rows, actors, resume, fail
            )
        out = written["out"]
    seconds = time.perf_counter() - start
    statuses = distributed.shard_table(str(out), ["status"]).to_pandas()["status"].value_counts()
    return {
        "rows": int(statuses.sum()),
        "statuses": statuses.to_dict(),
        "seconds": round(seconds, 2),
        "engine": engine,
        "out": str(out),
        "skipped": written["skipped"],
    }


def location(path) -> str:
    """``distributed.location``: a URI as it is, a local path absolute (resolved here, on the
    driver, never on a worker)."""
    return distributed.location(path)


def _predict_on_ray(ray, csv, out, args, columns, chunk_rows, actors, resume, fail) -> dict:
    """The catalog through Ray Data in two stages: CPU tasks check the rows and decode the photos
    (``prepare_products``), actors classify them (``ScoreProducts``: one GPU each, or a CPU
    slot, ``actor_pool``'s sizes); the workers write Parquet shards of rows keyed by product id.
    ``resume`` skips the ids already under ``out`` (else the old shards are removed first). The
    driver counts the rows in the CSV and in the shards: ``distributed.RowsMismatch`` if they
    differ."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    model, data_dir, images, top, device, precision, batch_size, id_column, operating = args
    panel, fitted = load_candidate(model, data_dir, "cpu", precision, batch_size)
    decoders = {
        s: (None, panel.settings.decode_min_side)
        if s == "pixels"
        else (
            panel.encoder(s.split("-")[0]).preprocess,
            panel.encoder(s.split("-")[0]).decode_min_side,
        )
        for s in image_inputs(panel, fitted)
    }
    if not resume:
        distributed.clear(out)
    done = distributed.shard_ids(out, "id").astype(str) if resume else np.zeros(0, str)
    rows = ray.data.read_csv(
        csv,
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            include_columns=columns,
            column_types={c: pa.string() for c in columns},
            strings_can_be_null=False,
        ),
    )
    total = rows.count()
    sizes, reserve, _ = distributed.actor_pool(ray, actors)
    loaded = [e for e in panel.loaded().values() if hasattr(e, "n_parameters")]
    reserve["memory"] = distributed.actor_memory(sum(e.n_parameters() for e in loaded))
    prepared = rows.map_batches(
        prepare_products,
        batch_size=chunk_rows,
        batch_format="pandas",
        num_cpus=1,
        fn_kwargs={
            "reads": Reads.of(fitted),
            "images": images,
            "id_column": id_column,
            "decoders": decoders,
            "done": done,
        },
    )
    prepared.map_batches(
        ScoreProducts,
        batch_size=chunk_rows,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(**sizes),
        fn_constructor_args=(model, data_dir, top, device, precision, batch_size, fail, operating),
        **reserve,
    ).write_parquet(out, ray_remote_args={"num_cpus": 0.25})  # I/O: a quarter slot
    distributed.check_rows(out, total, "prediction")
    return {"out": out, "skipped": len(done)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", help="image files (a candidate reading photos alone)")
    parser.add_argument(
        "--catalog",
        help="a CSV of products (id, product_name, description, image; Images/ beside it for a "
        "candidate reading photos), or its folder, to classify into --out",
    )
    parser.add_argument("--out", default="reports/predictions", help="Parquet folder (--catalog)")
    parser.add_argument(
        "--engine",
        default="local",
        help="--catalog: local (in process), ray (a local Ray cluster: make ray) or a Ray address",
    )
    parser.add_argument("--id-column", default="uniq_id", help="--catalog: the rows' id")
    parser.add_argument(
        "--model",
        default=candidates.REFERENCE,
        help="a trained candidate (default: %(default)s)",
    )
    parser.add_argument("--data-dir", default=str(Layout().data_dir))
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="the probabilities at this temperature (the model card's; default 1: as fitted)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="adds `automatic`: the highest probability at or above it (the model card's); "
        "the rest go to a person",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="--catalog on Ray: keep the shards under --out and skip the ids already written",
    )
    parser.add_argument(
        "--actors",
        type=int,
        nargs="+",
        metavar="N",
        help="--catalog on Ray: model actors, a number or MIN MAX (default 1 to one per GPU, or "
        "per two CPUs)",
    )
    args = parser.parse_args(argv)
    if bool(args.photos) == bool(args.catalog):
        parser.error("give photos, or --catalog (not both)")
    errors = (FileNotFoundError, ValueError, families.CandidateMismatch)
    try:
        operating = Operating(args.temperature, args.threshold)
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
                actors=tuple(args.actors)
                if args.actors and len(args.actors) > 1
                else (args.actors[0] if args.actors else None),
                resume=args.resume,
                operating=operating,
            )
            print(
                f"{done['rows']} rows in {done['seconds']} s -> {done['out']}: {done['statuses']}"
            )
            return
        table = predict(
            args.photos, args.model, args.data_dir, args.top, args.device, operating=operating
        )
    except (*errors, distributed.EngineUnavailable, distributed.RowsMismatch) as exc:
        raise SystemExit(f"error: {exc}") from None
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.drop(columns=["category", "probability"]).to_string(index=False))


if __name__ == "__main__":
    main()
