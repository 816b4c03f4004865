"""utils.models: loaders for local folders / files, tiny models, clear offline errors."""
from __future__ import annotations

import pytest
import torch

from utils import data, models


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_tiny_clip_is_saved_and_loaded_back_through_the_loader(tiny_dir, real_images) -> None:
    folder = models.build_tiny_clip(tiny_dir / "clip")
    a = models.load_clip(str(folder), device="cpu")
    b = models.load_clip("tiny-random", device="cpu", models_dir=tiny_dir)       # builds its own, same seed
    assert a.kind == "clip" and a.dim == 16 and a.identity == b.identity
    x = torch.stack([a.preprocess(data.load_image(p)) for p in real_images[:2]])
    assert x.shape == (2, 3, 224, 224)
    out = a(x)
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    assert not any(p.requires_grad for p in a.module.parameters())


def test_tiny_vgg_checkpoint_and_plain_state_dict(tiny_dir, real_images) -> None:
    enc = models.load_vgg16(str(models.build_tiny_vgg(tiny_dir / "vgg.pt")), device="cpu")
    x = enc.preprocess(data.load_image(real_images[0]))[None]
    assert x.shape == (1, 3, 224, 224) and enc(x).shape == (1, 32)
    # a plain torchvision vgg16 state dict (as published) is accepted too
    from torchvision.models import vgg16

    torch.manual_seed(0)
    path = tiny_dir / "vgg16_random.pth"
    torch.save(vgg16(weights=None).state_dict(), path)
    full = models.load_vgg16(str(path), device="cpu")
    assert full.dim == 512 and full.n_parameters() == 14_714_688


def test_identity_changes_with_the_weights(tiny_dir) -> None:
    a = models.load_vgg16(str(models.build_tiny_vgg(tiny_dir / "v0.pt", seed=0)), device="cpu")
    b = models.load_vgg16(str(models.build_tiny_vgg(tiny_dir / "v1.pt", seed=1)), device="cpu")
    assert a.identity != b.identity


def test_missing_clip_fails_at_once_with_one_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(models.ModelUnavailableError) as info:
        models.load_clip("openai/clip-vit-base-patch32", device="cpu")
    message = str(info.value)
    assert "hf download openai/clip-vit-base-patch32" in message and "models/clip-vit-base-patch32/" in message


def test_missing_vgg_weights_fail_with_one_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(models, "_online", lambda host, timeout=3.0: False)
    with pytest.raises(models.ModelUnavailableError, match="vgg16-397923af.pth"):
        models.load_vgg16("IMAGENET1K_V1", device="cpu")
    with pytest.raises(models.ModelUnavailableError, match="neither"):
        models.load_vgg16("NOT_A_WEIGHTS_NAME", device="cpu")


def test_device_selection() -> None:
    assert models.pick_device("cpu") == torch.device("cpu")
    assert models.pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        models.load_encoder("resnet", "x")


def test_hub_names_are_found_in_the_models_folder_first(tmp_path, monkeypatch) -> None:
    """A user who downloaded the weights by hand puts them in data/models/ under their own names."""
    from torchvision.models import vgg16

    monkeypatch.setattr(models, "_online", lambda host, timeout=3.0: False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    models.build_tiny_clip(tmp_path / "clip-vit-base-patch32")
    clip = models.load_clip("openai/clip-vit-base-patch32", device="cpu", models_dir=tmp_path)
    assert clip.dim == 16
    torch.save(vgg16(weights=None).state_dict(), tmp_path / "vgg16-397923af.pth")
    assert models.load_vgg16("IMAGENET1K_V1", device="cpu", models_dir=tmp_path).dim == 512
