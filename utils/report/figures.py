"""The registry of figures: each figure's key, caption, notebook, note section and reading order.

``FIGURES`` lists the figures in the order the note shows them, and that order gives each its
number and its file name (``figures/fig07_split.png``), so adding, moving or removing a figure is
done here and nowhere else: the notebooks save figures by key (``plots.save_figure(fig, "split",
...)``), the note, the README's figure table (``make figures-table``), the figure sheet
(``make figures-sheet``) and the tests all read this list. A figure that redraws one of the original
note's nine says which (``original``); a figure drawn from encoder outputs (``encoders``) carries a
visible mark when the run's encoders are stand-ins (random or tiny weights).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.paths import ROOT


@dataclass(frozen=True)
class Figure:
    key: str  # what the notebooks call it (``save_figure(fig, key, ...)``)
    caption: str
    notebook: str  # the notebook that draws it
    section: str  # the note's section it belongs to (``note.SECTIONS``)
    original: int | None = None  # the original note's figure number it redraws
    encoders: bool = False  # drawn from encoder outputs: marked when those are stand-ins

    @property
    def number(self) -> int:
        return NUMBERS[self.key]

    @property
    def name(self) -> str:
        """File stem under ``figures/``: the reading-order number, then the key."""
        return f"fig{self.number:02d}_{self.key}"

    @property
    def label(self) -> str:
        return f"Figure {self.number}"

    @property
    def full_caption(self) -> str:
        """The registry's caption, naming the original note's figure it redraws."""
        return self.with_origin(self.caption)

    def with_origin(self, caption: str) -> str:
        """``caption``, then which figure of the original note this one redraws (if any)."""
        origin = (
            f" (Figure {self.original} of the original note, redrawn from this run.)"
            if self.original
            else ""
        )
        return f"{caption}{origin}"

    def caption_in(self, figures_dir: str | Path) -> str:
        """The caption of the drawn file (written from what the run drew), else the registry's,
        with the original note's figure it redraws."""
        drawn = caption_of(Path(figures_dir) / f"{self.name}.png")
        return self.with_origin(drawn or self.caption)


