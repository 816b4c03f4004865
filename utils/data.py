"""Getting the Flipkart sample, decoding its images safely, and validating every CSV row.

``acquire`` puts the dataset under ``data/raw/flipkart`` (a link to a local folder, or a safe
extraction of the public zip); ``build_catalog`` checks each row and writes
``data/processed/catalog.csv`` with one row per CSV row and a ``status`` column, so that a row
that cannot be used is listed, never silently dropped.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import imagehash
import pandas as pd
from PIL import Image, ImageOps
from tqdm import tqdm

from .paths import Layout

CSV_NAME = "flipkart_com-ecommerce_sample_1050.csv"
CSV_SHA256 = "7c15bcff313c827d403fedebb19a10569527c0aef6fdd6a4d1e41e37c380c20f"
EXPECTED_IMAGES = 1050
DATASET_URL = (
    "https://s3-eu-west-1.amazonaws.com/static.oc-static.com/prod/courses/files/"
    "Parcours_data_scientist/Projet+-+Textimage+DAS+V2/"
    "Dataset+projet+pre%CC%81traitement+textes+images.zip"
)
DATASET_DIRNAME = "flipkart"

# Decoding policy. Pillow warns above ~89.5 MP and raises above twice that; we decide ourselves:
# anything up to MAX_PIXELS is decoded (JPEGs through draft mode, so a 94 MP photo costs ~0.1 s),
# anything bigger gets status "too_large". Images smaller than MIN_SIDE are unusable as photos.
MAX_PIXELS = 150_000_000
MIN_SIDE = 32
DECODE_SIDE = 448   # longest side we ever need (224 px model inputs, with margin)

STATUSES = ("ok", "missing", "unreadable", "unlabelled", "too_small", "too_large")   # every status a row can get


class DataUnavailableError(RuntimeError):
    """The dataset is neither here nor downloadable; the message says what to do."""


class ImageTooLargeError(ValueError):
    """The image has more pixels than ``MAX_PIXELS``."""


# --------------------------------------------------------------------------- acquisition
def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def find_dataset_dir(folder: Path) -> Path | None:
    """The folder holding the CSV and ``Images/`` (the folder itself or a child like ``Flipkart/``)."""
    folder = Path(folder)
    for candidate in (folder, *sorted(p for p in folder.glob("*") if p.is_dir())):
        if (candidate / CSV_NAME).is_file() and (candidate / "Images").is_dir():
            return candidate
    return None


def _link(source: Path, target: Path) -> None:
    """Point ``target`` at ``source`` (a symlink; the source is never modified)."""
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve(), target_is_directory=True)


def safe_extract(zip_path: Path, dest: Path) -> Path:
    """Extract the dataset's CSV and images from ``zip_path`` into ``dest``.

    Members whose path is absolute, climbs out with ``..``, or is a symlink are refused. The
    extraction goes to a temporary folder that is renamed only when complete, so an interrupted
    run leaves nothing half-written behind and the next run simply redoes it.
    """
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        members = zf.infolist()
        csv_members = [m for m in members if PurePosixPath(m.filename).name == CSV_NAME]
        if not csv_members:
            raise DataUnavailableError(f"{zip_path} holds no {CSV_NAME}: is it the Flipkart sample zip?")
        prefix = PurePosixPath(csv_members[0].filename).parent
        wanted = []
        for m in members:
            p = PurePosixPath(m.filename)
            if p.is_absolute() or ".." in p.parts or (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataUnavailableError(f"unsafe path in {zip_path}: {m.filename!r}; refusing to extract")
            try:
                rel = p.relative_to(prefix)
            except ValueError:
                continue
            if m.is_dir() or not (rel.parts[:1] == ("Images",) or str(rel) == CSV_NAME):
                continue
            target = (tmp / rel).resolve()
            if not target.is_relative_to(tmp.resolve()):
                raise DataUnavailableError(f"unsafe path in {zip_path}: {m.filename!r}; refusing to extract")
            wanted.append((m, target))
        for m, target in tqdm(wanted, desc="extract", unit="file"):
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def download(url: str, target: Path, timeout: float = 30) -> Path:
    """Download ``url`` to ``target`` with a progress bar, resuming a previous partial download."""
    target = Path(target)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if done and response.status != 206:      # server ignored the range: start over
            done = 0
        total = response.length + done if response.length else None
        with open(part, "ab" if done else "wb") as out, tqdm(
            total=total, initial=done, unit="B", unit_scale=True, desc="download"
        ) as bar:
            while block := response.read(1 << 20):
                out.write(block)
                bar.update(len(block))
    part.rename(target)
    return target


def verify_dataset(folder: Path) -> dict:
    """Check the CSV checksum and count the images; a wrong CSV is an error, missing images are not."""
    csv_sha = _sha256(folder / CSV_NAME)
    if csv_sha != CSV_SHA256:
        raise DataUnavailableError(
            f"{folder / CSV_NAME} has sha256 {csv_sha}, expected {CSV_SHA256}: not the note's dataset."
        )
    n_images = sum(1 for p in (folder / "Images").iterdir() if p.is_file())
    if n_images != EXPECTED_IMAGES:
        warnings.warn(
            f"{folder / 'Images'} holds {n_images} files, {EXPECTED_IMAGES} expected; "
            "the catalog will list the rows whose image is missing.",
            stacklevel=2,
        )
    return {"csv_sha256": csv_sha, "n_images": n_images}


def acquire(source: str | os.PathLike | None = None, data_dir: str | os.PathLike = Layout().data_dir,
            url: str = DATASET_URL) -> Path:
    """Make ``<data_dir>/raw/flipkart`` hold the CSV and ``Images/``; return that folder.

    ``source`` may be a folder (the CSV and ``Images/``, or a parent of them), which is linked and
    never modified, or the dataset's zip, which is extracted safely. Without a source an existing
    ``raw/flipkart`` is reused, otherwise the public zip is downloaded (resumable). ``source=None``
    falls back to the ``DATA_SOURCE`` environment variable.
    """
    source = source or os.environ.get("DATA_SOURCE") or None
    raw = Layout(Path(data_dir)).raw
    dest = raw / DATASET_DIRNAME
    if source:
        source = Path(source).expanduser()
        if source.is_dir():
            found = find_dataset_dir(source)
            if found is None:
                raise DataUnavailableError(f"DATA_SOURCE={source} holds no {CSV_NAME} beside an Images/ folder.")
            if not (dest.is_symlink() and dest.resolve() == found.resolve()):
                _link(found, dest)
        elif zipfile.is_zipfile(source):
            safe_extract(source, dest)
        else:
            raise DataUnavailableError(f"DATA_SOURCE={source} is neither a folder nor a zip file.")
    elif find_dataset_dir(dest) is None:
        zip_path = raw / "flipkart_sample.zip"
        if not zip_path.exists() or not zipfile.is_zipfile(zip_path):
            try:
                download(url, zip_path)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                raise DataUnavailableError(
                    f"Could not download the Flipkart sample ({exc}): on a machine with internet, "
                    f"download {url} and run `make data DATA_SOURCE=/path/to/that.zip` "
                    f"(or unzip it and set DATA_SOURCE to the Flipkart folder holding {CSV_NAME} and Images/)."
                ) from exc
        safe_extract(zip_path, dest)
    folder = find_dataset_dir(dest)
    if folder is None:
        raise DataUnavailableError(f"{dest} holds no {CSV_NAME} beside an Images/ folder.")
    verify_dataset(folder)
    return folder


# --------------------------------------------------------------------------- decoding
def load_image(path: str | os.PathLike, max_side: int | None = DECODE_SIDE, min_side: int | None = None) -> Image.Image:
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
def parse_category(tree: object) -> str | None:
    """First level of ``product_category_tree`` (``'["A >> B >> ..."]'`` gives ``'A'``).

    Anything that is not that JSON list of one ``>>``-separated path gives None (row "unlabelled").
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
    top = first.split(">>")[0].strip()
    return top or None


