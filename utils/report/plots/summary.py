"""The note's headline chart (its summary): every candidate's test accuracy with its interval, the
original note's claims marked, the chosen candidate named.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ...evaluation.decision import ORIGINAL
from .style import READS, chance_line, describe


def headline(evaluation: dict) -> plt.Figure:
    """One row per candidate, best test accuracy on top: accuracy with its 95% interval (marker:
    what it reads; grey and a dagger: stand-in weights), the original note's accuracy claims as
    shaded bands (its value ± the tolerance the claims are read with), chance dotted, the chosen
    candidate in bold. ``evaluation``: the ``evaluation`` record of ``metrics.json``."""
    table = evaluation["table"]
    reads, stand = evaluation.get("reads", {}), set(evaluation.get("stand_in") or [])
    rec = evaluation.get("recommendation") or {}
    chosen = rec.get("candidate")
    n_classes = len(evaluation["classes"])
    order = sorted(table, key=lambda n: table[n]["accuracy"])
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(9, 0.36 * len(order) + 1.9), layout="constrained")
    claims = [c for c in ORIGINAL.values() if "value" in c]
    for k, c in enumerate(claims):
        low, high = c["value"] - c["tolerance"], c["value"] + c["tolerance"]
        ax.axvspan(low, high, color=f"C{k + 2}", alpha=0.15, lw=0)
        ax.text(
            c["value"],
            len(order) - 0.45,
            c["claim"].split(":")[0].replace(" head", "\nhead"),
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=f"C{k + 2}",
            weight="bold",
        )
    for row, name in enumerate(order):
        t = table[name]
        kind = reads.get(name)
        marker = READS[kind][1] if kind in READS else "o"
        colour = "#9a9a9a" if name in stand else ("#b22222" if name == chosen else "C0")
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
    ax.set_yticks(y, labels)
    for tick, name in zip(ax.get_yticklabels(), order):
        if name == chosen:
            tick.set_fontweight("bold")
            tick.set_color("#b22222")
    chance_line(ax, 1 / n_classes, "x", label=f"chance (1/{n_classes})")
    ax.set(
        xlim=(0, 1.0),
        ylim=(-0.6, len(order) + 0.5),
        xlabel="accuracy on the locked test split (95% cluster-bootstrap interval)",
    )
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    from matplotlib.patches import Patch

    handles = [
        plt.Line2D([], [], ls="", marker=READS[r][1], color="C0", label=READS[r][0])
        for r in READS
        if r in set(reads.values())
    ]
    if chosen:
        handles.append(Patch(color="#b22222", label=f"{rec.get('called')} (bold)"))
    if stand:
        handles.append(Patch(color="#9a9a9a", label="† stand-in weights"))
    handles.append(Patch(color="#999999", alpha=0.3, label="original note's claim ± tolerance"))
    handles += ax.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    return describe(
        fig,
        names=order[::-1],
        chosen=chosen,
        called=rec.get("called"),
        stand_in=sorted(stand & set(order)),
        claims=[c["claim"].split(":")[0] for c in claims],
    )
