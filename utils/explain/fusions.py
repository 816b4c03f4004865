"""How much the photo and the text weigh in the fusion candidates.

For ``fusion-late`` the exact split of the fused probability of the predicted class into the photo
member's part ``w p_img`` and the text member's ``(1 - w) p_txt``; for ``fusion-early`` exact
Shapley values of its two input blocks (CLIP image embedding, CLIP name embedding), a block left
out being replaced by its training mean; and the test products where the two sides disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

from ..core.timing import step as timed_step
from ..models.candidates import CANDIDATES
from ..models.families import LateFusionModel
from .words import IMAGE_SOURCES


def fusion_candidates(names: Sequence[str]) -> list[str]:
    """The candidates of ``names`` reading photo and text (``fusion-late``, ``fusion-early``)."""
    return [n for n in names if CANDIDATES[n].reads == "image+text"]


# --------------------------------------------------------------------------- photo or text?
def share_of_photo(photo: np.ndarray, text: np.ndarray) -> np.ndarray:
    """|photo| / (|photo| + |text|): the photo's share of the decision (0.5 where both are 0)."""
    photo, text = np.abs(np.asarray(photo, float)), np.abs(np.asarray(text, float))
    total = photo + text
    return np.where(total > 0, photo / np.where(total > 0, total, 1), 0.5)


def late_parts(
    weight: float, p_image: np.ndarray, p_text: np.ndarray, y: np.ndarray | None = None
) -> pd.DataFrame:
    """The exact split of late fusion's probability of its predicted class, per product:
    ``photo_part = w p_img`` and ``text_part = (1 - w) p_txt`` (divided by the same normaliser as
    ``LateFusionModel.mix``, 1 for probability rows), which add up to ``probability``; and each
    member's own prediction and probability (``photo_predicted``, ``text_predicted``...)."""
    p_image, p_text = np.asarray(p_image, np.float64), np.asarray(p_text, np.float64)
    mixed = LateFusionModel.mix(weight, p_image, p_text)
    total = (weight * p_image + (1 - weight) * p_text).sum(axis=1)
    k = mixed.argmax(axis=1)
    n = np.arange(len(k))
    photo = weight * p_image[n, k] / total
    text = (1 - weight) * p_text[n, k] / total
    return _parts(k, mixed[n, k], 0.0, photo, text, p_image, p_text, y)


def _parts(predicted, probability, base, photo, text, p_photo, p_text, y) -> pd.DataFrame:
    """One row per product: the fused decision, its photo and text parts, and what each side
    predicts on its own (``p_photo`` / ``p_text``: that side's probabilities)."""
    out = pd.DataFrame(
        {
            "predicted": predicted,
            "probability": probability,
            "base": base,
            "photo_part": photo,
            "text_part": text,
            "photo_share": share_of_photo(photo, text),
            "photo_predicted": p_photo.argmax(axis=1),
            "photo_probability": p_photo.max(axis=1),
            "text_predicted": p_text.argmax(axis=1),
            "text_probability": p_text.max(axis=1),
        }
    )
    if y is not None:
        out.insert(0, "true", np.asarray(y, dtype=int))
    return out


def block_shapley(
    predict: Callable[[np.ndarray], np.ndarray],
    blocks: Sequence[np.ndarray],
    baselines: Sequence[np.ndarray],
    label: np.ndarray | int | None = None,
) -> dict:
    """Exact Shapley values of input blocks (players) for the probability of a class.

    ``predict`` reads the blocks concatenated in order; a block out of a coalition is replaced by
    its ``baselines`` vector. Every coalition is evaluated (2^blocks model calls per batch: exact).
    ``label``: the class per row (default: predicted on the full input). Returns ``phi`` (rows x
    blocks; each row sums to ``v_all - v_none``), ``v_all``, ``v_none``, ``labels`` and ``alone``
    (per block, the class probabilities with only that block present).
    """
    blocks = [np.asarray(b, dtype=np.float32) for b in blocks]
    m, n = len(blocks), len(blocks[0])
    values = {}
    for r in range(m + 1):
        for coalition in combinations(range(m), r):
            X = np.hstack(
                [
                    blocks[b]
                    if b in coalition
                    else np.broadcast_to(np.asarray(baselines[b], np.float32), blocks[b].shape)
                    for b in range(m)
                ]
            )
            values[coalition] = np.asarray(predict(X), dtype=np.float64)
    everyone = tuple(range(m))
    labels = (
        values[everyone].argmax(axis=1)
        if label is None
        else np.broadcast_to(np.asarray(label, dtype=int), (n,))
    )
    rows = np.arange(n)
    v = {c: p[rows, labels] for c, p in values.items()}
    phi = np.zeros((n, m))
    for b in range(m):
        for coalition in v:
            if b in coalition:
                continue
            size = len(coalition)
            weight = factorial(size) * factorial(m - size - 1) / factorial(m)
            phi[:, b] += weight * (v[tuple(sorted(coalition + (b,)))] - v[coalition])
    return {
        "phi": phi,
        "v_all": v[everyone],
        "v_none": v[()],
        "labels": labels,
        "alone": [values[(b,)] for b in range(m)],
    }


