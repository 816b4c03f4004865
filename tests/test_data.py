"""utils.data (acquire, catalog): acquisition, robust decoding, per-row validation."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from utils.core.paths import Layout
from utils.data import acquire
from utils.data import catalog as catalog_mod
from utils.data.catalog import (
    STATUSES,
    ImageTooLargeError,
    build_catalog,
    excluded,
    inspect_image,
    load_catalog,
    load_image,
    main,
    parse_category,
    usable,
)

TREE = '["Watches >> Wrist Watches >> X"]'


def _write_csv(folder: Path, rows: list[tuple[str, str]], name: str = acquire.CSV_NAME) -> None:
    pd.DataFrame(
        {
            "uniq_id": [f"id{i}" for i in range(len(rows))],
            "product_name": [f"product {i}" for i in range(len(rows))],
            "product_category_tree": [tree for _, tree in rows],
            "image": [image for image, _ in rows],
            "description": [f"description of product {i}" for i in range(len(rows))],
        }
    ).to_csv(folder / name, index=False)


@pytest.fixture()
def faulty_dataset(tmp_path: Path, real_images: list[Path]) -> Path:
    """A dataset folder with one real photo and every kind of faulty file, made here."""
    images = tmp_path / "Images"
    images.mkdir()
    real = real_images[0]
    shutil.copy(real, images / "real.jpg")
    shutil.copy(real, images / "real2.jpg")
    shutil.copy(real, images / "real3.jpg")
    raw = real.read_bytes()
    (images / "truncated.jpg").write_bytes(raw[: len(raw) // 3])
    (images / "empty.jpg").write_bytes(b"")
    (images / "text.jpg").write_text("this is not an image")
    rgb = Image.open(real).convert("RGB").resize((120, 100))
    rgb.convert("CMYK").save(images / "cmyk.jpg")
    rgb.convert("L").save(images / "gray.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 0))  # fully transparent: must come out white
    rgba.save(images / "alpha.png")
    rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(images / "palette.png")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(images / "tiny.png")
    _write_csv(
        tmp_path,
        [
            ("real.jpg", TREE),
            ("truncated.jpg", TREE),
            ("empty.jpg", TREE),
            ("text.jpg", TREE),
            ("cmyk.jpg", TREE),
            ("gray.png", TREE),
            ("alpha.png", TREE),
            ("palette.png", TREE),
            ("tiny.png", TREE),
            ("absent.jpg", TREE),
            ("real2.jpg", "not a tree"),
            ("real3.jpg", ""),
        ],
    )
    return tmp_path


def test_every_row_gets_the_right_status(faulty_dataset: Path, tmp_path: Path) -> None:
    catalog = build_catalog(faulty_dataset, tmp_path / "out" / "catalog.csv", min_per_category=1)
    status = dict(zip(catalog["row"], catalog["status"]))
    assert [status[i] for i in range(12)] == [
        "ok",
        "unreadable",
        "unreadable",
        "unreadable",
        "ok",
        "ok",
        "ok",
        "ok",
        "too_small",
        "missing",
        "unlabelled",
        "unlabelled",
    ]
    assert len(catalog) == 12, "one catalog row per CSV row, none dropped"
    written = load_catalog(tmp_path / "out" / "catalog.csv")
    assert written["status"].tolist() == catalog["status"].tolist()
    assert set(excluded(written)["status"]) == {
        "unreadable",
        "too_small",
        "missing",
        "unlabelled",
    }
    assert set(written["status"]) <= set(STATUSES)
    assert (usable(written)["status"] == "ok").all()


@pytest.mark.parametrize(
    "name", ["cmyk.jpg", "gray.png", "alpha.png", "palette.png", "tiny.png", "real.jpg"]
)
def test_odd_modes_load_as_rgb(faulty_dataset: Path, name: str) -> None:
    im = load_image(faulty_dataset / "Images" / name)
    assert im.mode == "RGB" and min(im.size) >= 1


def test_transparency_is_composited_on_white(faulty_dataset: Path) -> None:
    arr = np.asarray(load_image(faulty_dataset / "Images" / "alpha.png"))
    assert (arr == 255).all()


def test_huge_jpeg_decodes_small_and_without_bomb_warning(tmp_path: Path, recwarn) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (12000, 8000), (200, 10, 10)).save(
        path, quality=50
    )  # 96 MP: above Pillow's warning
    im = load_image(path, max_side=448)
    assert max(im.size) == 448 and im.mode == "RGB"
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
    assert inspect_image(path)["status"] == "ok"


def test_images_over_our_pixel_limit_are_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    monkeypatch.setattr(catalog_mod, "MAX_PIXELS", 300 * 300 - 1)
    with pytest.raises(ImageTooLargeError):
        load_image(path)
    assert inspect_image(path)["status"] == "too_large"


@pytest.mark.parametrize(
    "tree,expected",
    [
        ('["Home Furnishing >> Curtains >> X"]', "Home Furnishing"),
        ('["Watches"]', "Watches"),
        ("[]", None),
        ("", None),
        (None, None),
        ('[">> B"]', None),
        ("Watches >> X", None),
        ("[3]", None),
    ],
)
def test_parse_category(tree, expected) -> None:
    assert parse_category(tree) == expected


def test_real_catalog_lists_the_missing_images(dataset_dir: Path, tmp_path: Path) -> None:
    """The shared copy lacks 3 of the 1050 images (the bundled sample keeps their rows): they are
    listed as missing, not dropped."""
    rows = pd.read_csv(acquire.find_csv(dataset_dir), dtype=str)
    absent = {name for name in rows["image"] if not (dataset_dir / "Images" / name).exists()}
    folder = tmp_path / "mini"
    (folder / "Images").mkdir(parents=True)
    keep = rows[rows["image"].isin(absent)].head(2)
    assert len(keep) == 2, f"{dataset_dir} should lack some images (the working copy lacks 3)"
    present = rows[~rows["image"].isin(absent)].head(3)
    subset = pd.concat([keep, present])
    subset.to_csv(folder / acquire.CSV_NAME, index=False)
    for name in present["image"]:
        shutil.copy(dataset_dir / "Images" / name, folder / "Images" / name)
    catalog = build_catalog(folder, min_per_category=1)
    assert catalog["status"].tolist() == ["missing"] * len(keep) + ["ok"] * 3
    assert catalog["sha256"].iloc[-1] == acquire._sha256(
        folder / "Images" / present["image"].iloc[-1]
    )


@pytest.mark.filterwarnings("ignore:.*files, 1050 expected")  # the working copy lacks 3 photos
def test_acquire_links_a_folder_without_modifying_it(dataset_dir: Path, tmp_path: Path) -> None:
    folder = acquire.acquire(dataset_dir, tmp_path / "data")
    link = Layout(tmp_path / "data").raw / acquire.DATASET_DIRNAME
    assert link.is_symlink() and folder.resolve() == dataset_dir.resolve()
    assert acquire.acquire(dataset_dir, tmp_path / "data") == folder  # idempotent


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def test_safe_extract_refuses_paths_that_escape(tmp_path: Path) -> None:
    bad = _zip(
        tmp_path / "bad.zip",
        {f"Flipkart/{acquire.CSV_NAME}": b"x", "Flipkart/Images/../../evil.txt": b"x"},
    )
    with pytest.raises(acquire.DataUnavailableError, match="unsafe path"):
        acquire.safe_extract(bad, tmp_path / "out" / "flipkart")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "flipkart").exists()


def test_safe_extract_keeps_only_the_dataset_and_redoes_a_partial_run(tmp_path: Path) -> None:
    good = _zip(
        tmp_path / "good.zip",
        {
            f"Flipkart/{acquire.CSV_NAME}": b"a,b\n",
            "Flipkart/Images/a.jpg": b"1",
            "Other/readme.txt": b"not ours",
        },
    )
    dest = tmp_path / "raw" / "flipkart"
    (dest.with_name("flipkart.partial") / "junk").mkdir(parents=True)  # an interrupted earlier run
    acquire.safe_extract(good, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "Images",
        "Images/a.jpg",
        acquire.CSV_NAME,
    ]
    assert not dest.with_name("flipkart.partial").exists()


def _offline(monkeypatch) -> list:
    """No DATA_SOURCE and no network: every download attempt is recorded, then fails."""
    import urllib.error

    calls = []

    def fail(url, target, timeout=30):
        calls.append(url)
        raise urllib.error.URLError("no network here")

    monkeypatch.delenv("DATA_SOURCE", raising=False)
    monkeypatch.setattr(acquire, "download", fail)
    return calls


def _public_zip(tmp_path: Path, monkeypatch, real_images) -> Path:
    """A zip shaped like the public one whose CSV stands in for the note's (checksum patched)."""
    folder = tmp_path / "zipped" / "Flipkart"
    (folder / "Images").mkdir(parents=True)
    shutil.copy(real_images[0], folder / "Images" / "a.jpg")
    _write_csv(folder, [("a.jpg", TREE)])
    monkeypatch.setattr(acquire, "CSV_SHA256", acquire._sha256(folder / acquire.CSV_NAME))
    return _zip(
        tmp_path / "public.zip",
        {
            f"Flipkart/{acquire.CSV_NAME}": (folder / acquire.CSV_NAME).read_bytes(),
            "Flipkart/Images/a.jpg": (folder / "Images" / "a.jpg").read_bytes(),
        },
    )


