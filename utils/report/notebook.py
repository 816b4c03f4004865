"""One executed notebook's bookkeeping: its banner, its figures and its record in the metrics file.

Every notebook starts with ``nb = notebook.start("03", globals())`` right after its parameters:

- the banner, the notebook's first output: stand-in weights (random or tiny encoders: their
  numbers are stand-ins), candidates this run could not run and why, and, once notebook 03 has
  checked it, a loaded CLIP that does not behave like a pretrained one;
- ``nb.figure(fig, key)`` saves a registered figure (``utils.figures``), marked inside the image
  when it is drawn from stand-in encoders;
- ``nb.record(section, values)`` writes the notebook's section of ``reports/metrics.json``, stamped
  with the run, the profile, the seed and the split;
- ``nb.models(names)``: the candidates of ``names`` that this run can run (notebook 03 decides);
- ``nb.params``: the notebook's parameters, which the studies read their knobs from.

Notebook 01 starts a new run (a fresh metrics file); the others join the current one.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..core import runs, timing
from ..models import candidates
from . import figures, formatting, plots, prose

PARAMETERS = (
    "profile",
    "seed",
    "figures_dir",
    "reports_dir",
    "clip_model",
    "vgg_weights",
    "models",
)


@dataclass
class Session:
    number: str
    profile: str
    seed: int
    figures_dir: Path
    reports_dir: Path
    weights: dict[str, str | None]
    names: list[str] | None = None
    params: dict = field(default_factory=dict)  # the notebook's parameters cell, as it ran
    banner: str = ""
    timer: timing.Recorder = field(default_factory=timing.Recorder)

    @property
    def metrics_path(self) -> Path:
        return self.reports_dir / "metrics.json"

    def metrics(self) -> dict:
        return runs.load(self.metrics_path) if self.metrics_path.exists() else {}

    @property
    def pretrained_check(self) -> dict | None:
        """Notebook 03's check of the loaded CLIP, once this run has recorded it."""
        m = self.metrics()
        features, run = m.get("features") or {}, m.get("run") or {}
        if features.get("run_id") is None or features.get("run_id") != run.get("id"):
            return None
        return features.get("pretrained_check")

    @property
    def stand_ins(self) -> dict[str, str]:
        """``{encoder kind: what}`` for the stand-in encoders this notebook's candidates read:
        random or tiny weights, or a CLIP that failed notebook 03's pretrained check."""
        stand = runs.stand_ins(self.weights, self.pretrained_check)
        if self.names is not None:
            stand = {k: v for k, v in stand.items() if k in candidates.encoder_kinds(self.names)}
        return stand

    @property
    def stand_in(self) -> str | None:
        return runs.stand_in_text(self.stand_ins)

    def stand_in_candidates(self, names: list[str]) -> set[str]:
        """The candidates of ``names`` whose numbers are stand-ins (they read stand-in encoders,
        a CLIP that failed the pretrained check included): excluded from the choice, their
        claims not measured."""
        return candidates.stand_in_candidates(
            names, runs.stand_ins(self.weights, self.pretrained_check)
        )

    def figure(self, fig, key: str, candidates: list[str] | None = None, **facts) -> Path:
        """Save the registered figure ``key`` with its caption, written from what it drew
        (``plots.describe``, and ``facts`` the cell adds) by ``prose.caption``, and show both,
        numbered as in the note. Marked when drawn from stand-in encoders: those of this
        notebook's candidates, or of ``candidates`` when the figure shows only them."""
        stand = self.stand_in
        if candidates is not None:
            stand = stand if self.stand_in_candidates(candidates) else None
        caption = prose.caption(key, {**plots.facts_of(fig), **facts})
        with timing.step("figures"):
            run_id = self.metrics().get("run", {}).get("id")
            path = plots.save_figure(
                fig, key, self.figures_dir, stand_in=stand, run_id=run_id, caption=caption
            )
        _show_figure(fig, f"*{figures.get(key).label}. {figures.get(key).with_origin(caption)}*")
        return path

    def record(self, section: str, values: dict, split_id: str | None = None) -> dict:
        """Write ``values`` as this notebook's ``section`` of the metrics file, with where the
        notebook's time went so far (``timings``: the steps ``utils.timing`` recorded)."""
        stamped = {
            "profile": self.profile,
            "seed": self.seed,
            **values,
            "timings": self.timer.to_dict(),
        }
        return runs.record(self.metrics_path, section, stamped, split_id=split_id)

    def notes(self):
        """A context whose warnings are shown as a "Notes" list (``notebook.notes``)."""
        return notes()

    def models(self, names: list[str]) -> list[str]:
        """``names`` without the candidates notebook 03 could not run (their inputs are missing)."""
        skipped = self.metrics().get("features", {}).get("skipped", {})
        return [n for n in names if n not in skipped]


