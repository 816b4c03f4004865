"""Fitting the candidates (notebook 04): ``fit`` one candidate on the training rows with its
settings chosen on the validation rows (never the test rows), ``fit_all`` and save, and what
notebook 04 records (the choices, the heads, the curves, the fine-tuning settings).
"""

from __future__ import annotations

import copy
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core import parallel, timing
from ..core.paths import Layout
from ..core.progress import bar
from . import blocks, train
from .candidates import CANDIDATES, Candidate, _kinds, cache_only, category_name, fit_order, resolve
from .families import (
    FinetuneModel,
    Fitted,
    HeadModel,
    LateFusionModel,
    ProbeModel,
    TextClassifier,
    ZeroShotModel,
)
from .panel import Panel, Settings, class_embeddings


def fit_all(
    names: list[str],
    panel: Panel,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    layout: Layout | None = None,
    progress: bool = True,
) -> dict[str, Fitted]:
    """Fit every candidate (training rows, selection on validation rows) and save it under
    ``layout``."""
    out = {}
    for name in bar(fit_order(resolve(names)), desc="fit candidates", disable=not progress):
        out[name] = fit(name, panel, train_rows, val_rows, fitted=out)
        if layout is not None:
            with timing.step(f"save {name}"):
                out[name].save(layout.candidate(name))
    return {n: out[n] for n in resolve(names)}


def training_table(fitted: dict[str, Fitted]) -> pd.DataFrame:
    """One row per fitted candidate: how it was chosen on validation and what it cost."""
    rows = {}
    for name, f in fitted.items():
        i = f.info
        rows[name] = {
            "family": f.candidate.family,
            "val_accuracy": i.get("val_accuracy"),
            "val_loss": i.get("val_loss"),
            "chosen": _chosen(f),
            "train_seconds": i.get("train_seconds"),
            "trained_parameters": f.parameters(),
            "labelled (train + val)": i.get("labelled_train", 0) + i.get("labelled_val", 0),
        }
    return pd.DataFrame(rows).T


def _chosen(f: Fitted) -> str:
    i = f.info
    if f.candidate.family in ("head", "finetune"):
        return f"epoch {i['best_epoch']} of {i['epochs_run']}"
    if f.candidate.family in ("probe", "tfidf"):
        return f"C = {i['C']:g}"
    if f.candidate.family == "late-fusion":
        return f"image weight {i['weight']:g}"
    return "nothing (zero-shot)"


# --------------------------------------------------------------------------- fitting
def _identities(panel: Panel, sources) -> dict[str, str]:
    return {k: panel.encoder(k).identity for k in sorted(_kinds(sources))}


def fit(
    name: str,
    panel: Panel,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    fitted: dict[str, Fitted] | None = None,
) -> Fitted:
    """Fit candidate ``name`` on ``train_rows``, choosing its settings on ``val_rows`` (never the
    test rows).

    ``fitted``: candidates already fitted on the same rows, reused as fusion members. The result
    records the encoders it read (names and identities) and their precision. Candidates that read
    cached features only (``cache_only``: small matrices) are fitted with
    ``parallel.SMALL_FIT_THREADS`` threads, wherever they are fitted, so that a refit in a worker
    process gives the same numbers as one here.
    """
    threads = parallel.SMALL_FIT_THREADS if cache_only(name) else None
    with timing.step(f"fit {name}"), parallel.limited(threads):
        out = _fit(name, panel, train_rows, val_rows, fitted)
    out.info["encoder_names"] = {k: panel.encoder(k).name for k in out.encoders}
    out.info["precision"] = panel.settings.precision
    out.info["decode_min_side"] = panel.settings.decode_min_side
    return out


