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
from .explain import top_segments

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
    fig, axes = plt.subplots(len(labels), per_category, figsize=(1.9 * per_category + 2.2, 1.9 * len(labels)),
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


def learning_curves(histories: dict[str, pd.DataFrame], best_epochs: dict[str, int]) -> plt.Figure:
    """Loss and accuracy per epoch, train vs validation, one column per model; the kept epoch marked."""
    fig, axes = plt.subplots(2, len(histories), figsize=(5.5 * len(histories), 6.5), squeeze=False, sharex="col")
    for c, (name, h) in enumerate(histories.items()):
        for r, (metric, label) in enumerate((("loss", "cross-entropy"), ("acc", "accuracy"))):
            ax = axes[r, c]
            ax.plot(h["epoch"], h[f"train_{metric}"], "o-", ms=3, label="train")
            ax.plot(h["epoch"], h[f"val_{metric}"], "o-", ms=3, label="validation")
            ax.axvline(best_epochs[name], color="grey", ls="--", lw=1, label=f"kept: epoch {best_epochs[name]}")
            ax.set_ylabel(label)
            if r == 0:
                ax.set_title(name)
            else:
                ax.set_xlabel("epoch")
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrices(confusions: dict[str, list[list[int]]], classes: list[str]) -> plt.Figure:
    """Row-normalised confusion matrices (counts annotated), one per model."""
    fig, axes = plt.subplots(1, len(confusions), figsize=(6.2 * len(confusions), 5.4), squeeze=False)
    short = [c if len(c) <= 16 else c[:15] + "…" for c in classes]
    for ax, (name, cm) in zip(axes[0], confusions.items()):
        cm = np.asarray(cm)
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        sns.heatmap(share, annot=cm, fmt="d", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax,
                    xticklabels=short, yticklabels=short, annot_kws={"fontsize": 8})
        ax.set(title=name, xlabel="predicted", ylabel="true")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def results_synthesis(table: pd.DataFrame, repeats: pd.DataFrame) -> plt.Figure:
    """Left: test accuracy and macro-F1 with 95% bootstrap intervals. Right: accuracy over repeated splits."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    models = list(table.index)
    x = np.arange(len(models))
    for k, metric in enumerate(("accuracy", "macro_f1")):
        values = table[metric].to_numpy()
        err = np.vstack([values - table[f"{metric}_low"].to_numpy(), table[f"{metric}_high"].to_numpy() - values])
        a.bar(x + (k - 0.5) * 0.38, values, 0.38, yerr=err, capsize=4, label=metric.replace("_", "-"))
    a.set_xticks(x, models)
    a.set_ylim(0, 1)
    a.set_title("test split (95% bootstrap CI)")
    a.legend(loc="lower right")
    long = repeats.reset_index().melt(id_vars="seed", var_name="model", value_name="test accuracy")
    sns.boxplot(data=long, x="model", y="test accuracy", ax=b, color="white", width=0.4)
    sns.stripplot(data=long, x="model", y="test accuracy", ax=b, size=6, alpha=0.8)
    b.set_title(f"{repeats.shape[0]} repeated group-aware splits")
    b.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def feature_maps(matrices: dict[str, np.ndarray], labels: pd.Series, seed: int = 0) -> plt.Figure:
    """t-SNE of each encoder's features (standardised), coloured by category."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    fig, axes = plt.subplots(1, len(matrices), figsize=(6 * len(matrices), 5), squeeze=False)
    for k, (ax, (name, X)) in enumerate(zip(axes[0], matrices.items())):
        perplexity = min(30.0, (len(X) - 1) / 3)
        xy = TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(StandardScaler().fit_transform(X))
        sns.scatterplot(x=xy[:, 0], y=xy[:, 1], hue=labels.to_numpy(), s=14, ax=ax, legend=k == len(matrices) - 1)
        ax.set(title=f"{name} features (t-SNE)", xticks=[], yticks=[])
    if len(matrices):
        axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig


def lime_examples(images: list[np.ndarray], results: list[dict], classes: list[str], top_k: int = 10) -> plt.Figure:
    """The note's Figure 7: each image, then its ``top_k`` most important superpixels (positive weights)."""
    from skimage.segmentation import mark_boundaries

    fig, axes = plt.subplots(len(images), 3, figsize=(10, 3.4 * len(images)), squeeze=False)
    for row, (image, r) in zip(axes, zip(images, results)):
        keep = np.isin(r["segments"], sorted(top_segments(r["weights"], top_k)))
        shown = np.where(keep[..., None], image, (image * 0.25 + 191).astype(np.uint8))
        heat = r["weights"][r["segments"]]
        lim = np.abs(heat).max() or 1.0
        show_array(row[0], image, "input")
        show_array(row[1], mark_boundaries(shown, r["segments"] * keep, color=(1, 0.8, 0)),
                   f"{top_k} most important superpixels")
        row[2].imshow(image)
        row[2].imshow(heat, cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.6)
        row[2].set_title("LIME weight per superpixel", fontsize=8)
        row[2].axis("off")
        row[0].set_title(f"predicted {classes[r['label']]} (p = {r['probability']:.2f})", fontsize=8)
    fig.tight_layout()
    return fig


def global_maps(maps: dict[str, np.ndarray], counts: dict[str, int], backgrounds: dict[str, np.ndarray]) -> plt.Figure:
    """The note's Figure 9: per category, the mean LIME map over ``counts[c]`` images, over a mean photo."""
    labels = list(maps)
    cols = min(4, len(labels))
    rows = int(np.ceil(len(labels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, label in zip(axes.ravel(), labels):
        if label in backgrounds:
            ax.imshow(backgrounds[label].astype(np.uint8), alpha=0.6)
        if counts.get(label):
            lim = np.abs(maps[label]).max() or 1.0
            ax.imshow(maps[label], cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.65)
        ax.set_title(f"{label[:24]}\n(n = {counts.get(label, 0)})", fontsize=8)
    fig.suptitle("Mean LIME importance per category (red: supports the class)", fontsize=10)
    fig.tight_layout()
    return fig


def trust(stability: dict[int, dict], curves: dict[str, np.ndarray], auc: dict[str, float], k: int) -> plt.Figure:
    """Left: top-k overlap between LIME seeds per sample count. Right: deletion curves with their areas."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    counts = list(stability)
    a.bar([str(c) for c in counts], [stability[c]["mean_jaccard"] for c in counts], color=sns.color_palette()[0])
    a.scatter([str(c) for c in counts], [stability[c]["min_jaccard"] for c in counts], color="k", zorder=3, label="worst pair")
    a.set(ylim=(0, 1), xlabel="LIME perturbed copies per image", ylabel=f"Jaccard of top-{k} superpixels",
          title="Stability across seeds")
    a.legend()
    for method, curve in curves.items():
        b.plot(np.linspace(0, 100, len(curve)), curve, label=f"{method} (area {auc[method]:.3f})")
    b.set(xlabel="% of pixels deleted (most important first)", ylabel="probability of the predicted class",
          title="Deletion curves (lower area = more faithful)")
    b.legend()
    fig.tight_layout()
    return fig


def shap_figure(shap_values, true_labels: list[str] | None = None) -> plt.Figure:
    """SHAP's own ``image_plot`` (one row per image, predicted class named above its map), as a figure."""
    import shap

    names = np.asarray(shap_values.output_names)
    shap.image_plot(shap_values, labels=names if names.ndim == 2 else None, true_labels=true_labels, show=False)
    return plt.gcf()


def architecture(encoders: dict[str, dict], heads: dict[str, dict]) -> plt.Figure:
    """The note's Figure 4: both pipelines as boxes (sizes from the loaded models and head configs),
    and the loss they minimise, cross-entropy -log p(true class)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig = plt.figure(figsize=(13, 4.2))
    ax = fig.add_axes([0, 0, 0.72, 1])
    ax.set(xlim=(0, 10.2), ylim=(0, len(encoders) * 2))
    ax.axis("off")
    for r, (name, enc) in enumerate(encoders.items()):
        h = heads[name]
        y = (len(encoders) - 1 - r) * 2 + 0.6
        layers = [f"Linear {h['in_dim']}→{h['hidden']}", "ReLU"] + (["Dropout " + str(h["dropout"])] if h["dropout"] else [])
        boxes = [("photo\n224×224", "#eeeeee"),
                 (f"{name} encoder\n(frozen, {enc['parameters']:,} parameters)", "#c6dbef"),
                 (f"{enc['dim']}-d\nfeatures", "#eeeeee"),
                 ("\n".join(layers + [f"Linear {h['hidden']}→{h['n_classes']}"]), "#fdd0a2"),
                 (f"softmax\n{h['optimizer']}, lr {h['lr']:g}", "#eeeeee")]
        widths = [1.5, 2.6, 1.4, 2.3, 1.9]
        x = 0.1
        for (text, colour), w in zip(boxes, widths):
            ax.add_patch(FancyBboxPatch((x, y), w - 0.5, 1.0, boxstyle="round,pad=0.05", fc=colour, ec="grey"))
            ax.text(x + (w - 0.5) / 2, y + 0.5, text, ha="center", va="center", fontsize=8)
            if x + w < 9.5:
                ax.add_patch(FancyArrowPatch((x + w - 0.42, y + 0.5), (x + w - 0.08, y + 0.5), arrowstyle="-|>",
                                             mutation_scale=12, color="#555555"))
            x += w
        ax.text(0.1, y + 1.15, name, fontsize=10, weight="bold")
    loss_ax = fig.add_axes([0.78, 0.18, 0.2, 0.7])
    p = np.linspace(0.01, 1, 200)
    loss_ax.plot(p, -np.log(p))
    loss_ax.set(xlabel="predicted probability of the true class", ylabel="cross-entropy loss", title="loss")
    return fig