def inspect_image(path: Path) -> dict:
    """Status and facts of one image file: status, detail, width, height, mode, sha256, phash."""
    out = {"status": "ok", "detail": "", "width": None, "height": None, "mode": None,
           "sha256": None, "phash": None}
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
        return {**out, "status": "too_small", "detail": f"{out['width']}x{out['height']} < {MIN_SIDE} px"}
    out["phash"] = str(imagehash.phash(rgb))
    return out


def build_catalog(dataset_dir: str | os.PathLike, out_csv: str | os.PathLike | None = None,
                  workers: int = 2) -> pd.DataFrame:
    """Validate every CSV row and return (and optionally write) the catalog, one row per CSV row."""
    dataset_dir = Path(dataset_dir)
    rows = pd.read_csv(dataset_dir / CSV_NAME, dtype=str, keep_default_na=False)
    images = dataset_dir / "Images"
    paths = [images / name if name else images / f"<row {i}: no image name>" for i, name in enumerate(rows["image"])]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        facts = list(tqdm(pool.map(inspect_image, paths), total=len(paths), desc="validate", unit="img"))
    catalog = pd.DataFrame({
        "row": range(len(rows)),
        "image": rows["image"],
        "path": [str(p) for p in paths],
        "label": [parse_category(t) for t in rows["product_category_tree"]],
        "product_name": rows["product_name"],
    })
    catalog = pd.concat([catalog, pd.DataFrame(facts)], axis=1)
    unlabelled = catalog["label"].isna() & (catalog["status"] == "ok")
    catalog.loc[unlabelled, "status"] = "unlabelled"
    catalog.loc[unlabelled, "detail"] = "no category in product_category_tree"
    if out_csv:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        catalog.to_csv(out_csv, index=False)
    return catalog


def load_catalog(path: str | os.PathLike) -> pd.DataFrame:
    """Read a catalog written by ``build_catalog``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook 01 or `make data` first.")
    return pd.read_csv(path, dtype={"phash": str, "sha256": str, "image": str}, keep_default_na=False,
                       na_values={"width": [""], "height": [""]})


def usable(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rows with status ``ok``: the only ones that go to training and evaluation."""
    return catalog[catalog["status"] == "ok"].reset_index(drop=True)


def excluded(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rows that are not ``ok``, with the reason: shown in notebook 01, never dropped silently."""
    return catalog.loc[catalog["status"] != "ok", ["row", "image", "label", "status", "detail"]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Get the Flipkart sample and write data/processed/catalog.csv")
    parser.add_argument("--source", default=None,
                        help="folder (CSV + Images/) or zip of the dataset; default: $DATA_SOURCE, else download")
    parser.add_argument("--data-dir", default=str(Layout().data_dir))
    args = parser.parse_args(argv)
    try:
        folder = acquire(args.source, args.data_dir)
    except DataUnavailableError as exc:
        raise SystemExit(f"error: {exc}") from None
    layout = Layout(Path(args.data_dir))
    catalog = build_catalog(folder, layout.catalog)
    print(catalog["status"].value_counts().to_string())
    print(f"wrote {layout.catalog}")


if __name__ == "__main__":
    main()
