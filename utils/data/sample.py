"""Draw the bundled sample (``data/sample/``) from the full Flipkart data, reproducibly.

    python -m utils.data.sample --source /path/to/Flipkart --out data/sample

A few real photos per category (``per_category``), re-encoded as JPEG with the shorter side at
most ``short_side`` px, beside their rows of the CSV (every column, unchanged), so that a fresh
clone runs the tests and the whole smoke chain offline. The draw is seeded: the same source,
settings and Pillow give byte-identical files. It keeps what the tests and notebook 01 look for:
- one group of near-identical photos (perceptual hashes within ``NEAR_DUPLICATE_DISTANCE`` bits,
  measured on the re-encoded photos, as notebook 01 measures them);
- one group of near-identical descriptions (TF-IDF cosine at least ``TEXT_THRESHOLD``, TF-IDF
  fitted on the sample's own descriptions, as notebook 01 does);
- every row whose image is absent from the source (the catalog lists them as ``missing``);
and fills each category with photos drawn at random among those in no such group. The manifest
(``sample.json``: settings, groups, missing rows, every file's sha256) identifies the folder as a
sample (``utils.data.identify``); ``README.md`` says all of it in words.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import PIL
from PIL import Image

from . import acquire, dedup
from .catalog import build_catalog, load_image

SEED = 42
PER_CATEGORY = 10
SHORT_SIDE = 256
JPEG_QUALITY = 85
NEAR_DUPLICATE_DISTANCE = 4  # notebook 01's near_duplicate_distance
TEXT_THRESHOLD = 0.9  # notebook 01's text_threshold
FILL_DRAWS = 20  # fills drawn for a description group before trying the next group


def encode(path: str | os.PathLike, short_side: int = SHORT_SIDE, quality: int = JPEG_QUALITY):
    """The photo as JPEG bytes, its shorter side at most ``short_side`` px (EXIF orientation
    applied, no metadata kept): the same bytes for the same file and Pillow."""
    im = load_image(path, max_side=None, min_side=short_side)
    if min(im.size) > short_side:
        scale = short_side / min(im.size)
        size = tuple(max(short_side, round(side * scale)) for side in im.size)
        im = im.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def phash(jpeg: bytes) -> str:
    """The perceptual hash notebook 01 computes for these bytes (``inspect_image``)."""
    return str(imagehash.phash(load_image(io.BytesIO(jpeg))))


def _one_group(ids: np.ndarray) -> bool:
    return len(ids) > 1 and len(set(ids.tolist())) == 1


def _spread(ok: pd.DataFrame, members: list[int], column: str, tfidf) -> float:
    """How far apart a group's members are: the largest Hamming distance between their hashes
    (photos), or minus the smallest cosine between their descriptions (texts)."""
    if column == "image_group":
        h = dedup.pack_hashes(ok.loc[members, "phash"].tolist())
        return float(np.bitwise_count(h[:, None] ^ h[None, :]).max())
    sims = (tfidf[members] @ tfidf[members].T).toarray()
    return -float(sims[np.triu_indices(len(members), 1)].min())


def _candidates(ok: pd.DataFrame, column: str, other: str, per_category: int, rng, tfidf) -> list:
    """Groups of ``column`` (2 to ``per_category`` rows, one category), as lists of positions in
    ``ok``, best first: those whose rows are in no group of ``other``, then the smallest, then the
    closest (most likely to stay a group once re-encoded or in a smaller corpus), then random."""
    found = []
    for _, members in ok.groupby(column):
        if 2 <= len(members) <= per_category and members["label"].nunique() == 1:
            overlap = int((ok[other].map(ok[other].value_counts()).loc[members.index] > 1).sum())
            ix = sorted(members.index.tolist())
            found.append((overlap, len(ix), round(_spread(ok, ix, column, tfidf), 6), ix))
    found.sort(key=lambda c: c[3][0])
    order = rng.permutation(len(found))
    ranked = sorted(range(len(found)), key=lambda i: (*found[i][:3], order[i]))
    return [found[i][3] for i in ranked]


def draw(
    source: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = SEED,
    per_category: int = PER_CATEGORY,
    short_side: int = SHORT_SIDE,
    quality: int = JPEG_QUALITY,
    workers: int = 2,
) -> dict:
    """Write the sample drawn from the dataset in ``source`` into ``out``; return its manifest.

    ``out`` is replaced as a whole (written beside it, then renamed): it must be absent, empty or
    an earlier sample (it holds ``acquire.SAMPLE_MANIFEST``).
    """
    folder = acquire.find_dataset_dir(Path(source))
    if folder is None:
        raise acquire.DataUnavailableError(
            f"{source} holds no catalog CSV beside an Images/ folder."
        )
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / acquire.SAMPLE_MANIFEST).is_file():
        raise FileExistsError(f"refusing to replace {out}: it is not empty and holds no sample")
    csv = acquire.find_csv(folder)
    raw = csv.read_bytes()
    rows = pd.read_csv(csv, dtype=str, keep_default_na=False)
    terminator = "\r\n" if raw.split(b"\n", 1)[0].endswith(b"\r") else "\n"
    verbatim = rows.to_csv(index=False, lineterminator=terminator).encode() == raw
    catalog = build_catalog(folder, workers=workers, min_per_category=1, progress=False)
    ok = catalog[catalog["status"] == "ok"].reset_index(drop=True)
    ok = ok.join(dedup.leak_groups(ok, NEAR_DUPLICATE_DISTANCE, TEXT_THRESHOLD))
    labels = sorted(ok["label"].unique())
    rng = np.random.default_rng(seed)
    tfidf = _tfidf(ok["description"].tolist())
    encoded: dict[int, bytes] = {}

    def jpeg(i: int) -> bytes:
        if i not in encoded:
            encoded[i] = encode(ok.loc[i, "path"], short_side, quality)
        return encoded[i]

    # the photo group: near-identical still once re-encoded
    photo = next(
        (
            c
            for c in _candidates(ok, "image_group", "text_group", per_category, rng, tfidf)
            if _one_group(
                dedup.near_duplicate_groups([phash(jpeg(i)) for i in c], NEAR_DUPLICATE_DISTANCE)
            )
        ),
        None,
    )
    if photo is None:
        raise ValueError(f"{folder} has no group of near-identical photos to put in the sample")
    in_groups = (ok["image_group"].map(ok["image_group"].value_counts()) > 1) | (
        ok["text_group"].map(ok["text_group"].value_counts()) > 1
    )
    chosen = None
    for text in _candidates(ok, "text_group", "image_group", per_category, rng, tfidf):
        planted = [*photo, *text]
        if set(text) & set(photo) or ok.loc[planted, "label"].value_counts().max() > per_category:
            continue
        for _ in range(FILL_DRAWS):  # the sample's TF-IDF depends on all its descriptions
            picks = []
            for label in labels:
                mine = [i for i in planted if ok.loc[i, "label"] == label]
                pool = ok.index[(ok["label"] == label) & ~in_groups].difference(planted)
                need = per_category - len(mine)
                if need > len(pool):
                    raise ValueError(f"{label!r} has {len(pool)} photos in no group, {need} needed")
                picks += [*mine, *sorted(rng.choice(pool.to_numpy(), need, replace=False).tolist())]
            texts = ok.loc[picks, "description"].tolist()
            ids = dedup.components(len(picks), dedup.text_pairs(texts, TEXT_THRESHOLD))
            if _one_group(ids[[picks.index(i) for i in text]]):
                chosen = picks
                break
        if chosen is not None:
            break
    if chosen is None:
        raise ValueError(f"{folder} has no group of near-identical descriptions for the sample")

    chosen = sorted(chosen, key=lambda i: ok.loc[i, "row"])  # the source CSV's order
    picked = ok.loc[chosen].drop(columns=["image_group", "text_group", "group"])
    picked = picked.assign(phash=[phash(jpeg(i)) for i in chosen]).reset_index(drop=True)
    files = {ok.loc[i, "image"]: jpeg(i) for i in chosen}
    missing = catalog[catalog["status"] == "missing"]
    sample_rows = rows.iloc[sorted([*picked["row"], *missing["row"]])]
    sample_csv = sample_rows.to_csv(index=False, lineterminator=terminator).encode()

    groups = dedup.leak_groups(picked, NEAR_DUPLICATE_DISTANCE, TEXT_THRESHOLD)
    picked = picked.join(groups)
    hashes = dedup.pack_hashes(picked["phash"].tolist())
    tfidf = _tfidf(picked["description"].tolist())
    photo_groups, text_groups = [], []
    for column, found in (("image_group", photo_groups), ("text_group", text_groups)):
        for _, members in picked.groupby(column):
            if len(members) < 2:
                continue
            ix = members.index.to_numpy()
            entry = {
                "label": ", ".join(sorted(set(members["label"]))),
                "images": members["image"].tolist(),
                "products": members["product_name"].tolist(),
            }
            if column == "image_group":
                d = np.bitwise_count(hashes[ix][:, None] ^ hashes[ix][None, :])
                entry["max_hamming_bits"] = int(d.max())
            else:
                sims = (tfidf[ix] @ tfidf[ix].T).toarray()
                entry["min_cosine"] = round(float(sims[np.triu_indices(len(ix), 1)].min()), 3)
            found.append(entry)
    manifest = {
        "kind": acquire.SAMPLE_KIND,
        "command": (
            "python -m utils.data.sample --source <folder of the full dataset> --out data/sample "
            f"--seed {seed} --per-category {per_category} --short-side {short_side} "
            f"--quality {quality}"
        ),
        "pillow": PIL.__version__,
        "source": {
            "csv": csv.name,
            "csv_sha256": acquire._sha256(csv),
            "note_dataset": acquire._sha256(csv) == acquire.CSV_SHA256,
            "rows": len(rows),
            "columns": len(rows.columns),
            "categories": int(catalog["label"].nunique()),
            "images": int(sum(1 for p in (folder / "Images").iterdir() if p.is_file())),
            "usable": len(ok),
            "rows_verbatim": verbatim,
        },
        "seed": seed,
        "per_category": per_category,
        "short_side": short_side,
        "jpeg_quality": quality,
        "near_duplicate_distance": NEAR_DUPLICATE_DISTANCE,
        "text_threshold": TEXT_THRESHOLD,
        "csv": acquire.SAMPLE_CSV,
        "csv_sha256": _sha256_bytes(sample_csv),
        "rows": len(sample_rows),
        "images": len(files),
        "bytes": len(sample_csv) + sum(len(b) for b in files.values()),
        "categories": picked["label"].value_counts().sort_index().to_dict(),
        "missing": [
            {"source_row": int(r.row), "image": r.image, "label": r.label}
            for r in missing.itertuples()
        ],
        "photo_groups": photo_groups,
        "text_groups": text_groups,
        "files": {f"Images/{name}": _sha256_bytes(b) for name, b in sorted(files.items())},
    }
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "Images").mkdir(parents=True)
    for name, payload in files.items():
        (tmp / "Images" / name).write_bytes(payload)
    (tmp / acquire.SAMPLE_CSV).write_bytes(sample_csv)
    (tmp / acquire.SAMPLE_MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (tmp / "README.md").write_text(readme(manifest), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return manifest


def _sha256_bytes(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _tfidf(texts: list[str]):
    """The TF-IDF vectors ``dedup.text_pairs`` compares (to report the groups' cosines)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words="english", dtype=np.float32).fit_transform(texts).tocsr()


def readme(m: dict) -> str:
    """The sample's README.md: source, licence (what is and is not known), how it was drawn."""
    src = m["source"]
    manifest = acquire.SAMPLE_MANIFEST
    kb = m["bytes"] / 1024
    per = ", ".join(f"{label} {n}" for label, n in m["categories"].items())
    missing = "\n".join(
        f"  - `{x['image']}` ({x['label']}, row {x['source_row']} of the source CSV, "
        "counting from 0)"
        for x in m["missing"]
    )
    photos = "\n".join(
        f"  - {g['label']}: {len(g['images'])} photos, hashes at most {g['max_hamming_bits']} "
        f"bits apart: " + "; ".join(f"`{i}` ({p})" for i, p in zip(g["images"], g["products"]))
        for g in m["photo_groups"]
    )
    texts = "\n".join(
        f"  - {g['label']}: {len(g['images'])} products, cosine at least "
        f"{g['min_cosine']:.3f}: "
        + "; ".join(f"`{i}` ({p})" for i, p in zip(g["images"], g["products"]))
        for g in m["text_groups"]
    )
    verbatim = (
        "each row byte for byte as in the source file, line endings included"
        if src["rows_verbatim"]
        else "every value as in the source file"
    )
    which = "the note's CSV" if src["note_dataset"] else "the CSV"
    other = (
        ""
        if src["note_dataset"]
        else f"Drawn from `{src['csv']}` (sha256 {src['csv_sha256'][:12]}...), not the note's "
        "CSV; what follows is about the note's dataset.\n"
    )
    return _reflow(f"""# Bundled sample of the Flipkart product data

{m["rows"]} rows of {which}, `{src["csv"]}` (all {src["columns"]} columns, {verbatim}), in
`{m["csv"]}`, and {m["images"]} of their photos in `Images/` ({m["per_category"]} per category:
{per}); {kb:.0f} KB in all. With it a fresh clone, with nothing downloaded, runs the tests and the
whole smoke chain offline (`make smoke`). It is far too small for any conclusion about the models:
the note's numbers come from the full data (`DATA_SOURCE`, or the download).
`{manifest}` is the manifest: the settings, the groups and missing rows below, and the
sha256 of every file; `utils.data` recognises the folder by it and reports it as the bundled sample.

## Source
{other}- The project's dataset is the Flipkart sample of the OpenClassrooms data-scientist course
  (project "Textimage DAS V2"), distributed as a public zip
  (`utils.data.acquire.DATASET_URL`). It holds
  `{acquire.CSV_NAME}` (1050 products, 150 in each of 7 top-level categories, 15 columns) and
  `Images/`, one photo per product named after its `uniq_id`.
- That CSV has the columns and the format of the "Flipkart Products" dataset that PromptCloud
  published on Kaggle (`PromptCloudHQ/flipkart-products`: 20,000 products crawled from
  flipkart.com, `flipkart_com-ecommerce_sample.csv`, image URLs but no images); the course's 1050
  rows (crawled between December 2015 and June 2016) look like a balanced subset of it, and its
  photos like downloads from those image URLs. Neither was checked against the Kaggle files.

## Licence: what is known and what is not
- Kaggle lists PromptCloud's "Flipkart Products" under CC BY-SA 4.0 (as public mirrors of it on
  Hugging Face restate; not checked on Kaggle itself). If that covers the course's rows,
  `{m["csv"]}` is a subset of them under the same licence: attribution to PromptCloud, share-alike.
- The OpenClassrooms zip carries no licence file or statement that we know of; the course hands it
  out for its exercises.
- The photos, names and descriptions were made by Flipkart and its sellers and brands; no licence
  for the photos is known. They are here, few and downscaled, to test and demonstrate the method,
  the use the course makes of them. Before redistributing this project beyond that, check with the
  rights holders, or delete `data/sample/` and point `DATA_SOURCE` at the data.

## How it was drawn
```
{m["command"]}
```
(`utils/data/sample.py`), from the working copy of the full data, which lacks
{src["rows"] - src["images"]} of its {src["rows"]} images ({src["usable"]} usable photos):
1. the full catalog is validated and grouped as notebook 01 does it (perceptual hashes within
   {m["near_duplicate_distance"]} bits: near-identical photos; TF-IDF cosine of the descriptions
   at least {m["text_threshold"]}: near-identical descriptions);
2. one group of near-identical photos and one of near-identical descriptions are kept whole,
   chosen among the groups within one category: preferably outside groups of the other kind, then
   the smallest, then the closest (smallest Hamming distance, highest cosine), ties broken at random
   (seed {m["seed"]}); the photos' group is checked again once re-encoded;
3. each category is filled up to {m["per_category"]} photos drawn at random (seed {m["seed"]})
   among those in no group, so that the sample holds only the groups it was given; the fill is
   drawn again (up to {FILL_DRAWS} times) until the descriptions' group is still one once TF-IDF is
   fitted on the sample's own descriptions, as notebook 01 fits it;
4. the rows whose image is absent from the working copy are kept, without a photo;
5. each photo is decoded (EXIF orientation applied), shrunk so that its shorter side is at most
   {m["short_side"]} px and saved as JPEG (quality {m["jpeg_quality"]}, no metadata) under its
   original name; the CSV rows keep their original order.

The same command on the same data with the same Pillow ({m["pillow"]}) gives the same bytes.

## What it holds, for the tests and notebook 01
- {m["rows"]} CSV rows: {m["images"]} with a photo (status `ok`) and {len(m["missing"])} whose
  image is absent from the working copy (status `missing`: listed by the catalog, never dropped):
{missing}
- {len(m["photo_groups"])} group(s) of near-identical photos, which the split keeps on one side:
{photos}
- {len(m["text_groups"])} group(s) of near-identical descriptions, kept on one side likewise:
{texts}
""")


def _reflow(markdown: str, width: int = 100) -> str:
    """Paragraphs and list items of ``markdown`` re-wrapped at ``width`` (headings and fenced
    blocks kept as they are), so that the README reads well whatever the numbers' lengths."""
    out, block, fenced = [], [], False

    def flush() -> None:
        if block:
            first = block[0]
            marker = re.match(r"^(\s*(?:-|\d+\.)\s+|)", first).group(1)
            body = " ".join(line.strip() for line in block)[len(marker.strip()) :].strip()
            out.append(
                textwrap.fill(
                    body,
                    width,
                    initial_indent=marker,
                    subsequent_indent=" " * len(marker),
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
            block.clear()

    for line in markdown.splitlines():
        if line.startswith("```"):
            flush()
            fenced = not fenced
            out.append(line)
        elif fenced or line.startswith("#") or not line.strip():
            flush()
            out.append(line)
        elif re.match(r"^\s*(-|\d+\.)\s", line):
            flush()
            block.append(line)
        else:
            block.append(line)
    flush()
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        default=os.environ.get("DATA_SOURCE"),
        help="folder of the full dataset (CSV + Images/); default: $DATA_SOURCE",
    )
    parser.add_argument("--out", default=str(acquire.SAMPLE_DIR), help="default: data/sample")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--per-category", type=int, default=PER_CATEGORY)
    parser.add_argument("--short-side", type=int, default=SHORT_SIDE)
    parser.add_argument("--quality", type=int, default=JPEG_QUALITY)
    args = parser.parse_args(argv)
    if not args.source:
        parser.error("--source (or DATA_SOURCE) is required: the folder of the full dataset")
    m = draw(args.source, args.out, args.seed, args.per_category, args.short_side, args.quality)
    print(
        f"wrote {args.out}: {m['rows']} rows, {m['images']} photos, {m['bytes'] / 1024:.0f} KB; "
        f"{len(m['photo_groups'])} photo group(s), {len(m['text_groups'])} text group(s), "
        f"{len(m['missing'])} missing image(s)"
    )
    return m


if __name__ == "__main__":
    main()
