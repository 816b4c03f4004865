"""Every figure's caption, written from what the figure drew (its ``facts``: the candidates shown,
how many items of how many, which panels), so a caption never speaks of what the run did not
draw. The registry (``figures.FIGURES``) holds each figure's caption in general terms, used for
the README's table and for a figure drawn without facts.
"""

from __future__ import annotations

from ..figures import get
from ..formatting import listing, plural

SOURCES = {
    "clip-image": "CLIP's image embeddings",
    "vgg16-image": "VGG16's pooled features",
}


def _names(facts: dict, key: str = "names") -> str:
    return listing(str(n) for n in facts.get(key) or [])


def _left_out(facts: dict) -> str:
    left = facts.get("left_out") or []
    return f" Not drawn: {listing(left)}." if left else ""


def _headline(f: dict) -> str:
    stand = f.get("stand_in") or []
    photo, other = f.get("photo"), f.get("other")
    if photo is None:  # a figure drawn before the panels were split
        photo, other = f["names"], []
    where = (
        (
            "; shaded beside the candidates that read the photo, the original note's accuracy "
            f"claims ({listing(f.get('claims') or [])}) with the tolerance they are read with"
            if photo and f.get("claims")
            else ""
        )
        + (
            f"; the candidates that read the text ({listing(other)}) in a panel of their own, "
            "without the photo claims"
            if photo and other
            else ""
        )
        + (
            "; no candidate read the photo, so the original note's photo claims are not drawn"
            if not photo
            else ""
        )
    )
    return (
        f"The {plural(len(f['names']), 'candidate')} of this run on the locked test split: "
        "accuracy with its interval (cluster bootstrap"
        + (
            f"; exact binomial for {listing(f['exact'])}, where every resample agrees"
            if f.get("exact")
            else ""
        )
        + ")"
        + where
        + "; dotted, chance"
        + (f"; in bold, {f['called']} ({f['chosen']})" if f.get("chosen") else "")
        + (f"; †, stand-in weights ({listing(stand)})" if stand else "")
        + "."
    )


def _categories(f: dict) -> str:
    return f"Usable images per category ({len(f['categories'])} categories).{_left_out(f)}"


def _examples(f: dict) -> str:
    per = f.get("per_category")
    return (
        f"Example photos: {plural(per, 'photo') + ' of each category, ' if per else ''}one column "
        f"per category.{_left_out(f)}"
    )


def _near_duplicates(f: dict) -> str:
    return (
        f"The {f['shown']} largest of the {plural(f['of'], 'group')} of photos with near-identical "
        "perceptual hashes (the same photo, or the same shot or template with small changes), "
        "each group framed with its category and size (each group is kept on one side of the "
        "split)."
    )


def _similarity(f: dict) -> str:
    return (
        f"CLIP cosine similarity between {plural(f['photos'], 'test photo')}, one per category "
        "(rows), and each category's averaged prompt embedding (columns); the best match of each "
        "photo is framed, the true category underlined."
    )


def _architecture(f: dict) -> str:
    n = len(f["names"])
    what = "The note's two pipelines" if n == 2 else f"The pipeline of {_names(f)}"
    return (
        f"{what}: a frozen encoder, then a small trained head; sizes from the loaded models and "
        "the recorded head configurations."
    )


def _feature_space(f: dict) -> str:
    sources = listing(SOURCES.get(s, s) for s in f["sources"])
    return f"t-SNE of the training and validation features ({sources}), by category."


def _log_loss(f: dict) -> str:
    return (
        f"The cross-entropy loss −log p(true class), with {f['name']}'s loss on each of the "
        f"{f['images']} test products drawn over it (the histogram behind the curve, right "
        "axis, counts them); the dotted line is the loss of a uniform guess."
    )


def _learning_curves(f: dict) -> str:
    return (
        f"Learning curves of {_names(f)} (loss above, accuracy below, shared axes); the dashed "
        "line marks the epoch kept (lowest validation loss), the dotted line chance."
    )


def _confusion(f: dict) -> str:
    what = "Confusion matrix" if len(f["names"]) == 1 else "Confusion matrices"
    return (
        f"{what} of {_names(f)} on the test split (colour: share of the true "
        f"category's images; numbers: counts).{_left_out(f)}"
    )


