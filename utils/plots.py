"""Figures of the note. Helpers only draw what was computed elsewhere; ``save_figure`` names them.

Every figure is registered in ``utils.figures`` (key, caption, reading order) and saved under
``figures/<name>.png``. Conventions, so that every figure reads alike at the note's width:
accuracy axes run from 0 to 1 with chance (1 / number of classes) as a dotted line; loss axes start
at 0 with the loss of a uniform guess (ln of the number of classes) dotted; panels of one figure
share their axes and one legend; every colour map has a colour bar saying what its colours mean;
panel figures show what each candidate reads (photo, text, both). Figures with one panel per
category show at most ``max_categories`` categories (the most frequent) and name the ones left
out. ``save_figure`` marks, inside the image, every figure drawn from stand-in encoders.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from .data import load_image
from .explain import top_segments
from .figures import RUN_KEY, get

sns.set_theme(style="whitegrid", context="notebook")

READS = {"image": ("photo", "o"), "text": ("text", "s"), "image+text": ("photo + text", "D")}
CHANCE_STYLE = dict(color="#555555", ls=":", lw=1.2)
DIVERGING = "RdBu_r"  # red: pushes towards the explained class, blue: away from it


def save_figure(
    fig: plt.Figure,
    key: str,
    figures_dir: str | os.PathLike,
    stand_in: str | None = None,
    run_id: str | None = None,
) -> Path:
    """Save ``fig`` as ``<figures_dir>/<registered name>.png`` (150 dpi, tight).

    ``key`` must be registered in ``utils.figures``. ``stand_in``: a short description of the
    run's stand-in encoders (e.g. "tiny random CLIP and VGG16"); figures drawn from encoder
    outputs then carry a visible mark saying their numbers are stand-ins. ``run_id`` is stamped
    in the PNG (``figures.run_of``): the note shows only the figures of its own run.
    """
    figure = get(key)
    if stand_in and figure.encoders:
        mark_stand_in(fig, stand_in)
    path = Path(figures_dir) / f"{figure.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {RUN_KEY: run_id} if run_id else None
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


def _short(label: str, n: int = 22) -> str:
    label = label.split(">>")[-1].strip()
    return label if len(label) <= n else label[: n - 1] + "…"


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


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


# --------------------------------------------------------------------------- data (notebooks 01-02)
def category_counts(counts: pd.Series, max_categories: int | None = 30) -> plt.Figure:
    """Horizontal bars: usable images per category (the most frequent ``max_categories``)."""
    shown, left = shown_categories(counts, max_categories)
    data = counts[shown].sort_values()
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.32 * len(data) + 1)))
    data.plot.barh(ax=ax, color=sns.color_palette()[0])
    ax.set_xlabel("usable images")
    ax.set_ylabel("")
    for i, v in enumerate(data):
        ax.text(v, i, f" {v}", va="center")
    _left_out_note(fig, left)
    return fig


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
                ax.set_title(_wrap(_short(label, 30), 14), fontsize=8)
    fig.tight_layout()
    _left_out_note(fig, left)
    return fig


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
    ax.set_yticks(range(len(table)), [_short(c, 30) for c in table.index])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    for container in ax.containers:
        ax.bar_label(container, label_type="center", fontsize=8)
    _left_out_note(fig, left)
    return fig


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
            ax.set_title(_short(by_image.loc[image, "label"], 18), fontsize=7)
    fig.suptitle("Largest near-duplicate groups (one row per group)", fontsize=10)
    fig.tight_layout()
    return fig


def show_array(ax: plt.Axes, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


# --------------------------------------------------------------------------- features and training
# (03-04)
def feature_maps(matrices: dict[str, np.ndarray], labels: pd.Series, seed: int = 0) -> plt.Figure:
    """t-SNE of each encoder's features (standardised), coloured by category."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    fig, axes = plt.subplots(
        1, max(1, len(matrices)), figsize=(6 * max(1, len(matrices)), 5), squeeze=False
    )
    hue = labels.map(_short).to_numpy()
    for k, (ax, (name, X)) in enumerate(zip(axes[0], matrices.items())):
        perplexity = min(30.0, (len(X) - 1) / 3)
        xy = TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(
            StandardScaler().fit_transform(X)
        )
        sns.scatterplot(x=xy[:, 0], y=xy[:, 1], hue=hue, s=14, ax=ax, legend=k == len(matrices) - 1)
        ax.set(title=f"{name} features (t-SNE)", xticks=[], yticks=[])
    if matrices and axes[0, -1].get_legend():
        axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig


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
        show_array(axes[r, 0], image, f"{_short(title)}\n(photo)")
        for c, v in enumerate(vs, start=1):
            show_array(axes[r, c], v, f"view {c}")
    fig.tight_layout()
    return fig


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
    return fig


