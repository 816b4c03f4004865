"""The evaluation's tables (ranking, per-class scores, paired comparisons, top losses, most confused
pairs, zero-shot prompts, label budget); the record is ``study.Evaluation.record``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import add_holm, compare

IMPROVEMENTS = {
    "clip-head-aug": "clip-head",
    "vgg16-head-aug": "vgg16-head",
    "clip-finetune": "clip-head",
    "vgg16-finetune": "vgg16-head",
    "clip-finetune-aug": "clip-head",
    "vgg16-finetune-aug": "vgg16-head",
}


def versus_frozen(
    y_true: np.ndarray,
    predictions: dict[str, np.ndarray],
    classes: list[str],
    groups,
    n_boot: int,
    seed: int,
) -> dict:
    """Each improvement candidate (fine-tuning, augmentation) against its frozen head, paired.

    ``mcnemar["holm_p"]``: Holm-adjusted over the improvements tested here (one family).
    """
    out = {}
    for name, base in IMPROVEMENTS.items():
        if name in predictions and base in predictions:
            _, _, paired = compare(
                y_true,
                {base: predictions[base], name: predictions[name]},
                classes,
                groups,
                reference=base,
                n_boot=n_boot,
                seed=seed,
            )
            out[name] = paired[name]
    return add_holm(out)


def ranking(table: pd.DataFrame, reads: dict, labelled: dict, costs: dict) -> pd.DataFrame:
    """Every candidate, best test accuracy first: what it reads, accuracy and its interval,
    macro-F1, labels and milliseconds per product."""
    t = table.sort_values("accuracy", ascending=False)
    return pd.DataFrame(
        {
            "reads": [reads.get(n) for n in t.index],
            "accuracy": t["accuracy"].astype(float),
            "low": t["accuracy_low"].astype(float),
            "high": t["accuracy_high"].astype(float),
            "macro-F1": t["macro_f1"].astype(float),
            "labelled": [labelled.get(n, 0) for n in t.index],
            "ms per product": [
                1000 * costs[n]["inference_s_per_item"] if n in costs else np.nan for n in t.index
            ],
        },
        index=t.index,
    )


def per_class(details: dict, names: list[str]) -> pd.DataFrame:
    """Precision, recall and F1 per category of ``names``, side by side."""
    parts = {
        n: pd.DataFrame(details[n]["per_class"]).T[["precision", "recall", "f1"]] for n in names
    }
    out = pd.concat(parts, axis=1)
    out["support"] = pd.DataFrame(details[names[0]]["per_class"]).T["support"].astype(int)
    return out


def paired_table(paired: dict, reference: str) -> pd.DataFrame:
    """Each candidate against ``reference``: accuracy difference and its paired interval, McNemar's
    p-value and its Holm adjustment, and the products where only one of the two is right."""
    rows = {}
    for n, p in paired.items():
        mc = p["mcnemar"]
        rows[n] = {
            "Δ accuracy": p["accuracy_difference"],
            "low": p["difference_low"],
            "high": p["difference_high"],
            "McNemar p": mc["p_value"],
            "Holm p": mc.get("holm_p", np.nan),
            "only it right": mc["a_right_b_wrong"],
            f"only {reference} right": mc["a_wrong_b_right"],
        }
    return pd.DataFrame(rows).T


def errors(
    test: pd.DataFrame,
    proba: dict[str, np.ndarray],
    y_true: np.ndarray,
    classes: list[str],
    names: list[str],
) -> dict[str, pd.DataFrame]:
    """Per model, its misclassified test products, most confident error first: image, path, name,
    true and predicted category, the probability given to the prediction and to the truth."""
    out = {}
    for n in names:
        p = proba[n]
        pred = p.argmax(1)
        wrong = np.flatnonzero(pred != y_true)
        frame = pd.DataFrame(
            {
                "image": test["image"].to_numpy()[wrong],
                "path": test["path"].to_numpy()[wrong],
                "product_name": test["product_name"].to_numpy()[wrong],
                "true": [classes[i] for i in y_true[wrong]],
                "predicted": [classes[i] for i in pred[wrong]],
                "probability": p[wrong, pred[wrong]],
                "p_true": p[wrong, y_true[wrong]],
            }
        )
        out[n] = frame.sort_values("probability", ascending=False).reset_index(drop=True)
    return out


def most_confused(confusion: list[list[int]], classes: list[str], n: int = 3) -> list[dict]:
    """The ``n`` largest off-diagonal cells of a confusion matrix (fastai's "most confused")."""
    cm = np.asarray(confusion)
    cells = [
        (int(cm[i, j]), classes[i], classes[j])
        for i in range(len(cm))
        for j in range(len(cm))
        if i != j and cm[i, j] > 0
    ]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [{"true": t, "predicted": p, "count": c} for c, t, p in cells[:n]]


def confused_table(confused: dict[str, list[dict]]) -> pd.DataFrame:
    rows = [
        {"model": n, "true": c["true"], "taken for": c["predicted"], "test products": c["count"]}
        for n, cs in confused.items()
        for c in cs
    ]
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame({"most confused": []})


def zeroshot_facts(zs) -> dict:
    """What the note says of the zero-shot candidate: prompts, class names, temperature."""
    return {
        "prompts": zs.info["prompts"],
        "class_names": zs.info["class_names"],
        "temperature": zs.info.get("temperature"),
        "temperature_source": zs.info.get("temperature_source"),
    }


def prompt_names(zs, classes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"name in the prompts": zs.info["class_names"]}, index=classes)


def missing_table(missing: dict) -> pd.DataFrame:
    """Each text-reading candidate with and without the product descriptions (accuracies as
    fractions; the paired difference and its interval in points)."""
    return pd.DataFrame(
        {
            n: {
                "with descriptions": m["with_descriptions"],
                "name only": m["accuracy"],
                "low": m["accuracy_low"],
                "high": m["accuracy_high"],
                "Δ accuracy": m["difference"],
                "Δ low": m["difference_low"],
                "Δ high": m["difference_high"],
            }
            for n, m in missing.items()
        }
    ).T