def _errors(f: dict) -> str:
    counts = "; ".join(
        f"{n}: {f['shown'][n]} of {plural(f['errors'][n], 'error')} shown"
        if f["errors"][n]
        else f"{n}: no test error"
        for n in f["names"]
    )
    return (
        f"The test errors of {_names(f)} predicted with the highest probability, one row each: "
        "photo, name, true and predicted category, probability of the prediction and loss "
        f"({counts})."
    )


def _photo(f: dict, what: str) -> str:
    who = f" of {f['candidate']}" if f.get("candidate") else ""
    return what.format(who=who, images=f.get("images"))


def _lime(f: dict) -> str:
    return _photo(
        f,
        "LIME{who} on {images} test photos: the top "
        + str(f.get("top_k", ""))
        + " superpixels at the note's sample count and at the count the stability check chose, "
        "and every superpixel's weight.",
    )


def _shap(f: dict) -> str:
    return _photo(
        f,
        "SHAP{who} (Partition explainer, blur masker) on {images} test photos, one per category, "
        "for the predicted class: each photo beside the same photo with its SHAP map over it "
        "(red: towards the predicted class, blue: away; values per pixel: together they make up "
        "the change in probability from the blurred photo to the photo, so each one is small; "
        "the blocks are the explainer's finest split at its evaluation budget), above each pair "
        "the true and the predicted category"
        + (" with the probability of the prediction" if f.get("probabilities") else "")
        + ".",
    )


def _averaging(f: dict) -> str:
    return _photo(
        f,
        f"Two test images of {f['category']}, their LIME maps{{who}} and their pixel-wise "
        "average: what every panel of the per-category figure is made of.",
    )


def _global(f: dict) -> str:
    counts = f.get("counts") or {}
    most = max(counts.values()) if counts else 0
    which = (
        "correctly classified test images"
        if f.get("only_correct")
        else "test images, correctly classified ones first"
    )
    return _photo(
        f,
        f"Per-category importance{{who}}: LIME maps averaged over up to {most} {which} of each "
        f"of {plural(len(f['categories']), 'category', 'categories')}." + _left_out(f),
    )


def _trust(f: dict) -> str:
    return _photo(
        f,
        "How far to trust the photo explanations{who}: top-k stability of LIME across seeds per "
        "sample count, and deletion curves over the same superpixels for LIME, SHAP and random "
        "orders.",
    )


def _augmentation(f: dict) -> str:
    return (
        f"{plural(f['photos'], 'training photo')} and {f['views']} augmented views of each "
        "(random resized crop, flip, colour jitter), as the encoders see them."
    )


def _finetune(f: dict) -> str:
    return (
        f"Training (dashed) and validation (solid) loss per epoch of {_names(f)}, on shared "
        "axes; the gap shows overfitting, the vertical line marks the epoch kept."
    )


def _cost(f: dict) -> str:
    label = (
        "a number at each point, the key beside gives the candidate, its accuracy, cost and "
        "labelled products"
        if f.get("numbered")
        else "label: the candidate and the labelled products it needs"
    )
    front = f.get("front") or []
    return (
        f"Accuracy (with its interval) of {plural(len(f['names']), 'candidate')} against the "
        f"measured cost of one prediction ({f.get('device', 'cpu')}); marker: what the candidate "
        f"reads; {label}"
        + (
            f"; joined, the best trade-offs (nothing both cheaper and more accurate): "
            f"{listing(front)}"
            if len(front) > 1
            else ""
        )
        + "."
    )


def _label_budget(f: dict) -> str:
    return (
        f"Test accuracy of {_names(f)} against labelled products per category (k to train, up "
        "to k more from the validation split to choose settings; mean and range over random "
        "draws)"
        + ("; zero-shot CLIP, which needs no label, at the left edge" if f.get("zeroshot") else "")
        + "."
    )


def _text_words(f: dict) -> str:
    return (
        f"Which words decide for {f.get('name') or 'the text candidate'}, one test product per "
        "category: each word's background coloured by its LIME weight for the predicted "
        "category (red: towards it, blue: away; one scale, colour bar below), and the strongest "
        "words each way as bars."
    )


def _word_importance(f: dict) -> str:
    beside = (
        " beside the logistic regression's own coefficients for the same words (log-odds "
        "weights), with their Spearman rank agreement"
        if f.get("coefficients")
        else ""
    )
    return (
        f"Words that decide for {f.get('name') or 'the text candidate'} per category: mean LIME "
        f"weight over correctly classified test products{beside}."
    )


