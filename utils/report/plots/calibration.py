"""The automation threshold's figures (notebook 05): the reliability diagram of the chosen
candidate's probabilities and the risk-coverage curve with the threshold chosen on validation."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from .style import describe

RAW, SCALED, TEST, VALIDATION = "#1f77b4", "#d62728", "#1f77b4", "#ff7f0e"


def _panel(ax, rel: dict, title: str, color: str) -> None:
    bins = rel["bins"]
    width = bins[0]["high"] - bins[0]["low"]
    mids = [(b["low"] + b["high"]) / 2 for b in bins]
    acc = [b["accuracy"] if b["count"] else 0.0 for b in bins]
    ax.bar(
        mids,
        acc,
        width=width * 0.92,
        color=color,
        alpha=0.3,
        edgecolor=color,
        label="accuracy of the bin's products (count under the bar)",
    )
    filled = [b for b in bins if b["count"]]
    ax.plot(
        [b["confidence"] for b in filled],
        [b["accuracy"] for b in filled],
        "o-",
        color=color,
        ms=4,
        lw=1,
        label="mean probability → accuracy",
    )
    ax.plot([0, 1], [0, 1], color="#555555", ls=":", lw=1.2, label="perfect calibration")
    ax.axhline(0, color="#999999", lw=0.8)
    for m, b in zip(mids, bins, strict=True):
        if b["count"]:  # the bin's product count, in a strip under its bar (clear of a dot at 0)
            ax.text(
                m, -0.06, str(b["count"]), ha="center", va="center", fontsize=7, color="#333333"
            )
    ax.set_title(f"{title}: {rel['products']} products, ECE {rel['ece']:.3f}", fontsize=9)
    ax.set(xlim=(0, 1), ylim=(-0.11, 1.05), yticks=np.linspace(0, 1, 6))


def reliability_diagram(cal: dict) -> plt.Figure:
    """Validation and test reliability of the chosen candidate's highest probability: per bin the
    accuracy (bars, product count at their foot), the mean probability against the accuracy and
    the diagonal; a second row at the temperature fitted on validation when scaling was kept."""
    if not cal or "reliability" not in cal:
        raise ValueError("reliability_diagram needs the evaluation's calibration record")
    rel, kept = cal["reliability"], cal["kept"]
    rows = [("as given", "", RAW)]
    if kept:
        rows.append((f"scaled (T = {cal['fitted_temperature']:.3f})", "_scaled", SCALED))
    fig, axes = plt.subplots(
        len(rows),
        2,
        figsize=(10, 3.6 * len(rows) + 0.6),
        sharex=True,
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    for r, (words, suffix, color) in enumerate(rows):
        for c, part in enumerate(("validation", "test")):
            _panel(axes[r, c], rel[part + suffix], f"{part}, {words}", color)
        axes[r, 0].set_ylabel("accuracy in the bin")
    for ax in axes[-1]:
        ax.set_xlabel("highest class probability (equal-width bins)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [
        Patch(facecolor=color, alpha=0.6, label=f"probabilities {words.split(' (')[0]}")
        for words, _, color in rows
    ]
    labels += [h.get_label() for h in handles[len(labels) :]]
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return describe(
        fig,
        name=cal["candidate"],
        bins=rel["validation"]["n_bins"],
        validation=rel["validation"]["products"],
        test=rel["test"]["products"],
        temperature=cal["fitted_temperature"],
        kept=kept,
    )


def risk_coverage(auto: dict) -> plt.Figure:
    """Accuracy among the most confident products against the share accepted (test solid,
    validation dotted), the target accuracy, the threshold chosen on validation on each curve
    (test with its intervals) and the no-abstention point (every product accepted)."""
    if not auto or "curves" not in auto:
        raise ValueError("risk_coverage needs the evaluation's threshold record")
    curves, val, test = auto["curves"], auto["validation"], auto["test"]
    target = val["target"]
    fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    ax.plot(
        curves["test"]["coverage"],
        curves["test"]["accuracy"],
        color=TEST,
        lw=1.6,
        label=f"test ({test['products']} products)",
    )
    ax.plot(
        curves["validation"]["coverage"],
        curves["validation"]["accuracy"],
        color=VALIDATION,
        ls=":",
        lw=1.6,
        label=f"validation ({val['products']} products)",
    )
    ax.axhline(target, color="#2ca02c", ls="--", lw=1.2, label=f"target accuracy {target:.0%}")
    full = auto["no_abstention"]
    ax.plot(
        [1],
        [full["test"]],
        marker="D",
        color="k",
        ls="none",
        ms=6,
        label=f"no abstention (test): {full['test']:.1%}",
    )
    if val["threshold"] is not None:
        ax.plot(
            [val["coverage"]],
            [val["accuracy"]],
            marker="o",
            mfc="white",
            color=VALIDATION,
            ms=8,
            ls="none",
            label=f"threshold {val['threshold']:.3f} on validation",
        )
        if test["accuracy"] is not None:
            err_y = [
                [test["accuracy"] - test["accuracy_low"]],
                [test["accuracy_high"] - test["accuracy"]],
            ]
            err_x = [
                [test["coverage"] - test["coverage_low"]],
                [test["coverage_high"] - test["coverage"]],
            ]
            ax.errorbar(
                [test["coverage"]],
                [test["accuracy"]],
                xerr=err_x,
                yerr=err_y,
                fmt="o",
                color=TEST,
                ms=8,
                capsize=3,
                label="the same threshold on test (95% intervals)",
            )
        ax.axvline(test["coverage"], color=TEST, lw=0.8, alpha=0.4)
    lows = [min(c["accuracy"]) for c in curves.values()] + [full["test"], target]
    if test.get("accuracy_low") is not None:
        lows.append(test["accuracy_low"])
    bottom = max(0.0, math.floor(min(lows) * 20) / 20 - 0.05)
    ax.set(
        xlim=(0, 1.03),
        ylim=(bottom, 1.01),
        xlabel="coverage: share of products classified automatically (most confident first)",
        ylabel="accuracy among them",
    )
    ax.set_title(
        f"{auto['candidate']}: accuracy against coverage ({auto['probabilities']})", fontsize=9
    )
    ax.legend(loc="lower left", fontsize=8, frameon=True)
    return describe(
        fig,
        name=auto["candidate"],
        target=target,
        threshold=val["threshold"],
        bottom=float(np.round(bottom, 2)),
        validation=val["products"],
        test=test["products"],
    )
