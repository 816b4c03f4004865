"""utils.data: acquisition, robust decoding, per-row validation."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from utils import data
from utils.paths import Layout

TREE = '["Watches >> Wrist Watches >> X"]'


def _write_csv(folder: Path, rows: list[tuple[str, str]]) -> None:
    pd.DataFrame({
        "uniq_id": [f"id{i}" for i in range(len(rows))],
        "product_name": [f"product {i}" for i in range(len(rows))],
        "product_category_tree": [tree for _, tree in rows],
        "image": [image for image, _ in rows],
    }).to_csv(folder / data.CSV_NAME, index=False)


@pytest.fixture()
def faulty_dataset(tmp_path: Path, real_images: list[Path]) -> Path:
    """A dataset folder with one real photo and every kind of faulty file, made here."""
    images = tmp_path / "Images"
    images.mkdir()
    real = real_images[0]
    shutil.copy(real, images / "real.jpg")
    raw = real.read_bytes()
    (images / "truncated.jpg").write_bytes(raw[: len(raw) // 3])
    (images / "empty.jpg").write_bytes(b"")
    (images / "text.jpg").write_text("this is not an image")
    rgb = Image.open(real).convert("RGB").resize((120, 100))
    rgb.convert("CMYK").save(images / "cmyk.jpg")
    rgb.convert("L").save(images / "gray.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 0))                 # fully transparent: must come out white
    rgba.save(images / "alpha.png")
    rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(images / "palette.png")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(images / "tiny.png")
    _write_csv(tmp_path, [
        ("real.jpg", TREE), ("truncated.jpg", TREE), ("empty.jpg", TREE), ("text.jpg", TREE),
        ("cmyk.jpg", TREE), ("gray.png", TREE), ("alpha.png", TREE), ("palette.png", TREE),
        ("tiny.png", TREE), ("absent.jpg", TREE), ("real.jpg", "not a tree"), ("real.jpg", ""),
    ])
    return tmp_path


def test_every_row_gets_the_right_status(faulty_dataset: Path, tmp_path: Path) -> None:
    catalog = data.build_catalog(faulty_dataset, tmp_path / "out" / "catalog.csv")
    status = dict(zip(catalog["row"], catalog["status"]))
    assert [status[i] for i in range(12)] == [
        "ok", "unreadable", "unreadable", "unreadable", "ok", "ok", "ok", "ok",
        "too_small", "missing", "unlabelled", "unlabelled",
    ]
    assert len(catalog) == 12, "one catalog row per CSV row, none dropped"
    written = data.load_catalog(tmp_path / "out" / "catalog.csv")
    assert written["status"].tolist() == catalog["status"].tolist()
    assert set(data.excluded(written)["status"]) == {"unreadable", "too_small", "missing", "unlabelled"}
    assert set(written["status"]) <= set(data.STATUSES)
    assert (data.usable(written)["status"] == "ok").all()


@pytest.mark.parametrize("name", ["cmyk.jpg", "gray.png", "alpha.png", "palette.png", "tiny.png", "real.jpg"])
def test_odd_modes_load_as_rgb(faulty_dataset: Path, name: str) -> None:
    im = data.load_image(faulty_dataset / "Images" / name)
    assert im.mode == "RGB" and min(im.size) >= 1


def test_transparency_is_composited_on_white(faulty_dataset: Path) -> None:
    arr = np.asarray(data.load_image(faulty_dataset / "Images" / "alpha.png"))
    assert (arr == 255).all()


def test_huge_jpeg_decodes_small_and_without_bomb_warning(tmp_path: Path, recwarn) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (12000, 8000), (200, 10, 10)).save(path, quality=50)   # 96 MP: above Pillow's warning
    im = data.load_image(path, max_side=448)
    assert max(im.size) == 448 and im.mode == "RGB"
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
    assert data.inspect_image(path)["status"] == "ok"


def test_images_over_our_pixel_limit_are_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    monkeypatch.setattr(data, "MAX_PIXELS", 300 * 300 - 1)
    with pytest.raises(data.ImageTooLargeError):
        data.load_image(path)
    assert data.inspect_image(path)["status"] == "too_large"


@pytest.mark.parametrize("tree,expected", [
    ('["Home Furnishing >> Curtains >> X"]', "Home Furnishing"),
    ('["Watches"]', "Watches"),
    ("[]", None), ("", None), (None, None), ('[">> B"]', None), ("Watches >> X", None), ("[3]", None),
])
def test_parse_category(tree, expected) -> None:
    assert data.parse_category(tree) == expected


def test_real_catalog_lists_the_missing_images(dataset_dir: Path, tmp_path: Path) -> None:
    """The shared copy lacks 3 of the 1050 images: they are listed as missing, not dropped."""
    rows = pd.read_csv(dataset_dir / data.CSV_NAME, dtype=str)
    absent = {name for name in rows["image"] if not (dataset_dir / "Images" / name).exists()}
    folder = tmp_path / "mini"
    (folder / "Images").mkdir(parents=True)
    keep = rows[rows["image"].isin(absent)].head(2)
    present = rows[~rows["image"].isin(absent)].head(3)
    subset = pd.concat([keep, present])
    subset.to_csv(folder / data.CSV_NAME, index=False)
    for name in present["image"]:
        shutil.copy(dataset_dir / "Images" / name, folder / "Images" / name)
    catalog = data.build_catalog(folder)
    assert catalog["status"].tolist() == ["missing"] * len(keep) + ["ok"] * 3
    assert catalog["sha256"].iloc[-1] == data._sha256(folder / "Images" / present["image"].iloc[-1])


def test_acquire_links_a_folder_without_modifying_it(dataset_dir: Path, tmp_path: Path) -> None:
    folder = data.acquire(dataset_dir, tmp_path / "data")
    link = Layout(tmp_path / "data").raw / data.DATASET_DIRNAME
    assert link.is_symlink() and folder.resolve() == dataset_dir.resolve()
    assert data.acquire(dataset_dir, tmp_path / "data") == folder          # idempotent


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def test_safe_extract_refuses_paths_that_escape(tmp_path: Path) -> None:
    bad = _zip(tmp_path / "bad.zip", {f"Flipkart/{data.CSV_NAME}": b"x", "Flipkart/Images/../../evil.txt": b"x"})
    with pytest.raises(data.DataUnavailableError, match="unsafe path"):
        data.safe_extract(bad, tmp_path / "out" / "flipkart")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "flipkart").exists()


def test_safe_extract_keeps_only_the_dataset_and_redoes_a_partial_run(tmp_path: Path) -> None:
    good = _zip(tmp_path / "good.zip", {f"Flipkart/{data.CSV_NAME}": b"a,b\n", "Flipkart/Images/a.jpg": b"1",
                                        "Other/readme.txt": b"not ours"})
    dest = tmp_path / "raw" / "flipkart"
    (dest.with_name("flipkart.partial") / "junk").mkdir(parents=True)        # an interrupted earlier run
    data.safe_extract(good, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["Images", "Images/a.jpg", data.CSV_NAME]
    assert not dest.with_name("flipkart.partial").exists()


def test_acquire_offline_fails_with_one_clear_sentence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DATA_SOURCE", raising=False)
    with pytest.raises(data.DataUnavailableError) as info:
        data.acquire(None, tmp_path / "data", url="http://127.0.0.1:9/flipkart.zip")
    message = str(info.value)
    assert "DATA_SOURCE" in message and "download http://127.0.0.1:9/flipkart.zip" in message
    assert not (Layout(tmp_path / "data").raw / "flipkart_sample.zip").exists()


def test_acquire_rejects_a_wrong_csv(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    (folder / "Images").mkdir(parents=True)
    (folder / data.CSV_NAME).write_text("not,the,dataset\n")
    with pytest.raises(data.DataUnavailableError, match="sha256"):
        data.acquire(folder, tmp_path / "data")


def test_model_inputs_are_drafted_but_never_below_min_side(real_images) -> None:
    from PIL import Image

    for path in real_images:
        full = Image.open(path).size
        im = data.load_image(path, max_side=None, min_side=256)
        assert min(im.size) >= min(256, *full) and max(im.size) <= max(full)