def start(number: str, params: dict, show: bool = True) -> Session:
    """The session of notebook ``number`` from its parameters (``globals()``); shows the banner."""
    formatting.setup_display()
    p = {k: params.get(k) for k in PARAMETERS}
    session = Session(
        number=number,
        profile=p["profile"] or "full",
        seed=int(p["seed"] if p["seed"] is not None else 0),
        figures_dir=Path(p["figures_dir"] or "../figures"),
        reports_dir=Path(p["reports_dir"] or "../reports"),
        weights={"clip": p["clip_model"], "vgg16": p["vgg_weights"]},
        names=list(p["models"]) if p["models"] is not None else None,
        params=parameters(params),
    )
    session.timer.start()
    if number == "01":  # a new run: an earlier run's figures must not pass for this one's
        figures.remove_drawn(session.figures_dir)
        runs.start(
            session.metrics_path,
            session.profile,
            session.seed,
            weights=session.weights,
            stand_ins=runs.stand_ins(session.weights),
        )
    else:
        run = session.metrics().get("run", {})
        for kind, name in (run.get("weights") or {}).items():
            if session.weights.get(kind) is None:
                session.weights[kind] = name
    session.banner = prose.banner(
        session.number, session.metrics(), session.stand_ins, session.names
    )
    if show and session.banner:
        _display_markdown(session.banner)
    return session


IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}
PLAIN = (str, int, float, bool, type(None), list, dict, tuple)


def parameters(names: dict) -> dict:
    """The notebook's parameters from its ``globals()`` right after the parameters cell: the
    plain values (strings, numbers, lists, dicts), not the modules, functions or IPython's own
    names. Studies read their knobs from here (``nb.params``), so no cell passes ``globals()``."""
    return {
        k: v
        for k, v in names.items()
        if not k.startswith("_") and k not in IPYTHON_NAMES and isinstance(v, PLAIN)
    }


def show(text: str) -> None:
    """Show generated Markdown (a sentence written from the run's numbers) as cell output."""
    if text:
        _display_markdown(text)


def show_table(df, **formats) -> None:
    """Show ``df`` formatted for reading (``formatting.table``: ``percent=[...]``, ...)."""
    try:
        from IPython.display import display

        display(formatting.table(df, **formats))
    except ImportError:
        print(formatting.table(df, **formats).to_string())


def _show_figure(fig, caption: str) -> None:
    """The figure, then its caption, in the notebook's output (closed afterwards, so the inline
    backend does not show it a second time)."""
    import matplotlib.pyplot as plt

    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(fig)
            _display_markdown(caption)
    except ImportError:
        pass
    plt.close(fig)


def _display_markdown(text: str) -> None:
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # outside IPython: print it
        print(text)


@contextlib.contextmanager
def notes():
    """Warnings raised inside become a "Notes" list in the notebook's output (not stderr): what a
    reader must know (a file count, another CSV) stays visible, formatted like the rest."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    shown = [
        w
        for w in caught
        if issubclass(w.category, (UserWarning, RuntimeWarning))
        and not issubclass(w.category, (DeprecationWarning, FutureWarning))
    ]
    texts = list(dict.fromkeys(str(w.message) for w in shown))
    if texts:
        _display_markdown("**Notes.**\n\n" + "\n".join(f"- {t}" for t in texts))
