"""utils.models.encoders: loaders for local folders / files, tiny models, clear offline errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from utils.data import catalog
from utils.models import blocks, encoders, runtime
from utils.models.tiny import build_tiny_clip, build_tiny_vgg, train_tiny_tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_tiny_clip_is_saved_and_loaded_back_through_the_loader(tiny_dir, real_images) -> None:
    folder = build_tiny_clip(tiny_dir / "clip")
    a = encoders.load_clip(str(folder), device="cpu")
    b = encoders.load_clip(
        "tiny-random", device="cpu", models_dir=tiny_dir
    )  # builds its own, same seed
    assert (
        a.kind == "clip" and a.dim == 16 and a.identity == b.identity and a.key.endswith("float32")
    )
    x = torch.stack([a.preprocess(catalog.load_image(p)) for p in real_images[:2]])
    assert x.shape == (2, 3, 224, 224)
    out = a(x)
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    assert not any(p.requires_grad for p in a.module.parameters())


def test_tiny_vgg_checkpoint_and_plain_state_dict(tiny_dir, real_images) -> None:
    enc = encoders.load_vgg16(str(build_tiny_vgg(tiny_dir / "vgg.pt")), device="cpu")
    x = enc.preprocess(catalog.load_image(real_images[0]))[None]
    assert x.shape == (1, 3, 224, 224) and enc(x).shape == (1, 32)
    # a plain torchvision vgg16 state dict (as published) is accepted too
    from torchvision.models import vgg16

    torch.manual_seed(0)
    path = tiny_dir / "vgg16_random.pth"
    torch.save(vgg16(weights=None).state_dict(), path)
    full = encoders.load_vgg16(str(path), device="cpu")
    assert full.dim == 512 and full.n_parameters() == 14_714_688


def test_identity_changes_with_the_weights(tiny_dir) -> None:
    a = encoders.load_vgg16(str(build_tiny_vgg(tiny_dir / "v0.pt", seed=0)), device="cpu")
    b = encoders.load_vgg16(str(build_tiny_vgg(tiny_dir / "v1.pt", seed=1)), device="cpu")
    assert a.identity != b.identity


def test_missing_clip_fails_at_once_with_one_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(encoders.ModelUnavailableError) as info:
        encoders.load_clip("openai/clip-vit-base-patch32", device="cpu")
    message = str(info.value)
    assert (
        "hf download openai/clip-vit-base-patch32 --local-dir data/models/clip-vit-base-patch32"
        in message
        and str(tmp_path) not in message
    )


def test_missing_vgg_weights_fail_with_one_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(encoders, "_online", lambda host, timeout=3.0: False)
    with pytest.raises(encoders.ModelUnavailableError, match="vgg16-397923af.pth"):
        encoders.load_vgg16("IMAGENET1K_V1", device="cpu")
    with pytest.raises(encoders.ModelUnavailableError, match="neither"):
        encoders.load_vgg16("NOT_A_WEIGHTS_NAME", device="cpu")


def test_device_selection() -> None:
    assert runtime.pick_device("cpu") == torch.device("cpu")
    assert runtime.pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        encoders.load_encoder("resnet", "x")


def test_hub_names_are_found_in_the_models_folder_first(tmp_path, monkeypatch) -> None:
    """A user who downloaded the weights by hand puts them in data/models/ under their own names."""
    from torchvision.models import vgg16

    monkeypatch.setattr(encoders, "_online", lambda host, timeout=3.0: False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    build_tiny_clip(tmp_path / "clip-vit-base-patch32")
    clip = encoders.load_clip("openai/clip-vit-base-patch32", device="cpu", models_dir=tmp_path)
    assert clip.dim == 16
    torch.save(vgg16(weights=None).state_dict(), tmp_path / "vgg16-397923af.pth")
    assert encoders.load_vgg16("IMAGENET1K_V1", device="cpu", models_dir=tmp_path).dim == 512


def test_tiny_clip_has_a_text_tower_and_a_tokenizer_built_offline(tiny_dir, real_images) -> None:
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    corpus = [
        "Maserati Time Analog Watch for Boys",
        "Rockmantra Ceramic Mug",
        "Cotton Double Bedsheet",
    ] * 5
    folder = build_tiny_clip(tiny_dir / "clip-text", corpus=corpus)
    for cls in (CLIPTokenizer, CLIPTokenizerFast):
        tok = cls.from_pretrained(folder)
        ids = tok("an analog watch")["input_ids"]
        assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id and len(ids) > 3
    text = encoders.load_clip_text(str(folder), device="cpu")
    image = encoders.load_clip(str(folder), device="cpu")
    e = text(["an analog watch", "a ceramic mug"])
    assert e.shape == (2, image.dim) and torch.isfinite(e).all()
    assert text.truncated(["word " * 100, "short"]) == 1
    again = train_tiny_tokenizer(tiny_dir / "tok-again", corpus)
    assert (again / "tokenizer.json").read_text() == (folder / "tokenizer.json").read_text(), (
        "same corpus, same tokenizer"
    )


def test_random_full_size_models_are_seeded(tmp_path) -> None:
    a, b = encoders.load_vgg16("random", device="cpu"), encoders.load_vgg16("random", device="cpu")
    assert a.identity == b.identity and a.random_seed == encoders.RANDOM_SEED
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    encoders.load_clip("random", device="cpu")
    assert torch.equal(before, torch.rand(1)), (
        "building the random model leaves the caller's random state alone"
    )


def _timed(seconds: dict, agree: bool = True):
    """A forward pass that takes ``seconds[precision]`` and returns fixed embeddings (bfloat16's
    turned against float32's where ``agree`` is false)."""
    import time

    calls = []

    def forward(p: str) -> torch.Tensor:
        calls.append(p)
        time.sleep(seconds[p])
        out = torch.ones(4, 8)
        return out if agree or p == "float32" else -out

    return forward, calls


def test_forced_precisions_and_hardware_without_bfloat16_measure_nothing(monkeypatch) -> None:
    def never(p):
        raise AssertionError("nothing is timed")

    assert runtime.choose_precision("float32", "cpu", never, "arch") == (
        "float32",
        {"choice": "float32", "how": "forced"},
    )
    assert runtime.choose_precision("bfloat16", "cpu", never, "arch")[0] == "bfloat16"
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    chosen, how = runtime.choose_precision("auto", "cpu", never, "arch")
    assert chosen == "float32" and "no native bfloat16" in how["how"]
    with pytest.raises(ValueError, match="precision"):
        runtime.choose_precision("fp8", "cpu", never, "arch")


@pytest.mark.parametrize(
    "seconds, agree, picks, why",
    [
        ({"float32": 0.002, "bfloat16": 0.02}, True, "float32", "not at least"),
        ({"float32": 0.02, "bfloat16": 0.002}, True, "bfloat16", "faster"),
        ({"float32": 0.02, "bfloat16": 0.002}, False, "float32", "disagree"),
    ],
)
def test_auto_measures_both_precisions_and_keeps_the_faster_one_that_agrees(
    monkeypatch, tmp_path, seconds, agree, picks, why
) -> None:
    monkeypatch.setenv("CLIP_POC_CACHE", str(tmp_path))
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    forward, calls = _timed(seconds, agree)
    chosen, decision = runtime.choose_precision("auto", "cpu", forward, "arch", items=4)
    assert chosen == picks == decision["choice"] and why in decision["why"]
    assert decision["how"] == "measured" and calls.count("float32") == calls.count("bfloat16") >= 3
    assert decision["load_average"] is None or decision["load_average"] >= 0
    fast, slow = sorted((decision["float32_per_s"], decision["bfloat16_per_s"]))
    assert slow > 3 * fast, "both throughputs recorded, each from its own timings"
    assert (decision["cosine_min"] > 0.99) == agree


def test_auto_remembers_its_decision_per_architecture_device_batch_and_torch(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("CLIP_POC_CACHE", str(tmp_path))
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    forward, calls = _timed({"float32": 0.02, "bfloat16": 0.002})
    first = runtime.choose_precision("auto", "cpu", forward, "arch", items=4)
    n = len(calls)
    again = runtime.choose_precision("auto", "cpu", forward, "arch", items=4)
    assert again[0] == first[0] == "bfloat16" and len(calls) == n, "remembered, not re-timed"
    assert again[1]["how"] == "remembered" and again[1]["ratio"] == first[1]["ratio"]
    key = again[1]["key"]
    assert "arch" in key and "batch 4" in key and torch.__version__ in key
    assert runtime.device_name("cpu") in key
    runtime.choose_precision("auto", "cpu", forward, "arch", items=8)  # another batch size
    runtime.choose_precision("auto", "cpu", forward, "other arch", items=4)
    assert len(calls) > n + 6 and len(json.loads((tmp_path / "precision.json").read_text())) == 3
    runtime.choose_precision("auto", "cpu", forward, "arch", items=4, use_cache=False)
    assert len(calls) > n + 12, "use_cache=False measures afresh"


def test_encoders_decide_auto_on_their_own_forward_pass_and_say_how(
    monkeypatch, tmp_path, tiny_dir
) -> None:
    monkeypatch.setenv("CLIP_POC_CACHE", str(tmp_path))
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    clip = encoders.load_clip("tiny-random", device="cpu", models_dir=tiny_dir, precision="auto")
    text = encoders.load_clip_text(
        "tiny-random", device="cpu", models_dir=tiny_dir, precision="auto"
    )
    for enc in (clip, text):
        d = enc.precision_choice
        assert d["how"] == "measured" and enc.precision == d["choice"]
        assert d["float32_per_s"] > 0 and d["bfloat16_per_s"] > 0
        assert encoders.describe(enc)["precision_choice"] == d
    assert clip.precision_choice["key"] != text.precision_choice["key"]
    again = encoders.load_clip("tiny-random", device="cpu", models_dir=tiny_dir, precision="auto")
    assert again.precision_choice["how"] == "remembered" and again.key == clip.key


@pytest.mark.parametrize("kind", ["clip", "vgg16"])
def test_bfloat16_and_float32_agree_and_float32_is_the_plain_model(
    kind, tiny_dir, real_images
) -> None:
    f32 = encoders.load_encoder(
        kind, "tiny-random", device="cpu", models_dir=tiny_dir, precision="float32"
    )
    b16 = encoders.load_encoder(
        kind, "tiny-random", device="cpu", models_dir=tiny_dir, precision="bfloat16"
    )
    assert f32.identity == b16.identity and f32.key != b16.key  # same weights, another cache key
    x = torch.stack(
        [f32.preprocess(catalog.load_image(p, max_side=None, min_side=256)) for p in real_images]
    )
    with torch.no_grad():
        plain = f32.module(x)
    assert torch.equal(f32(x), plain), "float32 is the model's own forward pass, bit for bit"
    head = torch.nn.Linear(f32.dim, 7)
    torch.manual_seed(0)
    torch.nn.init.normal_(head.weight)
    with torch.no_grad():
        assert torch.equal(head(f32(x)).argmax(1), head(b16(x)).argmax(1))
    cos = torch.nn.functional.cosine_similarity(f32(x), b16(x))
    assert cos.min() > 0.99


def test_preprocessing_splits_into_geometry_and_normalisation_exactly(
    tiny_dir, real_images
) -> None:
    from torchvision.models import VGG16_Weights

    clip = encoders.load_clip("tiny-random", device="cpu", models_dir=tiny_dir)
    vgg = encoders.load_vgg16("tiny-random", device="cpu", models_dir=tiny_dir)
    for path in real_images[:3]:
        image = catalog.load_image(path, max_side=None, min_side=256)
        pixels = clip.preprocess.geometry(image)
        assert pixels.shape == (224, 224, 3) and pixels.dtype == "uint8"
        assert torch.equal(
            clip.preprocess.normalise(pixels),
            clip.preprocess.processor(images=image, return_tensors="pt")["pixel_values"][0],
        )
        assert torch.equal(vgg.preprocess(image), VGG16_Weights.IMAGENET1K_V1.transforms()(image))
    for enc in (clip, vgg):  # explanations normalise their perturbed copies a batch at a time
        batch = np.stack(
            [enc.preprocess.geometry(catalog.load_image(p, min_side=256)) for p in real_images[:3]]
        )
        assert torch.equal(
            enc.preprocess.normalise_batch(batch),
            torch.stack([enc.preprocess.normalise(a) for a in batch]),
        )


@pytest.mark.parametrize("kind,k", [("clip", 1), ("clip", 2), ("vgg16", 1), ("vgg16", 2)])
def test_prefix_then_tail_is_the_whole_encoder(kind, k, tiny_dir) -> None:
    enc = encoders.load_encoder(kind, "tiny-random", device="cpu", models_dir=tiny_dir)
    prefix, tail = blocks.split_at(enc, k)
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(tail(prefix(x)), enc.module(x), rtol=1e-5, atol=1e-5)
    captured = []
    handle = blocks.tap(enc, k).register_forward_pre_hook(lambda m, a: captured.append(a[0]))
    with torch.no_grad():
        enc.module(x)
        torch.testing.assert_close(captured[0], prefix(x))
    handle.remove()
    with pytest.raises(ValueError):
        blocks.split_at(enc, 99)


def _one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and message.count(". ") == 0


def test_a_clip_checkpoint_with_a_missing_or_reshaped_key_is_refused(tmp_path) -> None:
    """transformers fills missing weights with random values and reports it only in a load report
    (hidden at error level): the loaders refuse instead, naming the keys."""
    from safetensors.torch import load_file, save_file

    folder = build_tiny_clip(tmp_path / "partial")
    state = load_file(folder / "model.safetensors")
    del state["visual_projection.weight"]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(encoders.WeightsMismatchError, match="visual_projection.weight") as info:
        encoders.load_clip(str(folder), device="cpu")
    assert _one_sentence(str(info.value)) and "vision tower" in str(info.value)
    text = encoders.load_clip_text(str(folder), device="cpu")  # the text tower is complete
    assert text.dim == 16
    state["text_projection.weight"] = torch.zeros(16, 8)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(encoders.WeightsMismatchError, match="another shape text_projection.weight"):
        encoders.load_clip_text(str(folder), device="cpu")
    full = build_tiny_clip(tmp_path / "extra")
    state = load_file(full / "model.safetensors")
    state["vision_model.extra.weight"] = torch.zeros(3)
    save_file(state, full / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(encoders.WeightsMismatchError, match="unknown vision_model.extra.weight"):
        encoders.load_clip(str(full), device="cpu")
    assert encoders.load_clip_text(str(full), device="cpu").dim == 16, (
        "the other tower's keys: fine"
    )


def test_a_vgg_weights_file_with_a_missing_key_is_refused(tmp_path) -> None:
    path = build_tiny_vgg(tmp_path / "vgg.pt")
    ckpt = torch.load(path, weights_only=True)
    del ckpt["features"]["3.bias"]
    torch.save(ckpt, tmp_path / "partial.pt")
    with pytest.raises(encoders.WeightsMismatchError, match=r"lacks 3\.bias") as info:
        encoders.load_vgg16(str(tmp_path / "partial.pt"), device="cpu")
    assert _one_sentence(str(info.value))
    ckpt = torch.load(path, weights_only=True)
    ckpt["features"]["0.weight"] = torch.zeros(8, 3, 5, 5)
    torch.save(ckpt, tmp_path / "reshaped.pt")
    with pytest.raises(encoders.WeightsMismatchError, match=r"another shape 0\.weight"):
        encoders.load_vgg16(str(tmp_path / "reshaped.pt"), device="cpu")


def test_the_zero_shot_temperature_is_the_checkpoints(tmp_path) -> None:
    import math

    chosen = build_tiny_clip(tmp_path / "t20", logit_scale=math.log(20.0))
    text = encoders.load_clip_text(str(chosen), device="cpu")
    assert text.temperature == pytest.approx(20.0, rel=1e-5)
    assert text.temperature_source == "the checkpoint's logit scale"
    assert encoders.describe(text)["temperature"] == pytest.approx(20.0, rel=1e-4)
    hot = build_tiny_clip(tmp_path / "t500", logit_scale=math.log(500.0))
    assert encoders.load_clip_text(str(hot), device="cpu").temperature == 100.0, "clamped as CLIP"
    tiny = encoders.load_clip_text("tiny-random", device="cpu", models_dir=tmp_path / "m")
    assert tiny.temperature == pytest.approx(math.exp(2.6592), rel=1e-4)  # saved initial value
    # no checkpoint behind tiny or random weights: their temperature is never called one's
    assert "checkpoint's" not in tiny.temperature_source and "untrained" in tiny.temperature_source
    assert encoders.clip_temperature("random") == (
        pytest.approx(math.exp(2.6592), rel=1e-4),
        "the configuration's initial logit scale (random weights, no checkpoint)",
    )


def test_availability_agrees_with_the_loaders_offline(tmp_path, monkeypatch) -> None:
    """None exactly when the loader loads; otherwise the loader's own sentence, without loading."""
    import shutil
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(encoders, "_online", lambda host, timeout=3.0: False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    mdir = tmp_path / "models"
    complete = build_tiny_clip(tmp_path / "complete")
    no_processor = tmp_path / "no-processor"
    shutil.copytree(complete, no_processor)
    (no_processor / "preprocessor_config.json").unlink()
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(complete, no_tokenizer)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (no_tokenizer / name).unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    vgg_file = build_tiny_vgg(tmp_path / "vgg.pt")
    loaders = {
        "clip": lambda n: encoders.load_clip(n, device="cpu", models_dir=mdir),
        "clip-text": lambda n: encoders.load_clip_text(n, device="cpu", models_dir=mdir),
        "vgg16": lambda n: encoders.load_vgg16(n, device="cpu", models_dir=mdir),
    }
    cases = [
        ("clip", "tiny-random"),
        ("clip", str(complete)),
        ("clip", str(no_processor)),
        ("clip", str(empty)),
        ("clip", "openai/clip-vit-base-patch32"),
        ("clip-text", str(complete)),
        ("clip-text", str(no_tokenizer)),
        ("vgg16", "tiny-random"),
        ("vgg16", str(vgg_file)),
        ("vgg16", "IMAGENET1K_V1"),
        ("vgg16", "NOT_A_WEIGHTS_NAME"),
    ]
    for kind, name in cases:
        start = time.perf_counter()
        reason = encoders.availability(kind, name, mdir)
        assert time.perf_counter() - start < 1.0, (kind, name)
        try:
            loaders[kind](name)
            loaded = None
        except encoders.ModelUnavailableError as exc:
            loaded = str(exc)
        assert reason == loaded, (kind, name, reason, loaded)
        if reason:
            assert _one_sentence(reason), reason
    assert encoders.availability("clip", "random", mdir) is None
    assert encoders.availability("vgg16", "random", mdir) is None
    assert "preprocessor_config.json" in encoders.availability("clip", str(no_processor), mdir)
    assert "hf download" in encoders.availability("clip", "openai/clip-vit-base-patch32", mdir)
    assert "vgg16-397923af.pth" in encoders.availability("vgg16", "IMAGENET1K_V1", mdir)
    # a hub name in the Hugging Face cache: available offline, loaded, its temperature read there
    import math

    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    repo = cache / "models--someone--clip-in-cache"
    build_tiny_clip(repo / "snapshots" / "abc123", logit_scale=math.log(30.0))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert encoders.availability("clip", "someone/clip-in-cache", mdir) is None
    assert encoders.load_clip("someone/clip-in-cache", device="cpu", models_dir=mdir).dim == 16
    text = encoders.load_clip_text("someone/clip-in-cache", device="cpu", models_dir=mdir)
    assert text.temperature == pytest.approx(30.0, rel=1e-5)
    build_tiny_clip(mdir / "clip-vit-base-patch32")  # a hub name found in the models folder
    assert encoders.availability("clip", "openai/clip-vit-base-patch32", mdir) is None
    monkeypatch.setattr(encoders, "_online", lambda host, timeout=3.0: True)
    assert encoders.availability("vgg16", "IMAGENET1K_V1", mdir) is None, "downloadable"
    with pytest.raises(ValueError, match="unknown encoder kind"):
        encoders.availability("resnet", "x", mdir)


def test_the_decode_size_is_carried_by_the_encoder(tmp_path) -> None:
    clip = encoders.load_clip(
        "tiny-random", device="cpu", models_dir=tmp_path, decode_min_side=None
    )
    vgg = encoders.load_vgg16("tiny-random", device="cpu", models_dir=tmp_path, decode_min_side=320)
    assert clip.decode_min_side is None and clip.input_key == clip.key + "-sfull"
    assert vgg.decode_min_side == 320 and vgg.input_key.endswith("-float32-s320")
    default = encoders.load_encoder("vgg16", "tiny-random", device="cpu", models_dir=tmp_path)
    assert default.decode_min_side == encoders.DECODE_MIN_SIDE and default.identity == vgg.identity
    assert encoders.describe(vgg)["decode_min_side"] == 320


def test_where_to_put_weights_is_written_relative_to_the_project(tmp_path) -> None:
    """The not-run table's folders: relative to the project inside it (no machine's path in the
    note), whole outside it (the folder the loader will read)."""
    inside = encoders.weights_source(
        "clip", "openai/clip-vit-base-patch32", encoders.ROOT / "data/models"
    )
    assert inside["put_in"] == "data/models/clip-vit-base-patch32/"
    assert inside["download"].endswith("--local-dir data/models/clip-vit-base-patch32")
    vgg = encoders.weights_source("vgg", "IMAGENET1K_V1", encoders.ROOT / "data/models")
    assert vgg["put_in"] == "data/models/" and vgg["download"].startswith(
        "https://download.pytorch"
    )
    outside = encoders.weights_source("clip", "openai/clip-vit-base-patch32", tmp_path)
    assert outside["put_in"] == f"{tmp_path.resolve() / 'clip-vit-base-patch32'}/"
