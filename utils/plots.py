"""Figures of the note. Helpers only draw what was computed elsewhere; ``save_figure`` names them.

Every figure is registered in ``utils.figures`` (number, file name, caption) and saved under
``figures/<name>.png``. Figures with one panel per category show at most ``max_categories``
categories (the most frequent) and name the ones left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from .data import load_image
from .explain import top_segments
from .figures import BY_NAME

sns.set_theme(style="whitegrid", context="notebook")


def save_figure(fig: plt.Figure, name: str, figures_dir: str | os.PathLike) -> Path:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` (150 dpi, tight); ``name`` must be registered."""
    if name not in BY_NAME:
        raise KeyError(f"figure {name!r} is not in utils.figures.FIGURES: register it there first")
    path = Path(figures_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def shown_categories(counts: pd.Series, max_categories: int | None) -> tuple[list[str], list[str]]:
    """``(shown, left_out)``: the ``max_categories`` most frequent categories (ties alphabetical), the rest."""
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
    """A grid of example photos: one row per category (the most frequent ``max_categories``)."""
    labels, left = shown_categories(rows["label"].value_counts(), max_categories)
    fig, axes = plt.subplots(
        len(labels),
        per_category,
        figsize=(1.9 * per_category + 2.2, 1.9 * len(labels)),
        squeeze=False,
    )
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
                ax.set_ylabel(_short(label), rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    _left_out_note(fig, left)
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
    ax.legend(loc="lower right")
    for container in ax.containers:
        ax.bar_label(container, label_type="center", fontsize=8)
    _left_out_note(fig, left)
    return fig


def duplicate_groups(
    rows: pd.DataFrame, groups: pd.DataFrame, max_groups: int = 6, side: int = 120
) -> plt.Figure:
    """The largest near-duplicate groups (``members``: image names), one row each, with each image's label."""
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


# --------------------------------------------------------------------------- features and training (03-04)
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


def learning_curves(
    histories: dict[str, pd.DataFrame], best_epochs: dict[str, int], cols: int = 4
) -> plt.Figure:
    """Loss (top) and accuracy (bottom) per epoch, train vs validation, one column per model; the kept epoch marked."""
    names = list(histories)
    n_cols = min(cols, max(1, len(names)))
    n_blocks = int(np.ceil(len(names) / n_cols)) if names else 1
    fig, axes = plt.subplots(
        2 * n_blocks, n_cols, figsize=(4.2 * n_cols, 3.2 * 2 * n_blocks), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for i, name in enumerate(names):
        h = histories[name]
        block, col = divmod(i, n_cols)
        for r, (metric, label) in enumerate((("loss", "cross-entropy"), ("acc", "accuracy"))):
            ax = axes[2 * block + r, col]
            ax.axis("on")
            ax.plot(h["epoch"], h[f"train_{metric}"], "o-", ms=3, label="train")
            ax.plot(h["epoch"], h[f"val_{metric}"], "o-", ms=3, label="validation")
            ax.axvline(
                best_epochs[name],
                color="grey",
                ls="--",
                lw=1,
                label=f"kept: epoch {best_epochs[name]}",
            )
            ax.set_ylabel(label)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if r == 0:
                ax.set_title(name)
            else:
                ax.set_xlabel("epoch")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def optimizer_curves(curves: pd.DataFrame, chosen: dict) -> plt.Figure:
    """The note's Figure 6: validation (solid) and training (dotted) loss per epoch for each optimiser at its chosen rate."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for (name, part), colour in zip(curves.groupby("optimizer", sort=False), sns.color_palette()):
        ax.plot(
            part["epoch"],
            part["val_loss"],
            "o-",
            ms=3,
            color=colour,
            label=f"{name} (lr {chosen[name]['lr']:g}): best {chosen[name]['best_val_loss']:.3f} at epoch "
            f"{chosen[name]['best_epoch']}",
        )
        ax.plot(part["epoch"], part["train_loss"], ":", color=colour)
    ax.set(
        xlabel="epoch",
        ylabel="cross-entropy",
        title="Same head, data and seed; solid: validation, dotted: training",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def architecture(encoders: dict[str, dict], heads: dict[str, dict]) -> plt.Figure:
    """The note's Figure 4: each pipeline as boxes (sizes from the loaded models and head configs),
    and the loss they minimise, cross-entropy -log p(true class)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    n = max(1, len(encoders))
    fig = plt.figure(figsize=(13, 2.1 * n))
    ax = fig.add_axes([0, 0, 0.72, 1])
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
            ax.text(x + (w - 0.5) / 2, y + 0.5, text, ha="center", va="center", fontsize=8)
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
        ax.text(0.1, y + 1.15, name, fontsize=10, weight="bold")
    loss_ax = fig.add_axes([0.78, 0.18, 0.2, 0.7])
    p = np.linspace(0.01, 1, 200)
    loss_ax.plot(p, -np.log(p))
    loss_ax.set(
        xlabel="predicted probability of the true class", ylabel="cross-entropy loss", title="loss"
    )
    return fig


# --------------------------------------------------------------------------- evaluation (05)
def similarity_matrix(
    images: list[np.ndarray], sims: np.ndarray, classes: list[str], true: list[str]
) -> plt.Figure:
    """The note's Figure 1: photos (rows, as thumbnails) x category prompts (columns), cosine similarity."""
    n, m = sims.shape
    fig = plt.figure(figsize=(2.2 + 1.0 * m, 1.0 * n + 1.8))
    grid = fig.add_gridspec(n, 2, width_ratios=[1.0, m * 0.95], wspace=0.02)
    heat = fig.add_subplot(grid[:, 1])
    sns.heatmap(
        sims,
        annot=True,
        fmt=".2f",
        cmap="viridis",
        cbar=False,
        ax=heat,
        annot_kws={"fontsize": 7},
        xticklabels=[_short(c, 16) for c in classes],
        yticklabels=False,
    )
    heat.tick_params(axis="x", rotation=55, labelsize=8)
    heat.xaxis.tick_top()
    best = sims.argmax(axis=1)
    for r in range(n):
        heat.add_patch(plt.Rectangle((best[r], r), 1, 1, fill=False, ec="red", lw=2.2))
        if true[r] in classes:
            t = classes.index(true[r])
            heat.plot([t + 0.15, t + 0.85], [r + 0.88, r + 0.88], color="white", lw=2)
        ax = fig.add_subplot(grid[r, 0])
        ax.imshow(images[r])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(_short(true[r], 14), rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(
        "cosine(image, category prompts) — red: best match, white bar: true category",
        fontsize=9,
        y=0.02,
    )
    return fig


def zeroshot_vs_supervised(
    table: pd.DataFrame, zeroshot: str, labelled: dict[str, int]
) -> plt.Figure:
    """The note's Figure 2: zero-shot accuracy against the supervised candidates, with intervals and label counts."""
    order = table.sort_values("accuracy").index.tolist()
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(order) + 1.4))
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
    ax.set_yticks(y, [f"{n} ({labelled.get(n, 0)} labels)" for n in order])
    ax.set(
        xlim=(0, 1),
        xlabel="test accuracy (95% CI)",
        title="Zero-shot (red, no labelled photo) vs supervised",
    )
    fig.tight_layout()
    return fig


def log_loss_curve(losses: np.ndarray, name: str) -> plt.Figure:
    """The note's Figure 5: −log p over p in (0, 1], with this run's per-image test losses over it."""
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
        label=f"{name}: {len(losses)} test images",
        zorder=3,
    )
    ax2 = ax.twinx()
    ax2.hist(probs, bins=20, range=(0, 1), alpha=0.25, color="#1f77b4")
    ax2.set_ylabel("test images per bin")
    ax2.grid(False)
    ax.set(
        xlabel="predicted probability of the true class",
        ylabel="cross-entropy loss",
        title=f"mean test loss {np.mean(losses):.3f}, median {np.median(losses):.3f}",
    )
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def results_forest(
    table: pd.DataFrame, repeats: pd.DataFrame | None, reference: str | None
) -> plt.Figure:
    """Left: accuracy and macro-F1 with 95% intervals per candidate. Right: accuracy over repeated splits."""
    order = table.sort_values("accuracy").index.tolist()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 0.45 * len(order) + 1.6), sharey=False)
    y = np.arange(len(order))
    for k, (metric, marker) in enumerate((("accuracy", "o"), ("macro_f1", "s"))):
        v = table.loc[order, metric].to_numpy(dtype=float)
        err = np.vstack(
            [
                v - table.loc[order, f"{metric}_low"].to_numpy(dtype=float),
                table.loc[order, f"{metric}_high"].to_numpy(dtype=float) - v,
            ]
        )
        a.errorbar(
            v, y + (k - 0.5) * 0.25, xerr=err, fmt=marker, capsize=3, label=metric.replace("_", "-")
        )
    a.set_yticks(y, [f"{n} ★" if n == reference else n for n in order])
    a.set(
        xlim=(0, 1),
        xlabel="test split (95% cluster-bootstrap CI)",
        title="every candidate on the same test images",
    )
    a.legend(loc="lower right", fontsize=8)
    if repeats is not None and len(repeats):
        long = repeats.reset_index().melt(
            id_vars="seed", var_name="candidate", value_name="accuracy"
        )
        long = long[long["candidate"].isin(order)]
        sns.stripplot(
            data=long,
            y="candidate",
            x="accuracy",
            order=[o for o in order if o in set(long["candidate"])],
            ax=b,
            size=5,
            alpha=0.7,
        )
        b.set(xlim=(0, 1), title=f"{repeats.shape[0]} other group-aware splits", ylabel="")
    else:
        b.axis("off")
    fig.tight_layout()
    return fig


