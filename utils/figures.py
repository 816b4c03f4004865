"""The registry of figures: number, file name, caption, the notebook that draws it, the note's section.

Figures 1 to 9 keep the numbers of the original methodological note (each redrawn from this run's
data); the report's own figures come after them, from 10 on. The note, the README's figure table
and the tests all read this list, so a figure is added here and nowhere else.
``python -m utils.figures`` prints the README table; ``--update-readme`` rewrites it in place.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from .paths import ROOT


@dataclass(frozen=True)
class Figure:
    number: int
    name: str  # file stem under figures/
    caption: str
    notebook: str  # the notebook that draws it
    section: str  # the note's section it belongs to (note.SECTIONS)
    note: bool  # True: one of the original note's figures

    @property
    def label(self) -> str:
        return f"Figure {self.number}"


FIGURES: list[Figure] = [
    Figure(
        1,
        "fig01_similarity",
        "CLIP cosine similarity between one test photo per category and every category's "
        "prompts (averaged prompt embeddings); the best match of each photo is framed, the true category underlined.",
        "05",
        "clip",
        True,
    ),
    Figure(
        2,
        "fig02_zeroshot",
        "Zero-shot CLIP (no labelled photo) against the supervised candidates: test accuracy "
        "with 95% cluster-bootstrap intervals.",
        "05",
        "clip",
        True,
    ),
    Figure(
        3,
        "fig03_split",
        "How the images are divided between training, validation and test, per category.",
        "02",
        "split",
        True,
    ),
    Figure(
        4,
        "fig04_architecture",
        "The note's two pipelines: a frozen encoder, then a small trained head; sizes from "
        "the loaded models and the recorded head configurations.",
        "04",
        "architecture",
        True,
    ),
    Figure(
        5,
        "fig05_log_loss",
        "The cross-entropy loss −log p(true class), with the distribution of this run's "
        "per-image test losses of the CLIP head drawn over it.",
        "05",
        "loss",
        True,
    ),
    Figure(
        6,
        "fig06_optimizers",
        "The same CLIP head on the same cached features with Adam, RMSprop and SGD "
        "(same seed, learning rate chosen on validation): validation loss per epoch.",
        "04",
        "optimiser",
        True,
    ),
    Figure(
        7,
        "fig07_lime",
        "LIME on two test images: the most important superpixels at the note's sample count "
        "and at the count the stability check chose, and every superpixel's weight.",
        "06",
        "local",
        True,
    ),
    Figure(
        8,
        "fig08_averaging",
        "Two test images of one category, their LIME maps, and their pixel-wise average: "
        "what every panel of Figure 9 is made of.",
        "06",
        "global",
        True,
    ),
    Figure(
        9,
        "fig09_global_importance",
        "Per-category importance: LIME maps averaged over correctly classified test "
        "images of each category.",
        "06",
        "global",
        True,
    ),
    Figure(10, "fig10_categories", "Usable images per category.", "01", "data", False),
    Figure(
        11,
        "fig11_label_budget",
        "Test accuracy against labelled training images per category (mean and range "
        "over random draws); zero-shot CLIP, which needs none, at k = 0.",
        "05",
        "panel",
        False,
    ),
    Figure(
        12,
        "fig12_augmentation",
        "A few training photos and their augmented views (random resized crop, flip, "
        "colour jitter), as the encoders see them.",
        "03",
        "improvements",
        False,
    ),
    Figure(13, "fig13_examples", "Example photos per category.", "01", "data", False),
    Figure(
        14,
        "fig14_sizes",
        "Original image sizes and the longer side's distribution.",
        "01",
        "data",
        False,
    ),
    Figure(
        15,
        "fig15_near_duplicates",
        "The largest groups of near-identical photos (kept on one side of the split).",
        "01",
        "data",
        False,
    ),
    Figure(
        16,
        "fig16_feature_space",
        "t-SNE of the training and validation features of each image encoder.",
        "03",
        "architecture",
        False,
    ),
    Figure(
        17,
        "fig17_learning_curves",
        "Learning curves of the heads trained with the shared loop; the dashed line "
        "marks the epoch kept (lowest validation loss).",
        "04",
        "training",
        False,
    ),
    Figure(
        18,
        "fig18_results",
        "Every candidate on the locked test split: accuracy and macro-F1 with 95% "
        "cluster-bootstrap intervals, and accuracy over repeated group-aware splits.",
        "05",
        "results",
        False,
    ),
    Figure(
        19,
        "fig19_confusion",
        "Confusion matrices of the note's two models on the test split (row-normalised "
        "colours, counts annotated).",
        "05",
        "results",
        False,
    ),
    Figure(
        20,
        "fig20_shap",
        "SHAP (Partition explainer, blur masker), one image per category, predicted class.",
        "06",
        "local",
        False,
    ),
    Figure(
        21,
        "fig21_trust",
        "How far to trust the explanations: top-k stability of LIME across seeds per sample "
        "count, and deletion curves over the same superpixels for LIME, SHAP and random orders.",
        "06",
        "trust",
        False,
    ),
    Figure(
        22,
        "fig22_finetune",
        "Fine-tuning and augmentation: training and validation loss per epoch (the gap "
        "shows overfitting); the dashed line marks the epoch kept.",
        "04",
        "improvements",
        False,
    ),
]

BY_NAME = {f.name: f for f in FIGURES}


def get(name: str) -> Figure:
    return BY_NAME[name]


def markdown_table() -> str:
    """The README's figure table."""
    lines = ["| figure | file | what | notebook |", "|---|---|---|---|"]
    for f in sorted(FIGURES, key=lambda f: f.number):
        origin = " (the note's)" if f.note else ""
        lines.append(f"| {f.number}{origin} | `{f.name}.png` | {f.caption} | {f.notebook} |")
    return "\n".join(lines)


START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def update_readme(path: Path = ROOT / "README.md") -> bool:
    """Rewrite the table between the README's figure markers; True if it changed."""
    text = path.read_text()
    new = re.sub(
        re.escape(START) + r".*?" + re.escape(END),
        f"{START}\n{markdown_table()}\n{END}",
        text,
        flags=re.S,
    )
    if new != text:
        path.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    if args.update_readme:
        print("README.md updated" if update_readme() else "README.md already up to date")
    else:
        print(markdown_table())


if __name__ == "__main__":
    main()
