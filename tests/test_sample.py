"""utils.data.sample and data/sample/: the bundled sample is small, matches its manifest, holds what
the tests and notebook 01 look for, and is drawn reproducibly (the same bytes twice)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from utils.data import acquire, dedup, sample
from utils.data.catalog import build_catalog, parse_category, usable

SAMPLE = acquire.SAMPLE_DIR


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _groups(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The catalog, photo groups and description groups notebook 01 finds in ``folder``."""
    catalog = build_catalog(folder, progress=False, min_per_category=1)
    ok = usable(catalog)
    ok = ok.join(dedup.leak_groups(ok, sample.NEAR_DUPLICATE_DISTANCE, sample.TEXT_THRESHOLD))
    return (
        catalog,
        dedup.groups_table(ok, "image_group", "image"),
        dedup.groups_table(ok, "text_group", "image"),
    )


def test_the_bundled_sample_matches_its_manifest_and_stays_small() -> None:
    m = acquire.sample_manifest(SAMPLE)
    assert m is not None, "data/sample/ lost its manifest or its CSV no longer matches it"
    files = _tree(SAMPLE)
    assert sorted(files) == sorted(
        [*m["files"], acquire.SAMPLE_CSV, acquire.SAMPLE_MANIFEST, "README.md"]
    )
    for name, sha in m["files"].items():
        assert acquire._sha256(SAMPLE / name) == sha, name
    assert sum(len(b) for b in files.values()) < 3 * 2**20, "a few MB at most"
    for name in m["files"]:
        with Image.open(SAMPLE / name) as im:
            assert im.format == "JPEG" and min(im.size) <= m["short_side"] == 256, name
    assert m["source"]["note_dataset"] and m["per_category"] == 10
    assert m["categories"] == {label: 10 for label in m["categories"]} and len(m["categories"]) == 7
    rows = acquire.read_csv(SAMPLE / acquire.SAMPLE_CSV)
    assert len(rows) == m["rows"] == m["images"] + len(m["missing"]) and len(rows.columns) == 15
    readme = (SAMPLE / "README.md").read_text()
    assert readme == sample.readme(m)
    for words in ("OpenClassrooms", "CC BY-SA 4.0", "PromptCloud", "no licence", "seed 42"):
        assert words in readme, words


def test_the_bundled_sample_holds_what_the_tests_look_for() -> None:
    """Notebook 01 on the sample: 3 rows whose photo is absent (listed, not dropped), every category
    kept, a group of near-identical photos and one of near-identical descriptions, as its README
    says."""
    m = acquire.sample_manifest(SAMPLE)
    catalog, photos, texts = _groups(SAMPLE)
    assert catalog["status"].value_counts().to_dict() == {"ok": 70, "missing": 3}
    assert set(catalog.loc[catalog["status"] == "missing", "image"]) == {
        x["image"] for x in m["missing"]
    }
    assert len(photos) >= 1 and len(texts) >= 1
    assert sorted(map(sorted, photos["members"])) == sorted(
        sorted(g["images"]) for g in m["photo_groups"]
    )
    assert sorted(map(sorted, texts["members"])) == sorted(
        sorted(g["images"]) for g in m["text_groups"]
    )
    assert build_catalog(SAMPLE, progress=False)["status"].eq("ok").sum() == 70, (
        "no category is rare at notebook 01's min_per_category=10"
    )


def test_drawing_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    """Two draws with the same settings give the same bytes; a draw keeps the rows unchanged, the
    photos small, the groups and the rows whose photo is absent; another seed draws others. Drawn
    from the bundled sample, in seconds (from the full data: the test below)."""
    dataset_dir = SAMPLE
    settings = {"seed": 3, "per_category": 4, "short_side": 96}
    a = sample.draw(dataset_dir, tmp_path / "a", **settings)
    b = sample.draw(dataset_dir, tmp_path / "b", **settings)
    assert a == b and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    out = tmp_path / "a"
    assert acquire.identify(out)["kind"] == "sample"
    rows = pd.read_csv(out / acquire.SAMPLE_CSV, dtype=str, keep_default_na=False)
    source = pd.read_csv(acquire.find_csv(dataset_dir), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(
        rows.reset_index(drop=True),
        source[source["uniq_id"].isin(rows["uniq_id"])].reset_index(drop=True),
    )
    absent = {n for n in source["image"] if not (dataset_dir / "Images" / n).exists()}
    catalog, photos, texts = _groups(out)
    assert set(catalog.loc[catalog["status"] == "missing", "image"]) == absent
    assert (catalog["status"] == "ok").sum() == 4 * source["product_category_tree"].map(
        parse_category
    ).nunique()
    assert len(photos) >= 1 and len(texts) >= 1
    for p in (out / "Images").iterdir():
        with Image.open(p) as im:
            assert min(im.size) <= 96
    other = sample.draw(dataset_dir, tmp_path / "c", **{**settings, "seed": 4})
    assert other["files"] != a["files"]


def test_the_committed_sample_is_what_the_script_draws(
    full_dataset_dir: Path, tmp_path: Path
) -> None:
    """`python -m utils.sample --source <the full data>` rewrites data/sample/ byte for byte."""
    m = acquire.sample_manifest(SAMPLE)
    if m["pillow"] != Image.__version__:
        pytest.skip(
            f"data/sample/ was encoded by Pillow {m['pillow']}, this is {Image.__version__}"
        )
    sample.main(["--source", str(full_dataset_dir), "--out", str(tmp_path / "s")])
    assert _tree(tmp_path / "s") == _tree(SAMPLE)


def test_draw_refuses_to_replace_a_folder_that_is_not_a_sample(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="holds no sample"):
        sample.draw(SAMPLE, tmp_path / "mine", per_category=2)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
