"""Figures of the photo explanations (notebook 06): LIME examples, SHAP, per-category maps and how
they are averaged, and the trust checks.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ...explain.photos import top_segments
from .style import (
    DIVERGING,
    _label,
    _left_out_note,
    _wrap,
    chance_line,
    describe,
    show_array,
)

# readable at the note's width (960 px): panels about two inches wide, titles at 11 points
PANEL, TITLE, LABEL = 2.1, 11, 10


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
    and at the chosen one, and every superpixel's weight at the chosen count (colour bar). Laid
    out to stay readable at the note's width: panels about two inches wide, titles on two lines
    at ``TITLE`` points."""
    from skimage.segmentation import mark_boundaries

    fig, axes = plt.subplots(
        len(images), 4, figsize=(4 * PANEL + 1.3, (PANEL + 0.75) * len(images)), squeeze=False
    )
    shown = None
    for row, image, rn, rc in zip(axes, images, note_results, chosen_results):
        for ax, r in ((row[1], rn), (row[2], rc)):
            keep = np.isin(r["segments"], sorted(top_segments(r["weights"], top_k)))
            dim = np.where(keep[..., None], image, (image * 0.25 + 191).astype(np.uint8))
            show_array(
                ax,
                mark_boundaries(dim, r["segments"] * keep, color=(1, 0.8, 0)),
                f"top {top_k} at {r['num_samples']} copies\n(R² {r['score']:.2f})",
                fontsize=TITLE,
            )
        heat = rc["weights"][rc["segments"]]
        lim = np.abs(heat).max() or 1.0
        show_array(
            row[0],
            image,
            _wrap(
                # no break inside "(p = 0.78)": non-breaking spaces
                f"predicted {_label(classes[rc['label']], 200)} "
                f"(p\u00a0=\u00a0{rc['probability']:.2f})",
                24,
            ),
            fontsize=TITLE,
        )
        shown = _overlay(row[3], image, heat / lim, 1.0)
        row[3].set_title(f"weight per superpixel\n({rc['num_samples']} copies)", fontsize=TITLE)
    fig.tight_layout(rect=(0, 0, 1 - 1.3 / fig.get_figwidth(), 1))
    if shown is not None:
        cax = fig.add_axes([1 - 1.15 / fig.get_figwidth(), 0.15, 0.15 / fig.get_figwidth(), 0.7])
        cb = fig.colorbar(shown, cax=cax)
        cb.set_label(
            "LIME weight / largest |weight|\n(red: for the predicted class)", fontsize=LABEL
        )
        cb.ax.tick_params(labelsize=LABEL - 1)
    return describe(fig, images=len(images), top_k=int(top_k))


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
    fig.suptitle(f"{_label(label, 200)}: how a per-category map is made", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    cax = fig.add_axes([0.93, 0.08, 0.015, 0.38])
    cb = fig.colorbar(shown, cax=cax)
    cb.set_label("scaled LIME weight (red: for the class)", fontsize=8)
    return describe(fig, category=str(label))


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
    fig, axes = plt.subplots(
        rows, cols, figsize=((PANEL + 0.2) * cols + 1.3, (PANEL + 0.75) * rows + 0.4), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    lim = max([np.abs(maps[c]).max() for c in labels if counts.get(c)] + [1e-9])
    shown = None
    for ax, label in zip(axes.ravel(), labels):
        if label in backgrounds:
            ax.imshow(backgrounds[label].astype(np.uint8), alpha=0.6)
        if counts.get(label):
            shown = ax.imshow(maps[label], cmap=DIVERGING, vmin=-lim, vmax=lim, alpha=0.65)
        ax.set_title(f"{_label(label, 20)}\n(n = {counts.get(label, 0)})", fontsize=TITLE)
    fig.suptitle(f"Mean LIME importance per category, over {what}", fontsize=TITLE + 1)
    fig.tight_layout(rect=(0, 0, 1 - 1.3 / fig.get_figwidth(), 1))
    if shown is not None:
        cax = fig.add_axes([1 - 1.15 / fig.get_figwidth(), 0.15, 0.15 / fig.get_figwidth(), 0.7])
        cb = fig.colorbar(shown, cax=cax)
        cb.set_label("mean scaled LIME weight\n(red: for the class, blue: against)", fontsize=LABEL)
        cb.ax.tick_params(labelsize=LABEL - 1)
    _left_out_note(fig, left_out or [])
    return describe(
        fig,
        categories=labels,
        counts={c: int(counts.get(c, 0)) for c in labels},
        left_out=list(left_out or []),
    )


def trust(stable: dict, deletion, k: int, n_classes: int, unit: str = "superpixels") -> plt.Figure:
    """Left: top-k overlap between LIME seeds per sample count (median over items, each item a
    dot; ``stable``: ``median_jaccard``, ``per_image``, ``threshold``, ``chosen``). Right:
    deletion curves over the same ``unit`` (``deletion.curves``), with their mean areas
    (``deletion.auc``). Both axes 0 to 1."""
    medians, per_image = stable["median_jaccard"], stable["per_image"]
    threshold, chosen = stable["threshold"], stable["chosen"]
    curves, auc = deletion.curves, deletion.auc
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.4))
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
        ylim=(0, 1.04),  # dots at 1.0 drawn whole
        xlabel="LIME perturbed copies (✓: used for the figures)",
        ylabel=f"Jaccard overlap of the top-{k} {unit}",
    )
    a.set_title("Stability across seeds (dots: items)", fontsize=11)
    a.legend(fontsize=9.5, loc="upper left")
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
    b.set_title("Deletion curves (lower area = more faithful)", fontsize=11)
    b.legend(fontsize=9.5, loc="upper right")
    fig.tight_layout()
    return fig


