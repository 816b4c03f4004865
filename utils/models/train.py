"""Fitting: the note's heads and the one training loop, logistic-regression probes, and the
optimiser comparison.

- Heads (the note's designs, defined here and nowhere else, ``HEAD_DESIGNS``): CLIP's
  Linear -> ReLU -> Linear with Adam; VGG16's Linear 256 -> ReLU -> Dropout -> Linear with RMSprop;
  cross-entropy. ``fit`` trains any module (a head on cached vectors, or fine-tuned encoder blocks
  plus a head on cached activations) with one loop: the weights of the epoch with the lowest
  validation loss are kept, training stops after ``patience`` epochs without improvement. Seeded.
- Probes: logistic regression on standardised features, ``C`` chosen on the validation split's
  log-loss among ``PROBE_CS`` (six values). This is not the CLIP paper's linear-probe protocol,
  which fits the raw features and sweeps ``C`` from 1e-6 to 1e6 before refining it.

Model selection reads the validation split only, never the test split.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import log_loss
from torch import nn

from ..core import timing
from .runtime import autocast

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
    "adamw": torch.optim.AdamW,
}
# The note's two heads. Every default lives here; notebooks override through ``head_overrides``.
HEAD_DESIGNS = {
    "clip": dict(hidden=256, dropout=0.0, optimizer="adam", lr=1e-3),
    "vgg16": dict(hidden=256, dropout=0.5, optimizer="rmsprop", lr=1e-4),
}
PROBE_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


class TrainingDiverged(RuntimeError):
    """The validation loss was never finite: no epoch can be kept."""


@dataclass
class HeadConfig:
    """Everything needed to rebuild and retrain a head (saved with it)."""

    design: str  # "clip" or "vgg16": which of the note's heads
    in_dim: int
    n_classes: int
    hidden: int = 256
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 30
    batch_size: int = 32
    patience: int = 5
    seed: int = 42
    weight_decay: float = 0.0
    encoder_lr: float | None = (
        None  # fine-tuning: learning rate of the encoder blocks (the head keeps ``lr``)
    )


def head_config(design: str, in_dim: int, n_classes: int, **overrides) -> HeadConfig:
    """The note's choices for ``design`` (``HEAD_DESIGNS``); anything can be overridden."""
    if design not in HEAD_DESIGNS:
        raise ValueError(f"unknown head design {design!r}; expected one of {sorted(HEAD_DESIGNS)}")
    return HeadConfig(
        design=design, in_dim=in_dim, n_classes=n_classes, **{**HEAD_DESIGNS[design], **overrides}
    )


def make_head(config: HeadConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(config.in_dim, config.hidden), nn.ReLU()]
    if config.dropout:
        layers.append(nn.Dropout(config.dropout))
    layers.append(nn.Linear(config.hidden, config.n_classes))
    return nn.Sequential(*layers)


def describe_head(config: HeadConfig) -> str:
    """The head in words, from its configuration (the note's model description)."""
    layers = [f"Linear {config.in_dim} → {config.hidden}", "ReLU"]
    if config.dropout:
        layers.append(f"Dropout {config.dropout:g}")
    layers.append(f"Linear {config.hidden} → {config.n_classes}")
    return " → ".join(layers) + f" ({config.optimizer}, lr {config.lr:g}, cross-entropy)"


@dataclass
class TrainResult:
    model: nn.Module  # weights of the best validation epoch
    config: HeadConfig
    history: pd.DataFrame  # epoch, train_loss, train_acc, val_loss, val_acc
    best_epoch: int
    seconds: float
    seconds_per_epoch: float = field(default=0.0)
    precision: str = "float32"  # of the forward passes (bfloat16: autocast, mixed precision)

    @property
    def head(self) -> nn.Module:
        return self.model

    def summary(self) -> dict:
        best = self.history.set_index("epoch").loc[self.best_epoch]
        return {
            "best_epoch": int(self.best_epoch),
            "epochs_run": int(self.history["epoch"].max()),
            "val_accuracy": round(float(best["val_acc"]), 6),
            "val_loss": round(float(best["val_loss"]), 4),
            "train_seconds": round(self.seconds, 3),
            "seconds_per_epoch": round(self.seconds_per_epoch, 4),
            "precision": self.precision,
        }


def _batches(X: np.ndarray, index: torch.Tensor, size: int):
    for i in range(0, len(index), size):
        idx = index[i : i + size].numpy()
        yield idx, torch.from_numpy(np.array(X[idx], dtype=np.float32))


