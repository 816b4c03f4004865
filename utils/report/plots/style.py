"""The figures' shared look, so that every figure reads alike at the note's width.

Accuracy axes run from 0 to 1 with chance (1 / number of classes) as a dotted line; loss axes start
at 0 with the loss of a uniform guess (ln of the number of classes) dotted; panels of one figure
share their axes and one legend; every colour map has a colour bar saying what its colours mean;
panel figures show what each candidate reads (photo, text, both). Figures with one panel per
category show at most ``max_categories`` categories (the most frequent) and name the ones left
out. ``save_figure`` names a figure from the registry (``utils.report.figures``), stamps the run
that drew it, and marks, inside the image, every figure drawn from stand-in encoders.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..figures import CAPTION_KEY, RUN_KEY, get

READS = {"image": ("photo", "o"), "text": ("text", "s"), "image+text": ("photo + text", "D")}
CHANCE_STYLE = dict(color="#555555", ls=":", lw=1.2)
DIVERGING = "RdBu_r"  # red: pushes towards the explained class, blue: away from it


def describe(fig: plt.Figure, **facts) -> plt.Figure:
    """Attach to ``fig`` what it shows (the candidates drawn, how many items of how many...):
    its caption is written from these facts (``prose.caption``), so a caption never speaks of
    what the run did not draw. Returns ``fig``."""
    fig.facts = {**getattr(fig, "facts", {}), **facts}
    return fig


def facts_of(fig: plt.Figure) -> dict:
    return dict(getattr(fig, "facts", {}))


def save_figure(
    fig: plt.Figure,
    key: str,
    figures_dir: str | os.PathLike,
    stand_in: str | None = None,
    run_id: str | None = None,
    caption: str | None = None,
) -> Path:
    """Save ``fig`` as ``<figures_dir>/<registered name>.png`` (150 dpi, tight).

    ``key`` must be registered in ``utils.report.figures``. ``stand_in``: a short description of
    the run's stand-in encoders (e.g. "tiny random CLIP and VGG16"); figures drawn from encoder
    outputs then carry a visible mark saying their numbers are stand-ins. ``run_id`` and
    ``caption`` are stamped in the PNG (``figures.run_of``, ``figures.caption_of``): the note shows
    only the figures of its own run, each with the caption written when it was drawn.
    """
    figure = get(key)
    if stand_in and figure.encoders:
        mark_stand_in(fig, stand_in)
    path = Path(figures_dir) / f"{figure.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {k: v for k, v in ((RUN_KEY, run_id), (CAPTION_KEY, caption)) if v} or None
    fig.savefig(path, dpi=150, bbox_inches="tight", metadata=metadata)
    return path


def mark_stand_in(fig: plt.Figure, stand_in: str) -> None:
    """A red line above the figure: its encoder numbers are stand-ins, not CLIP's or VGG16's."""
    fig.canvas.draw()  # lays the figure out (constrained layout too), then freezes it
    fig.set_layout_engine("none")
    top = fig.get_tightbbox(fig.canvas.get_renderer()).y1 / fig.get_figheight()  # inches / inches
    fig.text(
        0.5,
        top + 0.15 / fig.get_figheight(),
        f"STAND-IN WEIGHTS ({stand_in}): encoder numbers here say nothing about CLIP or VGG16",
        ha="center",
        va="bottom",
        fontsize=9,
        color="white",
        weight="bold",
        bbox=dict(boxstyle="square,pad=0.35", fc="#b22222", ec="none"),
    )


def shown_categories(counts: pd.Series, max_categories: int | None) -> tuple[list[str], list[str]]:
    """``(shown, left_out)``: the ``max_categories`` most frequent categories (ties
    alphabetical), the rest."""
    order = sorted(counts.index, key=lambda c: (-counts[c], c))
    if not max_categories or len(order) <= max_categories:
        return sorted(order), []
    return sorted(order[:max_categories]), sorted(order[max_categories:])


def _left_out_note(fig: plt.Figure, left_out: list[str]) -> None:
    if left_out:
        names = ", ".join(left_out[:8]) + (
            f" and {len(left_out) - 8} more" if len(left_out) > 8 else ""
        )
        fig.text(
            0.01,
            -0.01,
            f"Not shown ({len(left_out)} less frequent categories): {names}",
            fontsize=7,
            va="top",
        )


def _wrap(text: str, width: int) -> str:
    """``text`` wrapped to lines of about ``width`` characters; nothing is cut (a word longer
    than ``width`` stays whole on its own line)."""
    return "\n".join(
        textwrap.wrap(str(text), width, break_long_words=False, break_on_hyphens=False)
    ) or str(text)


def _label(label: str, width: int = 22) -> str:
    """A category's name as figures show it: the last level of a category path (``A >> B``:
    ``B``), wrapped to lines of about ``width`` characters, never cut."""
    return _wrap(str(label).split(">>")[-1].strip(), width)


def _lines(text: str, width: int, max_lines: int = 3) -> str:
    """Free text (a product's name) wrapped to at most ``max_lines`` lines of about ``width``
    characters; only beyond ``max_lines`` lines is the rest left out, ending in "…"."""
    lines = textwrap.wrap(" ".join(str(text).split()), width, break_on_hyphens=False)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        lines = lines[: max_lines - 1] + [
            (last if len(last) < width else last[: width - 1].rstrip()) + "…"
        ]
    return "\n".join(lines)


def chance_line(ax: plt.Axes, value: float, axis: str = "x", label: str | None = None) -> None:
    """A dotted line at chance: accuracy 1/C (``axis="x"`` for horizontal bars) or loss ln C."""
    draw = ax.axvline if axis == "x" else ax.axhline
    draw(value, label=label, **CHANCE_STYLE)


def reads_label(name: str, reads: dict[str, str]) -> str:
    """``name [photo]``, ``name [text]`` or ``name [photo + text]``."""
    r = reads.get(name)
    return f"{name} [{READS[r][0]}]" if r in READS else name


def colorbar(fig: plt.Figure, mappable, ax, label: str, **kw) -> None:
    cb = fig.colorbar(mappable, ax=ax, fraction=kw.pop("fraction", 0.046), pad=0.02, **kw)
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)


def _one_legend(fig: plt.Figure, axes, **kw) -> None:
    """One legend for the whole figure, from the first axes' handles (duplicates dropped)."""
    seen: dict[str, object] = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    if seen:
        fig.legend(
            list(seen.values()),
            list(seen),
            loc=kw.pop("loc", "lower center"),
            ncol=kw.pop("ncol", min(len(seen), 4)),
            fontsize=kw.pop("fontsize", 8),
            frameon=False,
            **kw,
        )


def show_array(ax: plt.Axes, image: np.ndarray, title: str = "", fontsize: float = 8) -> None:
    ax.imshow(image)
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


def _loss_limit(values, n_classes: int) -> float:
    """Top of a loss axis: the data's largest finite value or the uniform guess, whichever is
    higher."""
    flat = (
        np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])
        if len(values)
        else []
    )
    finite = [float(v) for v in flat if np.isfinite(v)]
    return 1.08 * max([np.log(n_classes), *finite])
