"""Figures of the dataset and the split (notebooks 01-02)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ...data.catalog import load_image
from .style import _label, _left_out_note, _wrap, describe, shown_categories


# --------------------------------------------------------------------------- data (notebooks 01-02)
def category_counts(counts: pd.Series, max_categories: int | None = 30) -> plt.Figure:
    """Horizontal bars: usable images per category (the most frequent ``max_categories``)."""
    shown, left = shown_categories(counts, max_categories)
    data = counts[shown].sort_values()
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.32 * len(data) + 1)))
    data.plot.barh(ax=ax, color=sns.color_palette()[0])
    ax.set_yticks(range(len(data)), [_label(c, 30) for c in data.index])
    ax.set_xlabel("usable images")
    ax.set_ylabel("")
    for i, v in enumerate(data):
        ax.text(v, i, f" {v}", va="center")
    ax.set_xlim(0, data.max() * 1.12 if len(data) else 1)  # room for the counts inside the frame
    ax.grid(axis="y", visible=False)
    _left_out_note(fig, left)
    return describe(fig, categories=list(shown), left_out=list(left))


def example_grid(
    rows: pd.DataFrame,
    per_category: int = 4,
    seed: int = 0,
    side: int = 160,
    max_categories: int | None = 12,
) -> plt.Figure:
    """Example photos: one column per category (the most frequent ``max_categories``)."""
    labels, left = shown_categories(rows["label"].value_counts(), max_categories)
    n = len(labels)
    fig, axes = plt.subplots(
        per_category, n, figsize=(1.45 * n + 0.4, 1.5 * per_category + 0.6), squeeze=False
    )
    for c, label in enumerate(labels):
        group = rows[rows["label"] == label]
        picks = group.sample(min(per_category, len(group)), random_state=seed)
        for r in range(per_category):
            ax = axes[r, c]
            ax.axis("off")
            if r < len(picks):
                img = np.asarray(load_image(picks.iloc[r]["path"], max_side=side))
                h, w = img.shape[:2]
                s = max(h, w)  # centred in a square box: every cell, and so every title, aligns
                ax.imshow(img, extent=((s - w) / 2, (s + w) / 2, (s + h) / 2, (s - h) / 2))
                ax.set(xlim=(0, s), ylim=(s, 0))
            if r == 0:
                ax.set_title(_label(label, 14), fontsize=8)
    fig.tight_layout()
    _left_out_note(fig, left)
    return describe(fig, categories=list(labels), left_out=list(left), per_category=per_category)


def size_distribution(rows: pd.DataFrame) -> plt.Figure:
    """Width against height (log scales, one colour) and the longer side's histogram; the axes
    stop at the 99th percentile and the images beyond it are counted on the figure."""
    longer = rows[["width", "height"]].max(axis=1)
    limit = float(np.quantile(longer, 0.99)) * 1.15
    inside = (rows["width"] <= limit) & (rows["height"] <= limit)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.scatter(rows.loc[inside, "width"], rows.loc[inside, "height"], s=10, alpha=0.5)
    low = max(1.0, float(rows[["width", "height"]].min().min()) / 1.2)
    a.set(xscale="log", yscale="log", xlim=(low, limit), ylim=(low, limit))
    a.set(xlabel="width (px)", ylabel="height (px)", title=f"{len(rows)} images")
    a.plot([low, limit], [low, limit], color="#999999", lw=0.8, ls="--", label="square")
    a.legend(fontsize=8, loc="upper left")
    b.hist(longer.clip(upper=limit), bins=40, color=sns.color_palette()[0])
    b.set(xlabel="longer side (px)", ylabel="images", title="longer side")
    outside = rows[~inside]
    if len(outside):
        big = outside.assign(pixels=outside["width"] * outside["height"]).nlargest(1, "pixels")
        note = (
            f"{len(outside)} image(s) beyond the axes, the largest "
            f"{int(big['width'].iloc[0])}×{int(big['height'].iloc[0])} px (counted in the last bar)"
        )
        fig.text(0.5, -0.02, note, ha="center", va="top", fontsize=8)
    fig.tight_layout()
    return fig


def split_figure(counts: pd.DataFrame, max_categories: int | None = 30) -> plt.Figure:
    """The note's Figure 3: stacked bars of train / val / test images per category."""
    table = counts.drop(index="total", errors="ignore")
    shown, left = shown_categories(table.sum(axis=1), max_categories)
    table = table.loc[shown]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.35 * len(table) + 1.2)))
    table.plot.barh(stacked=True, ax=ax, color=sns.color_palette("Set2", 3))
    total = counts.loc["total"] if "total" in counts.index else table.sum()
    ax.set_title(
        "Images per category and split: " + ", ".join(f"{k} {v}" for k, v in total.items())
    )
    ax.set_xlabel("images")
    ax.set_ylabel("")
    ax.set_yticks(range(len(table)), [_label(c, 30) for c in table.index])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    for container in ax.containers:
        ax.bar_label(container, label_type="center", fontsize=8)
    _left_out_note(fig, left)
    return describe(fig, categories=list(shown), left_out=list(left))


