"""Decoding images safely and validating every CSV row into the catalog (``make data``).

``build_catalog`` checks each row and writes ``data/processed/catalog.csv`` with one row per CSV
row and a ``status`` column, so that a row that cannot be used is listed, never silently dropped;
validation results are cached line by line, so an interrupted validation resumes. ``load_image``
decodes through JPEG draft mode at the size the models need, so the largest photos cost no more
than the others.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from ..core.paths import Layout
from ..core.progress import bar
from .acquire import (
    SAMPLE_DIR,
    DataUnavailableError,
    _sha256,
    acquire,
    find_csv,
    identify,
    read_csv,
)

# Decoding policy. Pillow warns above ~89.5 MP and raises above twice that; we decide ourselves:
# anything up to MAX_PIXELS is decoded (JPEGs through draft mode, so a 94 MP photo costs ~0.1 s),
# anything bigger gets status "too_large". Images smaller than MIN_SIDE are unusable as photos.
MAX_PIXELS = 150_000_000
MIN_SIDE = 32
DECODE_SIDE = 448  # longest side we ever need (224 px model inputs, with margin)
MIN_PER_CATEGORY = 10

# Every status a row can get, and what it means (notebook 01 lists every row that is not "ok").
STATUSES = {
    "ok": "usable",
    "missing": "the image file is not in Images/",
    "unreadable": "the file cannot be decoded as an image",
    "unlabelled": "no category at the requested level of product_category_tree",
    "too_small": f"shorter side under {MIN_SIDE} px",
    "too_large": f"more than {MAX_PIXELS:,} pixels",
    "no_image_name": "the image column is empty",
    "duplicate_name": "another row names the same image file",
    "unsafe_name": "the image name leaves Images/ (absolute path or ..)",
    "rare_category": "its category has fewer usable images than min_per_category",
}
# Bumped when inspect_image changes what it reports: older cached inspections are then ignored.
INSPECT_VERSION = f"2-{MAX_PIXELS}-{MIN_SIDE}-{DECODE_SIDE}"


class ImageTooLargeError(ValueError):
    """The image has more pixels than ``MAX_PIXELS``."""


# --------------------------------------------------------------------------- decoding
def load_image(
    path: str | os.PathLike, max_side: int | None = DECODE_SIDE, min_side: int | None = None
) -> Image.Image:
    """Open any image as RGB, fast and safely.

    JPEGs are decoded through draft mode (DCT scaling: a 94 MP photo takes ~0.1 s instead of ~2 s)
    at the smallest scale that keeps both sides at least ``min_side`` (default: ``max_side``); then,
    if ``max_side`` is set, the image is shrunk so its longer side is at most ``max_side``. Model
    inputs use ``max_side=None, min_side=256``: the model's own preprocessing does the resizing.
    Palette, grayscale, CMYK and 16-bit images are converted; transparency is composited on white.
    Pillow's decompression-bomb guard is replaced by our own explicit limit, ``MAX_PIXELS``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(str(exc)) from exc
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageTooLargeError(f"{im.width}x{im.height} exceeds MAX_PIXELS={MAX_PIXELS}")
            draft = min_side or max_side
            if draft and im.format == "JPEG":
                im.draft("RGB", (draft, draft))
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode == "P":
                im = im.convert("RGBA")
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "RGB" and "transparency" in im.info):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                im = im.point(lambda v: v / 256).convert("L")
            rgb = im.convert("RGB")
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return rgb


# --------------------------------------------------------------------------- validation
def parse_category(tree: object, level: int = 1) -> str | None:
    """The category path of ``product_category_tree`` down to ``level``.

    ``'["A >> B >> C"]'`` gives ``'A'`` at level 1 and ``'A >> B'`` at level 2 (the full path keeps
    second-level names unambiguous). Anything that is not that JSON list of one ``>>``-separated
    path, or a path shorter than ``level``, gives None (row "unlabelled").
    """
    if not isinstance(tree, str) or not tree.strip():
        return None
    try:
        parsed = json.loads(tree)
        first = parsed[0] if isinstance(parsed, list) and parsed else None
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(first, str):
        return None
    parts = [p.strip() for p in first.split(">>")]
    if len(parts) < level or not all(parts[:level]):
        return None
    return " >> ".join(parts[:level])


def name_problem(name: str) -> str | None:
    """Why an image name cannot be read safely (``no_image_name`` / ``unsafe_name``), or None."""
    if not name.strip():
        return "no_image_name"
    p = PurePosixPath(name.replace("\\", "/"))
    if (
        p.is_absolute()
        or ".." in p.parts
        or PureWindowsPath(name).drive
        or name.startswith(("/", "\\"))
    ):
        return "unsafe_name"
    return None


# What an image's inspection holds before anything is known of it.
NO_FACTS = {
    "status": "ok",
    "detail": "",
    "width": None,
    "height": None,
    "mode": None,
    "sha256": None,
    "phash": None,
}


