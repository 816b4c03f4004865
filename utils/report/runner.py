"""Execute the numbered notebooks in order with papermill (``make report`` / ``make smoke``).

Each notebook receives, from the profile file and the command-line overrides, only the parameters
its ``parameters`` cell declares, so one profile file can serve every notebook. Overrides are
papermill-style: ``-p name value`` (the value read as YAML: ``-p seed 7``, ``-p models '["text-
tfidf"]'``)
or ``-y 'name: value'``; a name no notebook declares is an error, not a silent no-op.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import papermill as pm
import yaml

from ..core import progress
from ..core.paths import REPORTS, ROOT

NOTEBOOKS = ROOT / "notebooks"
PROFILES = ROOT / "profiles"


class NotebookFailed(RuntimeError):
    """A notebook raised; the message is the error's own sentence and where the traceback is."""


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def profile_parameters(profile: str) -> dict:
    path = PROFILES / f"{profile}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no profile {profile!r}: expected {path}")
    return yaml.safe_load(path.read_text()) or {}


def declared_parameters() -> set[str]:
    """Every parameter some notebook's ``parameters`` cell declares."""
    return {name for nb in notebooks() for name in pm.inspect_notebook(str(nb))}


def run(
    profile: str = "full",
    output_dir: str | os.PathLike = REPORTS,
    only: list[str] | None = None,
    **overrides,
) -> list[Path]:
    """Run every notebook (or those whose name starts with one of ``only``) into ``output_dir``."""
    params = {**profile_parameters(profile), **overrides}
    if os.environ.get("STRICT", "").lower() in ("1", "true", "yes") and "strict" not in overrides:
        params["strict"] = True
    unknown = sorted(set(params) - declared_parameters())
    if unknown:
        raise ValueError(
            f"no notebook has a parameter named {', '.join(map(repr, unknown))}; "
            "see the parameters cells of notebooks/*.ipynb"
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(output_dir)
    done = []
    with _environment(progress.quiet_environment()):
        for nb in _selected(only):
            done.append(_execute(nb, profile, params, output_dir))
    return done


def remove_stale(output_dir: Path) -> list[str]:
    """Delete executed notebooks in ``output_dir`` that no source notebook has any more (one that
    was renumbered or removed): beside the note, a reader must find only this project's
    notebooks. Returns the names removed."""
    current = {nb.name for nb in notebooks()}
    stale = [p for p in output_dir.glob("[0-9][0-9]_*.ipynb") if p.name not in current]
    for path in stale:
        path.unlink()
    return sorted(p.name for p in stale)


def _selected(only: list[str] | None) -> list[Path]:
    return [nb for nb in notebooks() if not only or any(nb.name.startswith(o) for o in only)]


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the kernels started inside (restored afterwards)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kernel_config():
    """The notebook kernels' configuration: encrypted transport (``transport_encryption="auto"``:
    jupyter_client provisions CurveZMQ keys to kernels whose kernelspec declares it, as
    ipykernel's does) where pyzmq has CurveZMQ. ipykernel otherwise warns, once per notebook on
    the console, that the kernel "is running over TCP without encryption"; this removes the
    cause, not the message, so every other kernel warning and error still shows. Without CurveZMQ
    nothing changes (the warning, then true, stays)."""
    import zmq
    from traitlets.config import Config

    if not zmq.has("curve"):
        return Config()
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def _execute(nb: Path, profile: str, params: dict, output_dir: Path) -> Path:
    """Execute one notebook into ``output_dir`` with the parameters it declares."""
    declared = pm.inspect_notebook(str(nb))
    mine = {k: v for k, v in params.items() if k in declared}
    start = time.perf_counter()
    print(f"== {nb.name} ({profile}) {mine}", flush=True)
    try:
        pm.execute_notebook(
            str(nb),
            str(output_dir / nb.name),
            parameters=mine,
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
            config=kernel_config(),
        )
    except pm.PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{nb.name} stopped: {exc.ename}: {exc.evalue}\n"
            f"(full traceback in the executed copy: {output_dir / nb.name})"
        ) from None
    print(f"   done in {time.perf_counter() - start:.1f} s", flush=True)
    return output_dir / nb.name


def not_run(params_reports_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The candidates the last run skipped (its ``features.skipped``), with the reasons."""
    folder = NOTEBOOKS / (params_reports_dir or "../reports")
    path = Path(folder) / "metrics.json"
    if not path.exists():
        return {}
    import json

    return json.loads(path.read_text()).get("features", {}).get("skipped") or {}


def parse_overrides(pairs: list[list[str]] | None, yamls: list[str] | None) -> dict:
    """``-p name value`` pairs (values parsed as YAML) and ``-y`` YAML snippets, as one dict."""
    out = {}
    for name, value in pairs or []:
        out[name] = yaml.safe_load(value)
    for snippet in yamls or []:
        loaded = yaml.safe_load(snippet)
        if not isinstance(loaded, dict):
            raise ValueError(f"-y expects a YAML mapping, got {snippet!r}")
        out.update(loaded)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", help="profiles/<name>.yaml (full, smoke)")
    parser.add_argument("--output-dir", default=str(REPORTS))
    parser.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 05 06")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="override a notebook parameter (value read as YAML), e.g. -p seed 7",
    )
    parser.add_argument(
        "-y", "--yaml", action="append", help="overrides as a YAML mapping, e.g. -y 'seed: 7'"
    )
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.parameter, args.yaml)
    try:
        run(args.profile, args.output_dir, args.only, **overrides)
    except (NotebookFailed, ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from None
    skipped = not_run(overrides.get("reports_dir"))
    if skipped:
        print(f"\nNot run ({len(skipped)} candidates; the note lists them too):")
        by_reason: dict[str, list[str]] = {}
        for name, why in skipped.items():
            by_reason.setdefault(why, []).append(name)
        for why, names in by_reason.items():
            print(f"- {', '.join(names)}: {why}")


if __name__ == "__main__":
    main()