def _evaluate(
    model: nn.Module,
    X: np.ndarray,
    y: torch.Tensor,
    loss_fn,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    precision: str = "float32",
) -> tuple[float, float]:
    model.eval()
    losses, right = 0.0, 0
    with torch.inference_mode(), autocast(torch.device(device), precision):
        for idx, xb in _batches(X, torch.arange(len(X)), batch_size):
            logits = model(xb.to(device)).float().cpu()
            losses += float(loss_fn(logits, y[idx])) * len(idx)
            right += int((logits.argmax(1) == y[idx]).sum())
    return losses / max(len(X), 1), right / max(len(X), 1)


def fit(
    config: HeadConfig,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    model: nn.Module | None = None,
    encoder_params: list[nn.Parameter] | None = None,
    device: torch.device | str = "cpu",
    precision: str = "float32",
) -> TrainResult:
    """Train ``model`` (default: a new head from ``config``) on ``train``; keep the epoch with the
    lowest validation loss on ``val``.

    Inputs may be vectors (heads) or activations (fine-tuning), float16 or float32: batches are
    made float32 as they go. ``encoder_params`` (fine-tuning) train at ``config.encoder_lr``, the
    rest at ``config.lr``. ``precision="bfloat16"`` runs the forward passes under bfloat16
    autocast (mixed precision: weights, gradients and the optimiser stay float32, the loss is
    computed in float32); fine-tuning passes its encoder's measured precision, about twice as fast
    on a CPU with native bfloat16 (``make bench ARGS='--sections finetune'``). Fails with
    ``TrainingDiverged`` if no epoch has a finite validation loss.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    Xt, yt = train[0], torch.tensor(np.asarray(train[1]), dtype=torch.long)
    Xv, yv = val[0], torch.tensor(np.asarray(val[1]), dtype=torch.long)
    model = (make_head(config) if model is None else model).to(device)
    encoder_ids = {id(p) for p in encoder_params or []}
    groups = [
        {
            "params": [
                p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids
            ],
            "lr": config.lr,
        }
    ]
    if encoder_params:
        groups.append({"params": list(encoder_params), "lr": config.encoder_lr or config.lr})
    groups = [g for g in groups if g["params"]]
    extra = {"weight_decay": config.weight_decay} if config.weight_decay else {}
    optimizer = OPTIMIZERS[config.optimizer](groups, lr=config.lr, **extra)
    loss_fn = nn.CrossEntropyLoss()
    history, best_loss, best_state, best_epoch, waited = [], float("inf"), None, 0, 0
    start = time.perf_counter()
    epoch_seconds = []
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(Xt), generator=generator)
        for idx, xb in _batches(Xt, order, config.batch_size):
            optimizer.zero_grad()
            with autocast(torch.device(device), precision):
                logits = model(xb.to(device))
            loss_fn(logits.float(), yt[idx].to(device)).backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - t0)
        train_loss, train_acc = _evaluate(
            model, Xt, yt, loss_fn, device=device, precision=precision
        )
        val_loss, val_acc = _evaluate(model, Xv, yv, loss_fn, device=device, precision=precision)
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "val_loss": val_loss,
                "val_acc": val_acc,
            }
        )
        if np.isfinite(val_loss) and val_loss < best_loss - 1e-6:
            best_loss, best_state, best_epoch, waited = (
                val_loss,
                copy.deepcopy(model.state_dict()),
                epoch,
                0,
            )
        else:
            waited += 1
            if waited >= config.patience:
                break
    seconds = time.perf_counter() - start
    if best_state is None:
        raise TrainingDiverged(
            f"the validation loss was never finite in {len(history)} epoch(s) (last: "
            f"{history[-1]['val_loss']}): no epoch can be kept; lower the learning rate "
            f"(lr={config.lr:g}) or check the features for NaN/inf."
        )
    model.load_state_dict(best_state)
    model.cpu().eval()
    return TrainResult(
        model,
        config,
        pd.DataFrame(history),
        best_epoch,
        seconds,
        float(np.mean(epoch_seconds)),
        precision,
    )


def predict_proba(model: nn.Module, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for _, xb in _batches(X, torch.arange(len(X)), batch_size):
            out.append(torch.softmax(model(xb), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


# --------------------------------------------------------------------------- probes
def full_proba(estimator, X, n_classes: int) -> np.ndarray:
    """``predict_proba`` with one column per class id, zeros for classes absent from training
    (float64, rows sum to 1)."""
    proba = estimator.predict_proba(X)
    out = np.zeros((proba.shape[0], n_classes))
    out[:, np.asarray(estimator.classes_, dtype=int)] = proba
    return out / out.sum(axis=1, keepdims=True)


def fit_probe(
    make: Callable[[float], object],
    train: tuple,
    val: tuple,
    n_classes: int,
    Cs: tuple[float, ...] = PROBE_CS,
) -> tuple[object, dict]:
    """Fit ``make(C)`` on ``train`` for each ``C``; keep the one with the lowest validation
    log-loss.

    When ``make(C)`` is a scikit-learn pipeline, its steps before the classifier (scaler, TF-IDF
    vectoriser) do not depend on ``C``: they are fitted once and shared by every ``C``'s pipeline
    (the same numbers as refitting them each time, for a sixth of the cost).

    Returns ``(estimator, info)``; info holds the chosen ``C``, its validation accuracy and log-
    loss,
    and the whole sweep.
    """
    from sklearn.pipeline import Pipeline

    labels = list(range(n_classes))
    best, sweep = None, []
    start = time.perf_counter()
    first = make(Cs[0])
    shared = first.steps[:-1] if isinstance(first, Pipeline) and len(first.steps) > 1 else []
    X_train, X_val = train[0], val[0]
    if shared:
        prep = Pipeline(shared)  # as the whole pipeline's fit: fit_transform on training rows
        X_train = prep.fit_transform(X_train, train[1])
        X_val = prep.transform(X_val)
    for C in Cs:
        est = first if C == Cs[0] else make(C)
        if shared:
            name, clf = est.steps[-1]
            clf.fit(X_train, train[1])
            est = Pipeline([*shared, (name, clf)])
        else:
            est.fit(X_train, train[1])
        proba = full_proba(est[-1] if shared else est, X_val, n_classes)
        loss = float(log_loss(val[1], proba, labels=labels))
        acc = float(np.mean(proba.argmax(1) == np.asarray(val[1])))
        sweep.append({"C": C, "val_loss": round(loss, 4), "val_accuracy": round(acc, 6)})
        if best is None or loss < best[1] - 1e-9:
            best = (est, loss, acc, C)
    est, loss, acc, C = best
    return est, {
        "C": C,
        "val_loss": round(loss, 4),
        "val_accuracy": round(acc, 6),
        "sweep": sweep,
        "train_seconds": round(time.perf_counter() - start, 3),
    }


def logistic_regression(C: float, seed: int = 0):
    """The multinomial logistic regression (lbfgs) of every probe and of the TF-IDF pipeline."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=3000, random_state=seed)