FIGURES: list[Figure] = [
    # --- the answer (notebook 05)
    Figure(
        "headline",
        "Every candidate on the locked test split: accuracy with its 95% cluster-bootstrap "
        "interval, the original note's accuracy claims shaded, the chosen candidate in bold.",
        "05",
        "summary",
        encoders=True,
    ),
    # --- the dataset (notebook 01)
    Figure("categories", "Usable images per category.", "01", "data"),
    Figure("examples", "Example photos: one column per category.", "01", "data"),
    Figure(
        "sizes",
        "Original image sizes (width against height) and the distribution of the longer side.",
        "01",
        "data",
    ),
    Figure(
        "near_duplicates",
        "The largest groups of near-identical photos, each framed (each group is kept on "
        "one side of the split).",
        "01",
        "data",
    ),
    # --- CLIP before any training (notebook 05)
    Figure(
        "similarity",
        "CLIP cosine similarity between one test photo per category (rows) and each category's "
        "averaged prompt embedding (columns); the best match of each photo is framed, the true "
        "category underlined.",
        "05",
        "clip",
        original=1,
        encoders=True,
    ),
    Figure(
        "zeroshot",
        "Zero-shot CLIP (no labelled photo) against the supervised candidates that read the photo "
        "only: test accuracy with 95% cluster-bootstrap intervals; the dotted line is chance.",
        "05",
        "clip",
        original=2,
        encoders=True,
    ),
    # --- split and architecture (notebooks 02-04)
    Figure(
        "split",
        "How the images are divided between training, validation and test, per category.",
        "02",
        "split",
        original=3,
    ),
    Figure(
        "architecture",
        "The note's pipelines (a frozen encoder, then a small trained head); sizes from the "
        "loaded models and the recorded head configurations.",
        "04",
        "split",
        original=4,
        encoders=True,
    ),
    Figure(
        "feature_space",
        "t-SNE of the training and validation features of each image encoder, by category.",
        "03",
        "split",
        encoders=True,
    ),
    # --- loss and optimiser (notebooks 04-05)
    Figure(
        "log_loss",
        "The cross-entropy loss −log p(true class), with this run's per-image test losses of the "
        "reference candidate (the legend names it) drawn over "
        "it; the dotted line is the loss of a uniform guess.",
        "05",
        "loss",
        original=5,
        encoders=True,
    ),
    Figure(
        "optimizers",
        "The same CLIP head on the same cached features with Adam, RMSprop and SGD (same seed, "
        "learning rate chosen on validation): validation (solid) and training (dotted) loss per "
        "epoch.",
        "04",
        "optimiser",
        original=6,
        encoders=True,
    ),
    Figure(
        "learning_curves",
        "Learning curves of the frozen-encoder heads (loss above, accuracy below, shared axes); "
        "the dashed line marks the epoch kept (lowest validation loss), the dotted line chance.",
        "04",
        "optimiser",
        encoders=True,
    ),
    # --- results (notebook 05)
    Figure(
        "results",
        "Every candidate on the locked test split (left: accuracy and macro-F1 with 95% "
        "cluster-bootstrap intervals) and over repeated group-aware splits (right), in the same "
        "row order; what each candidate reads is in brackets.",
        "05",
        "results",
        encoders=True,
    ),
    Figure(
        "confusion",
        "Confusion matrices of the note's two models on the test split, or, when they did not "
        "run, of the reference candidate and the best photo candidate (each panel names its "
        "model; colour: share of the true category's images; numbers: counts).",
        "05",
        "results",
        encoders=True,
    ),
    Figure(
        "errors",
        "The test products that the reference candidate and the "
        "chosen candidate (and the best photo candidate when the note's heads did not run) get "
        "wrong, most confident errors first, a table per model (photo, "
        "name, true and predicted category, probability of the prediction, loss −ln p(true)) "
        "whose heading says how many of the model's errors it shows.",
        "05",
        "results",
        encoders=True,
    ),
    # --- local and global importance (notebook 06)
    Figure(
        "lime",
        "LIME on two test images: the most important superpixels at the note's sample count and "
        "at the count the stability check chose, and every superpixel's weight.",
        "06",
        "explanations",
        original=7,
        encoders=True,
    ),
    Figure(
        "shap",
        "SHAP (Partition explainer, blur masker), one test image per category, for the predicted "
        "class: the photo and its SHAP map side by side.",
        "06",
        "explanations",
        encoders=True,
    ),
    Figure(
        "averaging",
        "Two test images of one category, their LIME maps, and their pixel-wise average: what "
        "every panel of the per-category figure is made of.",
        "06",
        "explanations",
        original=8,
        encoders=True,
    ),
    Figure(
        "global_importance",
        "Per-category importance: LIME maps averaged over the test images of each category "
        "(which images, and whether only correctly classified ones, is stated in the text).",
        "06",
        "explanations",
        original=9,
        encoders=True,
    ),
    Figure(
        "trust",
        "How far to trust the photo explanations: top-k stability of LIME across seeds per "
        "sample count, and deletion curves over the same superpixels for LIME, SHAP and random "
        "orders.",
        "06",
        "explanations",
        encoders=True,
    ),
    # --- limits and improvements (notebooks 03-04)
    Figure(
        "augmentation",
        "A few training photos and their augmented views (random resized crop, flip, colour "
        "jitter), as the encoders see them.",
        "03",
        "improvements",
    ),
    Figure(
        "finetune",
        "Fine-tuning and augmentation: training (dashed) and validation (solid) loss per epoch, "
        "one panel per candidate on a shared loss axis; the gap shows overfitting, the vertical "
        "line and the star mark the epoch kept.",
        "04",
        "improvements",
        encoders=True,
    ),
    # --- beyond the note (notebook 05)
    Figure(
        "cost",
        "Accuracy (95% interval) against the measured cost of one prediction; marker: what the "
        "candidate reads; label: labelled products it needs (past eight candidates, a number at "
        "each point and a key beside); the best trade-offs (nothing both cheaper and more "
        "accurate) are joined.",
        "05",
        "beyond",
        encoders=True,
    ),
    Figure(
        "label_budget",
        "Test accuracy against labelled products per category (k to train, up to k more from the "
        "validation split to choose settings; mean and range over random draws); zero-shot CLIP, "
        "which needs none, at k = 0 where it ran.",
        "05",
        "beyond",
        encoders=True,
    ),
    # --- which products to label next, which labels look wrong (notebook 07)
    Figure(
        "active_learning",
        "Active learning simulated on the locked split: test accuracy against labels (training "
        "+ validation) per strategy, one panel per candidate, refitted after every round of one "
        "label per category, coarser after; line: mean over seeds, band: min-max; random dashed "
        "in grey beside the others; the full-data accuracy (solid) and the target share of it "
        "(dashed); chance dotted.",
        "07",
        "labels",
        encoders=True,
    ),
    Figure(
        "label_issues",
        "Labels that look wrong: products flagged by confident learning on out-of-fold "
        "probabilities (training and validation products only; a candidate far below the best "
        "out-of-fold accuracy is listed apart), likely errors before taxonomy boundaries, then "
        "flagged by more audited candidates, then by confidence: photo, name with its category "
        "path and product id, given label, suggested label, the out-of-fold probability of the "
        "suggested label from the first candidate named (confidence) and the audited candidates "
        "that flagged it.",
        "07",
        "labels",
        encoders=True,
    ),
    # --- what the recommended model looks at (notebook 06)
    Figure(
        "text_words",
        "Which words decide for the explained text candidate, one test product per category: "
        "each word's background coloured by its LIME weight for the predicted category (red: "
        "towards it, blue: away; one scale, colour bar below), and the strongest words each way "
        "as bars.",
        "06",
        "deployed",
        encoders=True,
    ),
    Figure(
        "word_importance",
        "Words that decide per category: mean LIME weight over correctly classified test products "
        "beside the logistic regression's own coefficients for the same words, with their "
        "Spearman rank agreement.",
        "06",
        "deployed",
        encoders=True,
    ),
    Figure(
        "text_trust",
        "How far to trust the word explanations: overlap of the top words across LIME seeds per "
        "sample count (threshold dashed, count used ticked), and deletion curves of LIME's word "
        "order against random orders of the same words.",
        "06",
        "deployed",
        encoders=True,
    ),
    Figure(
        "modality",
        "How much the photo and the text weigh per category: the exact split of late fusion's "
        "probability (w·p_photo + (1−w)·p_text) and Shapley values of early fusion's image and "
        "name embeddings, each panel on its own scale.",
        "06",
        "deployed",
        encoders=True,
    ),
    Figure(
        "disagreements",
        "Test products where the photo and text sides of a fusion disagree: each side's "
        "prediction and probability, the fused decision and the truth.",
        "06",
        "deployed",
        encoders=True,
    ),
    Figure(
        "template",
        "The catalogue's template phrases found on the training text (shared by several "
        "categories at very different rates): the share of each category's training products "
        "whose name and description hold each phrase.",
        "06",
        "template",
    ),
    # --- which products the chosen candidate classifies alone (notebook 05)
    Figure(
        "reliability",
        "How far the chosen candidate's probabilities can be trusted: per equal-width bin of the "
        "highest class probability, the accuracy of its products (bars, product count under them)"
        " against their mean probability, on validation and test; dotted, the diagonal of "
        "perfect calibration.",
        "05",
        "automation",
        encoders=True,
    ),
    Figure(
        "risk_coverage",
        "Accuracy among the products classified automatically against their share (coverage), "
        "most confident first: test solid, validation dotted; the target accuracy dashed; the "
        "threshold chosen on validation on each curve; the no-abstention point.",
        "05",
        "automation",
        encoders=True,
    ),
]

