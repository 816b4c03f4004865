"""Figures of the note. Helpers only draw what was computed elsewhere; ``save_figure`` names them.

Every figure is saved under ``figures/figNN_<what>.png``, the number being the note's figure number.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .data import load_image

sns.set_theme(style="whitegrid", context="notebook")


def save_figure(fig: plt.Figure, name: str, figures_dir: str | os.PathLike) -> Path:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` (150 dpi, tight) and return the path."""
    path = Path(figures_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def category_counts(counts: pd.Series) -> plt.Figure:
    """Horizontal bars: usable images per category."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    counts.sort_values().plot.barh(ax=ax, color=sns.color_palette()[0])
    ax.set_xlabel("usable images")
    ax.set_ylabel("")
    for i, v in enumerate(counts.sort_values()):
        ax.text(v, i, f" {v}", va="center")
    return fig


def example_grid(rows: pd.DataFrame, per_category: int = 4, seed: int = 0, side: int = 160) -> plt.Figure:
    """A grid of example photos: one row per category, ``per_category`` images each."""
    labels = sorted(rows["label"].unique())
    fig, axes = plt.subplots(len(labels), per_category, figsize=(1.9 * per_category, 1.9 * len(labels)),
                             squeeze=False)
    for r, label in enumerate(labels):
        group = rows[rows["label"] == label]
        picks = group.sample(min(per_category, len(group)), random_state=seed)
        for c in range(per_category):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c < len(picks):
                ax.imshow(load_image(picks.iloc[c]["path"], max_side=side))
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def size_distribution(rows: pd.DataFrame) -> plt.Figure:
    """Scatter of original width x height (log scales) with the longer side's histogram."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    sns.scatterplot(data=rows, x="width", y="height", hue="label", s=12, ax=a, legend=False)
    a.set(xscale="log", yscale="log", title="original size (px)")
    longer = rows[["width", "height"]].max(axis=1)
    sns.histplot(longer, bins=40, log_scale=True, ax=b)
    b.set(xlabel="longer side (px)", title="longer side")
    fig.tight_layout()
    return fig


def split_figure(counts: pd.DataFrame) -> plt.Figure:
    """The note's Figure 3: stacked bars of train / val / test images per category."""
    table = counts.drop(index="total", errors="ignore")
    fig, ax = plt.subplots(figsize=(8, 4))
    table.plot.barh(stacked=True, ax=ax, color=sns.color_palette("Set2", 3))
    total = counts.loc["total"] if "total" in counts.index else table.sum()
    ax.set_title("Images per category and split: " + ", ".join(f"{k} {v}" for k, v in total.items()))
    ax.set_xlabel("images")
    ax.set_ylabel("")
    ax.legend(loc="lower right")
    for container in ax.containers:
        ax.bar_label(container, label_type="center", fontsize=8)
    return fig


def duplicate_groups(rows: pd.DataFrame, groups: pd.DataFrame, max_groups: int = 6, side: int = 120) -> plt.Figure:
    """The largest near-duplicate groups, one row each, with each image's label."""
    shown = groups.head(max_groups)
    width = int(min(6, shown["size"].max())) if len(shown) else 1
    fig, axes = plt.subplots(max(1, len(shown)), width, figsize=(1.8 * width, 1.9 * max(1, len(shown))),
                             squeeze=False)
    by_image = rows.set_index("image")
    for ax in axes.ravel():
        ax.axis("off")
    for r, (_, g) in enumerate(shown.iterrows()):
        for c, image in enumerate(g["images"][:width]):
            ax = axes[r, c]
            ax.imshow(load_image(by_image.loc[image, "path"], max_side=side))
            ax.set_title(by_image.loc[image, "label"][:18], fontsize=7)
    fig.suptitle("Largest near-duplicate groups (one row per group)", fontsize=10)
    fig.tight_layout()
    return fig


def show_array(ax: plt.Axes, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