def logistic_probe(C: float, seed: int = 0):
    """Logistic regression on standardised features: ``StandardScaler`` then multinomial
    logistic regression (lbfgs)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), logistic_regression(C, seed))


# ----------------------------------------------------------------- optimisers (the note's Figure 6)
def compare_optimizers(
    design: str, train: tuple, val: tuple, n_classes: int, grid: dict[str, list[float]], **overrides
) -> tuple[pd.DataFrame, dict]:
    """The same head, data and seed trained with each optimiser of ``grid`` at each learning rate.

    For each optimiser the learning rate with the lowest best validation loss is kept. Returns
    ``(curves, chosen)``: validation loss per epoch of each optimiser at its chosen rate (long
    format: optimizer, lr, epoch, val_loss, train_loss) and ``{optimizer: {lr, best_val_loss,
    best_epoch}}``.
    """
    curves, chosen = [], {}
    for name, rates in grid.items():
        best = None
        for lr in rates:
            config = head_config(
                design,
                train[0].shape[1],
                n_classes,
                optimizer=name,
                lr=lr,
                **{**overrides, "patience": overrides.get("epochs", 30)},
            )
            with timing.step("optimizers"):
                result = fit(config, train, val)
            score = float(result.history["val_loss"].min())
            if best is None or score < best[0]:
                best = (score, lr, result)
        score, lr, result = best
        chosen[name] = {"lr": lr, "best_val_loss": round(score, 4), "best_epoch": result.best_epoch}
        curves.append(result.history.assign(optimizer=name, lr=lr))
    return pd.concat(curves, ignore_index=True), chosen


def shape_overrides(overrides: dict) -> dict:
    """The parts of a head override that change its shape (``hidden``, ``dropout``), not its
    optimiser: what the optimiser comparison keeps from ``head_overrides``."""
    return {k: v for k, v in overrides.items() if k in ("hidden", "dropout")}
