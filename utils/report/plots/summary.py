"""The note's headline chart (its summary): every candidate's test accuracy with its interval, the
original note's claims marked, the chosen candidate named.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ...evaluation.decision import ORIGINAL
from .style import READS, chance_line, describe

CHOSEN, OTHER, STAND_IN = "#b22222", "C0", "#9a9a9a"  # the chosen candidate, the others, stand-ins
NEUTRAL = "#444444"  # the legend's marker shapes: what a candidate reads, whatever its colour
BAND_ALPHA = 0.15
MARGIN = 0.03  # of the accuracy axis on each side


def _rows(ax, order, table, reads, stand, chosen) -> dict:
    """One candidate per row (accuracy with its interval, marker: what it reads); their colours."""
    colours = {}
    for row, name in enumerate(order):
        t = table[name]
        kind = reads.get(name)
        marker = READS[kind][1] if kind in READS else "o"
        colour = STAND_IN if name in stand else (CHOSEN if name == chosen else OTHER)
        colours[name] = colour
        ax.errorbar(
            t["accuracy"],
            row,
            xerr=[[t["accuracy"] - t["accuracy_low"]], [t["accuracy_high"] - t["accuracy"]]],
            fmt=marker,
            color=colour,
            capsize=3,
            ms=6,
        )
    labels = [
        f"{n}{' †' if n in stand else ''} [{READS[reads[n]][0] if reads.get(n) in READS else '?'}]"
        for n in order
    ]
    ax.set_yticks(np.arange(len(order)), labels)
    for tick, name in zip(ax.get_yticklabels(), order):
        if name == chosen:
            tick.set_fontweight("bold")
            tick.set_color(CHOSEN)
    return colours


def _bands(ax, claims, top: float) -> list:
    """The original note's accuracy claims as shaded bands (value ± tolerance), named at ``top``."""
    bands = []
    for k, c in enumerate(claims):
        low, high = c["value"] - c["tolerance"], c["value"] + c["tolerance"]
        colour = f"C{k + 2}"
        ax.axvspan(low, high, color=colour, alpha=BAND_ALPHA, lw=0)
        name = c["claim"].split(":")[0]
        ax.text(
            c["value"],
            top,
            name.replace(" head", "\nhead"),
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=colour,
            weight="bold",
        )
        bands.append(
            Patch(
                facecolor=colour,
                alpha=BAND_ALPHA,
                lw=0,
                label=f"original note: {name} {c['value']:.0%} ± {100 * c['tolerance']:.0f} points",
            )
        )
    return bands


def headline(evaluation: dict) -> plt.Figure:
    """Every candidate's test accuracy with its 95% interval, best on top (marker: what it reads;
    grey and a dagger: stand-in weights), chance dotted, the chosen candidate in bold. The
    original note's accuracy claims (its value ± the tolerance they are read with) are about
    photos: they are shaded in the panel of the candidates that read the photo only; the
    candidates that read the text (or text and photo) have their own panel, without them, so no
    text candidate is ever drawn against a photo claim. ``evaluation``: the ``evaluation`` record
    of ``metrics.json``."""
    table = evaluation["table"]
    reads, stand = evaluation.get("reads", {}), set(evaluation.get("stand_in") or [])
    rec = evaluation.get("recommendation") or {}
    chosen = rec.get("candidate")
    n_classes = len(evaluation["classes"])
    by_accuracy = sorted(table, key=lambda n: table[n]["accuracy"])
    photo = [n for n in by_accuracy if reads.get(n) == "image"]
    other = [n for n in by_accuracy if reads.get(n) != "image"]
    panels = [(p, t) for p, t in ((photo, "photo"), (other, "other")) if p]
    heights = [len(p) + (1.2 if t == "photo" else 0.4) for p, t in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9, 0.36 * sum(heights) + 1.3 + 0.5 * len(panels)),
        layout="constrained",
        sharex=True,
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    claims = [c for c in ORIGINAL.values() if "value" in c]
    bands, colours = [], {}
    for ax, (order, kind) in zip(axes[:, 0], panels):
        if kind == "photo":
            bands = _bands(ax, claims, len(order) - 0.45)
            ax.set_title(
                "candidates that read the photo, beside the original note's photo claims",
                fontsize=9,
                loc="left",
            )
        else:
            ax.set_title(
                "candidates that read the text, alone or with the photo (the note's photo claims "
                "do not apply)",
                fontsize=9,
                loc="left",
            )
        colours.update(_rows(ax, order, table, reads, stand, chosen))
        chance_line(ax, 1 / n_classes, "x", label=f"chance (1/{n_classes})")
        ax.set_ylim(-0.6, len(order) - 0.4 + (0.9 if kind == "photo" else 0))
    ax = axes[-1, 0]
    ax.set(
        xlim=(-MARGIN, 1.0 + MARGIN),  # a marker at 0% or 100% shows whole
        xlabel="accuracy on the locked test split (95% cluster-bootstrap interval)",
    )
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    order = [n for p, _ in panels for n in p]
    # the legend says what is drawn: shapes (neutral) for what a candidate reads, colours for
    # whose interval it is, each band with its own colour and claim
    handles = [
        plt.Line2D(
            [], [], ls="", marker=READS[r][1], color=NEUTRAL, label=f"reads the {READS[r][0]}"
        )
        for r in READS
        if r in set(reads.get(n) for n in order)
    ]
    drawn = set(colours.values())
    if CHOSEN in drawn:
        handles.append(plt.Line2D([], [], color=CHOSEN, lw=2, label=f"{rec.get('called')} (bold)"))
    if OTHER in drawn:
        handles.append(
            plt.Line2D(
                [],
                [],
                color=OTHER,
                lw=2,
                label="other candidates" + (" (no stand-in weights)" if stand else ""),
            )
        )
    if STAND_IN in drawn:
        handles.append(plt.Line2D([], [], color=STAND_IN, lw=2, label="† stand-in weights"))
    handles += bands
    handles += axes[0, 0].get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    return describe(
        fig,
        legend=[h.get_label() for h in handles],
        names=[n for p, _ in panels for n in p[::-1]],
        photo=photo[::-1],
        other=other[::-1],
        chosen=chosen,
        called=rec.get("called"),
        stand_in=sorted(stand & set(order)),
        claims=[c["claim"].split(":")[0] for c in claims] if photo else [],
        exact=[
            n for n in order if str(table[n].get("accuracy_interval", "")).startswith("Clopper")
        ],
    )