NUMBERS = {f.key: i + 1 for i, f in enumerate(FIGURES)}
COST_MIN_CANDIDATES = 3  # fewer: the accuracy-cost chart would restate the panel's table


def not_drawn_by_design(m: dict) -> set[str]:
    """The figures this run leaves out on purpose (not for want of weights): the cost chart when
    fewer than ``COST_MIN_CANDIDATES`` candidates ran (the table says the same)."""
    table = (m.get("evaluation") or {}).get("table") or {}
    return {"cost"} if table and len(table) < COST_MIN_CANDIDATES else set()


BY_KEY = {f.key: f for f in FIGURES}


def get(key: str) -> Figure:
    """The registered figure ``key``; an unknown key fails with the list of known ones."""
    if key not in BY_KEY:
        raise KeyError(
            f"figure {key!r} is not in utils.figures.FIGURES (known: {', '.join(BY_KEY)}): "
            "register it there first"
        )
    return BY_KEY[key]


RUN_KEY = "clip-poc run"  # PNG text chunk: the run that drew the figure (``plots.save_figure``)
CAPTION_KEY = "clip-poc caption"  # PNG text chunk: its caption, written from what it drew


def _text_chunk(path: str | Path, key: str) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return getattr(image, "text", {}).get(key)
    except (OSError, UnidentifiedImageError):
        return None


