"""Figures of the evaluation (notebook 05): zero-shot similarity, the loss, every candidate with
intervals, confusions, top losses, the label budget, accuracy against cost.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ...data.catalog import load_image
from .style import (
    READS,
    _label,
    _left_out_note,
    _lines,
    chance_line,
    describe,
    reads_label,
    shown_categories,
)


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
                fontsize=8,
                color="k" if light else "w",
            )
    heat.set_xticks(range(m), [_label(c, 14) for c in classes], rotation=0, ha="center", fontsize=8)
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
        ax.set_ylabel(_label(true[r], 14), rotation=0, ha="right", va="center", fontsize=8)
    cax = fig.add_subplot(grid[:, 2])
    cb = fig.colorbar(image, cax=cax)
    cb.set_label("cosine similarity (higher: closer)", fontsize=8)
    heat.xaxis.set_label_position("bottom")
    heat.set_xlabel(
        "cosine(photo, category prompts): red frame = best match, white bar = true category",
        fontsize=8,
    )
    return describe(fig, photos=int(n), categories=[str(c) for c in classes])


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
    """The note's loss figure: −log p over p in (0, 1], with this run's per-product test losses
    over it, how many products fall in each bin of p (bars, right axis) and the loss of a uniform
    guess; the legend below the axes, where it hides nothing."""
    losses = np.asarray(losses, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
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
        label=f"{name}: {len(losses)} test products",
    )
    chance_line(ax, np.log(n_classes), "y", label=f"uniform guess: ln {n_classes}")
    ax2 = ax.twinx()
    ax2.hist(
        probs, bins=20, range=(0, 1), alpha=0.25, color="#1f77b4", label="test products per bin"
    )
    ax2.set_ylabel("test products per bin (blue bars)")
    ax2.grid(False)
    ax.set_zorder(ax2.get_zorder() + 1)  # the curve and the dots over the bars
    ax.patch.set_visible(False)
    ax.set(
        xlabel="predicted probability of the true class",
        ylabel="cross-entropy loss",
        xlim=(0, 1),
        ylim=(0, None),
    )
    ax.set_title(
        f"mean test loss {np.mean(losses):.3f}, median {np.median(losses):.3f}", fontsize=10
    )
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return describe(fig, name=name, images=int(len(losses)), products=int(len(losses)))


def results_forest(
    table: pd.DataFrame,
    repeats: pd.DataFrame | None,
    reference: str | None,
    reads: dict[str, str],
    n_classes: int,
    stand_in: Iterable[str] = (),
) -> plt.Figure:
    """Left: accuracy and macro-F1 with 95% intervals per candidate on the test split. Right:
    accuracy over repeated splits. Both panels share the rows (best test accuracy on top); a
    candidate not refitted on the other splits is said so on its row, on the side of the panel
    away from the chance line. ``stand_in``: candidates read through stand-in weights, marked †
    as in the headline figure."""
    order = table.sort_values("accuracy").index.tolist()
    y = np.arange(len(order))
    fig, (a, b) = plt.subplots(
        1, 2, figsize=(9.5, 0.42 * len(order) + 2.0), sharey=True, layout="constrained"
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
    stand = set(stand_in) & set(order)

    def row_label(n: str) -> str:
        kind = reads.get(n)
        return (
            n
            + (" †" if n in stand else "")
            + (f" [{READS[kind][0]}]" if kind in READS else "")
            + (" ★" if n == reference else "")
        )

    a.set_yticks(y, [row_label(n) for n in order])
    chance_line(a, 1 / n_classes, "x", label=f"chance accuracy (1/{n_classes})")
    a.set(xlim=(-0.02, 1.02), xlabel="accuracy and macro-F1 on the locked test split")
    notes = [f"★ {reference}: the reference of the paired tests"] if reference else []
    notes += ["†: stand-in weights"] if stand else []
    # one note a line: beside the other panel's title, a long line would run into it
    a.set_title("\n".join(["test split", *notes]), fontsize=10.5)
    fig.legend(*a.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=10)
    b.set(xlim=(-0.02, 1.02), xlabel="test accuracy on each other split")
    chance_line(b, 1 / n_classes, "x")
    not_refitted = []
    if repeats is not None and len(repeats):
        # the note sits on the side of the panel away from the chance line
        right = 1 / n_classes < 0.5
        for row, name in enumerate(order):
            if name in repeats.columns:
                values = repeats[name].dropna().to_numpy(dtype=float)
                b.scatter(values, np.full(len(values), row), s=18, alpha=0.6, color="C0")
                b.plot([values.mean()] * 2, [row - 0.3, row + 0.3], color="k", lw=1.5)
            else:
                not_refitted.append(name)
                b.text(
                    0.99 if right else 0.01,
                    row,
                    "not refitted on other splits (costly)",
                    ha="right" if right else "left",
                    va="center",
                    fontsize=8,
                    color="#666666",
                    gid=f"not-refitted:{name}",
                )
        b.set_title(f"{repeats.shape[0]} other group-aware splits (dots; bar: mean)", fontsize=10.5)
    else:
        b.set_title("no repeated splits in this run", fontsize=10.5)
    return describe(
        fig,
        names=order[::-1],
        reference=reference,
        stand_in=sorted(stand),
        not_refitted=not_refitted,
    )


def confusion_matrices(
    confusions: dict[str, list[list[int]]], classes: list[str], max_categories: int | None = 20
) -> plt.Figure:
    """Row-normalised confusion matrices (counts annotated), one per model, one colour bar; only
    the most frequent ``max_categories`` true categories are drawn, the rest named. Category
    names are wrapped, never cut."""
    first = np.asarray(next(iter(confusions.values())))
    support = pd.Series(first.sum(axis=1), index=classes)
    shown, left = shown_categories(support, max_categories)
    idx = [classes.index(c) for c in shown]
    n = len(confusions)
    font = 10 if len(idx) <= 10 else 8
    cell = max(0.46, font / 18)  # inches per cell
    heat = max(3.0, cell * len(idx))
    fig, axes = plt.subplots(
        1,
        n,
        figsize=(heat * n + 2.6, heat + 1.9),
        squeeze=False,
        layout="constrained",
    )
    ticks = [_label(c, 14) for c in shown]
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
            square=True,
            xticklabels=ticks,
            yticklabels=ticks if k == 0 else False,
            annot_kws={"fontsize": font},
            cbar_kws={"label": "share of the true\ncategory's test images", "shrink": 0.8},
        )
        ax.set_title(f"{name}: accuracy {np.trace(cm) / max(cm.sum(), 1):.1%}", fontsize=font + 1)
        ax.set_xlabel("predicted", fontsize=font)
        ax.set_ylabel("true" if k == 0 else "", fontsize=font)
        ax.tick_params(axis="x", labelsize=font - 0.5, rotation=90)
        ax.tick_params(axis="y", labelsize=font - 0.5, rotation=0)
    if n:
        cbar = axes[0, -1].collections[0].colorbar
        if cbar is not None:
            cbar.ax.tick_params(labelsize=font - 1)
            cbar.set_label(cbar.ax.get_ylabel(), fontsize=font - 0.5)
    _left_out_note(fig, left)
    return describe(fig, names=list(confusions), categories=list(shown), left_out=list(left))


# the error table's columns: key, heading, width (inches), alignment
_ERROR_COLUMNS = (
    ("photo", "photo", 0.95, "left"),
    ("name", "product name", 2.75, "left"),
    ("true", "true category", 1.45, "left"),
    ("predicted", "predicted", 1.45, "left"),
    ("probability", "p(predicted)", 0.8, "right"),
    ("loss", "loss\n−ln p(true)", 0.75, "right"),
)


def _chars(width_in: float, font: float) -> int:
    """About how many characters of a ``font``-point sans-serif text fit in ``width_in`` inches."""
    return max(6, int(width_in * 72 / (0.56 * font)))


def error_gallery(
    errors: dict[str, pd.DataFrame], per_model: int = 6, side: int = 200, font: float = 9.0
) -> plt.Figure:
    """For each model, its most confident test errors (``errors[name]``: rows with ``path``,
    ``product_name``, ``true``, ``predicted``, ``probability`` and ``p_true``, most confident
    first) as an aligned table, in the manner of fastai's top losses: one row per error, fixed
    columns (photo, product name, true category, predicted category, probability of the
    prediction, loss −ln p(true)); a heading per model says how many of its errors are shown.
    Names are wrapped, never cut (a product name beyond three lines ends in "…"; the full names
    are in the figure's facts)."""
    from matplotlib.patches import Rectangle

    names = list(errors)
    pad = 0.08  # inches between a column's edge and its text
    line = font * 1.35 / 72  # inches per text line
    thumb = 0.85  # the photo's box (inches)
    lefts = np.cumsum([0.0] + [w for _, _, w, _ in _ERROR_COLUMNS])
    width = float(lefts[-1])
    widths = {k: w for k, _, w, _ in _ERROR_COLUMNS}
    wrap = {
        "name": lambda v: _lines(v, _chars(widths["name"] - 2 * pad, font), 3),
        "true": lambda v: _label(v, _chars(widths["true"] - 2 * pad, font)),
        "predicted": lambda v: _label(v, _chars(widths["predicted"] - 2 * pad, font)),
    }

    # lay the table out (inches from the top), then draw it
    blocks, shown_n, products = [], {}, {}
    for name in names:
        table = errors[name]
        shown = table.head(max(0, per_model))
        shown_n[name] = len(shown)
        products[name] = [str(v) for v in shown.get("product_name", [])]
        rows = []
        for _, r in shown.iterrows():
            p_true = r.get("p_true", np.nan)
            cells = {
                "name": wrap["name"](r["product_name"]),
                "true": wrap["true"](r["true"]),
                "predicted": wrap["predicted"](r["predicted"]),
                "probability": f"{float(r['probability']):.2f}",
                "loss": f"{-np.log(max(float(p_true), 1e-12)):.2f}" if pd.notna(p_true) else "–",
            }
            n_lines = max(c.count("\n") + 1 for c in cells.values())
            rows.append((r.get("path"), cells, max(thumb + 0.1, n_lines * line + 0.2)))
        blocks.append((name, len(table), rows))
    heading, column_heads = 0.42, 2 * line + 0.12
    height = (
        sum(
            heading + (column_heads if rows else 0) + sum(h for *_, h in rows) + 0.15
            for _, _, rows in blocks
        )
        or 1.0
    )
    fig = plt.figure(figsize=(width, height))

    def at(x: float, y: float) -> tuple[float, float]:  # inches from the top left -> figure
        return x / width, 1 - y / height

    y = 0.0
    for name, n_errors, rows in blocks:
        noun = "error" if n_errors == 1 else "errors"
        title = (
            f"{name}: {len(rows)} of {n_errors} {noun} shown, most confident first"
            if n_errors
            else f"{name}: no test error"
        )
        fig.text(
            *at(0.02, y + heading / 2 + 0.04),
            title,
            fontsize=font + 1.5,
            weight="bold",
            va="center",
        )
        y += heading
        if not rows:
            y += 0.15
            continue
        for (_, head, w, align), x in zip(_ERROR_COLUMNS, lefts):
            fig.text(
                *at(x + pad if align == "left" else x + w - pad, y + column_heads / 2),
                head,
                fontsize=font - 0.5,
                color="0.35",
                ha=align,
                va="center",
            )
        y += column_heads
        fig.add_artist(
            plt.Line2D([0, 1], [1 - y / height] * 2, color="0.5", lw=0.8, transform=fig.transFigure)
        )
        for k, (path, cells, h) in enumerate(rows):
            if k % 2:
                fig.add_artist(
                    Rectangle(
                        at(0, y + h),
                        1,
                        h / height,
                        transform=fig.transFigure,
                        color="0.95",
                        zorder=-1,
                        lw=0,
                    )
                )
            ax = fig.add_axes([*at(pad, y + (h + thumb) / 2), thumb / width, thumb / height])
            ax.axis("off")
            if path is not None and pd.notna(path):
                ax.imshow(load_image(path, max_side=side))
            for (key, _, w, align), x in zip(_ERROR_COLUMNS, lefts):
                if key in cells:
                    fig.text(
                        *at(x + pad if align == "left" else x + w - pad, y + h / 2),
                        cells[key],
                        fontsize=font,
                        ha=align,
                        va="center",
                        linespacing=1.2,
                        color="#b22222" if key == "predicted" else "k",
                        gid=f"error-{key}",
                    )
            y += h
        y += 0.15
    return describe(
        fig,
        names=names,
        shown=shown_n,
        errors={n: b[1] for n, b in zip(names, blocks)},
        products=products,
    )


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
    ax.tick_params(axis="both", labelsize=10)
    numbers = [float(k) for k in ks]
    doubling = len(numbers) > 1 and all(b == 2 * a for a, b in zip(numbers, numbers[1:]))
    ax.set_xlabel(
        "labelled products per category, k (k to train, up to k more to choose settings)\n"
        "evenly spaced, not to scale"
        + (": k doubles at each step" if doubling else ": one step per k tried")
        + "; all: the whole training and validation parts",
        fontsize=10,
    )
    ax.set(ylabel="test accuracy", ylim=(0, 1.02))
    ax.set_title("How much labelling buys (line: mean over draws, band: min-max)", fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return describe(
        fig,
        names=[str(n) for n, _ in groups],
        zeroshot=zeroshot is not None,
        x_scale="evenly spaced steps of k, not to scale",
    )


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


def _crosses(p, q, box) -> bool:
    """Whether the segment ``p``-``q`` passes through ``box`` (x0, y0, x1, y1): Liang-Barsky."""
    (x, y), (dx, dy) = p, (q[0] - p[0], q[1] - p[1])
    low, high = 0.0, 1.0
    for d, lo_gap, hi_gap in ((dx, x - box[0], box[2] - x), (dy, y - box[1], box[3] - y)):
        if d == 0:
            if lo_gap < 0 or hi_gap < 0:
                return False
            continue
        t0, t1 = sorted((-lo_gap / d, hi_gap / d))
        low, high = max(low, t0), min(high, t1)
        if low > high:
            return False
    return True


def _intersect(a, b) -> bool:
    """Whether segments ``a`` and ``b`` (pairs of points) cross."""

    def side(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    (p, q), (r, t) = a, b
    return side(p, q, r) * side(p, q, t) < 0 and side(r, t, p) * side(r, t, q) < 0


def _beside(
    ax: plt.Axes,
    points: list[tuple[float, float]],
    labels: list[str],
    weights: list[str] | None = None,
    **text_kw,
) -> list:
    """Each label beside its point (data coordinates), right of it or else left, moved up or
    down only as far as needed so that no two labels overlap, no label covers a point and no
    leader line crosses a label or another leader (greedy, in display pixels, in the order
    given); a thin grey line joins a label moved off its point's height. Call once the axes'
    layout is final. Returns the texts drawn."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_pt = 72 / fig.dpi
    frame = ax.get_window_extent(renderer)
    xy = ax.transData.transform(np.asarray(points, dtype=float))
    gap, dot = 7.0, 6.0  # pixels between a point and its label; half a marker's box
    markers = [(x - dot, y - dot, x + dot, y + dot) for x, y in xy]
    boxes: list[tuple] = []  # the labels placed
    leaders: list[tuple] = []  # their leader lines

    def free(box, leader, strict: bool, own: int) -> bool:
        def apart(a, b):
            return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]

        if not all(apart(box, b) for b in boxes + markers):
            return False
        if not strict:
            return True
        if box[1] < frame.y0 + 1 or box[3] > frame.y1 - 1:  # inside the axes, off their spines
            return False
        if any(_crosses(*seg, box) for seg in leaders):
            return False
        if leader is not None:
            if any(_crosses(*leader, b) for b in boxes):
                return False
            shrunk = [(m[0] + 2, m[1] + 2, m[2] - 2, m[3] - 2) for m in markers]
            if any(_crosses(*leader, m) for k, m in enumerate(shrunk) if k != own):
                return False
            if any(_intersect(leader, seg) for seg in leaders):
                return False
        return True

    texts = []
    for own, ((x, y), point, label, weight) in enumerate(
        zip(xy, points, labels, weights or ["normal"] * len(labels))
    ):
        probe = ax.text(0, 0, label, fontweight=weight, **text_kw)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width, extent.height
        step = h * 0.5
        sides = ("right", "left") if x + gap + w <= frame.x1 else ("left", "right")
        chosen = None
        for strict in (True, False):
            for k in range(0, 600):
                dy = (k + 1) // 2 * step * (1 if k % 2 else -1)  # 0, +s, -s, +2s, -2s...
                moved = abs(dy) > h * 0.45
                for side in sides:
                    x0 = x + gap if side == "right" else x - gap - w
                    box = (x0 - 1, y + dy - h / 2 - 1, x0 + w + 1, y + dy + h / 2 + 1)
                    end = (x0 if side == "right" else x0 + w, y + dy)
                    leader = ((x, y), end) if moved else None
                    if free(box, leader, strict, own):
                        chosen = (side, dy, box, leader)
                        break
                if chosen:
                    break
            if chosen:
                break
        side, dy, box, leader = chosen or (sides[0], 0.0, (x, y, x, y), None)
        boxes.append(box)
        if leader is not None:
            leaders.append(leader)
        texts.append(
            ax.annotate(
                label,
                xy=point,
                xycoords="data",
                xytext=((gap if side == "right" else -gap) * to_pt, dy * to_pt),
                textcoords="offset points",
                ha="left" if side == "right" else "right",
                va="center",
                annotation_clip=False,
                arrowprops=dict(
                    arrowstyle="-",
                    color="#666666",
                    lw=0.8,
                    shrinkA=0,
                    shrinkB=3,
                    relpos=(0.0 if side == "right" else 1.0, 0.5),
                )
                if leader is not None
                else None,
                bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.75),
                fontweight=weight,
                gid=f"label:{label}",
                **text_kw,
            )
        )
    return texts


def accuracy_cost(
    table: pd.DataFrame,
    ms_per_product: dict[str, float],
    labelled: dict[str, int],
    reads: dict[str, str],
    n_classes: int,
    device: str = "",
    numbered: bool | None = None,
) -> plt.Figure:
    """Accuracy (95% interval) against the measured milliseconds of one prediction (log scale),
    marker by what the candidate reads, the best trade-offs (nothing both cheaper and more
    accurate) joined and named in bold; chance dotted. Each candidate is named beside its point
    with the labelled products it needs, or, when ``numbered`` (by default with more than eight
    candidates), numbered at its point (1: the most accurate) with a key beside the plot giving
    each number's candidate, accuracy, milliseconds and labels. Labels and numbers are nudged up
    or down so that none overlaps another and no leader line crosses one."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    names = [n for n in table.index if n in ms_per_product]
    cost = pd.Series({n: max(ms_per_product[n], 1e-3) for n in names}, dtype=float)
    acc = table.loc[names, "accuracy"].astype(float)
    front = pareto_front(cost, acc)
    numbered = len(names) > 8 if numbered is None else numbered
    order = sorted(names, key=lambda n: (-acc[n], cost[n]))
    plot_width, key_width = (5.6, 3.2) if numbered else (6.9, 0.0)  # inches
    width = 0.7 + plot_width + key_width
    fig = plt.figure(figsize=(width, 4.8))
    ax = fig.add_axes([0.7 / width, 0.24, plot_width / width, 0.68])
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
            ms=6 if numbered else 7,
            capsize=2,
            alpha=0.8,
            color=colours[r],
            label=f"reads the {label}",
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
            label="best trade-offs (bold)",
        )
    chance_line(ax, 1 / n_classes, "y", label=f"chance (1/{n_classes})")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 3)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    spread = 1.6 if numbered else 2.5  # room for the labels beside the outermost points
    low, high = (cost.min() / spread, cost.max() * spread) if names else (0.1, 10)
    ax.set(ylim=(-0.06, 1.04), xlim=(low, high))  # a point at 0 or 1, and its label, show whole
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("test accuracy (95% CI)", fontsize=9)
    ax.set_xlabel(
        "milliseconds per product, the whole prediction from the file (log scale)"
        + (f"\nmeasured on {device}" if device else ""),
        fontsize=9,
    )
    ax.tick_params(labelsize=8.5)
    ax.legend(
        fontsize=8.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2 if device else -0.15),
        ncol=3,
        frameon=False,
    )
    ax.set_title(
        "Accuracy against the cost of one prediction"
        + (
            "\n(number: rank by accuracy, see the key)"
            if numbered
            else "\n(label: the candidate and the labelled products it needs)"
        ),
        fontsize=10,
    )
    weights = ["bold" if n in front else "normal" for n in order]
    if numbered:
        _beside(
            ax,
            [(cost[n], acc[n]) for n in order],
            [str(k) for k in range(1, len(order) + 1)],
            weights,
            fontsize=9.5,
        )
        rows = [("#", "candidate: accuracy, ms, labelled", "normal")] + [
            (str(k), f"{n}: {acc[n]:.2f}, {cost[n]:.3g} ms, {labelled.get(n, 0)}", weight)
            for k, (n, weight) in enumerate(zip(order, weights), start=1)
        ]
        frame = ax.get_position()
        step = min(0.2, (frame.height * 4.8 + 0.6) / max(len(rows), 1)) / 4.8  # inches -> fig
        for k, (number, line, weight) in enumerate(rows):
            y = frame.y1 - k * step
            style = dict(fontsize=9.5, va="top", fontweight=weight, color="0.35" if k == 0 else "k")
            fig.text(frame.x1 + 0.5 / width, y, number, ha="right", **style)
            fig.text(frame.x1 + 0.6 / width, y, line, gid=f"key:{k}", **style)
    else:
        _beside(
            ax,
            [(cost[n], acc[n]) for n in order],
            [f"{n} ({labelled.get(n, 0)} labels)" for n in order],
            weights,
            fontsize=8.5,
        )
    return describe(
        fig,
        names=names,
        device=device,
        front=list(front),
        numbered={n: k for k, n in enumerate(order, start=1)} if numbered else {},
    )
