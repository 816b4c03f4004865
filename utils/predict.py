"""Classify new product photos with a trained candidate.

``python -m utils.predict photo.jpg [more.jpg ...]``.

Each photo is checked exactly as a catalog row is (missing, unreadable, too small, too large...):
a broken file gets its status and the reason, not a traceback. The readable ones go through the
candidate in batches, the encoder loaded once, and each gets its top categories with probabilities.
``predict(paths)`` does the same from a notebook and returns a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .core.paths import Layout
from .data import catalog
from .models import candidates, families
from .models.panel import Panel, Settings


def _settings(meta: dict, device: str, precision: str, batch_size: int) -> Settings:
    names = meta["info"].get("encoder_names", {})
    return Settings(
        clip_model=names.get("clip", Settings.clip_model),
        vgg_weights=names.get("vgg16", Settings.vgg_weights),
        device=device,
        precision=meta["info"].get("precision", precision),
        batch_size=batch_size,
        decode_min_side=meta["info"].get("decode_min_side", families.UNRECORDED_DECODE_MIN_SIDE),
    )


DATA_DIR = Layout().data_dir


def predict(
    paths: list[str | Path],
    model: str = candidates.REFERENCE,
    data_dir: str | Path = DATA_DIR,
    top: int = 3,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 16,
) -> pd.DataFrame:
    """One row per photo: ``file``, ``status``, ``detail``, then ``top1`` ... ``top{top}`` as
    "category (p)", and ``category`` / ``probability`` of the best one (empty for photos that cannot
    be read)."""
    layout = Layout(Path(data_dir))
    folder = layout.candidate(model)
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(
            f"candidate {model!r} is not trained ({folder} is missing): run notebook 04 with "
            f"{model!r} in models (make report / make smoke)."
        )
    c = candidates.CANDIDATES[model]
    if c.reads != "image":
        raise ValueError(
            f"{model} reads {c.reads}; utils.predict classifies photos: choose an image candidate "
            f"({', '.join(n for n, x in candidates.CANDIDATES.items() if x.reads == 'image')})."
        )
    meta = json.loads((folder / "meta.json").read_text())
    panel = Panel(
        layout, _settings(meta, device, precision, batch_size), meta["classes"], progress=False
    )
    fitted = families.load(model, panel)
    facts = [catalog.inspect_image(Path(p)) for p in paths]
    table = pd.DataFrame(
        {
            "file": [str(p) for p in paths],
            "status": [f["status"] for f in facts],
            "detail": [f["detail"] for f in facts],
        }
    )
    ok = table["status"] == "ok"
    for k in range(1, top + 1):
        table[f"top{k}"] = ""
    table["category"], table["probability"] = "", np.nan
    if ok.any():
        rows = pd.DataFrame(
            {
                "path": table.loc[ok, "file"],
                "sha256": [f["sha256"] for f, good in zip(facts, ok) if good],
                "product_name": "",
                "description": "",
            }
        )
        proba = fitted.infer(panel, rows)
        order = np.argsort(-proba, axis=1)[:, :top]
        for j, (i, best) in enumerate(zip(table.index[ok], order)):
            for k, c_id in enumerate(best, start=1):
                table.loc[i, f"top{k}"] = f"{fitted.classes[c_id]} ({proba[j, c_id]:.2f})"
            table.loc[i, "category"] = fitted.classes[best[0]]
            table.loc[i, "probability"] = float(proba[j, best[0]])
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", help="image files")
    parser.add_argument(
        "--model",
        default=candidates.REFERENCE,
        help="a trained image candidate (default: %(default)s)",
    )
    parser.add_argument("--data-dir", default=str(Layout().data_dir))
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        table = predict(args.photos, args.model, args.data_dir, args.top, args.device)
    except (FileNotFoundError, ValueError, families.CandidateMismatch) as exc:
        raise SystemExit(f"error: {exc}") from None
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.drop(columns=["category", "probability"]).to_string(index=False))


if __name__ == "__main__":
    main()
