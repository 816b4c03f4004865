"""One run, one truth: the metrics file, stamped with the run that wrote each section.

``reports/metrics.json`` holds one section per notebook (``data`` by 01, ``split`` by 02...). A run
starts with notebook 01, which writes a fresh file whose ``run`` section gives the run an id
(time, profile, seed, code version); every section then records that id, when it was written and
the split it was computed on. Notebook 08 builds the note only from a consistent file
(``check``): every section from this run, written in notebook order, on the same split; otherwise
it says which notebooks to re-run.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .paths import ROOT

SECTIONS = {
    "data": "01",
    "split": "02",
    "features": "03",
    "training": "04",
    "evaluation": "05",
    "explanations": "06",
    "labels": "07",
}
NOTE = "08"  # the notebook that builds the note from these sections


class MixedRuns(RuntimeError):
    """The metrics file mixes sections of different runs (or stale ones); the message says what to
    re-run."""


def code_version() -> str:
    """``git describe --always --dirty`` of the project, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


LIBRARIES = (
    "torch",
    "torchvision",
    "transformers",
    "tokenizers",
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "Pillow",
    "lime",
    "shap",
)


def library_versions() -> dict:
    """The Python version and the installed version of each of ``LIBRARIES`` (importlib.metadata,
    read at run time; "not installed" where absent)."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def jsonable(obj):
    """JSON for numpy scalars and arrays (everything else as its string)."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _write(path: Path, metrics: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2, default=jsonable))
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the notebooks that write it first.")
    return json.loads(path.read_text())


def start(path: str | os.PathLike, profile: str, seed: int, **facts) -> dict:
    """Start a new run: a fresh metrics file holding only the ``run`` section; returns it."""
    now = datetime.now(UTC)
    version = code_version()
    run = {
        "id": f"{now:%Y%m%dT%H%M%S}-{os.urandom(2).hex()}-{profile}-s{seed}-{version}",
        "profile": profile,
        "seed": seed,
        "started": now.isoformat(timespec="seconds"),
        "code_version": version,
        "versions": library_versions(),
        **facts,
    }
    _write(Path(path), {"run": run})
    return run


def record(
    path: str | os.PathLike, section: str, values: dict, split_id: str | None = None
) -> dict:
    """Write ``values`` under ``section``, stamped with the current run id, the time and
    ``split_id``.

    Other sections are kept. Without a ``run`` section yet (a notebook run on its own before 01),
    one is started from the section's profile and seed.
    """
    path = Path(path)
    metrics = json.loads(path.read_text()) if path.exists() else {}
    if "run" not in metrics:
        metrics = {"run": start(path, values.get("profile", "full"), values.get("seed", 0))}
    stamp = {"run_id": metrics["run"]["id"], "written": time.time()}
    if split_id:
        stamp["split_id"] = split_id
    metrics[section] = {**values, **stamp}
    _write(path, metrics)
    return metrics


def check(metrics: dict) -> list[str]:
    """Problems that make the file unfit for one note (empty list: consistent)."""
    run = metrics.get("run")
    if not run:
        return ["the metrics file has no run section: run the notebooks from 01."]
    problems = []
    present = [s for s in SECTIONS if s in metrics]
    for s in present:
        if metrics[s].get("run_id") != run["id"]:
            problems.append(
                f"section {s!r} (notebook {SECTIONS[s]}) comes from run "
                f"{metrics[s].get('run_id')}, "
                f"not this run ({run['id']}): re-run notebooks {SECTIONS[s]}-{NOTE}."
            )
    for earlier, later in zip(present, present[1:]):
        if metrics[later].get("written", 0) < metrics[earlier].get("written", 0):
            problems.append(
                f"section {later!r} (notebook {SECTIONS[later]}) is older than {earlier!r} "
                "(notebook "
                f"{SECTIONS[earlier]}): it was computed before {earlier!r} changed; re-run "
                "notebooks "
                f"{SECTIONS[later]}-{NOTE}."
            )
    split_id = metrics.get("split", {}).get("split_id")
    for s in present:
        other = metrics[s].get("split_id")
        if split_id and other and other != split_id:
            problems.append(
                f"section {s!r} (notebook {SECTIONS[s]}) was computed on split {other}, the "
                "current "
                f"split is {split_id}: re-run notebooks {SECTIONS[s]}-{NOTE}."
            )
    return problems


def assert_consistent(metrics: dict) -> None:
    problems = check(metrics)
    if problems:
        raise MixedRuns("the metrics file mixes runs; the note is not built. " + " ".join(problems))


# --------------------------------------------------------------------------- stand-in weights
STAND_INS = {"tiny-random": "tiny random weights", "random": "full-size random weights"}
ENCODER_NAMES = {"clip": "CLIP", "vgg16": "VGG16"}


FAILED_CHECK = "weights that fail the pretrained check"


def stand_ins(weights: dict[str, str | None], check: dict | None = None) -> dict[str, str]:
    """``{kind: what}`` for the encoders of ``weights`` (``{"clip": clip_model, "vgg16":
    vgg_weights}``) whose weights are stand-ins, not pretrained ones: random or tiny by name, or,
    for CLIP, weights that load but fail notebook 03's pretrained check (``check``, its
    ``pretrained_check``: verdict "chance" or "weak", e.g. a wrong or damaged folder). Their
    numbers say nothing about CLIP either."""
    out = {k: STAND_INS[str(w)] for k, w in weights.items() if str(w) in STAND_INS}
    if check and check.get("warning") and "clip" not in out:
        out["clip"] = f"{FAILED_CHECK} (zero-shot verdict: {check.get('verdict', '?')})"
    return out


def run_stand_ins(metrics: dict) -> dict[str, str]:
    """``stand_ins`` of a metrics file: the run's weights and, once notebook 03 of this same run
    has recorded it, its pretrained check."""
    features = metrics.get("features") or {}
    run = metrics.get("run") or {}
    same_run = features.get("run_id") is not None and features.get("run_id") == run.get("id")
    return stand_ins(
        run.get("weights") or {}, features.get("pretrained_check") if same_run else None
    )


def stand_in_text(stand: dict[str, str]) -> str | None:
    """``"tiny random weights: CLIP, VGG16"`` (None when every encoder is real)."""
    if not stand:
        return None
    by_what: dict[str, list[str]] = {}
    for kind, what in stand.items():
        by_what.setdefault(what, []).append(ENCODER_NAMES.get(kind, kind))
    return "; ".join(f"{what}: {', '.join(kinds)}" for what, kinds in by_what.items())