def loss_curves(
    histories: dict[str, pd.DataFrame], best_epochs: dict[str, int], n_classes: int, cols: int = 4
) -> plt.Figure:
    """Training (dashed) and validation (solid) loss per epoch, one panel per model, all panels on
    the same axes (loss from 0, the uniform guess dotted), the kept epoch marked, one legend."""
    names = list(histories)
    n_cols = min(cols, max(1, len(names)))
    n_rows = int(np.ceil(len(names) / n_cols)) if names else 1
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(3.2 * n_cols, 2.6 * n_rows + 0.5),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    top = _loss_limit(
        [h[c] for h in histories.values() for c in ("train_loss", "val_loss")], n_classes
    )
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        h = histories[name]
        ax.plot(h["epoch"], h["train_loss"], "o--", ms=3, color="C0", label="training")
        ax.plot(h["epoch"], h["val_loss"], "o-", ms=3, color="C1", label="validation")
        ax.axvline(best_epochs[name], color="grey", ls="--", lw=1, label="epoch kept")
        chance_line(ax, np.log(n_classes), "y", label=f"uniform guess (ln {n_classes})")
        ax.set_ylim(0, top)
        ax.set_title(f"{name} (kept: {best_epochs[name]})", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy")
    fig.tight_layout(rect=(0, 0.07 if n_rows == 1 else 0.04, 1, 1))
    _one_legend(fig, axes)
    return fig


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
    return fig


# --------------------------------------------------------------------------- evaluation (05)
def similarity_matrix(
    images: list[np.ndarray], sims: np.ndarray, classes: list[str], true: list[str]
) -> plt.Figure:
    """The note's similarity figure: photos (rows, as thumbnails) x category prompts (columns),
    cosine similarity with its colour bar."""
    n, m = sims.shape
    fig = plt.figure(figsize=(2.6 + 1.0 * m, 1.0 * n + 1.8))
    grid = fig.add_gridspec(n, 3, width_ratios=[1.0, m * 0.95, 0.25], wspace=0.04)
    heat = fig.add_subplot(grid[:, 1])
    image = heat.imshow(sims, cmap="viridis", aspect="auto")
    for r in range(n):
        for c in range(m):
            value = sims[r, c] if abs(sims[r, c]) >= 0.005 else 0.0
            light = image.norm(sims[r, c]) > 0.6  # dark text on the light end of viridis
            heat.text(
                c,
                r,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="k" if light else "w",
            )
    heat.set_xticks(
        range(m), [_wrap(_short(c, 40), 14) for c in classes], rotation=0, ha="center", fontsize=7
    )
    heat.xaxis.tick_top()
    heat.set_yticks([])
    heat.grid(False)
    best = sims.argmax(axis=1)
    for r in range(n):
        heat.add_patch(plt.Rectangle((best[r] - 0.5, r - 0.5), 1, 1, fill=False, ec="red", lw=2.2))
        if true[r] in classes:
            t = classes.index(true[r])
            heat.plot([t - 0.35, t + 0.35], [r + 0.38, r + 0.38], color="white", lw=2.5)
        ax = fig.add_subplot(grid[r, 0])
        ax.imshow(images[r])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(
            _wrap(_short(true[r], 40), 14), rotation=0, ha="right", va="center", fontsize=7
        )
    cax = fig.add_subplot(grid[:, 2])
    cb = fig.colorbar(image, cax=cax)
    cb.set_label("cosine similarity (higher: closer)", fontsize=8)
    heat.xaxis.set_label_position("bottom")
    heat.set_xlabel(
        "cosine(photo, category prompts): red frame = best match, white bar = true category",
        fontsize=8,
    )
    return fig


def zeroshot_vs_supervised(
    table: pd.DataFrame,
    zeroshot: str,
    labelled: dict[str, int],
    reads: dict[str, str],
    n_classes: int,
) -> plt.Figure:
    """The note's zero-shot figure, like with like: zero-shot CLIP against the candidates that
    read the photo only, test accuracy with intervals, labels each needs, chance dotted."""
    photo = [n for n in table.index if reads.get(n) == "image"]
    order = table.loc[photo].sort_values("accuracy").index.tolist()
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(order) + 1.5))
    y = np.arange(len(order))
    acc = table.loc[order, "accuracy"].to_numpy(dtype=float)
    err = np.vstack(
        [
            acc - table.loc[order, "accuracy_low"].to_numpy(dtype=float),
            table.loc[order, "accuracy_high"].to_numpy(dtype=float) - acc,
        ]
    )
    colours = ["#d62728" if n == zeroshot else "#1f77b4" for n in order]
    ax.barh(y, acc, xerr=err, color=colours, capsize=3)
    ax.set_yticks(y, [f"{n} ({labelled.get(n, 0)} labelled)" for n in order])
    chance_line(ax, 1 / n_classes, "x", label=f"chance (1/{n_classes})")
    ax.scatter(acc, y, color=colours, s=14, zorder=3)  # a 0% bar is still seen
    ax.set(xlim=(-0.01, 1), xlabel="test accuracy (95% CI)")
    ax.set_title(
        "Photo-only candidates: zero-shot (red, no labelled photo) vs supervised", fontsize=10
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def log_loss_curve(losses: np.ndarray, name: str, n_classes: int) -> plt.Figure:
    """The note's loss figure: −log p over p in (0, 1], with this run's per-image test losses
    over it and the loss of a uniform guess."""
    fig, ax = plt.subplots(figsize=(7, 4))
    p = np.linspace(0.005, 1, 400)
    ax.plot(p, -np.log(p), color="k", lw=1.5, label="−log p(true class)")
    probs = np.exp(-np.asarray(losses))
    ax.scatter(
        probs,
        losses,
        s=14,
        alpha=0.6,
        color="#d62728",
        zorder=3,
        label=f"{name}: {len(losses)} test images",
    )
    chance_line(ax, np.log(n_classes), "y", label=f"uniform guess: ln {n_classes}")
    ax2 = ax.twinx()
    ax2.hist(probs, bins=20, range=(0, 1), alpha=0.25, color="#1f77b4")
    ax2.set_ylabel("test images per bin (blue bars)")
    ax2.grid(False)
    ax.set(
        xlabel="predicted probability of the true class",
        ylabel="cross-entropy loss",
        xlim=(0, 1),
        ylim=(0, None),
    )
    ax.set_title(
        f"mean test loss {np.mean(losses):.3f}, median {np.median(losses):.3f}", fontsize=10
    )
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def results_forest(
    table: pd.DataFrame,
    repeats: pd.DataFrame | None,
    reference: str | None,
    reads: dict[str, str],
    n_classes: int,
) -> plt.Figure:
    """Left: accuracy and macro-F1 with 95% intervals per candidate on the test split. Right:
    accuracy over repeated splits. Both panels share the rows (best test accuracy on top); a
    candidate not refitted on the other splits is said so on its row."""
    order = table.sort_values("accuracy").index.tolist()
    y = np.arange(len(order))
    fig, (a, b) = plt.subplots(
        1, 2, figsize=(11, 0.42 * len(order) + 1.9), sharey=True, layout="constrained"
    )
    for k, (metric, marker) in enumerate((("accuracy", "o"), ("macro_f1", "s"))):
        v = table.loc[order, metric].to_numpy(dtype=float)
        err = np.vstack(
            [
                v - table.loc[order, f"{metric}_low"].to_numpy(dtype=float),
                table.loc[order, f"{metric}_high"].to_numpy(dtype=float) - v,
            ]
        )
        a.errorbar(
            v,
            y + (k - 0.5) * 0.25,
            xerr=err,
            fmt=marker,
            capsize=3,
            label=metric.replace("_", "-") + " (95% CI)",
        )
    labels = [reads_label(n, reads) + (" ★" if n == reference else "") for n in order]
    a.set_yticks(y, labels)
    chance_line(a, 1 / n_classes, "x", label=f"chance accuracy (1/{n_classes})")
    a.set(xlim=(-0.02, 1.02), xlabel="locked test split")
    a.set_title(
        "test split"
        + (f" (★ {reference}: the reference of the paired tests)" if reference else ""),
        fontsize=9,
    )
    fig.legend(*a.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    b.set(xlim=(-0.02, 1.02), xlabel="test accuracy on each other split")
    chance_line(b, 1 / n_classes, "x")
    if repeats is not None and len(repeats):
        for row, name in enumerate(order):
            if name in repeats.columns:
                values = repeats[name].dropna().to_numpy(dtype=float)
                b.scatter(values, np.full(len(values), row), s=18, alpha=0.6, color="C0")
                b.plot([values.mean()] * 2, [row - 0.3, row + 0.3], color="k", lw=1.5)
            else:
                b.text(
                    0.02,
                    row,
                    "not refitted on other splits (costly)",
                    va="center",
                    fontsize=7,
                    color="#777777",
                )
        b.set_title(f"{repeats.shape[0]} other group-aware splits (dots; bar: mean)", fontsize=9)
    else:
        b.set_title("no repeated splits in this run", fontsize=9)
    return fig


def confusion_matrices(
    confusions: dict[str, list[list[int]]], classes: list[str], max_categories: int | None = 20
) -> plt.Figure:
    """Row-normalised confusion matrices (counts annotated), one per model, one colour bar; only
    the most frequent ``max_categories`` true categories are drawn, the rest named."""
    first = np.asarray(next(iter(confusions.values())))
    support = pd.Series(first.sum(axis=1), index=classes)
    shown, left = shown_categories(support, max_categories)
    idx = [classes.index(c) for c in shown]
    n = len(confusions)
    side = max(4.6, 0.5 * len(idx) + 2.2)
    fig, axes = plt.subplots(1, n, figsize=(side * n + 1.0, side), squeeze=False)
    short = [_short(c, 16) for c in shown]
    for k, (ax, (name, cm)) in enumerate(zip(axes[0], confusions.items())):
        cm = np.asarray(cm)[np.ix_(idx, idx)]
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        sns.heatmap(
            share,
            annot=cm,
            fmt="d",
            cmap="Blues",
            vmin=0,
            vmax=1,
            cbar=k == n - 1,
            ax=ax,
            xticklabels=short,
            yticklabels=short if k == 0 else False,
            annot_kws={"fontsize": 8},
            cbar_kws={"label": "share of the true category's test images"},
        )
        ax.set_title(f"{name}: accuracy {np.trace(cm) / max(cm.sum(), 1):.1%}", fontsize=10)
        ax.set(xlabel="predicted", ylabel="true" if k == 0 else "")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    _left_out_note(fig, left)
    return fig


def error_gallery(
    errors: dict[str, pd.DataFrame], per_model: int = 6, side: int = 200
) -> plt.Figure:
    """For each model, its most confident test errors (``errors[name]``: rows with ``path``,
    ``product_name``, ``true``, ``predicted``, ``probability``, most confident first): one row of
    photos per model, each titled with the name, the true and the predicted category."""
    names = list(errors)
    cols = max(1, min(per_model, max((len(e) for e in errors.values()), default=1)))
    fig, axes = plt.subplots(
        max(1, len(names)),
        cols,
        figsize=(1.75 * cols + 0.6, 2.75 * max(1, len(names))),
        squeeze=False,
    )
    for ax in axes.ravel():
        ax.axis("off")
    for r, name in enumerate(names):
        shown = errors[name].head(cols)
        if shown.empty:
            axes[r, 0].text(0, 0.5, f"{name}: no test error", fontsize=9)
            continue
        for c, (_, row) in enumerate(shown.iterrows()):
            ax = axes[r, c]
            ax.imshow(load_image(row["path"], max_side=side))
            title = (
                f"{_wrap(row['product_name'][:48], 22)}\n"
                f"true: {_short(row['true'], 18)}\n"
                f"said: {_short(row['predicted'], 18)} ({row['probability']:.2f})"
            )
            ax.set_title(title, fontsize=6.5, loc="left")
        axes[r, 0].text(
            -0.08,
            0.5,
            f"{name}\n{len(errors[name])} errors",
            transform=axes[r, 0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=9,
            weight="bold",
        )
    fig.tight_layout()
    return fig


def label_budget(
    summary: pd.DataFrame,
    n_classes: int,
    reads: dict[str, str],
    zeroshot: float | None = None,
    zeroshot_name: str = "clip-zeroshot",
) -> plt.Figure:
    """Test accuracy (mean, min-max band) against labelled products per category; zero-shot at
    k = 0; chance dotted; series drawn with their own marker and slightly apart, so that equal
    curves stay visible; the legend outside the data."""
    fig, ax = plt.subplots(figsize=(9, 4.4))
    ks = [k for k in summary["k"].unique() if str(k) != "all"]
    positions = {str(k): i + 1 for i, k in enumerate(ks)}
    positions["all"] = len(ks) + 1
    groups = list(summary.groupby("candidate", sort=False))
    offsets = np.linspace(-0.12, 0.12, len(groups)) if len(groups) > 1 else [0.0]
    markers = ["o", "s", "D", "^", "v", "P", "X"]
    for (name, part), colour, dx, marker in zip(groups, sns.color_palette(), offsets, markers):
        x = [positions[str(k)] + dx for k in part["k"]]
        ax.plot(
            x, part["mean"], marker=marker, ls="-", color=colour, label=reads_label(name, reads)
        )
        ax.fill_between(x, part["min"], part["max"], color=colour, alpha=0.12)
    if zeroshot is not None:
        ax.scatter(
            [0],
            [zeroshot],
            marker="*",
            s=180,
            color="k",
            zorder=4,
            label=f"{zeroshot_name} [photo] (k = 0)",
        )
    chance_line(ax, 1 / n_classes, "y", label=f"chance (1/{n_classes})")
    if zeroshot is None:
        ax.set_xticks(list(positions.values()), list(positions))
    else:
        ax.set_xticks([0, *positions.values()], ["0", *positions])
    ax.set(
        xlabel="labelled products per category (k to train, up to k more to choose settings; "
        "all: the whole training and validation parts)",
        ylabel="test accuracy",
        ylim=(0, 1.02),
    )
    ax.set_title("How much labelling buys (line: mean over draws, band: min-max)", fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def pareto_front(cost: pd.Series, accuracy: pd.Series) -> list[str]:
    """Names not dominated by another (cheaper or equal and more accurate, or cheaper and as
    accurate), cheapest first."""
    order = sorted(cost.index, key=lambda n: (cost[n], -accuracy[n]))
    front, best = [], -np.inf
    for n in order:
        if accuracy[n] > best:
            front.append(n)
            best = accuracy[n]
    return front


def accuracy_cost(
    table: pd.DataFrame,
    ms_per_product: dict[str, float],
    labelled: dict[str, int],
    reads: dict[str, str],
    n_classes: int,
    device: str = "",
) -> plt.Figure:
    """Accuracy (95% interval) against the measured milliseconds of one prediction (log scale),
    marker by what the candidate reads, the best trade-offs (nothing both cheaper and more
    accurate) joined; every candidate named in a column on the right, best first, with the labelled
    products it needs, a thin line to its point; chance dotted."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    names = [n for n in table.index if n in ms_per_product]
    cost = pd.Series({n: max(ms_per_product[n], 1e-3) for n in names})
    acc = table.loc[names, "accuracy"].astype(float)
    front = pareto_front(cost, acc)
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(names) + 2.6))
    colours = {r: f"C{i}" for i, r in enumerate(READS)}
    for r, (label, marker) in READS.items():
        part = [n for n in names if reads.get(n) == r]
        if not part:
            continue
        lo = acc[part] - table.loc[part, "accuracy_low"].astype(float)
        hi = table.loc[part, "accuracy_high"].astype(float) - acc[part]
        ax.errorbar(
            cost[part],
            acc[part],
            yerr=[lo, hi],
            fmt=marker,
            ms=7,
            capsize=2,
            alpha=0.8,
            color=colours[r],
            label=label,
        )
    if len(front) > 1:
        ax.plot(
            cost[front],
            acc[front],
            "--",
            color="k",
            lw=1.2,
            alpha=0.6,
            zorder=0,
            label="best trade-offs",
        )
    chance_line(ax, 1 / n_classes, "y", label=f"chance (1/{n_classes})")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 3)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    low, high = cost.min() / 1.6, cost.max() * 1.6
    ax.set(
        ylim=(0, 1.02),
        xlim=(low, high),
        ylabel="test accuracy (95% CI)",
        xlabel="milliseconds per product, the whole prediction from the file"
        + (f" ({device})" if device else ""),
    )
    order = sorted(names, key=lambda n: -acc[n])
    ys = np.linspace(0.98, 0.02, len(order)) if len(order) > 1 else [0.5]
    for n, y in zip(order, ys):
        ax.annotate(
            f"{n} ({labelled.get(n, 0)} labels)",
            xy=(cost[n], acc[n]),
            xycoords="data",
            xytext=(1.03, y),
            textcoords="axes fraction",
            va="center",
            fontsize=7.5,
            weight="bold" if n in front else "normal",
            arrowprops=dict(arrowstyle="-", color="#bbbbbb", lw=0.6, shrinkA=0, shrinkB=3),
        )
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Accuracy against cost (bold: on the best-trade-off line)", fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- explanations (06)
def _overlay(ax: plt.Axes, image: np.ndarray, values: np.ndarray, lim: float, alpha: float = 0.6):
    ax.imshow(image)
    shown = ax.imshow(values, cmap=DIVERGING, vmin=-lim, vmax=lim, alpha=alpha)
    ax.axis("off")
    return shown


def lime_examples(
    images: list[np.ndarray],
    note_results: list[dict],
    chosen_results: list[dict],
    classes: list[str],
    top_k: int = 10,
) -> plt.Figure:
    """The note's LIME figure: each image, its ``top_k`` superpixels at the note's sample count
    and at the chosen one, and every superpixel's weight at the chosen count (colour bar)."""
    from skimage.segmentation import mark_boundaries

    fig, axes = plt.subplots(len(images), 4, figsize=(12.5, 3.2 * len(images)), squeeze=False)
    shown = None
    for row, image, rn, rc in zip(axes, images, note_results, chosen_results):
        for ax, r in ((row[1], rn), (row[2], rc)):
            keep = np.isin(r["segments"], sorted(top_segments(r["weights"], top_k)))
            dim = np.where(keep[..., None], image, (image * 0.25 + 191).astype(np.uint8))
            show_array(
                ax,
                mark_boundaries(dim, r["segments"] * keep, color=(1, 0.8, 0)),
                f"top {top_k} at {r['num_samples']} copies (R² {r['score']:.2f})",
            )
        heat = rc["weights"][rc["segments"]]
        lim = np.abs(heat).max() or 1.0
        show_array(
            row[0], image, f"predicted {_short(classes[rc['label']])} (p = {rc['probability']:.2f})"
        )
        shown = _overlay(row[3], image, heat / lim, 1.0)
        row[3].set_title(f"weight per superpixel ({rc['num_samples']} copies)", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    if shown is not None:
        cax = fig.add_axes([0.94, 0.15, 0.012, 0.7])
        cb = fig.colorbar(shown, cax=cax)
        cb.set_label("LIME weight / largest |weight| (red: for the predicted class)", fontsize=8)
    return fig


def averaging(
    images: list[np.ndarray], maps: list[np.ndarray], mean: np.ndarray, label: str
) -> plt.Figure:
    """The note's averaging figure: two images of one category, their LIME maps (scaled to
    [-1, 1]) and the pixel-wise average, with the colour bar."""
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.4))
    shown = None
    for c, (image, m) in enumerate(zip(images, maps)):
        show_array(axes[0, c], image, f"test image {c + 1}")
        shown = _overlay(axes[1, c], image, m / (np.abs(m).max() or 1), 1.0)
        axes[1, c].set_title(f"LIME map {c + 1} (scaled to [-1, 1])", fontsize=8)
    mean_photo = np.mean(images, axis=0).astype(np.uint8)
    show_array(axes[0, 2], mean_photo, "mean photo")
    _overlay(axes[1, 2], mean_photo, mean, 1.0, alpha=0.65)
    axes[1, 2].set_title("pixel-wise average of the two maps", fontsize=8)
    fig.suptitle(f"{_short(label, 40)}: how a per-category map is made", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    cax = fig.add_axes([0.93, 0.08, 0.015, 0.38])
    cb = fig.colorbar(shown, cax=cax)
    cb.set_label("scaled LIME weight (red: for the class)", fontsize=8)
    return fig


def global_maps(
    maps: dict[str, np.ndarray],
    counts: dict[str, int],
    backgrounds: dict[str, np.ndarray],
    left_out: list[str] | None = None,
    what: str = "test images",
) -> plt.Figure:
    """The note's per-category figure: per category, the mean LIME map over ``counts[c]`` images
    (``what`` says which), over their mean photo; one shared colour scale and bar."""
    labels = list(maps)
    cols = min(4, max(1, len(labels)))
    rows = int(np.ceil(len(labels) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols + 0.8, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    lim = max([np.abs(maps[c]).max() for c in labels if counts.get(c)] + [1e-9])
    shown = None
    for ax, label in zip(axes.ravel(), labels):
        if label in backgrounds:
            ax.imshow(backgrounds[label].astype(np.uint8), alpha=0.6)
        if counts.get(label):
            shown = ax.imshow(maps[label], cmap=DIVERGING, vmin=-lim, vmax=lim, alpha=0.65)
        ax.set_title(f"{_short(label, 24)}\n(n = {counts.get(label, 0)})", fontsize=8)
    fig.suptitle(f"Mean LIME importance per category, over {what}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    if shown is not None:
        cax = fig.add_axes([0.93, 0.15, 0.015, 0.7])
        cb = fig.colorbar(shown, cax=cax)
        cb.set_label("mean scaled LIME weight (red: for the class, blue: against)", fontsize=8)
    _left_out_note(fig, left_out or [])
    return fig


def trust(
    medians: dict,
    per_image: list[dict],
    threshold: float,
    chosen: int,
    curves: dict[str, np.ndarray],
    auc: dict[str, float],
    k: int,
    n_classes: int,
    unit: str = "superpixels",
) -> plt.Figure:
    """Left: top-k overlap between LIME seeds per sample count (median over items, each item a
    dot). Right: deletion curves over the same ``unit``, with their mean areas. Both axes 0 to 1."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    counts = sorted(medians, key=int)
    x = np.arange(len(counts))
    a.bar(
        x,
        [medians[c] for c in counts],
        color=sns.color_palette()[0],
        alpha=0.7,
        label="median over items",
    )
    for s in per_image:
        a.scatter(
            x,
            [
                s[int(c)]["mean_jaccard"] if int(c) in s else s[str(c)]["mean_jaccard"]
                for c in counts
            ],
            color="k",
            s=10,
            zorder=3,
        )
    a.axhline(threshold, color="red", ls="--", lw=1, label=f"threshold {threshold:g}")
    a.set_xticks(x, [f"{c}{' ✓' if int(c) == chosen else ''}" for c in counts])
    a.set(
        ylim=(0, 1),
        xlabel="LIME perturbed copies (✓: used for the figures)",
        ylabel=f"Jaccard overlap of the top-{k} {unit}",
    )
    a.set_title("Stability across seeds (dots: items)", fontsize=10)
    a.legend(fontsize=8, loc="upper left")
    for method, curve in curves.items():
        b.plot(
            np.linspace(0, 100, len(curve)), curve, label=f"{method} (mean area {auc[method]:.3f})"
        )
    chance_line(b, 1 / n_classes, "y", label=f"chance (1/{n_classes})")
    b.set(
        ylim=(0, 1),
        xlim=(0, 100),
        xlabel=f"% of {unit} deleted (most important first)",
        ylabel="probability of the explained class",
    )
    b.set_title("Deletion curves (lower area = more faithful)", fontsize=10)
    b.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def shap_figure(
    shap_values, predicted: list[str], true_labels: list[str] | None = None, per_row: int = 4
) -> plt.Figure:
    """SHAP maps of the explained (predicted) class, one image per category: each photo beside
    its SHAP map (channels summed), ``per_row`` images to a row, one symmetric colour scale and bar.
    """
    values = np.asarray(shap_values.values)[..., 0].sum(axis=-1)  # n x H x W
    data = np.asarray(shap_values.data)
    data = (
        (data * 255).clip(0, 255).astype(np.uint8)
        if data.max() <= 1.0 + 1e-6
        else data.astype(np.uint8)
    )
    n = len(values)
    per_row = max(1, min(per_row, n))
    rows = int(np.ceil(n / per_row))
    fig, axes = plt.subplots(
        rows, 2 * per_row, figsize=(2.9 * per_row + 0.9, 1.75 * rows + 0.5), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    lim = float(np.abs(values).max()) or 1.0
    exponent = int(np.floor(np.log10(lim)))
    scale = 10.0**exponent if abs(exponent) >= 3 else 1.0  # say tiny values in the label
    values, lim = values / scale, lim / scale
    shown = None
    for j in range(n):
        r, c = divmod(j, per_row)
        title = f"said: {_short(predicted[j], 18)}"
        if true_labels is not None:
            title = f"true: {_short(true_labels[j], 18)}\n" + title
        show_array(axes[r, 2 * c], data[j], title)
        grey = data[j].mean(axis=-1)
        axes[r, 2 * c + 1].imshow(grey, cmap="gray", alpha=0.35)
        shown = axes[r, 2 * c + 1].imshow(values[j], cmap=DIVERGING, vmin=-lim, vmax=lim, alpha=0.8)
        axes[r, 2 * c + 1].set_title("SHAP", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    cax = fig.add_axes([0.94, 0.12, 0.012, 0.76])
    cb = fig.colorbar(shown, cax=cax)
    unit = f" ×1e{exponent}" if scale != 1.0 else ""
    cb.set_label(f"SHAP value{unit} (red: towards the said class)", fontsize=8)
    return fig


# ---- text and fusion explanations (06)
def text_explanations(
    results: list[dict],
    texts: list[str],
    headers: list[str],
    max_words: int = 70,
    top_k: int = 5,
    width_px: int = 1000,
    dpi: int = 150,
) -> plt.Figure:
    """One row per product: its text (``texts``: as the model reads it, original case) with each
    word's background coloured by its LIME weight for the explained class (red: towards it, blue:
    away, on one scale shared by all rows, colour bar below), and its ``top_k`` words each way as
    bars (same scale on every row).

    ``headers``: a line per product (category, prediction). Texts longer than ``max_words`` words
    are cut (the row says so); the bars rank every word. ``width_px`` wide at ``dpi``.
    """
    import re

    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    from .explain_text import segments, top_words, weight_of, word_cmap, word_weights

    cmap = word_cmap()
    font = 6.5  # points: about 13.5 px at 150 dpi
    width = width_px / dpi
    layout = dict(
        width_ratios=[0.66, 0.34], wspace=0.04, left=0.005, right=0.9, top=0.99, bottom=0.01
    )
    vmax = max((float(np.abs(r["weights"]).max()) for r in results if len(r["weights"])), default=0)
    vmax = vmax or 1.0

    # measure the monospace advance and the text column in pixels, so a data unit is one character
    fig = plt.figure(figsize=(width, 8), dpi=dpi)
    probe = fig.add_subplot(fig.add_gridspec(1, 2, **layout)[0, 0])
    renderer = fig.canvas.get_renderer()
    sample = probe.text(0, 0, "x" * 100, family="monospace", fontsize=font)
    advance = sample.get_window_extent(renderer).width / 100
    columns = probe.get_window_extent(renderer).width / advance
    probe.remove()
    chars = int(columns) - 1

    def wrap(text: str, weights: dict, folded: bool):
        lines, line, col, n_words, cut = [], [], 0, 0, False
        for piece, is_word in segments(text):
            if not is_word:
                piece = re.sub(r"\s+", " ", piece)
            elif n_words >= max_words:
                cut = True
                break
            n_words += is_word
            if col + len(piece) > chars and col > 0:
                lines.append(line)
                line, col = [], 0
                if not is_word:
                    piece = piece.lstrip()
                    if not piece:
                        continue
            line.append((col, piece, weight_of(piece, weights, folded) if is_word else 0.0))
            col += len(piece)
        lines.append(line)
        return [ln for ln in lines if ln], cut

    wrapped = [wrap(t, word_weights(r), bool(r["case_folded"])) for r, t in zip(results, texts)]
    shown = [top_words(r, top_k) + top_words(r, top_k, towards=False)[::-1] for r in results]
    heights = [
        max(len(lines) + 1.5 * cut, 0.85 * len(bars)) + 2.0
        for (lines, cut), bars in zip(wrapped, shown)
    ]
    line_in = font * 1.45 / 72
    fig.set_size_inches(width, (sum(heights) + 6) * line_in)
    grid = fig.add_gridspec(len(results) + 1, 2, height_ratios=[*heights, 6], hspace=0.1, **layout)
    for row, (r, (lines, cut), header, bars_shown, h) in enumerate(
        zip(results, wrapped, headers, shown, heights)
    ):
        ax = fig.add_subplot(grid[row, 0])
        ax.set(xlim=(0, columns), ylim=(h - 1.5, -1.5))
        ax.axis("off")
        header = header if len(header) <= chars else header[: chars - 1] + "…"
        ax.text(0, -0.7, header, family="monospace", fontsize=font, fontweight="bold", va="center")
        for y, line in enumerate(lines):
            for col, piece, w in line:
                if w:
                    ax.add_patch(
                        Rectangle(
                            (col, y - 0.5),
                            len(piece),
                            1.0,
                            color=cmap(0.5 + 0.5 * float(np.clip(w / vmax, -1, 1))),
                            lw=0,
                        )
                    )
            ax.text(
                0,
                y,
                "".join(p for _, p, _ in line),
                family="monospace",
                fontsize=font,
                va="center",
                ha="left",
            )
        if cut:
            ax.text(
                0,
                len(lines) + 0.3,
                f"… first {max_words} words shown ({len(r['words'])} distinct); the bars rank all",
                fontsize=font - 0.5,
                style="italic",
                color="0.35",
                va="center",
            )
        bars = fig.add_subplot(grid[row, 1])
        if bars_shown:
            names, values = zip(*bars_shown)
            yy = np.arange(len(names))
            bars.barh(
                yy,
                values,
                color=[cmap(0.5 + 0.5 * float(np.clip(v / vmax, -1, 1))) for v in values],
                edgecolor="0.3",
                lw=0.3,
                height=0.8,
            )
            bars.set_yticks(yy, [n[:16] for n in names], fontsize=font)
            bars.set_ylim(len(names) - 0.5, -0.5)
        bars.axvline(0, color="0.3", lw=0.6)
        bars.set_xlim(-vmax * 1.05, vmax * 1.05)
        bars.tick_params(axis="x", labelsize=font - 1, labelbottom=row == len(results) - 1)
        bars.tick_params(axis="y", length=0, pad=2)
        bars.yaxis.tick_right()
        bars.grid(axis="y", visible=False)
        bars.text(
            0.02,
            0.02,
            f"R² {r['score']:.2f}, {r['num_samples']} copies",
            transform=bars.transAxes,
            fontsize=font - 1,
            color="0.35",
        )
    cax = fig.add_subplot(grid[len(results), :])
    cax.set_axis_off()
    inner = cax.inset_axes([0.12, 0.62, 0.76, 0.14])
    cbar = fig.colorbar(
        ScalarMappable(Normalize(-vmax, vmax), cmap), cax=inner, orientation="horizontal"
    )
    cbar.ax.tick_params(labelsize=font)
    cbar.set_label(
        "LIME weight of a word for the explained (predicted) class: change in its probability with "
        "the word present.\nRed pushes towards the class, blue away from it; white: no effect. "
        "Bars: the strongest words each way.",
        fontsize=font,
    )
    return fig


def word_importance(
    words: dict[str, pd.DataFrame],
    coefficients: pd.DataFrame | None = None,
    agreement: dict | None = None,
    n: int = 8,
    counts: dict[str, int] | None = None,
) -> plt.Figure:
    """Per category, the ``n`` words with the largest mean LIME weight over its correctly classified
    products (``explain_text.category_words``) and, beside them when given, the same words'
    coefficients in the model's logistic regression (the exact global view of a TF-IDF model), with
    the rank agreement over every word both rank."""
    labels = list(words)
    per_row = 2
    rows = int(np.ceil(len(labels) / per_row)) or 1
    fig = plt.figure(figsize=(11, (0.24 * n + 0.9) * rows + 0.5), layout="constrained")
    subs = np.atleast_2d(fig.subfigures(rows, per_row, wspace=0.04, hspace=0.02))
    for sub in subs.ravel()[len(labels) :]:
        sub.set_visible(False)
    for sub, label in zip(subs.ravel(), labels):
        table = words[label].head(n)
        y = np.arange(len(table))
        panels = 2 if coefficients is not None else 1
        axes = sub.subplots(1, panels, sharey=True, squeeze=False)[0]
        ax = axes[0]
        ax.barh(y, table["mean_weight"], color=sns.color_palette()[3])
        ax.set_yticks(y, [w[:18] for w in table.index], fontsize=7)
        ax.set_ylim(len(table) - 0.5, -0.5)
        ax.axvline(0, color="0.3", lw=0.6)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title("mean LIME weight", fontsize=8)
        count = f" (n = {counts[label]})" if counts and label in counts else ""
        rho = ((agreement or {}).get("per_category", {}).get(label) or {}).get("spearman")
        sub.suptitle(
            f"{_short(label, 30)}{count}"
            + (f": Spearman {rho:.2f} over all shared words" if rho is not None else ""),
            fontsize=9,
        )
        if panels == 2:
            cx = axes[1]
            coef = (
                coefficients[label].reindex(table.index)
                if label in coefficients
                else pd.Series(np.nan, index=table.index)
            )
            cx.barh(y, coef.fillna(0), color=sns.color_palette()[0])
            for yy, v in zip(y, coef):
                if pd.isna(v):
                    cx.text(0, yy, " not in the vocabulary", fontsize=6.5, va="center", color="0.4")
            cx.axvline(0, color="0.3", lw=0.6)
            cx.tick_params(axis="x", labelsize=7)
            cx.set_title("logistic regression coefficient", fontsize=8)
    overall = (agreement or {}).get("overall", {}).get("spearman")
    fig.suptitle(
        "Words that decide per category (correctly classified test products)"
        + (
            f"; LIME vs coefficients: Spearman {overall:.2f} overall" if overall is not None else ""
        ),
        fontsize=10,
    )
    return fig


def text_trust(checks: dict[str, tuple[dict, dict]]) -> plt.Figure:
    """How far to trust the word explanations, one row per text candidate (``checks[name] =
    (stability_check, faithfulness_check)``). Left: top-k word overlap between LIME seeds per sample
    count (median over products, each product a dot, threshold dashed, ✓ the count used). Right:
    deletion curves of LIME's order against random orders of the same words (axes 0 to 1,
    shared)."""
    names = list(checks)
    fig, axes = plt.subplots(
        len(names), 2, figsize=(11, 3.6 * len(names)), squeeze=False, sharey=True
    )
    for (a, b), name in zip(axes, names):
        st, de = checks[name]
        medians, per = st["median_jaccard"], st["per_product"]
        counts = sorted(medians, key=int)
        x = np.arange(len(counts))
        a.bar(
            x, [medians[c] for c in counts], color=sns.color_palette()[0], alpha=0.7, label="median"
        )
        for s in per:
            a.scatter(x, [s[str(c)]["mean_jaccard"] for c in counts], color="k", s=10, zorder=3)
        thr = st["settings"]["threshold"]
        a.axhline(thr, color="red", ls="--", lw=1, label=f"threshold {thr:g}")
        a.set_xticks(x, [f"{c}{' ✓' if int(c) == st['chosen'] else ''}" for c in counts])
        a.set(
            ylim=(0, 1),
            xlabel="LIME perturbed copies per product (✓: used)",
            ylabel=f"Jaccard of top-{st['settings']['top_k']} words",
            title=f"{name}: stability across {len(st['settings']['seeds'])} seeds "
            f"({len(per)} products)",
        )
        a.legend(fontsize=8)
        styles = {"LIME": dict(color=sns.color_palette()[3]), "random": dict(color="0.4", ls="--")}
        for method, curve in de["curves"].items():
            b.plot(
                np.linspace(0, 1, len(curve)),
                curve,
                label=f"{method} (mean area {de['auc'][method]:.3f})",
                **styles.get(method, {}),
            )
        f = de["faithfulness"]["LIME"]
        b.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="fraction of the product's words deleted (most important first)",
            ylabel="probability of the explained class",
            title=f"{name}: deletion on {f['images']} products, gain {f['mean_gain']:+.3f} "
            f"[{f['gain_low']:+.3f}, {f['gain_high']:+.3f}]",
        )
        b.yaxis.set_tick_params(labelleft=True)
        b.legend(fontsize=8)
    for ax in axes.ravel():
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def modality_shares(
    per_category: dict[str, pd.DataFrame],
    left_out: list[str] | None = None,
    notes: dict[str, str] | None = None,
) -> plt.Figure:
    """Per fusion candidate and category (``explain_text.modality_by_category``): the mean parts of
    the predicted class's probability owed to the photo and to the text, and the photo's mean
    share."""
    names = list(per_category)
    fig, axes = plt.subplots(
        1,
        len(names),
        figsize=(5.5 * len(names), 0.45 * max(len(t) for t in per_category.values()) + 1.6),
        squeeze=False,
    )
    colours = {"photo": sns.color_palette()[2], "text": sns.color_palette()[1]}
    for ax, name in zip(axes[0], names):
        t = per_category[name]
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["photo_part"], height=0.4, color=colours["photo"], label="photo")
        ax.barh(y + 0.2, t["text_part"], height=0.4, color=colours["text"], label="text")
        for yy, (_, r) in zip(y, t.iterrows()):
            ax.text(
                max(r["photo_part"], r["text_part"], 0) + 0.01,
                yy,
                f"photo {100 * r['photo_share']:.0f}%",
                va="center",
                fontsize=7,
            )
        ax.set_yticks(
            y, [f"{_short(c, 24)} ({int(n)})" for c, n in zip(t.index, t["products"])], fontsize=8
        )
        ax.invert_yaxis()
        ax.axvline(0, color="0.3", lw=0.6)
        base = t["base"].mean()
        ax.set_xlabel(
            "mean part of the predicted class's probability"
            + (f" (above a baseline of {base:.2f})" if base else ""),
            fontsize=8,
        )
        ax.set_xlim(min(0, t[["photo_part", "text_part"]].min().min() * 1.1), 1.12)
        ax.set_title(name + (f" ({notes[name]})" if notes and name in notes else ""), fontsize=10)
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(),
        loc="lower center",
        ncol=2,
        fontsize=8,
        bbox_to_anchor=(0.5, -0.06),
    )
    fig.tight_layout()
    _left_out_note(fig, left_out or [])
    return fig


def modality_disagreements(table: pd.DataFrame, max_shown: int = 8, columns: int = 4) -> plt.Figure:
    """The products where the photo side and the text side of a fusion disagree
    (``explain_text.disagreements``): thumbnail, name, each side's prediction and probability, the
    fused one and the truth (✓/✗)."""
    from PIL import Image

    shown = table.head(max_shown)
    n = max(len(shown), 1)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.9 * cols, 3.9 * rows + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    if shown.empty:
        axes[0, 0].text(0.5, 0.5, "no disagreement", ha="center", va="center")
    for ax, (_, r) in zip(axes.ravel(), shown.iterrows()):
        if r.get("path"):
            photo = load_image(r["path"], max_side=256)
            side = max(photo.size)
            square = Image.new("RGB", (side, side), "white")
            square.paste(photo, ((side - photo.width) // 2, (side - photo.height) // 2))
            ax.imshow(np.asarray(square))
        mark = lambda c: "✓" if c == r["true"] else "✗"  # noqa: E731
        name = str(r["product"])
        lines = [
            name[:34] + ("…" if len(name) > 34 else ""),
            f"{_short(r['photo_side'], 26)}:",
            f"  {_short(r['photo'], 20)} {r['photo_probability']:.2f} {mark(r['photo'])}",
            f"{_short(r['text_side'], 26)}:",
            f"  {_short(r['text'], 20)} {r['text_probability']:.2f} {mark(r['text'])}",
            f"fused: {_short(r['fused'], 16)} {r['fused_probability']:.2f} {mark(r['fused'])}",
            f"true: {_short(r['true'], 26)}",
        ]
        ax.text(
            0.5,
            -0.03,
            "\n".join(lines),
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=6.5,
        )
    more = f" (first {max_shown} of {len(table)})" if len(table) > max_shown else ""
    fig.suptitle(f"Photo and text disagree{more}", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.03, wspace=0.08, hspace=0.42)
    return fig
