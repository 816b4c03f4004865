"""Figures of the word and fusion explanations (notebook 06): words coloured by their weight, words
per category beside the model's coefficients, the trust checks, the photo/text split of the
fusions and their disagreements.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ...data.catalog import load_image
from .style import _label, _left_out_note, _lines, _wrap, chance_line, describe

sns.set_theme(style="whitegrid", context="notebook")


# ---- text and fusion explanations (06)
def text_explanations(
    results: list[dict],
    texts: list[str],
    headers: list[str],
    max_words: int = 70,
    top_k: int = 5,
    width_px: int = 1000,
    dpi: int = 150,
    name: str | None = None,
) -> plt.Figure:
    """One row per product: its text (``texts``: as the model reads it, original case) with each
    word's background coloured by its LIME weight for the explained class (red: towards it, blue:
    away, on one scale shared by all rows, colour bar below), and its ``top_k`` words each way as
    bars (same scale on every row).

    ``headers``: a line per product (category, prediction), wrapped when longer than the text
    column, never cut. Texts longer than ``max_words`` words are cut (the row says so); the bars
    rank every word. ``width_px`` wide at ``dpi``. ``name``: the candidate explained (a fact for
    the caption).
    """
    import re

    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    from ...explain.words import segments, top_words, weight_of, word_cmap, word_weights

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
    header_lines = [_wrap(h, chars).split("\n") for h in headers]
    heights = [
        max(len(lines) + 1.5 * cut + len(head) - 1, 0.85 * len(bars)) + 2.4
        for (lines, cut), bars, head in zip(wrapped, shown, header_lines)
    ]
    line_in = font * 1.45 / 72
    fig.set_size_inches(width, (sum(heights) + 6) * line_in)
    grid = fig.add_gridspec(len(results) + 1, 2, height_ratios=[*heights, 6], hspace=0.1, **layout)
    for row, (r, (lines, cut), header, bars_shown, h) in enumerate(
        zip(results, wrapped, header_lines, shown, heights)
    ):
        extra = len(header) - 1  # header lines beyond the first
        ax = fig.add_subplot(grid[row, 0])
        # a full line between the header and the text, so their highlights never touch
        ax.set(xlim=(0, columns), ylim=(h - 1.9 - extra, -1.9 - extra))
        ax.axis("off")
        ax.text(
            0,
            -1.05 - extra / 2,
            "\n".join(header),
            family="monospace",
            fontsize=font,
            fontweight="bold",
            va="center",
            linespacing=1.45,
        )
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
    return describe(fig, name=name, products=len(results))


def word_importance(
    words: dict[str, pd.DataFrame],
    coefficients: pd.DataFrame | None = None,
    agreement: dict | None = None,
    n: int = 8,
    counts: dict[str, int] | None = None,
    name: str | None = None,
) -> plt.Figure:
    """Per category, the ``n`` words with the largest mean LIME weight over its correctly classified
    products (``explain_text.category_words``) and, beside them when given, the same words'
    coefficients in the model's logistic regression (the exact global view of a TF-IDF model), with
    the rank agreement over every word both rank. ``name``: the candidate explained (a fact for
    the caption)."""
    labels = list(words)
    per_row = 2
    rows = int(np.ceil(len(labels) / per_row)) or 1
    fig = plt.figure(figsize=(9.5, (0.3 * n + 1.3) * rows + 0.5), layout="constrained")
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
        ax.set_yticks(y, [w[:18] for w in table.index], fontsize=10)
        ax.set_ylim(len(table) - 0.5, -0.5)
        ax.axvline(0, color="0.3", lw=0.6)
        ax.tick_params(axis="x", labelsize=9)
        ax.set_title("mean LIME weight", fontsize=10)
        count = f" (n = {counts[label]})" if counts and label in counts else ""
        rho = ((agreement or {}).get("per_category", {}).get(label) or {}).get("spearman")
        sub.suptitle(
            f"{_label(label, 60)}{count}"
            + (f"\nSpearman {rho:.2f} over all shared words" if rho is not None else ""),
            fontsize=11,
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
            cx.tick_params(axis="x", labelsize=9)
            cx.set_title("regression coefficient", fontsize=10)
    overall = (agreement or {}).get("overall", {}).get("spearman")
    fig.suptitle(
        "Words that decide per category (correctly classified test products)"
        + (
            f"; LIME vs coefficients: Spearman {overall:.2f} overall" if overall is not None else ""
        ),
        fontsize=11,
    )
    return describe(
        fig,
        name=name,
        categories=labels,
        coefficients=coefficients is not None,
        words=int(n),
    )


def text_trust(checks: dict[str, tuple[dict, dict]], n_classes: int | None = None) -> plt.Figure:
    """How far to trust the word explanations, one row per text candidate (``checks[name] =
    (stability_check, faithfulness_check)``). Left: top-k word overlap between LIME seeds per sample
    count (median over products, each product a dot, threshold dashed, ✓ the count used). Right:
    deletion curves of LIME's order against random orders of the same words (axes 0 to 1,
    shared), with chance (1 / ``n_classes``) dotted as in the photo trust figure when given."""
    names = list(checks)
    fig, axes = plt.subplots(
        len(names), 2, figsize=(10, 3.8 * len(names)), squeeze=False, sharey=True
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
            ylim=(0, 1.04),  # dots at 1.0 drawn whole
            xlabel="LIME perturbed copies per product (✓: used)",
            ylabel=f"Jaccard of top-{st['settings']['top_k']} words",
            title=f"{name}: stability across {len(st['settings']['seeds'])} seeds "
            f"({len(per)} products)",
        )
        a.legend(fontsize=9.5)
        styles = {"LIME": dict(color=sns.color_palette()[3]), "random": dict(color="0.4", ls="--")}
        for method, curve in de["curves"].items():
            b.plot(
                np.linspace(0, 1, len(curve)),
                curve,
                label=f"{method} (mean area {de['auc'][method]:.3f})",
                **styles.get(method, {}),
            )
        if n_classes:
            chance_line(b, 1 / n_classes, "y", label=f"chance (1/{n_classes})")
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
        b.legend(fontsize=9.5)
    for ax in axes.ravel():
        ax.title.set_fontsize(10.5)
    fig.tight_layout()
    return describe(fig, names=names, chance=1 / n_classes if n_classes else None)


SHARE_OF = "mean over products of |photo part| / (|photo part| + |text part|)"
SHARE_NOTE = (
    "bars: the signed mean parts; |photo| share (on the photo bar): per product, |photo| / "
    "(|photo| + |text|),\naveraged over the category's products: a share of magnitudes, "
    "whatever their sign, so it need not match the bars' lengths"
)


def modality_shares(
    per_category: dict[str, pd.DataFrame],
    left_out: list[str] | None = None,
    notes: dict[str, str] | None = None,
) -> plt.Figure:
    """Per fusion candidate and category (``explain_text.modality_by_category``): the mean parts of
    the predicted class's probability owed to the photo and to the text (signed bars), and the
    photo's mean share of their magnitudes (``SHARE_OF``) written on the photo's own bar. Each
    panel has its own x scale (late fusion's parts are probabilities up to 1, early fusion's
    Shapley values can be a hundred times smaller), as its axis label says."""
    names = list(per_category)
    tables = [per_category[n] for n in names]
    same_rows = all(
        list(t.index) == list(tables[0].index)
        and list(t["products"]) == list(tables[0]["products"])
        for t in tables
    )
    rows = max((len(t) for t in tables), default=1)
    fig, axes = plt.subplots(
        1,
        max(1, len(names)),
        figsize=(4.2 * max(1, len(names)) + 1.6, 0.5 * rows + 2.0),
        squeeze=False,
        sharey=same_rows,
        layout="constrained",
    )
    colours = {"photo": sns.color_palette()[2], "text": sns.color_palette()[1]}
    limits = {}
    for k, (ax, name) in enumerate(zip(axes[0], names)):
        t = per_category[name]
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["photo_part"], height=0.4, color=colours["photo"], label="photo")
        ax.barh(y + 0.2, t["text_part"], height=0.4, color=colours["text"], label="text")
        parts = t[["photo_part", "text_part"]].to_numpy(dtype=float)
        low = min(0.0, float(np.nanmin(parts))) if parts.size else 0.0
        high = max(0.0, float(np.nanmax(parts))) if parts.size else 1.0
        span = (high - low) or 1.0
        ax.set_xlim(low - 0.04 * span if low < 0 else 0.0, high + 0.32 * span)
        limits[name] = [float(v) for v in ax.get_xlim()]
        for yy, (_, r) in zip(y, t.iterrows()):
            ax.annotate(  # on the photo's own bar: its share of the magnitudes
                f"|photo| share {100 * r['photo_share']:.0f}%",
                xy=(max(r["photo_part"], 0), yy - 0.2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                gid=f"share:{name}:{r.name}",
            )
        if k == 0 or not same_rows:
            ax.set_yticks(
                y,
                [f"{_label(c, 18)} ({int(n)})" for c, n in zip(t.index, t["products"])],
                fontsize=8.5,
            )
        ax.set_ylim(len(t) - 0.5, -0.5)
        ax.axvline(0, color="0.3", lw=0.6)
        ax.tick_params(axis="x", labelsize=8)
        base = t["base"].mean()
        ax.set_xlabel(
            "mean part of the predicted class's probability"
            + (f"\n(above a baseline of {base:.2f})" if base else "")
            + "\nx scale: this panel's own",
            fontsize=8.5,
        )
        title = name + (f" ({notes[name]})" if notes and name in notes else "")
        ax.set_title(_wrap(title, 44), fontsize=9.5)
    if names:
        fig.legend(
            *axes[0, 0].get_legend_handles_labels(),
            loc="outside lower center",
            ncol=2,
            fontsize=8.5,
            frameon=False,
            title=SHARE_NOTE,
            title_fontsize=8.5,
        )
    _left_out_note(fig, left_out or [])
    return describe(
        fig, names=names, x_limits=limits, left_out=list(left_out or []), share=SHARE_OF
    )


def modality_disagreements(
    table: pd.DataFrame, max_shown: int = 8, columns: int = 4, name: str | None = None
) -> plt.Figure:
    """The products where the photo side and the text side of a fusion disagree
    (``explain_text.disagreements``): thumbnail, name, each side's prediction and probability, the
    fused one and the truth (✓/✗). Names are wrapped, never cut (a product name beyond three
    lines ends in "…"). ``name``: the fusion candidate (a fact for the caption)."""
    from PIL import Image

    shown = table.head(max_shown)
    n = max(len(shown), 1)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    font, width, cell = 8.0, 34, 2.2  # points, characters per line, inches per column

    def block(r) -> str:
        mark = lambda c: "✓" if c == r["true"] else "✗"  # noqa: E731
        said = lambda c, p: f"{_label(c, 200)} {p:.2f}\u00a0{mark(c)}"  # noqa: E731
        return "\n".join(
            [
                _lines(r["product"], width, 3),
                _wrap(f"{r['photo_side']}: {said(r['photo'], r['photo_probability'])}", width),
                _wrap(f"{r['text_side']}: {said(r['text'], r['text_probability'])}", width),
                _wrap(f"fused: {said(r['fused'], r['fused_probability'])}", width),
                _wrap(f"true: {_label(r['true'], 200)}", width),
            ]
        )

    blocks = [block(r) for _, r in shown.iterrows()]
    line_in = font * 1.25 / 72
    text_h = [
        max([b.count("\n") + 1 for b in blocks[k * cols : (k + 1) * cols]] or [1]) * line_in + 0.1
        for k in range(rows)
    ]
    photo_h = cell - 0.15
    fig = plt.figure(figsize=(cell * cols, rows * photo_h + sum(text_h) + 0.45))
    grid = fig.add_gridspec(
        2 * rows,
        cols,
        height_ratios=[h for k in range(rows) for h in (photo_h, text_h[k])],
        left=0.01,
        right=0.99,
        top=1 - 0.4 / fig.get_figheight(),
        bottom=0.01,
        wspace=0.08,
        hspace=0.03,
    )
    if shown.empty:
        fig.text(0.5, 0.5, "no disagreement", ha="center", va="center")
    for k, ((_, r), text) in enumerate(zip(shown.iterrows(), blocks)):
        row, col = divmod(k, cols)
        ax = fig.add_subplot(grid[2 * row, col])
        ax.axis("off")
        if r.get("path"):
            photo = load_image(r["path"], max_side=256)
            side = max(photo.size)
            square = Image.new("RGB", (side, side), "white")
            square.paste(photo, ((side - photo.width) // 2, (side - photo.height) // 2))
            ax.imshow(np.asarray(square))
        below = fig.add_subplot(grid[2 * row + 1, col])
        below.axis("off")
        below.text(0.5, 1.0, text, ha="center", va="top", fontsize=font, linespacing=1.25)
    more = f" (first {max_shown} of {len(table)})" if len(table) > max_shown else ""
    fig.suptitle(f"Photo and text disagree{more}", fontsize=10, y=1 - 0.08 / fig.get_figheight())
    return describe(fig, name=name, shown=int(len(shown)), of=int(len(table)))
