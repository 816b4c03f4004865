"""Notebook 06's photo explanations of one candidate: which candidate is explained, and the study
that runs LIME, SHAP and their trust checks on the test photos (``ImageStudy``), keeps what each
step measured, and returns its record (``ImageStudy.record``).
"""

from __future__ import annotations

import numpy as np

from ..core import timing
from .photos import (
    SHAP_MASKER,
    CachedLime,
    Pipeline,
    compare_deletion,
    faithfulness,
    global_importance,
    lime_map,
    map_reading,
    per_category,
    pick_examples,
    prepare_image,
    round_robin,
    shap_explain,
    stability,
    stable_count,
    time_lime,
)

EXPLAINABLE = ("clip-image", "vgg16-image", "pixels")


def image_candidate(requested: str | None, names: list[str]) -> tuple[str | None, str]:
    """``(candidate, why)``: the photo candidate notebook 06 explains with LIME and SHAP:
    ``requested`` when it was run and reads the photo alone (through CLIP, VGG16 or the classical
    pixel features), else (``requested=None``) the note's ``clip-head`` if run, else the first
    such candidate of ``names``; ``(None, reason)`` when none.
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
                f"{requested} (explain_model) does not read the photo alone (through CLIP, "
                "VGG16 or the pixel features), which LIME and SHAP explain here"
            )
        return requested, ""
    order = ["clip-head", *names]
    found = next((n for n in order if n in names and explainable(n)), None)
    if found is None:
        return None, "no candidate of this run reads the photo alone"
    return found, ""


# The notebook parameters an ImageStudy reads (its knobs).
KNOBS = (
    "n_segments",
    "segmentation",
    "hide_color",
    "explain_batch_size",
    "fast_kernels",
    "seed",
    "top_k",
    "num_samples",
    "stability_samples",
    "stability_seeds",
    "stable_jaccard",
    "stability_per_category",
    "global_per_category",
    "only_correct",
    "shap_max_evals",
    "deletion_per_category",
    "deletion_steps",
    "random_orders",
    "lime_examples",
)


class ImageStudy:
    """Notebook 06's explanations of one fitted photo candidate on the test rows: LIME (cached),
    SHAP, stability, deletion. Each step stores what it measured on the study; ``record()`` is the
    ``explanations.image`` section. ``params``: the notebook's parameters (``KNOBS``);
    ``categories``: the categories shown (the others are ``left_out``)."""

    def __init__(
        self, fitted, panel, test, cache_dir, params: dict, categories: tuple[list, list]
    ) -> None:
        missing = [k for k in KNOBS if k not in params]
        if missing:
            raise KeyError(f"the photo explanations need the notebook parameters {missing}")
        self.p = {k: params[k] for k in KNOBS}
        self.fitted, self.panel, self.test, self.seed = fitted, panel, test, self.p["seed"]
        self.shown, self.left_out = categories
        self.classes = panel.classes
        self.encoder = fitted.image_encoder(panel)
        self.pipeline = Pipeline(
            self.encoder,
            fitted.predict_vectors,
            fitted.fingerprint(),
            batch_size=self.p["explain_batch_size"],
            fast=self.p["fast_kernels"],
        )
        self.settings = {k: self.p[k] for k in ("n_segments", "segmentation", "hide_color")}
        self.lime = CachedLime(self.pipeline, cache_dir, seed=self.seed, **self.settings)
        self.evaluated = fitted.predict_proba(panel, test).argmax(1)
        self.correct = self.evaluated == panel.y(test)
        self._pixels: dict[int, np.ndarray] = {}
        self.used: set[int] = set()
        p = self.p
        self.chosen = self.choose(p["global_per_category"], p["only_correct"], self.shown)
        per = max(p["stability_per_category"], p["deletion_per_category"])
        self.checked = self.choose(per, False, self.shown)
        self.stable: dict = {}
        self.picks: list[int] = []
        self.examples: list[dict] = []
        self.examples_note: list[dict] = []
        self.shap_seconds: float | None = None
        self.deletion = None
        self.faithful: dict = {}
        self.lime_timing: dict | None = None

    # ---- the pixels and one explanation
    def image(self, i: int) -> np.ndarray:
        if i not in self._pixels:
            self._pixels[i] = prepare_image(self.encoder, self.test.loc[i, "path"])
        self.used.add(i)
        return self._pixels[i]

    def explained(self, i: int, num_samples: int | None = None) -> dict:
        """LIME on test row ``i`` at ``num_samples`` copies (default: the count the stability
        check chose)."""
        with timing.step("photo LIME"):
            n = num_samples or self.lime_samples
            return self.lime(self.image(i), self.test.loc[i, "sha256"], n)

    def choose(self, n: int, only_correct: bool, categories: list[str]) -> dict[str, list[int]]:
        return per_category(self.test, self.correct, n, only_correct, categories=categories)

    @property
    def lime_samples(self) -> int:
        """The sample count the stability check chose (run ``check_stability`` first)."""
        return self.stable["chosen"]

    # ---- the steps
    def check_stability(self):
        """LIME with every seed at every sample count on ``stability_per_category`` images per
        category; the smallest count whose median top-k overlap reaches ``stable_jaccard`` is the
        one the figures use. Returns the table of mean overlaps."""
        p = self.p
        items = round_robin(self.checked, p["stability_per_category"])
        with timing.step("photo stability"):
            per_image = [
                stability(
                    self.pipeline,
                    self.image(i),
                    p["stability_samples"],
                    p["stability_seeds"],
                    k=p["top_k"],
                    **self.settings,
                )
                for i, _ in items
            ]
        chosen, medians, reached = stable_count(per_image, p["stable_jaccard"])
        self.stable = {
            "items": items,
            "per_image": per_image,
            "median_jaccard": medians,
            "chosen": chosen,
            "reached": reached,
            "threshold": p["stable_jaccard"],
        }
        return stability_table(per_image, items, p["stability_samples"])

    def lime_examples(self) -> tuple[list[np.ndarray], list[dict], list[dict]]:
        """The two ``lime_examples`` products at the note's sample count and at the stable one:
        ``(images, at the note's count, at the stable count)``."""
        self.picks = pick_examples(self.test, self.p["lime_examples"])
        self.examples_note = [self.explained(i, self.p["num_samples"]) for i in self.picks]
        self.examples = [self.explained(i) for i in self.picks]
        return [self.image(i) for i in self.picks], self.examples_note, self.examples

    def examples_table(self):
        return examples_table(
            self.test, self.picks, self.examples_note, self.examples, self.classes
        )

    def shap_examples(self) -> tuple[object, list[str], list[str], list[float]]:
        """SHAP on one image per shown category: ``(values, predicted, true categories,
        probability of each prediction)``."""
        import time

        reps = [idx[0] for idx in self.chosen.values() if idx]
        start = time.perf_counter()
        values = self.shap(reps)
        self.shap_seconds = (time.perf_counter() - start) / max(len(reps), 1)
        probs = self.pipeline(np.stack([self.image(i) for i in reps]))
        return (
            values,
            [self.classes[k] for k in probs.argmax(1)],
            self.test.loc[reps, "label"].tolist(),
            [float(p) for p in probs.max(1)],
        )

    def global_maps(self) -> tuple[dict, dict, dict]:
        """Per category: ``(average LIME map, images averaged, mean photo)``; a category with
        no image averaged gets a zero map."""
        _, means, backgrounds = self._maps()
        some = next(iter(backgrounds.values()), None)
        zero = np.zeros(some.shape[:2] if some is not None else (224, 224))
        counts = {c: len(i) for c, i in self.chosen.items()}
        return {c: means.get(c, zero) for c in self.chosen}, counts, backgrounds

    def _maps(self):
        maps = {c: [lime_map(self.explained(i)) for i in idx] for c, idx in self.chosen.items()}
        means = {c: global_importance(m) for c, m in maps.items() if m}
        backgrounds = {
            c: np.mean([self.image(i) for i in idx], axis=0)
            for c, idx in self.chosen.items()
            if idx
        }
        return maps, means, backgrounds

    def global_reading(self) -> dict[str, dict]:
        """Per category with images averaged, what its panel of the per-category figure weighs
        (``photos.map_reading``): the share of the weight on the product against the share of the
        photo it covers, and where the averaged weight peaks."""
        maps, _, _ = self._maps()
        return {
            c: map_reading(m, [self.image(i) for i in self.chosen[c]]) for c, m in maps.items() if m
        }

    def averaging(self) -> tuple | None:
        """Two images of the category with the most averaged, their LIME maps and their average
        (what every panel of the per-category figure is made of); None with fewer than two."""
        pair = max(self.chosen, key=lambda c: len(self.chosen[c]))
        two = self.chosen[pair][:2]
        if len(two) < 2:
            return None
        maps = [lime_map(self.explained(i)) for i in two]
        return [self.image(i) for i in two], maps, global_importance(maps), pair

    def averaged_table(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "images averaged": {c: len(i) for c, i in self.chosen.items()},
                "correctly classified": self.correct_counts,
            }
        )

    @property
    def correct_counts(self) -> dict[str, int]:
        return {c: int(self.correct[i].sum()) for c, i in self.chosen.items()}

    def check_deletion(self):
        """Deletion curves on ``deletion_per_category`` images per category in LIME's order,
        SHAP's and random orders of the same superpixels, deleted superpixels filled as LIME hid
        them (``hide_color``); returns the faithfulness table."""
        import pandas as pd

        p = self.p
        self.deletion_items = round_robin(self.checked, p["deletion_per_category"])
        idx = [i for i, _ in self.deletion_items]
        self.deletion = compare_deletion(
            self.pipeline,
            [self.image(i) for i in idx],
            [self.explained(i) for i in idx],
            self.shap(idx),
            steps=p["deletion_steps"],
            random_orders=p["random_orders"],
            seed=self.seed,
            hide_color=self.settings["hide_color"],
            shap_masker=SHAP_MASKER,
        )
        self.faithful = faithfulness(self.deletion.per_image, seed=self.seed)
        return pd.DataFrame(self.faithful).T

    def time_explanations(self, images: int = 2) -> dict:
        """What one LIME explanation costs at the chosen sample count, measured afresh on the
        first ``images`` examples (else checked images): a fresh pipeline, no disk cache. The
        figures' explanations may come from the cache (another run, another device) or reuse
        copies remembered from the stability check, so their own times are not this cost."""
        idx = (self.picks or [i for i, _ in round_robin(self.checked, 1)])[:images]
        with timing.step("photo LIME timing"):
            self.lime_timing = time_lime(
                self.pipeline,
                [self.image(i) for i in idx],
                self.lime_samples,
                seed=self.seed,
                **self.settings,
            )
        return self.lime_timing

    # ---- SHAP and predictions on the explained pixels
    def shap(self, indices: list[int]):
        with timing.step("photo SHAP"):
            return shap_explain(
                self.pipeline,
                np.stack([self.image(i) for i in indices]),
                self.classes,
                max_evals=self.p["shap_max_evals"],
                blur=SHAP_MASKER,
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

    # ---- the record
    def record(self) -> dict:
        """What notebook 06 records of the photo explanations: settings, the images each check
        used, stability, faithfulness, agreement with the evaluated predictions, and timings."""
        from ..evaluation.metrics import LEVEL

        test, classes, p, st = self.test, self.classes, self.p, self.stable
        r2 = [r["score"] for idx in self.chosen.values() for r in (self.explained(i) for i in idx)]
        r2 += [r["score"] for r in self.examples + self.examples_note]
        deletion = self.deletion
        lime_timing = self.lime_timing or self.time_explanations()
        return {
            "candidate": self.fitted.name,
            "encoder": self.encoder.name,
            "encoder_kind": getattr(self.encoder, "kind", None),
            "precision": self.encoder.precision,
            "intervals": {"level": LEVEL},
            "settings": {
                **self.settings,
                "top_k": p["top_k"],
                "note_samples": p["num_samples"],
                "global_per_category": p["global_per_category"],
                "only_correct": p["only_correct"],
                "shap_max_evals": p["shap_max_evals"],
                "batch_size": self.pipeline.batch_size,
                "kernels": self.pipeline.kernels,
            },
            "stability_threshold": p["stable_jaccard"],
            "lime_samples": self.lime_samples,
            "stability": {
                "images_used": self.rows(st["items"]),
                "categories": sorted({c for _, c in st["items"]}),
                "seeds": p["stability_seeds"],
                "counts": p["stability_samples"],
                "images": len(st["items"]),
                "per_image": [{str(k): v for k, v in s.items()} for s in st["per_image"]],
                "median_jaccard": {str(k): v for k, v in st["median_jaccard"].items()},
                "reached": st["reached"],
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
                for i, r, rn in zip(self.picks, self.examples, self.examples_note)
            ],
            "global": {c: len(i) for c, i in self.chosen.items()},
            "global_correct": self.correct_counts,
            "global_left_out": self.left_out,
            "global_reading": self.global_reading(),
            "shap": {
                "masker": "blur masker (a blurred copy of the photo fills what is hidden)",
                "masker_spec": SHAP_MASKER,
                "max_evals": p["shap_max_evals"],
            },
            "deletion": {
                "images": len(self.deletion_items),
                "images_used": self.rows(self.deletion_items),
                "categories": sorted({c for _, c in self.deletion_items}),
                "steps": p["deletion_steps"],
                "random_orders": p["random_orders"],
                "fill": getattr(deletion, "fill", None),
                "hide_color": self.settings["hide_color"],
                "perturbations": getattr(deletion, "perturbations", {}),
                "auc": deletion.auc,
                "auc_per_image": deletion.per_image,
                "faithfulness": self.faithful,
            },
            "agreement": self.agreement(),
            "r2": {
                "explanations": len(r2),
                "median": float(np.median(r2)),
                "min": float(np.min(r2)),
                "max": float(np.max(r2)),
            },
            "lime_seconds_per_image": lime_timing["seconds_per_image"],
            "lime_timing": lime_timing,
            "shap_seconds_per_image": self.shap_seconds,
        }


# --------------------------------------------------------------------------- notebook 06's tables
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
