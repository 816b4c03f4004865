"""Figures of the labels study (notebook 07): active-learning curves per candidate, and the gallery
of products whose label looks wrong (in the manner of fastai's top losses).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator, NullLocator

from ...data.catalog import load_image
from ...models.candidates import CANDIDATES
from .style import _one_legend, chance_line, describe, reads_label

BASELINE = "random"
READS_OF = {n: c.reads for n, c in CANDIDATES.items()}


def _label(strategy: str, start: str) -> str:
    return strategy if start == "labels" else f"{strategy} (zero-shot start)"


def apart(ticks: list[int], ratio: float = 1.3) -> list[int]:
    """The label counts to tick on a log axis: the last one always, then, going down, each one at
    least ``ratio`` times below the last kept (so that horizontal tick labels never collide)."""
    kept: list[int] = []
    for t in sorted(ticks, reverse=True):
        if not kept or kept[-1] >= ratio * t:
            kept.append(t)
    return sorted(kept)


def active_learning(
    curves: pd.DataFrame,
    full: dict[str, float],
    share: float,
    n_classes: int,
    reads: dict[str, str] | None = None,
) -> plt.Figure:
    """Test accuracy against labels (training + validation, log scale) per strategy, one panel
    per candidate: the mean over seeds (line) and its min-max (band), random dashed in grey
    beside the others; the full-data accuracy (solid) and ``share`` of it (dashed); chance
    dotted."""
    names = list(dict.fromkeys(curves["candidate"]))
    cols = min(2, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.0 * cols, 3.7 * rows + 0.6), sharey=True, squeeze=False
    )
    labels_seen = [k for k in dict.fromkeys(zip(curves["strategy"], curves["start"]))]
    others = [k for k in labels_seen if k != (BASELINE, "labels")]
    colours = dict(zip(others, sns.color_palette("colorblind", len(others))))
    for ax, name in zip(axes.ravel(), names):
        part = curves[curves["candidate"] == name]
        for (strategy, start), line in part.groupby(["strategy", "start"], sort=False):
            line = line.sort_values("round")
            x = line["labels"].to_numpy(float)
            base = (strategy, start) == (BASELINE, "labels")
            colour = "#777777" if base else colours[(strategy, start)]
            style = "--" if base else (":" if start != "labels" else "-")
            ax.plot(
                x,
                line["mean"],
                ls=style,
                marker="o",
                ms=3,
                lw=1.6,
                color=colour,
                label=_label(strategy, start),
                zorder=3 if not base else 2,
            )
            if line["count"].max() > 1:
                ax.fill_between(x, line["min"], line["max"], color=colour, alpha=0.13, lw=0)
        if name in full:
            ax.axhline(full[name], color="k", lw=1.0, label="all training and validation labels")
            ax.axhline(share * full[name], color="k", lw=1.0, ls="--", label=f"{share:.0%} of it")
        chance_line(ax, 1 / n_classes, "y", label=f"chance (1/{n_classes})")
        ticks = apart(sorted({int(round(v)) for v in part["labels"] if v > 0}))
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(t) for t in ticks], fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.set_title(reads_label(name, reads or READS_OF), fontsize=10)
        ax.set_xlabel("labels (training + validation), log scale", fontsize=9)
        ax.tick_params(axis="y", labelsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy", fontsize=9)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.suptitle(
        "Which products to label: test accuracy against labels (line: mean over seeds, band: "
        "min-max)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.1 if rows == 1 else 0.06, 1, 1))
    _one_legend(fig, axes, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 0.0))
    return fig


COLUMNS = (
    ("photo", 0.95),
    ("product name", 3.2),
    ("given label", 1.6),
    ("suggested label", 1.6),
    ("confidence", 0.9),
    ("flagged by", 1.35),
)


def _lines(text: str, width: int) -> str:
    """``text`` wrapped at spaces only (never inside a word or at a hyphen), never cut."""
    import textwrap

    return "\n".join(
        textwrap.wrap(str(text), width, break_on_hyphens=False, break_long_words=False)
    )


ORDER = (
    "likely errors before taxonomy boundaries, then flagged by more candidates, then by "
    "confidence (highest first)"
)


def label_issues(table: pd.DataFrame, shown: int = 12, side: int = 160) -> plt.Figure:
    """The flagged products, one row each, in fixed columns: photo, name (wrapped, never cut),
    given label, suggested label, the out-of-fold probability of the suggested one, the audits
    that flagged it; "n of N shown" above. Rows are drawn flagged by more candidates first
    (``votes``, else the number of names in ``flagged_by``), then by confidence, highest first,
    whatever order ``table`` comes in; the facts say so (``order``)."""
    table = table.copy()
    if len(table):
        if "votes" not in table:
            table["votes"] = [
                len([n for n in str(v).split(", ") if n]) for v in table.get("flagged_by", "")
            ]
        if "kind" not in table:
            table["kind"] = "likely error"
        table["error_first"] = (table["kind"] == "likely error").astype(int)
        table = table.sort_values(
            ["error_first", "votes", "confidence"], ascending=False, kind="stable"
        )
    rows = table.head(shown)
    widths = [w for _, w in COLUMNS]
    names = []
    for _, r in rows.iterrows():
        text = _lines(r.get("product_name", ""), 44)
        path = " >> ".join(str(r.get("category_path") or "").split(" >> ")[:3])
        if path:
            text += "\n" + _lines(path, 50)
        if str(r.get("uniq_id") or ""):
            text += f"\nid {r['uniq_id']}"
        names.append(text)
    cells = [
        [
            names[i],
            _lines(r["given"], 18)
            + ("\n(taxonomy\nboundary)" if r.get("kind") == "taxonomy boundary" else ""),
            _lines(r["suggested"], 18),
            f"{r['confidence']:.2f}",
            "\n".join(str(r.get("flagged_by", "")).split(", ")),
        ]
        for i, (_, r) in enumerate(rows.iterrows())
    ]
    heights = [max(0.85, 0.14 * max(c.count("\n") + 1 for c in row) + 0.3) for row in cells]
    heights = heights or [0.6]
    head, title = 0.35, 0.55
    height = title + head + sum(heights)
    fig = plt.figure(figsize=(sum(widths) + 0.2, height))
    grid = fig.add_gridspec(
        len(heights) + 1,
        len(COLUMNS),
        width_ratios=widths,
        height_ratios=[head, *heights],
        wspace=0.08,
        hspace=0.0,
        left=0.01,
        right=0.99,
        bottom=0.0,
        top=1 - title / height,
    )
    for c, (name, _) in enumerate(COLUMNS):
        ax = fig.add_subplot(grid[0, c])
        ax.axis("off")
        ax.text(0, 0.3, name, fontsize=8.5, weight="bold", va="bottom")
    if rows.empty:
        ax = fig.add_subplot(grid[1, :])
        ax.axis("off")
        ax.text(0, 0.5, "No label was flagged.", fontsize=9)
    for r, ((_, row), texts) in enumerate(zip(rows.iterrows(), cells), start=1):
        line = fig.add_subplot(grid[r, :], frameon=False)
        line.set_xticks([])
        line.set_yticks([])
        line.set_ylim(0, 1)
        line.axhline(0, color="#d0d0d0", lw=0.6)
        axes = [fig.add_subplot(grid[r, c]) for c in range(len(COLUMNS))]
        for ax in axes:
            ax.axis("off")
        if isinstance(row.get("path"), str) and row["path"]:
            try:
                axes[0].imshow(load_image(row["path"], max_side=side))
            except (OSError, ValueError):
                axes[0].text(0, 0.5, "photo\nunreadable", fontsize=7, va="center")
        for c, (ax, text) in enumerate(zip(axes[1:], texts), start=1):
            colour = "#b22222" if COLUMNS[c][0] == "suggested label" else "#222222"
            if c == 1 and "\n" in text:  # the name in black, its path and id in grey below
                name_lines = _lines(row.get("product_name", ""), 44).count("\n") + 1
                lines = text.split("\n")
                ax.text(
                    0,
                    0.5,
                    "\n".join(lines[:name_lines]) + "\n" * (len(lines) - name_lines),
                    fontsize=8,
                    va="center",
                    ha="left",
                    color=colour,
                    linespacing=1.2,
                )
                ax.text(
                    0,
                    0.5,
                    "\n" * name_lines + "\n".join(lines[name_lines:]),
                    fontsize=7,
                    va="center",
                    ha="left",
                    color="#777777",
                    linespacing=1.2 * 8 / 7,
                )
                continue
            ax.text(0, 0.5, text, fontsize=8, va="center", ha="left", color=colour, linespacing=1.2)
    fig.text(
        0.01,
        1 - 0.12 / height,
        f"Labels that look wrong: {len(rows)} of {len(table)} flagged products shown, {ORDER}"
        "\n(confidence: the out-of-fold probability of the suggested label from the first "
        "candidate named; grey lines: category path and product id)",
        fontsize=9.5,
        va="top",
        ha="left",
    )
    return describe(
        fig,
        shown=int(len(rows)),
        of=int(len(table)),
        order=ORDER,
        votes=[int(v) for v in rows.get("votes", [])],
    )