def early_parts(
    predict: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    text: np.ndarray,
    image_mean: np.ndarray,
    text_mean: np.ndarray,
    y: np.ndarray | None = None,
) -> pd.DataFrame:
    """Shapley split of early fusion's probability of its predicted class between the photo block
    and the text block (each replaced by its training mean when out): ``base`` (both at their
    means) + ``photo_part`` + ``text_part`` = ``probability``. ``photo_predicted`` /
    ``text_predicted``: the prediction with only that block present (the other at its mean)."""
    s = block_shapley(predict, [image, text], [image_mean, text_mean])
    alone_photo, alone_text = s["alone"]
    phi = s["phi"]
    return _parts(
        s["labels"], s["v_all"], s["v_none"], phi[:, 0], phi[:, 1], alone_photo, alone_text, y
    )


def modality_parts(fitted, panel, rows: pd.DataFrame, train_rows: pd.DataFrame) -> pd.DataFrame:
    """Photo and text parts of a fusion candidate's decision on ``rows`` (``late_parts`` or
    ``early_parts``); ``train_rows`` give early fusion's baselines (the training means)."""
    c = fitted.candidate
    y = panel.y(rows)
    if c.family == "late-fusion":
        p_image, p_text = (m.predict_proba(panel, rows) for m in fitted.members)
        return late_parts(fitted.weight, p_image, p_text, y)
    if c.reads == "image+text" and len(c.inputs) == 2:
        photo = [i for i, s in enumerate(c.inputs) if s in IMAGE_SOURCES]
        if len(photo) != 1:
            raise ValueError(f"{c.name}: expected one image block among {c.inputs}")
        order = [photo[0], 1 - photo[0]]
        sources = [c.inputs[i] for i in order]
        X = [np.asarray(panel.features(s, rows)) for s in sources]
        means = [np.asarray(panel.features(s, train_rows)).mean(axis=0) for s in sources]

        def predict(Z: np.ndarray) -> np.ndarray:  # back to the candidate's own block order
            cut = X[0].shape[1]
            parts = [Z[:, :cut], Z[:, cut:]]
            return fitted.predict_vectors(np.hstack([parts[order.index(i)] for i in range(2)]))

        return early_parts(predict, X[0], X[1], means[0], means[1], y)
    raise ValueError(f"{c.name} does not read a photo and a text: no modality split")


def modality_method(name: str) -> str:
    c = CANDIDATES[name]
    if c.family == "late-fusion":
        return (
            f"exact split of the fused probability: w p({c.members[0]}) + (1 - w) p({c.members[1]})"
        )
    return (
        "exact Shapley values of the two input blocks ("
        + " and ".join(c.inputs)
        + "), a block left out replaced by its training mean"
    )