def shap_figure(
    shap_values,
    predicted: list[str],
    true_labels: list[str] | None = None,
    probabilities: list[float] | None = None,
    per_row: int = 2,
) -> plt.Figure:
    """SHAP maps of the explained (predicted) class, one image per category: each photo beside
    the same photo with its SHAP map (channels summed) drawn over it, ``per_row`` images to a row
    (two: readable at the note's width); above each pair the true and the predicted category with
    the probability of the prediction (``probabilities``); one symmetric, diverging colour scale
    and bar (red: towards the predicted class, blue: away from it)."""
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
    side, gap, bar = 1.75, 0.35, 1.3  # inches: a panel, between pairs, the colour bar
    lines = 1 + (true_labels is not None) + (probabilities is not None)
    head = 0.3 + 0.2 * lines  # a pair's title, in inches
    width = per_row * 2 * side + (per_row - 1) * gap + bar
    fig = plt.figure(figsize=(width, rows * (side + head) + 0.2))
    ratios = []
    for k in range(per_row):
        ratios += [side, side] + ([gap] if k < per_row - 1 else [])
    grid = fig.add_gridspec(
        rows,
        len(ratios),
        width_ratios=ratios,
        wspace=0.04,
        hspace=head / side,
        left=0.1 / width,
        right=1 - bar / width,
        top=1 - (head + 0.05) / fig.get_figheight(),
        bottom=0.1 / fig.get_figheight(),
    )
    lim = float(np.abs(values).max()) or 1.0
    exponent = int(np.floor(np.log10(lim)))
    scale = 10.0**exponent if abs(exponent) >= 3 else 1.0  # say tiny values in the label
    values, lim = values / scale, lim / scale
    shown = None
    for j in range(n):
        r, c = divmod(j, per_row)
        photo = fig.add_subplot(grid[r, 3 * c])
        heat = fig.add_subplot(grid[r, 3 * c + 1])
        title = f"predicted: {_label(predicted[j], 30)}"
        if probabilities is not None:
            title += f"\nprobability {probabilities[j]:.2f}"
        if true_labels is not None:
            title = f"true: {_label(true_labels[j], 30)}\n" + title
        show_array(photo, data[j])
        photo.set_title(title, fontsize=TITLE, loc="left", gid=f"shap-title:{j}")
        # the map over the photo itself (its values resized to the photo), so a region reads
        # where it is
        heat.imshow(data[j])
        h, w = data[j].shape[:2]
        shown = heat.imshow(
            values[j],
            cmap=DIVERGING,
            vmin=-lim,
            vmax=lim,
            alpha=0.6,
            extent=(-0.5, w - 0.5, h - 0.5, -0.5),
            interpolation="nearest",
        )
        heat.axis("off")
    if shown is not None:
        cax = fig.add_axes([1 - (bar - 0.2) / width, 0.15, 0.15 / width, 0.7])
        cb = fig.colorbar(shown, cax=cax)
        unit = f" (×1e{exponent})" if scale != 1.0 else ""
        cb.set_label(
            f"SHAP value{unit}\n(red: towards the predicted class, blue: away)", fontsize=LABEL
        )
        cb.ax.tick_params(labelsize=LABEL - 1)
    return describe(
        fig,
        images=int(n),
        probabilities=[round(float(p), 4) for p in probabilities] if probabilities else None,
    )
