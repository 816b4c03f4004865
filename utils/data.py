"""Getting the Flipkart sample (or a team's own catalog of the same schema), decoding its images
safely, and validating every CSV row.

``acquire`` puts the dataset under ``data/raw/flipkart`` (a link to a local folder, or a safe
extraction of a zip); ``build_catalog`` checks each row and writes ``data/processed/catalog.csv``
with one row per CSV row and a ``status`` column, so that a row that cannot be used is listed,
never silently dropped. A CSV other than the note's is accepted with a warning; its schema (the
columns this project reads) is checked instead of its checksum. The bundled sample
(``data/sample/``, drawn from the note's data by ``python -m utils.sample``) is recognised by its
manifest and reported as such: it lets the whole chain run offline, on a fresh clone, when asked
for (``sample_fallback``).
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
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from .paths import ROOT, Layout
from .progress import bar

CSV_NAME = "flipkart_com-ecommerce_sample_1050.csv"
CSV_SHA256 = "7c15bcff313c827d403fedebb19a10569527c0aef6fdd6a4d1e41e37c380c20f"
EXPECTED_IMAGES = 1050
DATASET_URL = (
    "https://s3-eu-west-1.amazonaws.com/static.oc-static.com/prod/courses/files/"
    "Parcours_data_scientist/Projet+-+Textimage+DAS+V2/"
    "Dataset+projet+pre%CC%81traitement+textes+images.zip"
)
DATASET_DIRNAME = "flipkart"
ZIP_NAME = "flipkart_sample.zip"  # the downloaded public zip, under <data_dir>/raw/
# The bundled sample: a few real photos per category and their CSV rows, committed in the project
# (python -m utils.sample draws it; data/sample/README.md says how). A distinct CSV name, and a
# manifest whose checksum of that CSV identifies the folder as a sample drawn by utils.sample.
SAMPLE_DIR = ROOT / "data" / "sample"
SAMPLE_CSV = "flipkart_bundled_sample.csv"
SAMPLE_MANIFEST = "sample.json"
SAMPLE_KIND = "clip-poc bundled sample"
# The columns this project reads; any other column of a catalog is ignored.
REQUIRED_COLUMNS = ("image", "product_category_tree", "product_name", "description")

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


class DataUnavailableError(RuntimeError):
    """The dataset is neither here nor downloadable, or not a catalog of the expected schema."""


class ImageTooLargeError(ValueError):
    """The image has more pixels than ``MAX_PIXELS``."""


# --------------------------------------------------------------------------- acquisition
def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def find_csv(folder: Path) -> Path | None:
    """The catalog CSV beside ``folder/Images``: the note's file name, else the only ``*.csv``
    there."""
    folder = Path(folder)
    if not (folder / "Images").is_dir():
        return None
    if (folder / CSV_NAME).is_file():
        return folder / CSV_NAME
    csvs = sorted(p for p in folder.glob("*.csv") if p.is_file())
    if len(csvs) > 1:
        raise DataUnavailableError(
            f"{folder} holds several CSV files ({', '.join(p.name for p in csvs)}) beside "
            "Images/: keep only the catalog's."
        )
    return csvs[0] if csvs else None


def find_dataset_dir(folder: Path) -> Path | None:
    """The folder holding a catalog CSV and ``Images/`` (the folder itself or a child like
    ``Flipkart/``)."""
    folder = Path(folder)
    for candidate in (folder, *sorted(p for p in folder.glob("*") if p.is_dir())):
        if find_csv(candidate) is not None:
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
        csv_members = sorted(
            (
                m
                for m in members
                if m.filename.lower().endswith(".csv") and "__MACOSX" not in m.filename
            ),
            key=lambda m: (PurePosixPath(m.filename).name != CSV_NAME, m.filename),
        )
        if not csv_members:
            raise DataUnavailableError(
                f"{zip_path} holds no CSV: is it the Flipkart sample zip (CSV + Images/)?"
            )
        csv_name = PurePosixPath(csv_members[0].filename).name
        prefix = PurePosixPath(csv_members[0].filename).parent
        wanted = []
        for m in members:
            p = PurePosixPath(m.filename)
            if p.is_absolute() or ".." in p.parts or (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataUnavailableError(
                    f"unsafe path in {zip_path}: {m.filename!r}; refusing to extract"
                )
            try:
                rel = p.relative_to(prefix)
            except ValueError:
                continue
            if m.is_dir() or not (rel.parts[:1] == ("Images",) or str(rel) == csv_name):
                continue
            target = (tmp / rel).resolve()
            if not target.is_relative_to(tmp.resolve()):
                raise DataUnavailableError(
                    f"unsafe path in {zip_path}: {m.filename!r}; refusing to extract"
                )
            wanted.append((m, target))
        for m, target in bar(wanted, desc="extract", unit="file"):
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
        if done and response.status != 206:  # server ignored the range: start over
            done = 0
        total = response.length + done if response.length else None
        with (
            open(part, "ab" if done else "wb") as out,
            bar(total=total, initial=done, unit="B", unit_scale=True, desc="download") as pbar,
        ):
            while block := response.read(1 << 20):
                out.write(block)
                pbar.update(len(block))
    part.rename(target)
    return target


def read_csv(path: Path) -> pd.DataFrame:
    """The catalog CSV as strings, after checking that every column this project reads is there."""
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise DataUnavailableError(
            f"{path} has no column {', '.join(repr(c) for c in missing)}: a catalog needs the "
            "columns "
            f"{', '.join(REQUIRED_COLUMNS)} (other columns are ignored)."
        )
    return rows


def sample_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of a sample drawn by ``utils.sample`` in ``folder``, or None.

    None unless ``folder`` holds ``SAMPLE_MANIFEST`` of kind ``SAMPLE_KIND`` naming the folder's
    catalog CSV with that CSV's sha256: an edited sample is no longer the bundled sample.
    """
    folder = Path(folder)
    path = folder / SAMPLE_MANIFEST
    csv = find_csv(folder)
    if csv is None or not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("kind") != SAMPLE_KIND:
        return None
    if manifest.get("csv") != csv.name or manifest.get("csv_sha256") != _sha256(csv):
        return None
    return manifest


