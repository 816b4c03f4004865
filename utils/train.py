"""Classification heads on frozen features, and the one training loop both models share.

- CLIP (the note's design): Linear -> ReLU -> Linear, Adam, cross-entropy.
- VGG16 (the note's baseline): Linear 256 -> ReLU -> Dropout -> Linear, RMSprop, cross-entropy,
  on the globally average-pooled conv features.

Model selection uses the validation split only: the weights of the best validation epoch are kept
and training stops after ``patience`` epochs without improvement. Seeded; deterministic on CPU.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}


@dataclass
class HeadConfig:
    """Everything needed to rebuild and retrain a head (saved with it)."""

    kind: str                 # "clip" or "vgg16": which design
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


def default_config(kind: str, in_dim: int, n_classes: int, **overrides) -> HeadConfig:
    """The note's choices per model; anything can be overridden (notebook parameters)."""
    base = {"clip": dict(hidden=256, dropout=0.0, optimizer="adam", lr=1e-3),
            "vgg16": dict(hidden=256, dropout=0.5, optimizer="rmsprop", lr=1e-4)}[kind]
    return HeadConfig(kind=kind, in_dim=in_dim, n_classes=n_classes, **{**base, **overrides})


def make_head(config: HeadConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(config.in_dim, config.hidden), nn.ReLU()]
    if config.dropout:
        layers.append(nn.Dropout(config.dropout))
    layers.append(nn.Linear(config.hidden, config.n_classes))
    return nn.Sequential(*layers)


@dataclass
class TrainResult:
    head: nn.Module            # weights of the best validation epoch
    config: HeadConfig
    history: pd.DataFrame      # epoch, train_loss, train_acc, val_loss, val_acc
    best_epoch: int
    seconds: float

    def summary(self) -> dict:
        best = self.history.set_index("epoch").loc[self.best_epoch]
        return {"best_epoch": int(self.best_epoch), "epochs_run": int(self.history["epoch"].max()),
                "val_accuracy": round(float(best["val_acc"]), 4), "val_loss": round(float(best["val_loss"]), 4),
                "train_seconds": round(self.seconds, 3)}


def _evaluate(head: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn) -> tuple[float, float]:
    head.eval()
    with torch.inference_mode():
        logits = head(X)
        return float(loss_fn(logits, y)), float((logits.argmax(1) == y).float().mean())


def fit(config: HeadConfig, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray]) -> TrainResult:
    """Train a new head on ``train``; select the epoch with the lowest validation loss on ``val``."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    Xt, yt = torch.as_tensor(train[0], dtype=torch.float32), torch.as_tensor(train[1])
    Xv, yv = torch.as_tensor(val[0], dtype=torch.float32), torch.as_tensor(val[1])
    head = make_head(config)
    optimizer = OPTIMIZERS[config.optimizer](head.parameters(), lr=config.lr)
    loss_fn = nn.CrossEntropyLoss()
    history, best_loss, best_state, best_epoch, waited = [], float("inf"), None, 0, 0
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = torch.randperm(len(Xt), generator=generator)
        for i in range(0, len(order), config.batch_size):
            idx = order[i:i + config.batch_size]
            optimizer.zero_grad()
            loss_fn(head(Xt[idx]), yt[idx]).backward()
            optimizer.step()
        train_loss, train_acc = _evaluate(head, Xt, yt, loss_fn)
        val_loss, val_acc = _evaluate(head, Xv, yv, loss_fn)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                        "val_loss": val_loss, "val_acc": val_acc})
        if val_loss < best_loss - 1e-6:
            best_loss, best_state, best_epoch, waited = val_loss, copy.deepcopy(head.state_dict()), epoch, 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    seconds = time.perf_counter() - start
    head.load_state_dict(best_state)
    head.eval()
    return TrainResult(head, config, pd.DataFrame(history), best_epoch, seconds)


def predict_proba(head: nn.Module, X: np.ndarray) -> np.ndarray:
    head.eval()
    with torch.inference_mode():
        return torch.softmax(head(torch.as_tensor(X, dtype=torch.float32)), dim=1).numpy()


def save_head(result: TrainResult, path: str | os.PathLike, **meta) -> None:
    """Save the selected head with its config, history and any extra facts (classes, encoder...)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": result.head.state_dict(), "config": asdict(result.config),
                "history": result.history.to_dict("list"), "best_epoch": result.best_epoch,
                "seconds": result.seconds, "meta": meta}, path)


def load_head(path: str | os.PathLike) -> tuple[nn.Module, HeadConfig, dict]:
    """``(head, config, checkpoint)``; the checkpoint holds history, best_epoch, seconds and meta."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook 04 first.")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    config = HeadConfig(**ckpt["config"])
    head = make_head(config)
    head.load_state_dict(ckpt["state_dict"])
    head.eval()
    return head, config, ckpt