def run_of(path: str | Path) -> str | None:
    """The run id stamped in a saved figure; None for a file without one or not a PNG."""
    return _text_chunk(path, RUN_KEY)


def caption_of(path: str | Path) -> str | None:
    """The caption stamped in a saved figure when it was drawn (None: the registry's)."""
    return _text_chunk(path, CAPTION_KEY)


def state(f: Figure, figures_dir: str | Path, run_id: str | None = None) -> str:
    """``"drawn"``, ``"missing"``, or ``"stale"``: the file was drawn by a run other than
    ``run_id`` (an earlier run's figure must never stand in for this run's)."""
    path = Path(figures_dir) / f"{f.name}.png"
    if not path.exists():
        return "missing"
    return "drawn" if run_id is None or run_of(path) == run_id else "stale"


def remove_drawn(figures_dir: str | Path) -> list[str]:
    """Delete the figures a run draws in ``figures_dir`` (a new run starts: its figures replace
    them): the registered ones, and any ``figNN_<key>.png`` an earlier registry named (a figure
    renumbered since keeps no stale copy); other files are left alone. Returns the names
    removed."""
    removed = []
    pattern = re.compile(r"fig\d\d_[a-z0-9_]+\.png")
    for path in sorted(Path(figures_dir).glob("fig*.png")):
        if pattern.fullmatch(path.name):
            path.unlink()
            removed.append(path.stem)
    return removed


def markdown_table() -> str:
    """The README's figure table."""
    lines = ["| figure | file | what | notebook |", "|---|---|---|---|"]
    for f in FIGURES:
        lines.append(f"| {f.number} | `{f.name}.png` | {f.full_caption} | {f.notebook} |")
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


def sheet(figures_dir: Path, out: Path) -> Path:
    """One self-contained page of every registered figure with its caption, at the note's width
    (``make figures-sheet``): a reviewer sees them all at once; a missing figure is named, and
    each figure says which run drew it."""
    import base64
    import html

    parts = []
    for f in FIGURES:
        path = Path(figures_dir) / f"{f.name}.png"
        caption = html.escape(f"{f.label}. {f.caption_in(figures_dir)}")
        if path.exists():
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{f.name}">'
                f"<figcaption><b>{f.name}.png</b> (notebook {f.notebook}, run "
                f"{html.escape(str(run_of(path)))}): {caption}</figcaption>"
                "</figure>"
            )
        else:
            parts.append(f"<p><b>{f.name}.png is missing</b>: {caption}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "img{max-width:100%;border:1px solid #ddd}figure{margin:2rem 0}"
        "figcaption{color:#444;font-size:.9rem}"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>figures</title>'
        f"<style>{style}</style></head><body><h1>Every figure of the note, at its width</h1>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--sheet", metavar="HTML", help="write the figure sheet to this file")
    parser.add_argument("--figures-dir", default=str(ROOT / "figures"))
    args = parser.parse_args(argv)
    if args.sheet:
        print(f"wrote {sheet(Path(args.figures_dir), Path(args.sheet))}")
    elif args.update_readme:
        print("README.md updated" if update_readme() else "README.md already up to date")
    else:
        print(markdown_table())


if __name__ == "__main__":
    main()