def _own_folder(folder: Path, real_images) -> Path:
    (folder / "Images").mkdir(parents=True)
    shutil.copy(real_images[0], folder / "Images" / "a.jpg")
    _write_csv(folder, [("a.jpg", TREE)], name="ours.csv")
    return folder


def test_acquire_offline_fails_with_one_clear_sentence(tmp_path: Path, monkeypatch) -> None:
    """No data, no network: one sentence saying what to download, where to put it, and that
    `make smoke` runs offline on the bundled sample; nothing half-written is left."""
    calls = _offline(monkeypatch)
    url = "https://example.invalid/flipkart.zip"
    with pytest.raises(acquire.DataUnavailableError) as info:
        acquire.acquire(None, tmp_path / "data", url=url)
    message = str(info.value)
    zip_path = Layout(tmp_path / "data").raw / acquire.ZIP_NAME
    assert calls == [url]
    assert f"download {url} and put it at {zip_path}" in message
    assert "DATA_SOURCE" in message and acquire.CSV_NAME in message
    assert "`make smoke` runs the whole chain offline on the bundled sample" in message
    assert str(acquire.SAMPLE_DIR) in message and "no network here" in message
    assert message.endswith(".") and message.count(". ") == 0 and "\n" not in message, message
    assert not zip_path.exists() and not (zip_path.parent / acquire.DATASET_DIRNAME).exists()


