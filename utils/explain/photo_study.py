"""Notebook 06's photo explanations of one candidate: which candidate is explained, the study that
runs LIME, SHAP and their trust checks on the test photos (``ImageStudy``), and its tables.
"""

from __future__ import annotations

import numpy as np

from ..core import timing
from .photos import (
    CachedLime,
    Deletion,
    Pipeline,
    global_importance,
    lime_map,
    per_category,
    prepare_image,
    shap_explain,
    stability,
)

EXPLAINABLE = ("clip-image", "vgg16-image")


def image_candidate(requested: str | None, names: list[str]) -> tuple[str | None, str]:
    """``(candidate, why)``: the photo candidate notebook 06 explains with LIME and SHAP:
    ``requested`` when it was run and reads one image encoder, else (``requested=None``) the note's
    ``clip-head`` if run, else the first such candidate of ``names``; ``(None, reason)`` when none.
    """
    from ..models.candidates import CANDIDATES

    def explainable(n: str) -> bool:
        c = CANDIDATES.get(n)
        return bool(c) and c.reads == "image" and len(c.inputs) == 1 and c.inputs[0] in EXPLAINABLE

    if requested is not None:
        if requested not in names:
            return None, f"{requested} (explain_model) was not run"
        if not explainable(requested):
            return None, (
                f"{requested} (explain_model) does not read the photo through the CLIP or "
                "VGG16 encoder, which LIME and SHAP explain here"
            )
        return requested, ""
    order = ["clip-head", *names]
    found = next((n for n in order if n in names and explainable(n)), None)
    if found is None:
        return None, "no candidate of this run reads the photo through the CLIP or VGG16 encoder"
    return found, ""


class ImageStudy:
    """Notebook 06's explanations of one fitted photo candidate on the test rows: LIME (cached),
    SHAP, stability, deletion, and the record of what was done."""

    def __init__(
        self,
        fitted,
        panel,
        test,
        cache_dir,
        settings: dict,
        batch_size: int = 64,
        fast: bool = False,
        seed: int = 0,
    ) -> None:
        self.fitted, self.panel, self.test, self.seed = fitted, panel, test, seed
        self.classes = panel.classes
        self.encoder = fitted.image_encoder(panel)
        self.pipeline = Pipeline(
            self.encoder,
            fitted.predict_vectors,
            fitted.fingerprint(),
            batch_size=batch_size,
            fast=fast,
        )
        self.settings = dict(settings)
        self.lime = CachedLime(self.pipeline, cache_dir, seed=seed, **self.settings)
        self.evaluated = fitted.predict_proba(panel, test).argmax(1)
        self.correct = self.evaluated == panel.y(test)
        self._pixels: dict[int, np.ndarray] = {}
        self.used: set[int] = set()

    def image(self, i: int) -> np.ndarray:
        if i not in self._pixels:
            self._pixels[i] = prepare_image(self.encoder, self.test.loc[i, "path"])
        self.used.add(i)
        return self._pixels[i]

    def explained(self, i: int, num_samples: int) -> dict:
        with timing.step("photo LIME"):
            return self.lime(self.image(i), self.test.loc[i, "sha256"], num_samples)

    def choose(self, n: int, only_correct: bool, categories: list[str]) -> dict[str, list[int]]:
        return per_category(self.test, self.correct, n, only_correct, categories=categories)

    def stability(
        self, items: list[tuple[int, str]], sample_counts: list[int], seeds: list[int], k: int
    ) -> list[dict]:
        with timing.step("photo stability"):
            return [
                stability(self.pipeline, self.image(i), sample_counts, seeds, k=k, **self.settings)
                for i, _ in items
            ]

    def global_maps(self, chosen: dict[str, list[int]], num_samples: int):
        """Per category: the LIME maps, their average, and the mean photo behind them."""
        maps = {
            c: [lime_map(self.explained(i, num_samples)) for i in idx] for c, idx in chosen.items()
        }
        means = {c: global_importance(m) for c, m in maps.items() if m}
        backgrounds = {
            c: np.mean([self.image(i) for i in idx], axis=0) for c, idx in chosen.items() if idx
        }
        return maps, means, backgrounds

    def shap(self, indices: list[int], max_evals: int):
        with timing.step("photo SHAP"):
            return self._shap(indices, max_evals)

    def _shap(self, indices: list[int], max_evals: int):
        return shap_explain(
            self.pipeline,
            np.stack([self.image(i) for i in indices]),
            self.classes,
            max_evals=max_evals,
            seed=self.seed,
        )

    def predicted(self, indices: list[int]) -> list[str]:
        probs = self.pipeline(np.stack([self.image(i) for i in indices]))
        return [self.classes[k] for k in probs.argmax(1)]

    def agreement(self) -> dict:
        """On every explained image: the prediction on the explained pixels against the evaluated
        one."""
        used = sorted(self.used)
        on_pixels = self.pipeline(np.stack([self.image(i) for i in used])).argmax(1)
        same = on_pixels == self.evaluated[used]
        return {
            "images": len(used),
            "agree": int(same.sum()),
            "rate": float(np.mean(same)),
            "disagreeing": [self.test.loc[i, "image"] for i, a in zip(used, same) if not a],
        }

    def rows(self, items) -> list[tuple[str, str]]:
        return [(self.test.loc[i, "image"], c) for i, c in items]