def _fit(
    name: str,
    panel: Panel,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    fitted: dict[str, Fitted] | None = None,
) -> Fitted:
    c = CANDIDATES[name]
    s = panel.settings
    n_classes = len(panel.classes)
    y_train, y_val = panel.y(train_rows), panel.y(val_rows)
    base = dict(candidate=c, classes=panel.classes, split_id=panel.split_id)
    labelled = {"labelled_train": len(train_rows), "labelled_val": len(val_rows)}

    if c.family == "head":
        X_train, X_val = panel.inputs(c.inputs, train_rows), panel.inputs(c.inputs, val_rows)
        if c.augment:
            kind = c.inputs[0].split("-")[0]
            X_train = np.vstack([X_train, panel.views(kind, train_rows)])
            y_train = np.concatenate([y_train, np.repeat(y_train, s.views)])
        config = train.head_config(
            c.design,
            X_train.shape[1],
            n_classes,
            epochs=s.epochs,
            patience=s.patience,
            batch_size=s.head_batch_size,
            seed=s.seed,
            **s.head_overrides.get(c.design, {}),
        )
        result = train.fit(config, (X_train, y_train), (X_val, y_val))
        info = {
            **result.summary(),
            **labelled,
            "train_samples": len(X_train),
            "config": asdict(config),
        }
        return HeadModel(
            **base,
            info=info,
            encoders=_identities(panel, c.inputs),
            head=result.model,
            config=config,
            history=result.history,
        )

    if c.family in ("probe", "tfidf"):
        X_train, X_val = panel.inputs(c.inputs, train_rows), panel.inputs(c.inputs, val_rows)
        make = (
            _tfidf_pipeline(s.seed)
            if c.family == "tfidf"
            else (lambda C: train.logistic_probe(C, s.seed))
        )
        estimator, info = train.fit_probe(
            make, (X_train, y_train), (X_val, y_val), n_classes, tuple(s.probe_cs)
        )
        return ProbeModel(
            **base,
            info={**info, **labelled},
            encoders=_identities(panel, c.inputs),
            estimator=estimator,
        )

    if c.family == "zeroshot":
        text = panel.encoder("clip-text")
        fitted = ZeroShotModel(
            **base,
            info={},
            encoders=_identities(panel, ("clip-image", "clip-text")),
            class_embeddings=panel.class_embeddings(),
            temperature=text.temperature,
        )
        val = fitted.predict_proba(panel, val_rows)
        fitted.info = {
            "prompts": list(s.prompts),
            "class_names": [category_name(label) for label in panel.classes],
            "temperature": float(text.temperature),
            "temperature_source": text.temperature_source,
            "val_accuracy": round(float(np.mean(val.argmax(1) == y_val)), 6),
            "labelled_train": 0,
            "labelled_val": 0,
        }
        return fitted

    if c.family == "late-fusion":
        members = [(fitted or {}).get(m) or fit(m, panel, train_rows, val_rows) for m in c.members]
        image, text = (m.predict_proba(panel, val_rows) for m in members)
        from sklearn.metrics import log_loss

        sweep = []
        for w in s.fusion_weights:
            p = LateFusionModel.mix(w, image, text)
            sweep.append(
                {
                    "weight": float(w),
                    "val_loss": float(log_loss(y_val, p, labels=list(range(n_classes)))),
                    "val_accuracy": float(np.mean(p.argmax(1) == y_val)),
                }
            )
        best = min(sweep, key=lambda r: (r["val_loss"], -r["weight"]))
        encoders = {}
        for m in members:
            encoders.update(m.encoders)
        return LateFusionModel(
            **base,
            info={
                "weight": best["weight"],
                "val_loss": round(best["val_loss"], 4),
                "val_accuracy": round(best["val_accuracy"], 6),
                "sweep": sweep,
                **labelled,
            },
            encoders=encoders,
            members=members,
            weight=best["weight"],
        )

    if c.family == "finetune":
        return _fit_finetune(c, panel, train_rows, val_rows, y_train, y_val, base, labelled)
    raise ValueError(f"unknown family {c.family!r}")


def _tfidf_pipeline(seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return lambda C: make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, dtype=np.float32),
        train.logistic_regression(C, seed),
    )


def _fit_finetune(
    c: Candidate, panel: Panel, train_rows, val_rows, y_train, y_val, base, labelled
) -> FinetuneModel:
    s = panel.settings
    kind = c.inputs[0].split("-")[0]
    encoder = panel.encoder(kind)
    A_train = panel.activations(kind, train_rows)
    if c.augment:
        A_train = np.concatenate([A_train, panel.activations(kind, train_rows, augmented=True)])
        y_train = np.concatenate([y_train, np.repeat(y_train, s.views)])
    A_val = panel.activations(kind, val_rows)
    _, tail = blocks.split_at(encoder, s.finetune_blocks)
    tail = copy.deepcopy(tail).cpu().float().requires_grad_(True)
    config = train.head_config(
        c.design,
        encoder.dim,
        len(panel.classes),
        optimizer="adamw",
        lr=s.finetune_head_lr,
        encoder_lr=s.finetune_lr,
        epochs=s.finetune_epochs,
        patience=s.finetune_patience,
        batch_size=s.head_batch_size,
        seed=s.seed,
        weight_decay=s.finetune_weight_decay,
        **{
            k: v
            for k, v in s.head_overrides.get(c.design, {}).items()
            if k in ("hidden", "dropout")
        },
    )
    objective = s.finetune_objective
    if objective == "text":
        if kind != "clip":
            raise ValueError(
                "finetune_objective='text' needs CLIP's text tower: it applies to clip-finetune "
                "only"
            )
        with torch.random.fork_rng(devices=[]):
            head = TextClassifier(class_embeddings(panel), panel.encoder("clip-text").temperature)
    elif objective == "head":
        torch.manual_seed(s.seed)
        head = train.make_head(config)
    else:
        raise ValueError(f"finetune_objective={objective!r}: use 'head' or 'text'")
    model = nn.Sequential(tail, head)
    result = train.fit(
        config,
        (A_train, y_train),
        (A_val, y_val),
        model=model,
        encoder_params=list(tail.parameters()),
        device=encoder.device,
        precision=encoder.precision,
    )
    info = {
        **result.summary(),
        **labelled,
        "train_samples": len(A_train),
        "blocks": s.finetune_blocks,
        "objective": objective,
        **({"temperature": float(head.scale)} if objective == "text" else {}),
        "config": asdict(config),
        "trainable_encoder_parameters": sum(p.numel() for p in tail.parameters()),
    }
    fitted = FinetuneModel(
        **base,
        info=info,
        encoders={kind: encoder.identity},
        tail=tail.requires_grad_(False),
        head=head,
        config=config,
        history=result.history,
        k=s.finetune_blocks,
    )
    fitted.info["finetuned_identity"] = fitted.encoder(panel).identity
    return fitted


