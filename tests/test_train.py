"""utils.models.train: heads, the shared loop, selection on validation, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.models import train


def _blobs(n: int, seed: int, n_classes: int = 3, dim: int = 8, spread: float = 0.5):
    rng = np.random.default_rng(seed)
    centres = np.eye(n_classes, dim) * 4
    y = rng.integers(0, n_classes, n)
    return (centres[y] + rng.normal(0, spread, (n, dim))).astype(np.float32), y


@pytest.mark.parametrize("kind", ["clip", "vgg16"])
def test_learns_a_separable_problem(kind) -> None:
    config = train.head_config(kind, 8, 3, epochs=40, patience=40, lr=1e-2, hidden=16)
    result = train.fit(config, _blobs(150, 0), _blobs(60, 1))
    X, y = _blobs(200, 2)
    assert (train.predict_proba(result.head, X).argmax(1) == y).mean() > 0.95
    assert list(result.history.columns) == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
    ]


def test_bfloat16_autocast_trains_in_mixed_precision_and_says_so() -> None:
    """Fine-tuning runs its forward passes at the encoder's precision: under bfloat16 autocast the
    weights stay float32, the problem is still learned, and the result records the precision."""
    config = train.head_config("clip", 8, 3, epochs=40, patience=40, lr=1e-2, hidden=16)
    result = train.fit(config, _blobs(150, 0), _blobs(60, 1), precision="bfloat16")
    assert result.summary()["precision"] == "bfloat16"
    assert all(p.dtype == torch.float32 for p in result.head.parameters())
    X, y = _blobs(200, 2)
    assert (train.predict_proba(result.head, X).argmax(1) == y).mean() > 0.95
    assert train.fit(config, _blobs(150, 0), _blobs(60, 1)).summary()["precision"] == "float32"


def test_the_designs_of_the_note() -> None:
    clip = train.make_head(train.head_config("clip", 512, 7))
    vgg = train.make_head(train.head_config("vgg16", 512, 7))
    assert [type(m).__name__ for m in clip] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in vgg] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert vgg[0].out_features == 256 and clip[-1].out_features == 7
    assert train.head_config("clip", 1, 2).optimizer == "adam"
    assert train.head_config("vgg16", 1, 2).optimizer == "rmsprop"


def test_keeps_the_best_validation_epoch_and_stops_early() -> None:
    # validation labels are noise: the validation loss soon rises while training keeps improving
    Xt, yt = _blobs(120, 0)
    Xv, _ = _blobs(60, 1)
    yv = np.random.default_rng(3).integers(0, 3, 60)
    config = train.head_config("clip", 8, 3, epochs=60, patience=4, lr=1e-2, hidden=32)
    result = train.fit(config, (Xt, yt), (Xv, yv))
    h = result.history
    assert result.best_epoch == int(h.loc[h["val_loss"].idxmin(), "epoch"])
    assert h["epoch"].max() == result.best_epoch + config.patience < 60
    _, val_acc = train._evaluate(result.head, Xv, torch.as_tensor(yv), torch.nn.CrossEntropyLoss())
    assert val_acc == pytest.approx(h.set_index("epoch").loc[result.best_epoch, "val_acc"])


def test_same_seed_same_result() -> None:
    config = train.head_config("vgg16", 8, 3, epochs=5, lr=1e-2)
    a = train.fit(config, _blobs(90, 0), _blobs(30, 1))
    b = train.fit(config, _blobs(90, 0), _blobs(30, 1))
    assert a.history.equals(b.history)
    X, _ = _blobs(10, 5)
    np.testing.assert_array_equal(train.predict_proba(a.head, X), train.predict_proba(b.head, X))


def test_a_validation_loss_never_finite_fails_with_one_sentence() -> None:
    Xv, yv = _blobs(30, 1)
    Xv[:] = np.nan
    with pytest.raises(train.TrainingDiverged, match="never finite"):
        train.fit(train.head_config("clip", 8, 3, epochs=3), _blobs(60, 0), (Xv, yv))


def test_head_defaults_live_in_one_place_and_describe_themselves() -> None:
    config = train.head_config("vgg16", 512, 7)
    assert (config.hidden, config.dropout, config.optimizer) == (256, 0.5, "rmsprop")
    assert (
        train.describe_head(config)
        == "Linear 512 → 256 → ReLU → Dropout 0.5 → Linear 256 → 7 (rmsprop, lr 0.0001, "
        "cross-entropy)"
    )
    assert train.head_config("clip", 512, 7, hidden=64).hidden == 64
    with pytest.raises(ValueError):
        train.head_config("resnet", 1, 2)


def test_probe_picks_c_on_validation() -> None:
    est, info = train.fit_probe(
        lambda C: train.logistic_probe(C), _blobs(120, 0), _blobs(60, 1), 3, Cs=(1e-4, 1.0)
    )
    assert info["C"] == 1.0 and info["val_accuracy"] > 0.9 and len(info["sweep"]) == 2
    proba = train.full_proba(est, _blobs(5, 2)[0], 5)  # 5 classes, 2 never seen in training
    assert proba.shape == (5, 5) and np.allclose(proba.sum(1), 1) and (proba[:, 3:] == 0).all()


def test_optimizer_comparison_keeps_each_optimizers_best_rate() -> None:
    curves, chosen = train.compare_optimizers(
        "clip",
        _blobs(90, 0),
        _blobs(45, 1),
        3,
        {"adam": [1e-3, 1e-2], "sgd": [1e-2]},
        epochs=4,
        hidden=16,
    )
    assert set(chosen) == {"adam", "sgd"} and chosen["sgd"]["lr"] == 1e-2
    assert (
        set(curves["optimizer"]) == {"adam", "sgd"}
        and curves.groupby("optimizer")["epoch"].max().eq(4).all()
    )
    best_adam = curves[curves["optimizer"] == "adam"]["val_loss"].min()
    assert best_adam == pytest.approx(chosen["adam"]["best_val_loss"], abs=1e-4)