# --------------------------------------------------------------------------- notebook 06's tables
# and record
def stability_table(per_image: list[dict], items: list[tuple[int, str]], counts: list[int]):
    """Mean top-k Jaccard across seeds per image (rows: category) and sample count (columns)."""
    import pandas as pd

    return pd.DataFrame(
        {f"{c} copies": [s[c]["mean_jaccard"] for s in per_image] for c in counts},
        index=[f"{label} (test row {i})" for i, label in items],
    )


def examples_table(
    test, picks: list[int], note: list[dict], chosen: list[dict], classes: list[str]
):
    import pandas as pd

    return pd.DataFrame(
        {
            "product": test.loc[picks, "product_name"].values,
            "true": test.loc[picks, "label"].values,
            "predicted": [classes[r["label"]] for r in chosen],
            "probability": [r["probability"] for r in chosen],
            "superpixels": [len(r["weights"]) for r in chosen],
            f"R² at {note[0]['num_samples'] if note else '?'}": [r["score"] for r in note],
            f"R² at {chosen[0]['num_samples'] if chosen else '?'}": [r["score"] for r in chosen],
        }
    )


def image_summary(
    ix: ImageStudy,
    params: dict,
    lime_samples: int,
    medians: dict,
    reached: bool,
    per_image: list[dict],
    stab_items,
    picks,
    examples,
    examples_note,
    chosen,
    correct_counts: dict,
    left_out: list[str],
    del_items,
    deletion: Deletion,
    faithful: dict,
    shap_seconds: float,
) -> dict:
    """What notebook 06 records of the photo explanations: settings, the images each check used,
    stability, faithfulness, agreement with the evaluated predictions, and timings."""
    from ..evaluation.metrics import LEVEL

    test, classes = ix.test, ix.classes
    r2 = [
        r["score"] for idx in chosen.values() for r in (ix.explained(i, lime_samples) for i in idx)
    ]
    r2 += [r["score"] for r in examples + examples_note]
    return {
        "candidate": ix.fitted.name,
        "encoder": ix.encoder.name,
        "precision": ix.encoder.precision,
        "intervals": {"level": LEVEL},
        "settings": {
            **ix.settings,
            "top_k": params["top_k"],
            "note_samples": params["num_samples"],
            "global_per_category": params["global_per_category"],
            "only_correct": params["only_correct"],
            "shap_max_evals": params["shap_max_evals"],
            "batch_size": ix.pipeline.batch_size,
            "kernels": ix.pipeline.kernels,
        },
        "stability_threshold": params["stable_jaccard"],
        "lime_samples": lime_samples,
        "stability": {
            "images_used": ix.rows(stab_items),
            "categories": sorted({c for _, c in stab_items}),
            "seeds": params["stability_seeds"],
            "counts": params["stability_samples"],
            "images": len(stab_items),
            "per_image": [{str(k): v for k, v in s.items()} for s in per_image],
            "median_jaccard": {str(k): v for k, v in medians.items()},
            "reached": reached,
        },
        "examples": [
            {
                "image": test.loc[i, "image"],
                "product": test.loc[i, "product_name"],
                "true": test.loc[i, "label"],
                "predicted": classes[r["label"]],
                "probability": r["probability"],
                "superpixels": len(r["weights"]),
                "r2": r["score"],
                "r2_note": rn["score"],
            }
            for i, r, rn in zip(picks, examples, examples_note)
        ],
        "global": {c: len(i) for c, i in chosen.items()},
        "global_correct": correct_counts,
        "global_left_out": left_out,
        "shap": {
            "masker": "blur masker (a blurred copy of the photo fills what is hidden)",
            "max_evals": params["shap_max_evals"],
        },
        "deletion": {
            "images": len(del_items),
            "images_used": ix.rows(del_items),
            "categories": sorted({c for _, c in del_items}),
            "steps": params["deletion_steps"],
            "random_orders": params["random_orders"],
            "fill": getattr(deletion, "fill", None),
            "auc": deletion.auc,
            "auc_per_image": deletion.per_image,
            "faithfulness": faithful,
        },
        "agreement": ix.agreement(),
        "r2": {
            "explanations": len(r2),
            "median": float(np.median(r2)),
            "min": float(np.min(r2)),
            "max": float(np.max(r2)),
        },
        "lime_seconds_per_image": float(np.mean([r["seconds"] for r in examples]))
        if examples
        else None,
        "shap_seconds_per_image": shap_seconds,
    }