def identify(folder: str | os.PathLike) -> dict:
    """What dataset ``folder`` holds, without warning: ``kind`` is ``"note"`` (the note's CSV),
    ``"sample"`` (the bundled sample, or another sample drawn by ``utils.sample``) or ``"own"``
    (any other catalog of the schema); ``description`` says it in one sentence (notebook 01 shows
    and records it)."""
    folder = Path(folder)
    csv = find_csv(folder)
    if csv is None:
        raise DataUnavailableError(f"{folder} holds no catalog CSV beside an Images/ folder.")
    csv_sha = _sha256(csv)
    n_images = sum(1 for p in (folder / "Images").iterdir() if p.is_file())
    manifest = None if csv_sha == CSV_SHA256 else sample_manifest(folder)
    if csv_sha == CSV_SHA256:
        kind = "note"
        description = (
            f"the note's Flipkart sample ({csv.name}, {n_images} of {EXPECTED_IMAGES} images "
            f"present) in {folder}"
        )
    elif manifest is not None:
        kind = "sample"
        if folder.resolve() == SAMPLE_DIR.resolve():
            which = f"the bundled sample ({SAMPLE_DIR.relative_to(ROOT).as_posix()}/)"
        else:
            which = f"a sample drawn by utils.sample ({folder})"
        description = (
            f"{which}: "
            f"{manifest['rows']} rows of {manifest['source']['csv']}, {manifest['images']} photos "
            f"({manifest['per_category']} per category, shorter side at most "
            f"{manifest['short_side']} px), enough to run the chain, too few for any conclusion"
        )
    else:
        kind = "own"
        description = (
            f"your own catalog {csv.name} in {folder} (results will differ from the note's)"
        )
    return {
        "csv": csv.name,
        "csv_sha256": csv_sha,
        "n_images": n_images,
        "note_dataset": kind == "note",
        "kind": kind,
        "description": description,
    }


def verify_dataset(folder: Path, strict: bool = False) -> dict:
    """Check the catalog: its schema always; its checksum against the note's CSV (or the bundled
    sample's manifest); return ``identify``'s facts.

    ``strict`` (the downloaded public zip): another checksum means a corrupt download, an error.
    Otherwise (a folder or zip given as ``DATA_SOURCE``) the bundled sample passes silently and
    another CSV is a team's own catalog: a warning says results will differ from the note's.
    Missing image files are never an error here; the catalog lists their rows.
    """
    csv = find_csv(folder)
    read_csv(csv)
    facts = identify(folder)
    csv_sha, n_images, note_dataset = facts["csv_sha256"], facts["n_images"], facts["note_dataset"]
    if strict and not note_dataset:
        raise DataUnavailableError(
            f"{csv} has sha256 {csv_sha}, expected {CSV_SHA256}: the download is corrupt; delete "
            "it and retry."
        )
    if facts["kind"] == "own":
        warnings.warn(
            f"{csv.name} is not the note's CSV (sha256 {csv_sha[:12]}...): using it as your own "
            "catalog; "
            "results will differ from the note's.",
            stacklevel=2,
        )
    elif note_dataset and n_images != EXPECTED_IMAGES:
        warnings.warn(
            f"{folder / 'Images'} holds {n_images} files, {EXPECTED_IMAGES} expected; "
            "the catalog will list the rows whose image is missing.",
            stacklevel=2,
        )
    return facts