def confusion_matrices(
    confusions: dict[str, list[list[int]]], classes: list[str], max_categories: int | None = 20
) -> plt.Figure:
    """Row-normalised confusion matrices (counts annotated), one per model; only the most frequent
    ``max_categories`` true categories are drawn (rows and columns), the rest named."""
    first = np.asarray(next(iter(confusions.values())))
    support = pd.Series(first.sum(axis=1), index=classes)
    shown, left = shown_categories(support, max_categories)
    idx = [classes.index(c) for c in shown]
    fig, axes = plt.subplots(
        1,
        len(confusions),
        figsize=(max(6.2, 0.5 * len(idx) + 2.5) * len(confusions), max(5.4, 0.45 * len(idx) + 2)),
        squeeze=False,
    )
    short = [_short(c, 16) for c in shown]
    for ax, (name, cm) in zip(axes[0], confusions.items()):
        cm = np.asarray(cm)[np.ix_(idx, idx)]
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        sns.heatmap(
            share,
            annot=cm,
            fmt="d",
            cmap="Blues",
            vmin=0,
            vmax=1,
            cbar=False,
            ax=ax,
            xticklabels=short,
            yticklabels=short,
            annot_kws={"fontsize": 8},
        )
        ax.set(title=name, xlabel="predicted", ylabel="true")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    _left_out_note(fig, left)
    return fig