def inspect_image(path: Path) -> dict:
    """Status and facts of one image file: status, detail, width, height, mode, sha256, phash."""
    out = dict(NO_FACTS)
    if not path.is_file():
        return {**out, "status": "missing", "detail": "file not found"}
    try:
        out["sha256"] = _sha256(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                out.update(width=im.width, height=im.height, mode=im.mode)
        rgb = load_image(path)
    except ImageTooLargeError as exc:
        return {**out, "status": "too_large", "detail": str(exc)}
    except Exception as exc:  # noqa: BLE001 - any decoder failure makes the row unusable, never a crash
        return {**out, "status": "unreadable", "detail": f"{type(exc).__name__}: {exc}"}
    if min(out["width"], out["height"]) < MIN_SIDE:
        return {
            **out,
            "status": "too_small",
            "detail": f"{out['width']}x{out['height']} < {MIN_SIDE} px",
        }
    import imagehash

    out["phash"] = str(imagehash.phash(rgb))
    return out


class InspectionCache:
    """Per-image validation results, appended line by line to a JSON-lines file as they come.

    Keyed by file name, size and modification time (and ``INSPECT_VERSION``), so an interrupted
    validation resumes where it stopped and an unchanged catalog is re-validated in seconds.
    """

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self.known: dict[str, dict] = {}
        if self.path and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    self.known[entry["key"]] = entry["facts"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by an interruption
        self._out = None

    @staticmethod
    def key(path: Path) -> str:
        try:
            st = path.stat()
            return f"{INSPECT_VERSION}|{path}|{st.st_size}|{st.st_mtime_ns}"
        except OSError:
            return f"{INSPECT_VERSION}|{path}|absent"

    def inspect(self, path: Path) -> dict:
        key = self.key(path)
        if key in self.known:
            return self.known[key]
        facts = inspect_image(path)
        if self.path:
            if self._out is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._out = open(self.path, "a")
            self._out.write(json.dumps({"key": key, "facts": facts}) + "\n")
            self._out.flush()
        return facts

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def build_catalog(
    dataset_dir: str | os.PathLike,
    out_csv: str | os.PathLike | None = None,
    workers: int = 2,
    category_level: int = 1,
    min_per_category: int = MIN_PER_CATEGORY,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Validate every CSV row and return (and optionally write) the catalog, one row per CSV row.

    Image names are checked before any file is opened: an empty, duplicated or escaping name
    (``../``, absolute) gets its own status and is never read. Images are inspected in
    ``workers`` threads, results cached in ``cache`` (a JSON-lines file) as they come. Last,
    categories with fewer than ``min_per_category`` usable images get status ``rare_category``:
    too few to be split into train, validation and test.
    """
    dataset_dir = Path(dataset_dir)
    rows = read_csv(find_csv(dataset_dir))
    images = dataset_dir / "Images"
    names = rows["image"].astype(str)
    problems = [name_problem(n) for n in names]
    counts = names[[p is None for p in problems]].value_counts()
    for i, n in enumerate(names):
        if problems[i] is None and counts.get(n, 0) > 1:
            problems[i] = "duplicate_name"
    paths = [images / n if p is None else None for n, p in zip(names, problems)]
    readable = [p for p in paths if p is not None]
    store = InspectionCache(cache)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            facts_iter = bar(
                pool.map(store.inspect, readable),
                total=len(readable),
                desc="validate",
                unit="img",
                disable=not progress,
            )
            found = iter(list(facts_iter))
    finally:
        store.close()
    empty = NO_FACTS
    facts = []
    for i, (p, problem) in enumerate(zip(paths, problems)):
        if p is not None:
            facts.append(next(found))
        elif problem == "duplicate_name":
            others = [int(j) for j in np.flatnonzero(names.to_numpy() == names.iloc[i]) if j != i]
            facts.append(
                {**empty, "status": problem, "detail": f"same image name as row(s) {others[:5]}"}
            )
        else:
            facts.append(
                {
                    **empty,
                    "status": problem,
                    "detail": STATUSES[problem] + (f": {names.iloc[i]!r}" if names.iloc[i] else ""),
                }
            )
    catalog = pd.DataFrame(
        {
            "row": range(len(rows)),
            "image": names,
            "path": [str(p) if p is not None else "" for p in paths],
            "label": [parse_category(t, category_level) for t in rows["product_category_tree"]],
            "product_name": rows["product_name"],
            "description": rows["description"],
        }
    )
    catalog = pd.concat([catalog, pd.DataFrame(facts)], axis=1)
    unlabelled = catalog["label"].isna() & (catalog["status"] == "ok")
    catalog.loc[unlabelled, "status"] = "unlabelled"
    catalog.loc[unlabelled, "detail"] = (
        f"no category at level {category_level} of product_category_tree"
    )
    ok = catalog["status"] == "ok"
    per_label = catalog.loc[ok, "label"].value_counts()
    rare = ok & catalog["label"].map(per_label).lt(min_per_category)
    catalog.loc[rare, "status"] = "rare_category"
    catalog.loc[rare, "detail"] = [
        f"{per_label[lab]} usable image(s) in {lab!r} < min_per_category={min_per_category}"
        for lab in catalog.loc[rare, "label"]
    ]
    if out_csv:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(out_csv).with_name(Path(out_csv).name + ".tmp")
        catalog.to_csv(tmp, index=False)
        os.replace(tmp, out_csv)
    return catalog


def load_catalog(path: str | os.PathLike) -> pd.DataFrame:
    """Read a catalog written by ``build_catalog``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook 01 or `make data` first.")
    return pd.read_csv(
        path,
        dtype={
            "phash": str,
            "sha256": str,
            "image": str,
            "label": str,
            "product_name": str,
            "description": str,
            "path": str,
            "detail": str,
        },
        keep_default_na=False,
        na_values={"width": [""], "height": [""]},
    )


def usable(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rows with status ``ok``: the only ones that go to training and evaluation."""
    return catalog[catalog["status"] == "ok"].reset_index(drop=True)


def excluded(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rows that are not ``ok``, with the reason: shown in notebook 01, never dropped silently."""
    return catalog.loc[catalog["status"] != "ok", ["row", "image", "label", "status", "detail"]]


def status_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rows per status, every status listed (zeros included), with what it means."""
    counts = catalog["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    return pd.DataFrame({"rows": counts, "meaning": pd.Series(STATUSES)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Get the Flipkart sample and write data/processed/catalog.csv"
    )
    parser.add_argument(
        "--source",
        default=None,
        help="folder (CSV + Images/) or zip of the dataset; default: $DATA_SOURCE, else an "
        "earlier download, else (--sample-fallback) the bundled sample, else download",
    )
    parser.add_argument(
        "--sample-fallback",
        action="store_true",
        help=f"with no source and no earlier download, use the bundled sample ({SAMPLE_DIR}) "
        "instead of downloading (offline; what the smoke profile does)",
    )
    parser.add_argument("--data-dir", default=str(Layout().data_dir))
    parser.add_argument(
        "--category-level", type=int, default=1, help="level of product_category_tree used as label"
    )
    parser.add_argument(
        "--min-per-category",
        type=int,
        default=MIN_PER_CATEGORY,
        help="categories with fewer usable images are excluded (status rare_category)",
    )
    args = parser.parse_args(argv)
    try:
        folder = acquire(args.source, args.data_dir, sample_fallback=args.sample_fallback)
    except DataUnavailableError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"dataset: {identify(folder)['description']}")
    layout = Layout(Path(args.data_dir))
    catalog = build_catalog(
        folder,
        layout.catalog,
        category_level=args.category_level,
        min_per_category=args.min_per_category,
        cache=layout.inspected,
    )
    print(status_table(catalog).to_string())
    print(f"wrote {layout.catalog}")


if __name__ == "__main__":
    main()


def category_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rows per category and status (the catalog's categories, ``(none)`` for unlabelled rows)."""
    return pd.crosstab(
        catalog["label"].fillna("(none)"), catalog["status"], margins=True, margins_name="total"
    )


def catalog_summary(
    catalog: pd.DataFrame, usable_rows: pd.DataFrame, source: str | os.PathLike, params: dict
) -> dict:
    """What notebook 01 records: rows, statuses, categories and near-duplicate groups
    (``usable_rows`` carries the ``image_group`` and ``text_group`` columns of
    ``dedup.leak_groups``; ``params``: the notebook's parameters)."""
    from .dedup import describe_group, groups_table

    photo_groups = groups_table(usable_rows, "image_group", "image")
    text_groups = groups_table(usable_rows, "text_group", "product_name")
    counts = usable_rows["label"].value_counts().sort_index()
    rare = catalog.loc[catalog["status"] == "rare_category", "label"].unique()
    dataset = identify(source)
    return {
        "dataset": dataset["kind"],
        "source": dataset["description"],
        "rows": len(catalog),
        "usable": len(usable_rows),
        "category_level": params.get("category_level", 1),
        "min_per_category": params.get("min_per_category", MIN_PER_CATEGORY),
        "status": catalog["status"].value_counts().to_dict(),
        "categories": counts.to_dict(),
        "rare_categories": sorted(rare),
        "near_duplicate_distance": params.get("near_duplicate_distance"),
        "duplicate_groups": len(photo_groups),
        "duplicate_images": int(photo_groups["size"].sum()) if len(photo_groups) else 0,
        "text_threshold": params.get("text_threshold"),
        "text_groups": len(text_groups),
        "text_group_images": int(text_groups["size"].sum()) if len(text_groups) else 0,
        "text_group_example": describe_group(text_groups.iloc[0]) if len(text_groups) else "none",
    }