def offline_message(url: str, zip_path: Path, reason: object = None) -> str:
    """The one sentence ``acquire`` ends with when there is no data and no network."""
    why = f" ({reason})" if reason else ""
    return (
        f"Could not download the Flipkart sample{why}: on a machine with internet, download {url} "
        f"and put it at {zip_path} (or set DATA_SOURCE to that zip, or to the unzipped folder "
        f"holding {CSV_NAME} and Images/); meanwhile `make smoke` runs the whole chain offline "
        f"on the bundled sample ({SAMPLE_DIR})."
    )


def acquire(
    source: str | os.PathLike | None = None,
    data_dir: str | os.PathLike = Layout.data_dir,
    url: str = DATASET_URL,
    sample_fallback: bool = False,
    sample_dir: str | os.PathLike = SAMPLE_DIR,
) -> Path:
    """The folder holding the catalog CSV and ``Images/`` this run uses.

    First found wins:
    1. ``source``, a folder (the CSV and ``Images/``, or a parent of them), linked as
       ``<data_dir>/raw/flipkart`` and never modified, or a zip, extracted safely there;
    2. the ``DATA_SOURCE`` environment variable, read the same way;
    3. an existing download: ``raw/flipkart``, else a complete ``raw/flipkart_sample.zip``;
    4. with ``sample_fallback`` (the smoke profile), the bundled sample ``sample_dir``, returned
       as it is (not linked into ``raw/``: a later full run does not take it for the dataset);
    5. the public zip, downloaded (resumable) into ``raw/`` and its checksum verified.
    Without any of them (no data, no network), a ``DataUnavailableError`` says in one sentence
    what to download, where to put it, and that ``make smoke`` runs offline on the bundled sample.
    """
    origin = "source" if source else "DATA_SOURCE"
    source = source or os.environ.get("DATA_SOURCE") or None
    raw = Layout(Path(data_dir)).raw
    dest = raw / DATASET_DIRNAME
    zip_path = raw / ZIP_NAME
    downloaded = False
    if source:
        source = Path(source).expanduser()
        if source.is_dir():
            found = find_dataset_dir(source)
            if found is None:
                raise DataUnavailableError(
                    f"{origin}={source} holds no catalog CSV beside an Images/ folder."
                )
            if not (dest.is_symlink() and dest.resolve() == found.resolve()):
                _link(found, dest)
        elif zipfile.is_zipfile(source):
            safe_extract(source, dest)
        else:
            raise DataUnavailableError(f"{origin}={source} is neither a folder nor a zip file.")
    elif find_dataset_dir(dest) is not None:
        pass  # an earlier download or link: reused
    elif zip_path.is_file() and zipfile.is_zipfile(zip_path):
        safe_extract(zip_path, dest)
        downloaded = True
    elif sample_fallback and find_dataset_dir(Path(sample_dir)) is not None:
        folder = find_dataset_dir(Path(sample_dir))
        verify_dataset(folder)
        return folder
    else:
        try:
            download(url, zip_path)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DataUnavailableError(offline_message(url, zip_path, exc)) from exc
        safe_extract(zip_path, dest)
        downloaded = True
    folder = find_dataset_dir(dest)
    if folder is None:
        raise DataUnavailableError(f"{dest} holds no catalog CSV beside an Images/ folder.")
    verify_dataset(folder, strict=downloaded)
    return folder


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


def summary(
    catalog: pd.DataFrame,
    usable_rows: pd.DataFrame,
    photo_groups: pd.DataFrame,
    text_groups: pd.DataFrame,
    source: str | os.PathLike,
    params: dict,
) -> dict:
    """What notebook 01 records: rows, statuses, categories and near-duplicate groups."""
    from .split import describe_group

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
