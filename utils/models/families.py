"""The trained candidates, one class per family (``FAMILIES``): a head, a probe or the TF-IDF
pipeline, zero-shot, late fusion, a fine-tuned tail. Each predicts from cached features
(``predict_proba``) or from the files themselves (``infer``), saves itself under
``data/models/candidates/<name>/`` and is loaded back (``load``) checked against this run's
encoders, split, classes and decode size: a mismatch is one sentence naming the notebook to re-run.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax
from torch import nn

from ..core import runs
from . import blocks, encoders, features, runtime, train
from .candidates import Candidate

if TYPE_CHECKING:  # annotations only: the module above imports this one
    from .panel import Panel


# Candidates saved before the decode size was recorded read photos decoded at 256.
UNRECORDED_DECODE_MIN_SIDE = 256


class CandidateMismatch(RuntimeError):
    """A saved candidate does not match this run (another encoder, split or class list)."""


# --------------------------------------------------------------------------- fitted candidates
class Fitted:
    """A trained candidate. Subclasses implement ``predict_vectors`` and their payload's
    save/load."""

    def __init__(
        self,
        candidate: Candidate,
        classes: list[str],
        info: dict,
        encoders: dict[str, str],
        split_id: str,
    ) -> None:
        self.candidate, self.classes, self.info = candidate, list(classes), info
        self.encoders, self.split_id = encoders, split_id

    @property
    def name(self) -> str:
        return self.candidate.name

    # ---- prediction
    def predict_vectors(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        """Class probabilities of ``rows`` from cached features."""
        return self.predict_vectors(panel.inputs(self.candidate.inputs, rows))

    def infer(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        """Class probabilities of ``rows`` computed from the files and texts themselves (no
        cache)."""
        return self.predict_vectors(panel.raw_inputs(self.candidate.inputs, rows))

    def image_encoder(self, panel: Panel):
        """What turns the photo into the vectors ``predict_vectors`` reads (explanations): the
        CLIP or VGG16 image encoder, or the classical pixel features (``features.PixelFeatures``);
        None for candidates that do not read one photo alone."""
        c = self.candidate
        if c.reads != "image" or len(c.inputs) != 1:
            return None
        if c.inputs[0] == "pixels":
            return features.PixelFeatures(decode_min_side=panel.settings.decode_min_side)
        if c.inputs[0] not in ("clip-image", "vgg16-image"):
            return None
        return panel.encoder(c.inputs[0].split("-")[0])

    def parameters(self) -> int:
        """Trained parameters (head weights, probe coefficients...)."""
        return 0

    # what fitting recorded that is not a setting: scores, timings, curves, row counts
    NOT_SETTINGS = frozenset(
        {"sweep", "history", "val_loss", "val_accuracy", "train_seconds", "labelled_train"}
        | {"labelled_val", "train_samples", "encoder_names", "prompts_embedded"}
    )

    def hyperparameters(self) -> dict:
        """The settings of this candidate as fitted (the model card): what fitting chose on
        validation and the settings it was fitted with, from its record (``info``), without
        scores, timings and curves."""
        skip = set(self.NOT_SETTINGS)
        if "image" not in self.candidate.reads:
            skip.add("decode_min_side")  # photos are not read
        if not self.encoders:
            skip.add("precision")  # no encoder runs
        return {k: v for k, v in self.info.items() if k not in skip}

    def weights(self) -> list[np.ndarray]:
        """The fitted numbers (for the fingerprint)."""
        return []

    def fingerprint(self) -> str:
        """A short hash of the candidate, its encoders and its fitted numbers (explanation cache
        key)."""
        import hashlib

        h = hashlib.sha256(
            json.dumps({"name": self.name, "enc": self.encoders}, sort_keys=True).encode()
        )
        for w in self.weights():
            h.update(np.ascontiguousarray(w).tobytes())
        return h.hexdigest()[:16]

    # ---- saving
    def save(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_payload(folder)
        meta = {
            "candidate": asdict(self.candidate),
            "classes": self.classes,
            "info": self.info,
            "encoders": self.encoders,
            "split_id": self.split_id,
            "family": self.candidate.family,
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=runs.jsonable))
        return folder

    def _save_payload(self, folder: Path) -> None:
        raise NotImplementedError

    def check(self, panel: Panel) -> None:
        """Fail with one sentence if this candidate was trained with other encoders, split or
        classes."""
        for kind, identity in self.encoders.items():
            current = panel.encoder(kind).identity
            if current != identity:
                raise CandidateMismatch(
                    f"{self.name} was trained on {kind} encoder {identity}, but this run's {kind} "
                    f"encoder is {current} ({panel.encoder(kind).name!r}): re-run notebook 04 "
                    "(training) with these models."
                )
        if panel.split_id and self.split_id and panel.split_id != self.split_id:
            raise CandidateMismatch(
                f"{self.name} was trained on split {self.split_id}, but the current split is "
                f"{panel.split_id}: re-run notebook 04 (training) after notebook 02."
            )
        if self.classes != panel.classes:
            raise CandidateMismatch(
                f"{self.name} was trained on classes {self.classes}, this run has "
                f"{panel.classes}: re-run notebook 04 (training)."
            )
        decode = self.info.get("decode_min_side", UNRECORDED_DECODE_MIN_SIDE)
        if "image" in self.candidate.reads and decode != panel.settings.decode_min_side:
            raise CandidateMismatch(
                f"{self.name} was trained on photos decoded at decode_min_side={decode}, this run "
                f"decodes them at {panel.settings.decode_min_side}: set decode_min_side={decode} "
                "or re-run notebook 04 (training)."
            )


class HeadModel(Fitted):
    """A head (``train.make_head``) on cached vectors."""

    def __init__(
        self, *args, head: nn.Module, config: train.HeadConfig, history: pd.DataFrame, **kw
    ) -> None:
        super().__init__(*args, **kw)
        self.head, self.config, self.history = head.eval(), config, history

    def predict_vectors(self, X) -> np.ndarray:
        return train.predict_proba(self.head, X)

    def parameters(self) -> int:
        return sum(p.numel() for p in self.head.parameters())

    def weights(self) -> list[np.ndarray]:
        return [t.detach().numpy() for t in self.head.state_dict().values()]

    def _save_payload(self, folder: Path) -> None:
        torch.save(
            {
                "state_dict": self.head.state_dict(),
                "config": asdict(self.config),
                "history": self.history.to_dict("list"),
            },
            folder / "head.pt",
        )

    @classmethod
    def _load(cls, folder: Path, base: dict) -> HeadModel:
        ckpt = torch.load(folder / "head.pt", map_location="cpu", weights_only=False)
        config = train.HeadConfig(**ckpt["config"])
        head = train.make_head(config)
        head.load_state_dict(ckpt["state_dict"])
        return cls(**base, head=head, config=config, history=pd.DataFrame(ckpt["history"]))


class ProbeModel(Fitted):
    """A scikit-learn estimator (logistic regression on standardised features, or the TF-IDF
    pipeline) on cached vectors or raw text."""

    def __init__(self, *args, estimator, **kw) -> None:
        super().__init__(*args, **kw)
        self.estimator = estimator

    def predict_vectors(self, X) -> np.ndarray:
        return train.full_proba(self.estimator, X, len(self.classes))

    def parameters(self) -> int:
        lr = self.estimator[-1]
        return int(lr.coef_.size + lr.intercept_.size)

    def weights(self) -> list[np.ndarray]:
        lr = self.estimator[-1]
        return [lr.coef_, lr.intercept_]

    def hyperparameters(self) -> dict:
        """The record's settings, then each step of the estimator with the parameters it sets
        away from scikit-learn's defaults (``steps``: ``{step: {parameter: value}}``), and the
        values ``C`` was chosen from on validation (``C_tried``)."""
        steps = getattr(self.estimator, "steps", None) or [("estimator", self.estimator)]
        out = {}
        for name, step in steps:
            params, defaults = step.get_params(deep=False), type(step)().get_params(deep=False)
            out[f"{name} ({type(step).__name__})"] = {
                k: v
                if isinstance(v, (str, int, float, bool, type(None), tuple))
                else getattr(v, "__name__", str(v))
                for k, v in params.items()
                if str(v) != str(defaults.get(k))
            }
        tried = [r["C"] for r in self.info.get("sweep") or []]
        return {**super().hyperparameters(), "C_tried": tried, "steps": out}

    def _save_payload(self, folder: Path) -> None:
        import joblib

        joblib.dump(self.estimator, folder / "model.joblib")

    @classmethod
    def _load(cls, folder: Path, base: dict) -> ProbeModel:
        import joblib

        return cls(**base, estimator=joblib.load(folder / "model.joblib"))


class ZeroShotModel(Fitted):
    """Cosine similarity between the image embedding and each class's averaged prompt embeddings,
    times the checkpoint's temperature (``exp(logit_scale)``, at most 100), then a softmax."""

    def __init__(
        self,
        *args,
        class_embeddings: np.ndarray,
        temperature: float = encoders.MAX_TEMPERATURE,
        **kw,
    ) -> None:
        super().__init__(*args, **kw)
        self.class_embeddings = np.asarray(class_embeddings, dtype=np.float32)
        self.temperature = float(temperature)

    def similarities(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return X @ self.class_embeddings.T

    def predict_vectors(self, X) -> np.ndarray:
        return softmax(self.temperature * self.similarities(X), axis=1)

    def weights(self) -> list[np.ndarray]:
        return [self.class_embeddings, np.array([self.temperature])]

    def _save_payload(self, folder: Path) -> None:
        np.save(folder / "class_embeddings.npy", self.class_embeddings)

    @classmethod
    def _load(cls, folder: Path, base: dict) -> ZeroShotModel:
        # candidates saved before the temperature was recorded used CLIP's clamp, 100
        return cls(
            **base,
            class_embeddings=np.load(folder / "class_embeddings.npy"),
            temperature=base["info"].get("temperature", encoders.MAX_TEMPERATURE),
        )


class LateFusionModel(Fitted):
    """``weight * p(image member) + (1 - weight) * p(text member)``."""

    def __init__(self, *args, members: list[Fitted], weight: float, **kw) -> None:
        super().__init__(*args, **kw)
        self.members, self.weight = members, float(weight)

    @staticmethod
    def mix(weight: float, image: np.ndarray, text: np.ndarray) -> np.ndarray:
        p = weight * np.asarray(image, np.float64) + (1 - weight) * np.asarray(text, np.float64)
        return p / p.sum(axis=1, keepdims=True)

    def combine(self, image: np.ndarray, text: np.ndarray) -> np.ndarray:
        return self.mix(self.weight, image, text)

    def predict_proba(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        return self.combine(*(m.predict_proba(panel, rows) for m in self.members))

    def infer(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        return self.combine(*(m.infer(panel, rows) for m in self.members))

    def parameters(self) -> int:
        return sum(m.parameters() for m in self.members) + 1

    def weights(self) -> list[np.ndarray]:
        return [np.array([self.weight])] + [w for m in self.members for w in m.weights()]

    def hyperparameters(self) -> dict:
        """The mixing weight, and each member's settings."""
        members = {m.name: m.hyperparameters() for m in self.members}
        return {**super().hyperparameters(), "members": members}

    def check(self, panel: Panel) -> None:
        super().check(panel)
        for m in self.members:
            m.check(panel)

    def _save_payload(self, folder: Path) -> None:
        for m in self.members:
            m.save(folder / m.name)

    @classmethod
    def _load(cls, folder: Path, base: dict) -> LateFusionModel:
        members = [_load_folder(folder / name) for name in base["candidate"].members]
        return cls(**base, members=members, weight=base["info"]["weight"])


class TextClassifier(nn.Module):
    """Logits = temperature x cosine(embedding, class prompt embedding): the zero-shot classifier
    as a layer (``scale``: the checkpoint's temperature)."""

    def __init__(
        self, class_embeddings: np.ndarray, scale: float = encoders.MAX_TEMPERATURE
    ) -> None:
        super().__init__()
        self.register_buffer(
            "classes", torch.as_tensor(np.asarray(class_embeddings, dtype=np.float32))
        )
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * nn.functional.normalize(x, dim=1) @ self.classes.T


class FinetuneModel(Fitted):
    """The last ``k`` encoder blocks (fine-tuned) and a head, on cached frozen-prefix
    activations."""

    def __init__(
        self,
        *args,
        tail: nn.Module,
        head: nn.Module,
        config: train.HeadConfig,
        history: pd.DataFrame,
        k: int,
        **kw,
    ) -> None:
        super().__init__(*args, **kw)
        self.tail, self.head, self.config, self.history, self.k = (
            tail.eval(),
            head.eval(),
            config,
            history,
            k,
        )
        self._tuned: tuple[encoders.Encoder, encoders.Encoder] | None = None  # (base, tuned)

    @property
    def kind(self) -> str:
        return self.candidate.inputs[0].split("-")[0]

    def predict_vectors(self, X) -> np.ndarray:
        """``X``: fine-tuned embeddings (what the fine-tuned encoder outputs)."""
        return train.predict_proba(self.head, X)

    def embed(self, acts: np.ndarray, batch_size: int = 64) -> np.ndarray:
        out = []
        # in the precision it was trained in (fine-tuning runs at its encoder's precision), where
        # this CPU computes bfloat16 natively (a tail trained on a GPU may be read on any CPU)
        precision = self.info.get("precision", "float32")
        if not runtime.bfloat16_allowed("cpu")[0]:
            precision = "float32"
        with torch.inference_mode(), runtime.autocast(torch.device("cpu"), precision):
            for b in range(0, len(acts), batch_size):
                out.append(
                    self.tail(
                        torch.from_numpy(np.asarray(acts[b : b + batch_size], dtype=np.float32))
                    )
                    .float()
                    .numpy()
                )
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict_proba(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        return self.predict_vectors(self.embed(panel.activations(self.kind, rows, k=self.k)))

    def encoder(self, panel: Panel) -> encoders.Encoder:
        """The fine-tuned encoder: the run's encoder with these blocks, a new model with its own
        identity. Built once per base encoder (a copy of the whole encoder and its fingerprint:
        seconds on a full-size one), then reused by every ``infer`` and explanation."""
        base = panel.encoder(self.kind)
        if self._tuned is None or self._tuned[0] is not base:
            self._tuned = (base, self._build_encoder(base))
        return self._tuned[1]

    def _build_encoder(self, base: encoders.Encoder) -> encoders.Encoder:
        module = copy.deepcopy(base.module)
        tuned = replace(
            base,
            module=module,
            identity="pending",  # fingerprinted once, with the tuned blocks loaded
            name=f"{base.name} + fine-tuned last {self.k} block(s)",
        )
        _, tail = blocks.split_at(tuned, self.k)
        tail.load_state_dict(self.tail.state_dict())
        tuned.identity = encoders.fingerprint(tuned.kind, module, tuned.preprocess)
        return tuned

    def image_encoder(self, panel: Panel):
        return self.encoder(panel)

    def infer(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        encoder = self.encoder(panel)
        out = [
            encoder(b).numpy()
            for b in features.image_loader(
                rows["path"].tolist(), encoder, panel.settings.batch_size, num_workers=0
            )
        ]
        return self.predict_vectors(np.concatenate(out))

    def parameters(self) -> int:
        return sum(p.numel() for p in self.head.parameters()) + sum(
            p.numel() for p in self.tail.parameters()
        )

    def weights(self) -> list[np.ndarray]:
        return [
            t.detach().numpy()
            for t in [*self.tail.state_dict().values(), *self.head.state_dict().values()]
        ]

    def _save_payload(self, folder: Path) -> None:
        torch.save(
            {
                "tail": self.tail.state_dict(),
                "head": self.head.state_dict(),
                "config": asdict(self.config),
                "history": self.history.to_dict("list"),
                "k": self.k,
                "class_embeddings": getattr(self.head, "classes", None),
                "temperature": getattr(self.head, "scale", None),
            },
            folder / "finetuned.pt",
        )

    @classmethod
    def _load(cls, folder: Path, base: dict, panel: Panel) -> FinetuneModel:
        ckpt = torch.load(folder / "finetuned.pt", map_location="cpu", weights_only=False)
        kind = base["candidate"].inputs[0].split("-")[0]
        encoder = panel.encoder(kind)
        if encoder.identity != base["encoders"].get(kind):
            raise CandidateMismatch(
                f"{base['candidate'].name} fine-tuned {kind} encoder "
                f"{base['encoders'].get(kind)}, but this run's {kind} encoder is "
                f"{encoder.identity} ({encoder.name!r}): re-run notebook 04 (training)."
            )
        _, tail = blocks.split_at(encoder, ckpt["k"])
        tail = (
            copy.deepcopy(tail).cpu().float()
        )  # like the cached activations it reads (and as fitted)
        tail.load_state_dict(ckpt["tail"])
        config = train.HeadConfig(**ckpt["config"])
        head = (
            TextClassifier(
                ckpt["class_embeddings"].numpy(),
                ckpt.get("temperature") or encoders.MAX_TEMPERATURE,
            )
            if ckpt["class_embeddings"] is not None
            else train.make_head(config)
        )
        head.load_state_dict(ckpt["head"])
        return cls(
            **base,
            tail=tail,
            head=head,
            config=config,
            history=pd.DataFrame(ckpt["history"]),
            k=ckpt["k"],
        )


FAMILIES = {
    "head": HeadModel,
    "probe": ProbeModel,
    "tfidf": ProbeModel,
    "zeroshot": ZeroShotModel,
    "late-fusion": LateFusionModel,
    "finetune": FinetuneModel,
}


def _load_folder(folder: Path, panel: Panel | None = None) -> Fitted:
    meta = json.loads((folder / "meta.json").read_text())
    c = meta["candidate"]
    candidate = Candidate(**{**c, "inputs": tuple(c["inputs"]), "members": tuple(c["members"])})
    base = dict(
        candidate=candidate,
        classes=meta["classes"],
        info=meta["info"],
        encoders=meta["encoders"],
        split_id=meta["split_id"],
    )
    cls = FAMILIES[candidate.family]
    if cls is FinetuneModel:
        if panel is None:
            raise ValueError("a fine-tuned candidate needs the panel (its base encoder) to load")
        return cls._load(folder, base, panel)
    return cls._load(folder, base)


def load(name: str, panel: Panel) -> Fitted:
    """The saved candidate ``name``, checked against this run's encoders, split and classes."""
    folder = panel.layout.candidate(name)
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(
            f"candidate {name!r} is not trained ({folder} is missing): run notebook 04 with "
            f"{name!r} in models."
        )
    fitted = _load_folder(folder, panel)
    fitted.check(panel)
    return fitted