def _text_trust(f: dict) -> str:
    return (
        f"How far to trust the word explanations of {_names(f)}: overlap of the top words "
        "across LIME seeds per sample count (threshold dashed, count used ticked), and deletion "
        "curves of LIME's word order against random orders of the same words."
    )


def _modality(f: dict) -> str:
    parts = {
        "fusion-late": "the exact split of late fusion's probability (w·p_photo + (1−w)·p_text)",
        "fusion-early": "Shapley values of early fusion's image and name embeddings",
    }
    what = listing(parts.get(n, n) for n in f["names"])
    own = " (each panel on its own scale)" if len(f["names"]) > 1 else ""
    return f"How much the photo and the text weigh per category: {what}{own}.{_left_out(f)}"


def _disagreements(f: dict) -> str:
    return (
        f"Test products where the photo and text sides of {f.get('name') or 'a fusion'} disagree "
        f"({f['shown']} of {f['of']} shown): each side's prediction and probability, the fused "
        "decision and the truth."
    )


def _template(f: dict) -> str:
    shown = (
        f"the {f['phrases']} of {f['found']} phrases most present"
        if f["phrases"] < f["found"]
        else plural(f["found"], "phrase")
    )
    of = f" (of {f['train_products']})" if f.get("train_products") else ""
    return (
        "The catalogue's template phrases found on the training text (shared by several "
        f"categories at very different rates; {shown}): the share of each category's training "
        f"products{of} whose name and description hold each phrase."
    )


def _reliability(f: dict) -> str:
    scaled = (
        "; second row, the same at the temperature fitted on validation (T = "
        f"{f['temperature']:.3f}, kept)"
        if f["kept"]
        else ""
    )
    return (
        f"How far {f['name']}'s probabilities can be trusted: in each of {f['bins']} equal-width "
        "bins of the highest class probability, the accuracy of its products (bars, product "
        "count at their foot) and their mean probability against that accuracy (dots), on the "
        f"{f['validation']} validation and {f['test']} test products{scaled}; dotted, the "
        "diagonal of perfect calibration."
    )


def _risk_coverage(f: dict) -> str:
    where = (
        f"the threshold chosen on validation ({f['threshold']:.3f}) on each curve, on test with "
        "its intervals"
        if f["threshold"] is not None
        else "no threshold reached the target on validation"
    )
    return (
        f"{f['name']}: accuracy among the products classified automatically against their share "
        f"(coverage), most confident first: test solid ({f['test']} products), validation dotted "
        f"({f['validation']}); the target accuracy ({f['target']:.0%}) dashed; {where}; the "
        f"diamond, no abstention. The accuracy axis starts at {f['bottom']:.0%}."
    )


def _results(f: dict) -> str:
    return (
        f"The {plural(len(f['names']), 'candidate')} of this run on the locked test split (left: "
        "accuracy and macro-F1 with their intervals) and over repeated group-aware splits "
        "(right), in the same row order; what each candidate reads is in brackets."
    )


CAPTIONS = {
    "results": _results,
    "headline": _headline,
    "categories": _categories,
    "examples": _examples,
    "near_duplicates": _near_duplicates,
    "similarity": _similarity,
    "architecture": _architecture,
    "feature_space": _feature_space,
    "log_loss": _log_loss,
    "learning_curves": _learning_curves,
    "confusion": _confusion,
    "errors": _errors,
    "lime": _lime,
    "shap": _shap,
    "averaging": _averaging,
    "global_importance": _global,
    "trust": _trust,
    "augmentation": _augmentation,
    "finetune": _finetune,
    "cost": _cost,
    "label_budget": _label_budget,
    "text_words": _text_words,
    "word_importance": _word_importance,
    "text_trust": _text_trust,
    "modality": _modality,
    "disagreements": _disagreements,
    "template": _template,
    "reliability": _reliability,
    "risk_coverage": _risk_coverage,
}


def caption(key: str, facts: dict | None = None) -> str:
    """The caption of figure ``key`` for what it drew (``facts``); the registry's when the figure
    was drawn without the facts its writer needs."""
    writer = CAPTIONS.get(key)
    if writer and facts:
        try:
            return writer(facts)
        except (KeyError, TypeError):  # drawn by an older function: the general caption
            pass
    return get(key).caption
