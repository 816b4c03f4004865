"""Figures of the dataset and the split (notebooks 01-02)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ...data.catalog import load_image
from .style import _label, _left_out_note, describe, shown_categories


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
                ax.imshow(load_image(picks.iloc[r]["path"], max_side=side))
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


def duplicate_groups(
    rows: pd.DataFrame, groups: pd.DataFrame, max_groups: int = 6, side: int = 120
) -> plt.Figure:
    """The largest near-duplicate groups (``members``: image names), one row each, with each image's
    label."""
    shown = groups.head(max_groups)
    width = int(min(6, shown["size"].max())) if len(shown) else 1
    fig, axes = plt.subplots(
        max(1, len(shown)), width, figsize=(1.8 * width, 1.9 * max(1, len(shown))), squeeze=False
    )
    by_image = rows.set_index("image")
    for ax in axes.ravel():
        ax.axis("off")
    for r, (_, g) in enumerate(shown.iterrows()):
        for c, image in enumerate(g["members"][:width]):
            ax = axes[r, c]
            ax.imshow(load_image(by_image.loc[image, "path"], max_side=side))
            ax.set_title(_label(by_image.loc[image, "label"], 18), fontsize=7)
    fig.suptitle("Largest near-duplicate groups (one row per group)", fontsize=10)
    fig.tight_layout()
    return describe(fig, shown=int(len(shown)), of=int(len(groups)))