def modality_by_category(parts: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Per true category: products, mean photo and text parts of the predicted class's probability,
    mean photo share, accuracy, and how often the photo and text sides disagree."""
    df = parts.assign(category=rows["label"].to_numpy())
    df["disagree"] = df["photo_predicted"] != df["text_predicted"]
    if "true" in df:
        df["correct"] = df["predicted"] == df["true"]
    agg = {
        "products": ("predicted", "size"),
        "probability": ("probability", "mean"),
        "base": ("base", "mean"),
        "photo_part": ("photo_part", "mean"),
        "text_part": ("text_part", "mean"),
        "photo_share": ("photo_share", "mean"),
        "disagreements": ("disagree", "sum"),
    }
    if "correct" in df:
        agg["accuracy"] = ("correct", "mean")
    return df.groupby("category").agg(**agg)


def disagreements(
    parts: pd.DataFrame, rows: pd.DataFrame, classes: list[str], sides: tuple[str, str]
) -> pd.DataFrame:
    """The products where the photo side and the text side predict different categories, with both
    predictions and probabilities, the fused one and the truth. ``sides``: their names (members of
    late fusion, or e.g. "photo alone" / "name alone" for early fusion). The fusion's mistakes
    come first, then the products where the less sure side is surest."""
    mask = (parts["photo_predicted"] != parts["text_predicted"]).to_numpy()
    sub, r = parts[mask], rows[mask]
    table = pd.DataFrame(
        {
            "image": r["image"].to_numpy(),
            "path": r["path"].to_numpy() if "path" in r else None,
            "product": r["product_name"].to_numpy(),
            "true": r["label"].to_numpy(),
            "fused": [classes[k] for k in sub["predicted"]],
            "fused_probability": sub["probability"].to_numpy(),
            "photo_side": sides[0],
            "photo": [classes[k] for k in sub["photo_predicted"]],
            "photo_probability": sub["photo_probability"].to_numpy(),
            "text_side": sides[1],
            "text": [classes[k] for k in sub["text_predicted"]],
            "text_probability": sub["text_probability"].to_numpy(),
        },
        index=r.index,
    )
    # the fusion's mistakes first, then the products where both sides are most sure of themselves
    order = pd.DataFrame(
        {
            "right": table["fused"] == table["true"],
            "sure": -np.minimum(table["photo_probability"], table["text_probability"]),
        }
    )
    return table.loc[order.sort_values(["right", "sure"], kind="stable").index]


def sides(name: str) -> tuple[str, str]:
    """How the photo and text sides of a fusion candidate are named in tables and figures."""
    c = CANDIDATES[name]
    if c.family == "late-fusion":
        return c.members[0], c.members[1]
    return "photo alone (name at its mean)", "name alone (photo at its mean)"


def modality_summary(
    name: str, parts: pd.DataFrame, rows: pd.DataFrame, classes: list[str], settings: dict
) -> dict:
    """JSON-ready record of one fusion candidate's modality split (metrics)."""
    per = modality_by_category(parts, rows)
    dis = disagreements(parts, rows, classes, sides(name))
    return {
        "candidate": name,
        "method": modality_method(name),
        "settings": settings,
        "products": len(parts),
        "photo_share": float(parts["photo_share"].mean()),
        "photo_part": float(parts["photo_part"].mean()),
        "text_part": float(parts["text_part"].mean()),
        "base": float(parts["base"].mean()),
        "per_category": {
            c: {k: (float(v) if k != "products" else int(v)) for k, v in r.items()}
            for c, r in per.iterrows()
        },
        "disagreements": {
            "sides": list(sides(name)),
            "products": len(dis),
            "fused_with_photo": int((dis["fused"] == dis["photo"]).sum()),
            "fused_with_text": int((dis["fused"] == dis["text"]).sum()),
            "fused_right": int((dis["fused"] == dis["true"]).sum()),
            "images_used": dis["image"].tolist(),
        },
    }


def fusion_study(
    fitted, panel, test: pd.DataFrame, train: pd.DataFrame, categories: list[str]
) -> dict:
    """One fusion candidate's photo/text split on the test rows: per product, per category
    (``categories`` in that order), the disagreements, and the record."""
    name = fitted.name
    with timed_step(f"photo or text {name}"):
        parts = modality_parts(fitted, panel, test, train)
    settings = (
        {"weight": fitted.weight}
        if hasattr(fitted, "weight")
        else {"baseline": "training mean of each block", "train_rows": len(train)}
    )
    return {
        "parts": parts,
        "per_category": modality_by_category(parts, test).reindex(categories),
        "disagreements": disagreements(parts, test, panel.classes, sides(name)),
        "summary": modality_summary(name, parts, test, panel.classes, settings),
    }


def fusion_note(summary: dict) -> str:
    """The method of a fusion's split in a few words (the figure's note under each panel)."""
    if "weight" in summary["settings"]:
        return f"photo weight w = {summary['settings']['weight']:g}"
    return "Shapley, blocks at their training means"


def modality_table(fusions: dict) -> pd.DataFrame:
    return pd.concat({n: f["per_category"] for n, f in fusions.items()}, names=["candidate"])
