"""The template phrases' figure (notebook 06): each phrase's rate in each category's training
products, a heatmap with its colour bar.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .style import _label, _wrap, colorbar, describe


def template_rates(rates: pd.DataFrame, shown: int = 20, train_products: int | None = None):
    """Phrases (rows, the first ``shown`` of ``rates``) x categories (columns): the share of each
    category's training products whose text holds the phrase, written in each cell, on one colour
    scale from 0 to 1 (colour bar). ``train_products``: how many products the rates read (a fact
    for the caption)."""
    if rates.empty:
        raise ValueError("no template phrase to draw: the rule found none")
    if shown < 1:
        raise ValueError(f"shown must be at least 1, got {shown}")
    data = rates.iloc[:shown]
    values = data.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    fig, ax = plt.subplots(figsize=(2.6 + 0.85 * n_cols, 1.0 + 0.36 * n_rows), dpi=150)
    im = ax.imshow(values, cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            ax.text(
                j,
                i,
                f"{100 * v:.0f}%",
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if v > 0.6 else "black",
            )
    ax.set_xticks(np.arange(n_cols), [_label(c, 14) for c in data.columns], fontsize=7)
    ax.set_yticks(np.arange(n_rows), [_wrap(f"“{p}”", 38) for p in data.index], fontsize=7)
    ax.tick_params(axis="x", labelrotation=0)
    ax.grid(False)
    ax.set_xlabel("category (training products)", fontsize=8)
    colorbar(fig, im, ax, "share of the category's training products holding the phrase")
    fig.tight_layout()
    return describe(
        fig,
        phrases=n_rows,
        found=len(rates),
        categories=n_cols,
        train_products=train_products,
    )