def label_budget(
    summary: pd.DataFrame, zeroshot: float | None = None, zeroshot_name: str = "clip-zeroshot"
) -> plt.Figure:
    """Test accuracy (mean, min-max band) against labelled images per category; zero-shot at k = 0."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    ks = [k for k in summary["k"].unique() if str(k) != "all"]
    positions = {k: i + 1 for i, k in enumerate(ks)}
    positions["all"] = len(ks) + 1
    for (name, part), colour in zip(summary.groupby("candidate", sort=False), sns.color_palette()):
        x = [positions[k if str(k) != "all" else "all"] for k in part["k"]]
        ax.plot(x, part["mean"], "o-", color=colour, label=name)
        ax.fill_between(x, part["min"], part["max"], color=colour, alpha=0.15)
    if zeroshot is not None:
        ax.scatter(
            [0],
            [zeroshot],
            marker="*",
            s=180,
            color="k",
            zorder=4,
            label=f"{zeroshot_name} (k = 0)",
        )
        ax.axhline(zeroshot, color="k", lw=0.8, ls=":")
    ax.set_xticks([0] + list(positions.values()), ["0"] + [str(k) for k in positions])
    ax.set(
        xlabel="labelled training images per category",
        ylabel="test accuracy",
        ylim=(0, 1.02),
        title="How much labelling buys (band: min-max over draws)",
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- explanations (06)
def lime_examples(
    images: list[np.ndarray],
    note_results: list[dict],
    chosen_results: list[dict],
    classes: list[str],
    top_k: int = 10,
) -> plt.Figure:
    """The note's Figure 7: each image, its ``top_k`` superpixels at the note's sample count and at the
    chosen one, and every superpixel's weight at the chosen count."""
    from skimage.segmentation import mark_boundaries

    fig, axes = plt.subplots(len(images), 4, figsize=(13, 3.4 * len(images)), squeeze=False)
    for row, image, rn, rc in zip(axes, images, note_results, chosen_results):
        for ax, r in ((row[1], rn), (row[2], rc)):
            keep = np.isin(r["segments"], sorted(top_segments(r["weights"], top_k)))
            shown = np.where(keep[..., None], image, (image * 0.25 + 191).astype(np.uint8))
            show_array(
                ax,
                mark_boundaries(shown, r["segments"] * keep, color=(1, 0.8, 0)),
                f"top {top_k} at {r['num_samples']} copies (R² {r['score']:.2f})",
            )
        heat = rc["weights"][rc["segments"]]
        lim = np.abs(heat).max() or 1.0
        show_array(
            row[0], image, f"predicted {_short(classes[rc['label']])} (p = {rc['probability']:.2f})"
        )
        row[3].imshow(image)
        row[3].imshow(heat, cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.6)
        row[3].set_title(f"weight per superpixel ({rc['num_samples']} copies)", fontsize=8)
        row[3].axis("off")
    fig.tight_layout()
    return fig


