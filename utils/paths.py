"""Default locations in the project tree (cookiecutter-data-science layout).

Notebooks take these as parameters (``data_dir``, ``figures_dir``...), so a test can point a
whole run at a scratch folder; the functions in ``utils`` always receive explicit paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Layout:
    """The folders of one run, derived from its ``data_dir``."""

    data_dir: Path = ROOT / "data"

    @property
    def raw(self) -> Path:          # immutable input: a link to, or extraction of, the dataset
        return Path(self.data_dir) / "raw"

    @property
    def processed(self) -> Path:    # catalog.csv, split.csv
        return Path(self.data_dir) / "processed"

    @property
    def features(self) -> Path:     # cached encoder features
        return Path(self.data_dir) / "features"

    @property
    def models(self) -> Path:       # trained heads and the smoke profile's tiny encoders
        return Path(self.data_dir) / "models"

    @property
    def explanations(self) -> Path:  # cached LIME / SHAP results
        return Path(self.data_dir) / "explanations"

    @property
    def catalog(self) -> Path:
        return self.processed / "catalog.csv"

    @property
    def split(self) -> Path:
        return self.processed / "split.csv"


FIGURES = ROOT / "figures"
REPORTS = ROOT / "reports"
