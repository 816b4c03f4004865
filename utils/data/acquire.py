"""Getting the Flipkart sample (or a team's own catalog of the same schema).

``acquire`` puts the dataset under ``data/raw/flipkart`` (a link to a local folder, or a safe
extraction of a zip, or the public zip downloaded, resumable and checksum-verified); offline, one
sentence says what to download and where to put it. A CSV other than the note's is accepted with
a warning; its schema (the columns this project reads) is checked instead of its checksum. The
bundled sample (``data/sample/``, drawn by ``python -m utils.data.sample``) is recognised by its
manifest and reported as such: it lets the whole chain run offline, on a fresh clone, when asked
for (``sample_fallback``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path, PurePosixPath

import pandas as pd

from ..core.paths import ROOT, Layout
from ..core.progress import bar

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
# (python -m utils.data.sample draws it; data/sample/README.md says how). A distinct CSV name, and a
# manifest whose checksum of that CSV identifies the folder as a sample drawn by utils.data.sample.
SAMPLE_DIR = ROOT / "data" / "sample"
SAMPLE_CSV = "flipkart_bundled_sample.csv"
SAMPLE_MANIFEST = "sample.json"
SAMPLE_KIND = "clip-poc bundled sample"
# The columns this project reads; any other column of a catalog is ignored.
REQUIRED_COLUMNS = ("image", "product_category_tree", "product_name", "description")


class DataUnavailableError(RuntimeError):
    """The dataset is neither here nor downloadable, or not a catalog of the expected schema."""


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
    """The manifest of a sample drawn by ``utils.data.sample`` in ``folder``, or None.

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


def _shown(folder: Path) -> str:
    """A folder as a reader of the project writes it: relative to the project when inside it
    (``data/raw/flipkart``), else absolute (the links under ``data/raw`` are not followed)."""
    path = Path(os.path.abspath(folder))
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def identify(folder: str | os.PathLike) -> dict:
    """What dataset ``folder`` holds, without warning: ``kind`` is ``"note"`` (the note's CSV),
    ``"sample"`` (the bundled sample, or another sample drawn by ``utils.data.sample``) or ``"own"``
    (any other catalog of the schema); ``description`` says it in one sentence (notebook 01 shows
    and records it)."""
    folder = Path(folder)
    csv = find_csv(folder)
    if csv is None:
        raise DataUnavailableError(f"{folder} holds no catalog CSV beside an Images/ folder.")
    where = _shown(folder)
    csv_sha = _sha256(csv)
    n_images = sum(1 for p in (folder / "Images").iterdir() if p.is_file())
    manifest = None if csv_sha == CSV_SHA256 else sample_manifest(folder)
    if csv_sha == CSV_SHA256:
        kind = "note"
        description = (
            f"the note's Flipkart sample ({csv.name}, {n_images} of {EXPECTED_IMAGES} images "
            f"present) in {where}"
        )
    elif manifest is not None:
        kind = "sample"
        if folder.resolve() == SAMPLE_DIR.resolve():
            which = f"the bundled sample ({SAMPLE_DIR.relative_to(ROOT).as_posix()}/)"
        else:
            which = f"a sample drawn by utils.data.sample ({where})"
        description = (
            f"{which}: "
            f"{manifest['rows']} rows of {manifest['source']['csv']}, {manifest['images']} photos "
            f"({manifest['per_category']} per category, shorter side at most "
            f"{manifest['short_side']} px), enough to run the chain, too few for any conclusion"
        )
    else:
        kind = "own"
        description = (
            f"your own catalog {csv.name} in {where} (results will differ from the note's)"
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


def dataset_checksum(rows: pd.DataFrame) -> dict:
    """The data a run used, as checksums: the sha256 of the catalog CSV beside the rows' photos
    (``csv_sha256``), and the sha256 of the rows' photo sha256s, sorted and one per line
    (``images_sha256``, over ``images`` photos: the same photos give the same digest in any order
    or folder). ``rows`` need ``path`` and ``sha256`` (a split's ``inputs()``)."""
    if not len(rows) or not {"path", "sha256"} <= set(rows.columns):
        raise ValueError("dataset_checksum needs rows with 'path' and 'sha256' columns")
    folders = {Path(p).parent.parent for p in rows["path"]}
    csvs = {find_csv(f) for f in folders}
    csv = next(iter(csvs)) if len(csvs) == 1 else None
    digest = hashlib.sha256("\n".join(sorted(map(str, rows["sha256"]))).encode()).hexdigest()
    return {
        "csv": csv.name if csv else None,
        "csv_sha256": _sha256(csv) if csv else None,
        "note_dataset": bool(csv) and _sha256(csv) == CSV_SHA256,
        "images": len(rows),
        "images_sha256": digest,
        "images_digest": "sha256 of the photos' sha256 hex digests, sorted, one per line",
    }
