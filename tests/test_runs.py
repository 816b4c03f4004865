"""utils.core.runs: one run, one truth; the note refuses a metrics file that mixes runs or holds
stale sections."""

from __future__ import annotations

import time

import numpy as np
import pytest

from utils.core import runs
from utils.report import note


def _chain(path, sections=("data", "split", "features")) -> dict:
    runs.start(path, "smoke", 42)
    for s in sections:
        runs.record(
            path,
            s,
            {"profile": "smoke", "x": np.float32(1.5)},
            split_id="abc" if s != "data" else None,
        )
        time.sleep(0.01)
    return runs.load(path)


def test_every_section_is_stamped_with_the_run(tmp_path) -> None:
    m = _chain(tmp_path / "metrics.json")
    assert m["run"]["id"].startswith(m["run"]["started"][:4]) and "-smoke-s42-" in m["run"]["id"]
    assert {m[s]["run_id"] for s in ("data", "split", "features")} == {m["run"]["id"]}
    assert m["features"]["x"] == 1.5 and m["split"]["split_id"] == "abc"
    assert runs.check(m) == []


def test_starting_a_run_drops_the_sections_of_the_last_one(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    _chain(path)
    runs.start(path, "full", 7)
    assert set(runs.load(path)) == {"run"}


def test_a_note_from_two_runs_is_refused_and_says_what_to_rerun(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    old = _chain(path)
    new = _chain(tmp_path / "other.json")
    mixed = {**new, "features": old["features"]}
    with pytest.raises(
        runs.MixedRuns, match=r"'features' \(notebook 03\) comes from run .*re-run notebooks 03-08"
    ):
        note.build(mixed, tmp_path / "figures", tmp_path / "out")


def test_a_section_older_than_the_one_it_depends_on_is_refused(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    _chain(path)
    time.sleep(0.01)
    runs.record(path, "split", {"profile": "smoke"}, split_id="abc")  # notebook 02 re-run alone
    problems = runs.check(runs.load(path))
    assert len(problems) == 1 and "'features' (notebook 03) is older than 'split'" in problems[0]


def test_sections_on_another_split_are_refused(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    m = _chain(path)
    m["features"]["split_id"] = "zzz"
    assert any("computed on split zzz" in p for p in runs.check(m))


def test_a_run_removes_executed_notebooks_no_source_has_any_more(tmp_path) -> None:
    """A renumbered notebook (07_note became 08_note) leaves no stale copy beside the note."""
    from utils.report import runner

    (tmp_path / "07_note.ipynb").write_text("{}")
    (tmp_path / "08_note.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("the user's own file")
    assert runner.remove_stale(tmp_path) == ["07_note.ipynb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["08_note.ipynb", "notes.txt"]