# --------------------------------------------------------------------------- what notebook 04
# records
def head_configs(fitted: dict[str, Fitted]) -> dict[str, dict]:
    """Each trained head's configuration and its description in words."""
    return {
        n: {**asdict(f.config), "description": train.describe_head(f.config)}
        for n, f in fitted.items()
        if hasattr(f, "config")
    }


def head_descriptions(configs: dict[str, dict]) -> pd.DataFrame:
    return pd.DataFrame({"head": {n: c["description"] for n, c in configs.items()}})


def looped(fitted: dict[str, Fitted]) -> tuple[dict[str, Fitted], dict[str, Fitted]]:
    """``(frozen heads, improvements)``: candidates trained by the shared loop, split into the
    frozen-encoder heads and the fine-tuned or augmented ones."""
    trained = {n: f for n, f in fitted.items() if hasattr(f, "history")}
    frozen = {
        n: f for n, f in trained.items() if f.candidate.family == "head" and not f.candidate.augment
    }
    return frozen, {n: f for n, f in trained.items() if n not in frozen}


def compare_optimizers(panel: Panel, train_rows, val_rows, grid: dict[str, list[float]]) -> dict:
    """The note's CLIP head on the cached CLIP features, trained with each optimiser of ``grid``
    (``train.compare_optimizers``; epochs, seed, batch size and head shape from the panel's
    settings). Returns what notebook 04 records: ``grid``, ``chosen`` (each optimiser's rate) and
    ``curves`` (per epoch, as lists)."""
    s = panel.settings
    curves, chosen = train.compare_optimizers(
        "clip",
        (panel.features("clip-image", train_rows), panel.y(train_rows)),
        (panel.features("clip-image", val_rows), panel.y(val_rows)),
        len(panel.classes),
        grid,
        epochs=s.epochs,
        seed=s.seed,
        batch_size=s.head_batch_size,
        **train.shape_overrides(s.head_overrides.get("clip", {})),
    )
    return {"grid": grid, "chosen": chosen, "curves": curves.to_dict("list")}


def training_summary(
    fitted: dict[str, Fitted], optimizers: dict | None, settings: Settings
) -> dict:
    """What notebook 04 records: the choices made on validation (``training_table``), the heads
    (``head_configs``), the curves, the optimiser comparison and the fine-tuning settings."""
    table, configs = training_table(fitted), head_configs(fitted)
    trained = {n: f for n, f in fitted.items() if hasattr(f, "history")}
    _, improved = looped(fitted)
    finetune = {
        n: {
            "objective": f.info.get("objective", "head"),
            "seconds_per_epoch": f.info["seconds_per_epoch"],
            "precision": f.info.get("precision", "float32"),
            "train_samples": f.info["train_samples"],
            "epochs_run": f.info["epochs_run"],
            "trainable_encoder_parameters": f.info.get("trainable_encoder_parameters", 0),
            "finetuned_identity": f.info.get("finetuned_identity"),
        }
        for n, f in improved.items()
    }
    return {
        "models": list(fitted),
        "summary": table.to_dict("index"),
        "configs": configs,
        "info": {n: f.info for n, f in fitted.items()},
        "history": {n: f.history.to_dict("list") for n, f in trained.items()},
        "optimizers": optimizers,
        "finetune": {
            **finetune,
            "blocks": settings.finetune_blocks,
            "encoder_lr": settings.finetune_lr,
            "head_lr": settings.finetune_head_lr,
            "views": settings.views,
        },
    }


def finetune_table(summary: dict) -> pd.DataFrame:
    """The fine-tuned and augmented candidates' training facts (notebook 04)."""
    ft = {n: v for n, v in summary["finetune"].items() if isinstance(v, dict)}
    return pd.DataFrame(ft).T if ft else pd.DataFrame({"fine-tuned or augmented candidates": []})
