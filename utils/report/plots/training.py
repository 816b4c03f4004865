"""Figures of the features and the training (notebooks 03-04): feature maps, augmented views,
learning and loss curves, the optimisers, the two pipelines.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from .style import _label, _loss_limit, _one_legend, chance_line, describe, show_array


# --------------------------------------------------------------------------- features and training
# (03-04)
def feature_maps(matrices: dict[str, np.ndarray], labels: pd.Series, seed: int = 0) -> plt.Figure:
    """t-SNE of each encoder's features (standardised), coloured by category."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    fig, axes = plt.subplots(
        1, max(1, len(matrices)), figsize=(6 * max(1, len(matrices)), 5), squeeze=False
    )
    hue = labels.map(lambda c: _label(c, 24)).to_numpy()
    for k, (ax, (name, X)) in enumerate(zip(axes[0], matrices.items())):
        perplexity = min(30.0, (len(X) - 1) / 3)
        xy = TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(
            StandardScaler().fit_transform(X)
        )
        sns.scatterplot(
            x=xy[:, 0],
            y=xy[:, 1],
            hue=hue,
            hue_order=sorted(set(hue)),
            s=14,
            ax=ax,
            legend=k == len(matrices) - 1,
        )
        ax.set(title=f"{name} features (t-SNE)", xticks=[], yticks=[])
    if matrices and axes[0, -1].get_legend():
        axes[0, -1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return describe(fig, sources=list(matrices))


def augmentation_views(
    originals: list[np.ndarray], views: list[list[np.ndarray]], titles: list[str]
) -> plt.Figure:
    """Each training photo (as the model sees it) followed by its augmented views."""
    cols = 1 + max(len(v) for v in views)
    fig, axes = plt.subplots(
        len(originals), cols, figsize=(1.9 * cols, 2.0 * len(originals)), squeeze=False
    )
    for r, (image, vs, title) in enumerate(zip(originals, views, titles)):
        for ax in axes[r]:
            ax.axis("off")
        show_array(axes[r, 0], image, f"{_label(title, 20)}\n(photo)")
        for c, v in enumerate(vs, start=1):
            show_array(axes[r, c], v, f"view {c}")
    fig.tight_layout()
    return describe(fig, photos=len(originals), views=cols - 1)


def learning_curves(
    histories: dict[str, pd.DataFrame], best_epochs: dict[str, int], n_classes: int
) -> plt.Figure:
    """Loss (top row) and accuracy (bottom row) per epoch, train vs validation, one column per
    model; rows share their axes (loss from 0, accuracy 0 to 1, chance dotted), one legend."""
    names = list(histories)
    n = max(1, len(names))
    fig, axes = plt.subplots(2, n, figsize=(3.1 * n + 0.6, 5.6), squeeze=False, sharex="col")
    top = _loss_limit(
        [h[c] for h in histories.values() for c in ("train_loss", "val_loss")], n_classes
    )
    for col, name in enumerate(names):
        h = histories[name]
        for r, (metric, label) in enumerate((("loss", "cross-entropy"), ("acc", "accuracy"))):
            ax = axes[r, col]
            ax.plot(h["epoch"], h[f"train_{metric}"], "o--", ms=3, label="training")
            ax.plot(h["epoch"], h[f"val_{metric}"], "o-", ms=3, label="validation")
            ax.axvline(best_epochs[name], color="grey", ls="--", lw=1, label="epoch kept")
            chance = np.log(n_classes) if metric == "loss" else 1 / n_classes
            chance_line(ax, chance, "y", label="chance (uniform guess)")
            ax.set_ylim(0, top if metric == "loss" else 1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if col == 0:
                ax.set_ylabel(label)
            else:
                ax.tick_params(labelleft=False)
            if r == 0:
                ax.set_title(f"{name}\n(kept: epoch {best_epochs[name]})", fontsize=9)
            else:
                ax.set_xlabel("epoch")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    _one_legend(fig, axes)
    return describe(fig, names=names)


def panel_grid(n: int) -> tuple[int, int]:
    """``(rows, columns)`` for ``n`` panels: one row up to three, else the grid of two to four
    columns with the fewest empty cells, then the squarest, then the widest."""
    if n <= 3:
        return 1, max(1, n)
    rows = lambda c: -(-n // c)  # noqa: E731
    cols = min((2, 3, 4), key=lambda c: (rows(c) * c - n, abs(rows(c) - c), -c))
    return rows(cols), cols


def loss_curves(
    histories: dict[str, pd.DataFrame],
    best_epochs: dict[str, int],
    n_classes: int,
    cols: int | None = None,
) -> plt.Figure:
    """Training (dashed) and validation (solid) loss per epoch, one panel per model (one row up to
    three panels, else a grid without empty rows, unused cells hidden), the loss axis shared by
    all panels (from 0, the uniform guess dotted), each panel's epochs on its own integer axis,
    the kept epoch marked (vertical line and star on the validation curve), one legend.
    ``cols``: force the number of columns."""
    names = list(histories)
    n_rows, n_cols = panel_grid(len(names))
    if cols:
        n_cols = min(cols, max(1, len(names)))
        n_rows = -(-max(1, len(names)) // n_cols)
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(2.9 * n_cols + 0.5, 2.5 * n_rows + 0.7),
        squeeze=False,
        sharey=True,
    )
    top = _loss_limit(
        [h[c] for h in histories.values() for c in ("train_loss", "val_loss")], n_classes
    )
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for k, (ax, name) in enumerate(zip(axes.ravel(), names)):
        h = histories[name]
        kept = best_epochs[name]
        ax.plot(h["epoch"], h["train_loss"], "o--", ms=3, color="C0", label="training")
        ax.plot(h["epoch"], h["val_loss"], "o-", ms=3, color="C1", label="validation")
        ax.axvline(kept, color="grey", ls="--", lw=1, label="epoch kept")
        at_kept = h.loc[h["epoch"] == kept, "val_loss"]
        if len(at_kept):
            ax.plot([kept], [at_kept.iloc[0]], "*", ms=11, color="C3", zorder=4, label="_kept")
        chance_line(ax, np.log(n_classes), "y", label=f"uniform guess (ln {n_classes})")
        ax.set_ylim(0, top)
        epochs = h["epoch"].to_numpy(dtype=float)
        if len(epochs):
            ax.set_xlim(epochs.min() - 0.4, epochs.max() + 0.4)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.tick_params(labelsize=8.5, labelbottom=True)
        ax.set_title(f"{name} (kept: epoch {kept})", fontsize=9.5)
        row, col = divmod(k, n_cols)
        if row == n_rows - 1 or k + n_cols >= len(names):  # nothing drawn below this panel
            ax.set_xlabel("epoch", fontsize=9)
        if col == 0:
            ax.set_ylabel("cross-entropy", fontsize=9)
    fig.tight_layout(rect=(0, 0.08 if n_rows == 1 else 0.05, 1, 1))
    _one_legend(fig, axes, ncol=5, fontsize=8.5)
    return describe(
        fig,
        names=names,
        kept={n: int(best_epochs[n]) for n in names},
        epochs={n: int(len(histories[n])) for n in names},
    )


def optimizer_curves(curves: pd.DataFrame, chosen: dict, n_classes: int) -> plt.Figure:
    """The note's optimiser figure: validation (solid) and training (dotted) loss per epoch for
    each optimiser at its chosen rate, loss from 0, the uniform guess dotted."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for (name, part), colour in zip(curves.groupby("optimizer", sort=False), sns.color_palette()):
        c = chosen[name]
        ax.plot(
            part["epoch"],
            part["val_loss"],
            "o-",
            ms=3,
            color=colour,
            label=f"{name} (lr {c['lr']:g}): best {c['best_val_loss']:.3f} at epoch "
            f"{c['best_epoch']}",
        )
        ax.plot(part["epoch"], part["train_loss"], ":", color=colour)
    chance_line(ax, np.log(n_classes), "y", label=f"uniform guess (ln {n_classes})")
    ax.set(
        xlabel="epoch",
        ylabel="cross-entropy",
        ylim=(0, _loss_limit(curves[["val_loss", "train_loss"]].to_numpy(), n_classes)),
    )
    ax.set_title("Same head, data and seed; solid: validation, dotted: training", fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def architecture(encoders: dict[str, dict], heads: dict[str, dict]) -> plt.Figure:
    """The note's architecture figure: each pipeline as boxes, sizes from the loaded models and
    the head configurations (the loss they minimise has its own figure)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    n = max(1, len(encoders))
    fig = plt.figure(figsize=(9.6, 1.9 * n))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set(xlim=(0, 10.2), ylim=(0, n * 2))
    ax.axis("off")
    for r, (name, enc) in enumerate(encoders.items()):
        h = heads[name]
        y = (n - 1 - r) * 2 + 0.6
        layers = [f"Linear {h['in_dim']}→{h['hidden']}", "ReLU"] + (
            ["Dropout " + str(h["dropout"])] if h["dropout"] else []
        )
        boxes = [
            ("photo\n224×224", "#eeeeee"),
            (f"{enc['kind']} encoder\n(frozen, {enc['parameters']:,} parameters)", "#c6dbef"),
            (f"{enc['dim']}-d\nfeatures", "#eeeeee"),
            ("\n".join(layers + [f"Linear {h['hidden']}→{h['n_classes']}"]), "#fdd0a2"),
            (f"softmax\n{h['optimizer']}, lr {h['lr']:g}", "#eeeeee"),
        ]
        widths = [1.5, 2.6, 1.4, 2.3, 1.9]
        x = 0.1
        for (text, colour), w in zip(boxes, widths):
            ax.add_patch(
                FancyBboxPatch(
                    (x, y), w - 0.5, 1.0, boxstyle="round,pad=0.05", fc=colour, ec="grey"
                )
            )
            ax.text(x + (w - 0.5) / 2, y + 0.5, text, ha="center", va="center", fontsize=8.5)
            if x + w < 9.5:
                ax.add_patch(
                    FancyArrowPatch(
                        (x + w - 0.42, y + 0.5),
                        (x + w - 0.08, y + 0.5),
                        arrowstyle="-|>",
                        mutation_scale=12,
                        color="#555555",
                    )
                )
            x += w
        ax.text(0.1, y + 1.15, name, fontsize=11, weight="bold")
    return describe(fig, names=list(encoders))