def test_acquire_precedence_source_then_data_source(
    tmp_path: Path, monkeypatch, real_images
) -> None:
    calls = _offline(monkeypatch)
    a = _own_folder(tmp_path / "a", real_images)
    b = _own_folder(tmp_path / "b", real_images)
    monkeypatch.setenv("DATA_SOURCE", str(b))
    with pytest.warns(UserWarning):
        assert acquire.acquire(a, tmp_path / "data", sample_fallback=True).resolve() == a.resolve()
    with pytest.warns(UserWarning):
        found = acquire.acquire(None, tmp_path / "data", sample_fallback=True)
    assert found.resolve() == b.resolve()
    assert calls == []


def test_acquire_precedence_an_earlier_download_before_the_sample(
    tmp_path: Path, monkeypatch, real_images
) -> None:
    calls = _offline(monkeypatch)
    public = _public_zip(tmp_path, monkeypatch, real_images)
    raw = Layout(tmp_path / "data").raw
    raw.mkdir(parents=True)
    shutil.copy(public, raw / acquire.ZIP_NAME)  # a download (or a zip put there by hand)
    with pytest.warns(UserWarning, match="1050 expected"):  # a one-photo stand-in
        folder = acquire.acquire(None, tmp_path / "data", sample_fallback=True)
    assert folder == raw / acquire.DATASET_DIRNAME and acquire.identify(folder)["kind"] == "note"
    (raw / acquire.ZIP_NAME).unlink()  # the extracted folder alone is reused too
    with pytest.warns(UserWarning, match="1050 expected"):
        assert acquire.acquire(None, tmp_path / "data", sample_fallback=True) == folder
    assert calls == []


