"""Figures of the evaluation (notebook 05): zero-shot similarity, the loss, every candidate with
intervals, confusions, top losses, the label budget, accuracy against cost.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ...data.catalog import load_image
from .style import READS, _left_out_note, _short, _wrap, chance_line, reads_label, shown_categories


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
    losses = np.asarray(losses, dtype=float)
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