def _pack(sizes: list[int], columns: int) -> list[list[int]]:
    """Group indices in lines of at most ``columns`` photos: each group, in order, on the first
    line with room for it (so small groups fill the gaps beside large ones)."""
    lines: list[list[int]] = []
    used: list[int] = []
    for k, n in enumerate(sizes):
        for line, width in zip(lines, used):
            if width + n <= columns:
                line.append(k)
                used[lines.index(line)] += n
                break
        else:
            lines.append([k])
            used.append(n)
    return lines


def duplicate_groups(
    rows: pd.DataFrame,
    groups: pd.DataFrame,
    max_groups: int = 6,
    side: int = 120,
    columns: int = 6,
) -> plt.Figure:
    """The largest near-duplicate groups (``members``: image names), each framed with its
    category and size above it; groups are packed side by side in lines of at most ``columns``
    photos, so that small groups fill the room beside large ones. Where a group spans several
    categories, each photo's category is written under it."""
    from matplotlib.patches import FancyBboxPatch

    shown = groups.head(max_groups)
    by_image = rows.set_index("image")
    members = [list(g["members"][:columns]) for _, g in shown.iterrows()]
    labels = [[str(by_image.loc[m, "label"]) for m in ms] for ms in members]
    lines = _pack([len(m) for m in members], columns) if len(shown) else []
    photo, inner, between, title, under = 1.45, 0.06, 0.4, 0.5, 0.45  # inches
    widths = [
        sum(len(members[k]) * (photo + inner) - inner for k in line) + between * (len(line) - 1)
        for line in lines
    ]
    mixed = [len(set(ls)) > 1 for ls in labels]
    heights = [title + photo + (under if any(mixed[k] for k in line) else 0.1) for line in lines]
    width = max(widths, default=photo) + 0.3
    height = sum(heights) + 0.55
    fig = plt.figure(figsize=(width, height))
    top = height - 0.5
    for line, h in zip(lines, heights):
        x = 0.15
        for k in line:
            n = len(members[k])
            w = n * (photo + inner) - inner
            y0 = top - title - photo  # inches from the bottom
            below = under if mixed[k] else 0.06  # room for each photo's category
            fig.patches.append(
                FancyBboxPatch(
                    (x / width - 0.04 / width, (y0 - below) / height),
                    (w + 0.08) / width,
                    (photo + title + below - 0.06) / height,
                    boxstyle="round,pad=0,rounding_size=0.01",
                    transform=fig.transFigure,
                    facecolor="#f2f2f2",
                    edgecolor="#cccccc",
                    lw=0.8,
                    zorder=-1,  # behind the photos
                )
            )
            g = shown.iloc[k]
            what = (
                _label(labels[k][0], 200) if not mixed[k] else f"{len(set(labels[k]))} categories"
            )
            more = f", {n} shown" if int(g["size"]) > n else ""
            fig.text(
                x / width,
                (top - 0.08) / height,
                _wrap(f"{what} · {int(g['size'])} photos{more}", int(w * 7.5)),
                fontsize=10.5,
                va="top",
                ha="left",
                gid=f"group:{k}",
            )
            for c, image in enumerate(members[k]):
                ax = fig.add_axes(
                    [(x + c * (photo + inner)) / width, y0 / height, photo / width, photo / height]
                )
                ax.set_zorder(1)
                ax.imshow(load_image(by_image.loc[image, "path"], max_side=side))
                ax.axis("off")
                if mixed[k]:
                    ax.text(
                        0.5,
                        -0.04,
                        _label(labels[k][c], 16),
                        transform=ax.transAxes,
                        ha="center",
                        va="top",
                        fontsize=9.5,
                    )
            x += w + between
        top -= h
    fig.suptitle(
        "Largest near-duplicate groups (framed: one group, kept on one side of the split)",
        fontsize=11,
        y=1 - 0.12 / height,
    )
    return describe(fig, shown=int(len(shown)), of=int(len(groups)))