def test_acquire_falls_back_to_the_bundled_sample_only_when_asked(
    tmp_path: Path, monkeypatch
) -> None:
    import warnings

    calls = _offline(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bundled sample is no "own catalog": no warning
        folder = acquire.acquire(None, tmp_path / "data", sample_fallback=True)
    assert folder.resolve() == acquire.SAMPLE_DIR.resolve() and calls == []
    facts = acquire.identify(folder)
    assert facts["kind"] == "sample" and not facts["note_dataset"]
    assert facts["description"].startswith("the bundled sample")
    # not linked into raw/: a later run that does not ask for the sample does not get it
    assert not (Layout(tmp_path / "data").raw / acquire.DATASET_DIRNAME).exists()
    with pytest.raises(acquire.DataUnavailableError, match="make smoke"):
        acquire.acquire(None, tmp_path / "data")
    assert len(calls) == 1


def test_acquire_downloads_when_nothing_else_is_there(
    tmp_path: Path, monkeypatch, real_images
) -> None:
    public = _public_zip(tmp_path, monkeypatch, real_images)
    calls = []
    monkeypatch.delenv("DATA_SOURCE", raising=False)

    def download(url: str, target: Path, timeout: float = 30) -> Path:
        calls.append(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        return shutil.copy(public, target)

    monkeypatch.setattr(acquire, "download", download)
    with pytest.warns(UserWarning, match="1050 expected"):  # a one-photo stand-in
        folder = acquire.acquire(None, tmp_path / "data", url="https://example.invalid/z.zip")
    assert calls == ["https://example.invalid/z.zip"] and acquire.identify(folder)["kind"] == "note"


def test_an_edited_sample_is_an_own_catalog(tmp_path: Path) -> None:
    copy = tmp_path / "sample"
    shutil.copytree(acquire.SAMPLE_DIR, copy)
    assert acquire.identify(copy)["kind"] == "sample"
    assert acquire.identify(copy)["description"].startswith("a sample drawn by utils.data.sample")
    csv = copy / acquire.SAMPLE_CSV
    csv.write_bytes(csv.read_bytes().replace(b"Watches", b"Clocks", 1))
    assert acquire.sample_manifest(copy) is None and acquire.identify(copy)["kind"] == "own"
    with pytest.warns(UserWarning, match="not the note's CSV"):
        acquire.verify_dataset(copy)


def test_main_reports_the_bundled_sample(tmp_path: Path, monkeypatch, capsys) -> None:
    _offline(monkeypatch)
    main(["--data-dir", str(tmp_path / "data"), "--sample-fallback"])
    out = capsys.readouterr().out
    assert "dataset: the bundled sample" in out
    catalog = load_catalog(Layout(tmp_path / "data").catalog)
    manifest = acquire.sample_manifest(acquire.SAMPLE_DIR)
    assert (
        len(catalog) == manifest["rows"] and (catalog["status"] == "ok").sum() == manifest["images"]
    )
    assert set(catalog.loc[catalog["status"] == "missing", "image"]) == {
        m["image"] for m in manifest["missing"]
    }
    with pytest.raises(SystemExit, match="make smoke"):
        main(["--data-dir", str(tmp_path / "other")])


def test_acquire_names_a_missing_column(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    (folder / "Images").mkdir(parents=True)
    (folder / acquire.CSV_NAME).write_text("image,product_name,product_category_tree\na.jpg,x,[]\n")
    with pytest.raises(acquire.DataUnavailableError, match="no column 'description'"):
        acquire.acquire(folder, tmp_path / "data")


def test_another_csv_is_a_catalog_with_a_warning_but_a_corrupt_download_is_an_error(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "src"
    (folder / "Images").mkdir(parents=True)
    _write_csv(folder, [("a.jpg", TREE)], name="our_products.csv")
    with pytest.warns(UserWarning, match="results will differ from the note's"):
        found = acquire.acquire(folder, tmp_path / "data")
    assert acquire.find_csv(found).name == "our_products.csv"
    with pytest.raises(acquire.DataUnavailableError, match="corrupt"):
        acquire.verify_dataset(folder, strict=True)


def test_several_csvs_beside_images_are_refused(tmp_path: Path) -> None:
    (tmp_path / "Images").mkdir()
    _write_csv(tmp_path, [("a.jpg", TREE)], name="a.csv")
    _write_csv(tmp_path, [("a.jpg", TREE)], name="b.csv")
    with pytest.raises(acquire.DataUnavailableError, match="several CSV"):
        acquire.find_dataset_dir(tmp_path)


def test_model_inputs_are_drafted_but_never_below_min_side(real_images) -> None:
    from PIL import Image

    for path in real_images:
        full = Image.open(path).size
        im = load_image(path, max_side=None, min_side=256)
        assert min(im.size) >= min(256, *full) and max(im.size) <= max(full)


def test_bad_image_names_get_their_own_status_and_are_never_opened(
    tmp_path: Path, real_images, monkeypatch
) -> None:
    (tmp_path / "Images").mkdir()
    shutil.copy(real_images[0], tmp_path / "Images" / "a.jpg")
    shutil.copy(real_images[1], tmp_path / "Images" / "b.jpg")
    (tmp_path / "secret.jpg").write_bytes(real_images[0].read_bytes())  # outside Images/
    _write_csv(
        tmp_path,
        [
            ("a.jpg", TREE),
            ("../secret.jpg", TREE),
            ("/etc/passwd", TREE),
            ("", TREE),
            ("b.jpg", TREE),
            ("b.jpg", TREE),
            ("..\\secret.jpg", TREE),
        ],
    )
    opened = []
    real_inspect = inspect_image
    monkeypatch.setattr(
        catalog_mod, "inspect_image", lambda p: opened.append(Path(p).name) or real_inspect(p)
    )
    catalog = build_catalog(tmp_path, min_per_category=1)
    assert catalog["status"].tolist() == [
        "ok",
        "unsafe_name",
        "unsafe_name",
        "no_image_name",
        "duplicate_name",
        "duplicate_name",
        "unsafe_name",
    ]
    assert opened == ["a.jpg"], "only the row with a sound, unique name is read"
    assert "row(s) [5]" in catalog.loc[4, "detail"]
    assert set(catalog["status"]) <= set(STATUSES)


def test_category_level_and_rare_categories(tmp_path: Path, real_images) -> None:
    (tmp_path / "Images").mkdir()
    rows = []
    for i in range(14):
        shutil.copy(real_images[i % len(real_images)], tmp_path / "Images" / f"{i}.jpg")
        sub = "Wrist Watches" if i < 11 else "Clocks"
        rows.append((f"{i}.jpg", f'["Watches >> {sub} >> X"]'))
    _write_csv(tmp_path, rows)
    top = build_catalog(tmp_path, min_per_category=10)
    assert set(top["label"]) == {"Watches"} and (top["status"] == "ok").all()
    second = build_catalog(tmp_path, category_level=2, min_per_category=10)
    assert set(second.loc[second["status"] == "ok", "label"]) == {"Watches >> Wrist Watches"}
    rare = second[second["status"] == "rare_category"]
    assert len(rare) == 3 and "3 usable image(s)" in rare["detail"].iloc[0]
    assert parse_category('["A >> B"]', level=3) is None


def test_validation_resumes_from_its_cache(tmp_path: Path, real_images, monkeypatch) -> None:
    (tmp_path / "Images").mkdir()
    for i, p in enumerate(real_images[:3]):
        shutil.copy(p, tmp_path / "Images" / f"{i}.jpg")
    _write_csv(tmp_path, [(f"{i}.jpg", TREE) for i in range(3)])
    cache = tmp_path / "inspected.jsonl"
    first = build_catalog(tmp_path, cache=cache, min_per_category=1)
    with open(cache, "a") as f:
        f.write('{"key": "cut off by an interrupti')  # a line cut by an interruption
    calls = []
    monkeypatch.setattr(catalog_mod, "inspect_image", lambda p: calls.append(p) or {})
    again = build_catalog(tmp_path, cache=cache, min_per_category=1)
    assert calls == [] and again["sha256"].tolist() == first["sha256"].tolist()
    (tmp_path / "Images" / "1.jpg").write_bytes(
        (tmp_path / "Images" / "0.jpg").read_bytes()
    )  # a changed file
    monkeypatch.undo()
    changed = build_catalog(tmp_path, cache=cache, min_per_category=1)
    assert changed.loc[1, "sha256"] == changed.loc[0, "sha256"] != first.loc[1, "sha256"]


def test_own_catalog_every_row_gets_a_status(own_catalog: Path) -> None:
    catalog = build_catalog(own_catalog)
    csv = pd.read_csv(own_catalog / "our_catalog.csv", dtype=str, keep_default_na=False)
    status = pd.Series(catalog["status"].to_numpy(), index=csv["uniq_id"])
    assert status["faulty-traversal"] == status["faulty-absolute"] == "unsafe_name"
    assert (
        status["faulty-empty"] == "no_image_name" and status["faulty-duplicate"] == "duplicate_name"
    )
    assert status["faulty-missing"] == "missing" and status["faulty-broken"] == "unreadable"
    assert set(catalog.loc[catalog["status"] == "rare_category", "label"]) == {
        "Beauty and Personal Care",
        "Home Decor & Festive Needs",
    }
    assert len(catalog) == len(pd.read_csv(own_catalog / "our_catalog.csv"))