def averaging(
    images: list[np.ndarray], maps: list[np.ndarray], mean: np.ndarray, label: str
) -> plt.Figure:
    """The note's Figure 8: two images of one category, their LIME maps (scaled to [-1, 1]) and the average."""
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.6))
    for c, (image, m) in enumerate(zip(images, maps)):
        show_array(axes[0, c], image, f"test image {c + 1}")
        axes[1, c].imshow(image)
        axes[1, c].imshow(m / (np.abs(m).max() or 1), cmap="RdBu_r", vmin=-1, vmax=1, alpha=0.6)
        axes[1, c].set_title(f"LIME map {c + 1} (scaled to [-1, 1])", fontsize=8)
        axes[1, c].axis("off")
    show_array(axes[0, 2], np.mean(images, axis=0).astype(np.uint8), "mean photo")
    axes[1, 2].imshow(np.mean(images, axis=0).astype(np.uint8), alpha=0.6)
    axes[1, 2].imshow(mean, cmap="RdBu_r", vmin=-1, vmax=1, alpha=0.65)
    axes[1, 2].set_title("pixel-wise average of the two maps", fontsize=8)
    axes[1, 2].axis("off")
    fig.suptitle(f"{_short(label, 40)}: how a per-category map is made", fontsize=10)
    fig.tight_layout()
    return fig


def global_maps(
    maps: dict[str, np.ndarray],
    counts: dict[str, int],
    backgrounds: dict[str, np.ndarray],
    left_out: list[str] | None = None,
) -> plt.Figure:
    """The note's Figure 9: per category, the mean LIME map over ``counts[c]`` images, over a mean photo."""
    labels = list(maps)
    cols = min(4, max(1, len(labels)))
    rows = int(np.ceil(len(labels) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, label in zip(axes.ravel(), labels):
        if label in backgrounds:
            ax.imshow(backgrounds[label].astype(np.uint8), alpha=0.6)
        if counts.get(label):
            lim = np.abs(maps[label]).max() or 1.0
            ax.imshow(maps[label], cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.65)
        ax.set_title(f"{_short(label, 24)}\n(n = {counts.get(label, 0)})", fontsize=8)
    fig.suptitle("Mean LIME importance per category (red: supports the class)", fontsize=10)
    fig.tight_layout()
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
) -> plt.Figure:
    """Left: top-k overlap between LIME seeds per sample count (median over images, each image a dot).
    Right: deletion curves over the same superpixels, with their mean areas."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2))
    counts = sorted(medians, key=int)
    x = np.arange(len(counts))
    a.bar(
        x,
        [medians[c] for c in counts],
        color=sns.color_palette()[0],
        alpha=0.7,
        label="median over images",
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
        xlabel="LIME perturbed copies per image (✓: used for the figures)",
        ylabel=f"Jaccard of top-{k} superpixels",
        title="Stability across seeds (dots: images)",
    )
    a.legend(fontsize=8)
    for method, curve in curves.items():
        b.plot(
            np.linspace(0, 100, len(curve)), curve, label=f"{method} (mean area {auc[method]:.3f})"
        )
    b.set(
        xlabel="% of superpixels deleted (most important first)",
        ylabel="probability of the explained class",
        title="Deletion curves (lower area = more faithful)",
    )
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


def shap_figure(
    shap_values, predicted: list[str], true_labels: list[str] | None = None
) -> plt.Figure:
    """SHAP's own ``image_plot`` (one row per image, the explained class ``predicted`` named above its map)."""
    import shap

    values = np.asarray(shap_values.values)[..., 0]  # the explained (predicted) class
    names = np.array([[_short(p)] for p in predicted])
    # arrays rather than the Explanation: shap 0.51 misreads an Explanation of 3 RGB images as two output dims
    shap.image_plot(
        [values],
        pixel_values=np.asarray(shap_values.data),
        labels=names,
        true_labels=true_labels,
        show=False,
    )
    return plt.gcf()


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
