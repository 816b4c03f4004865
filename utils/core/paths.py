"""Default locations in the project tree (cookiecutter-data-science layout).

Notebooks take these as parameters (``data_dir``, ``figures_dir``...), so a test can point a
whole run at a scratch folder; the functions in ``utils`` always receive explicit paths. Every path
derived from a candidate's name is made here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Layout:
    """The folders of one run, derived from its ``data_dir``."""

    data_dir: Path = ROOT / "data"

    @property
    def raw(self) -> Path:  # immutable input: a link to, or extraction of, the dataset
        return Path(self.data_dir) / "raw"

    @property
    def processed(self) -> Path:  # catalog.csv, split.csv, split.json, the DatasetDict
        return Path(self.data_dir) / "processed"

    @property
    def features(self) -> Path:  # cached encoder features (images, texts, pixels, augmented views)
        return Path(self.data_dir) / "features"

    @property
    def activations(self) -> Path:  # cached frozen-prefix activations for fine-tuning
        return Path(self.data_dir) / "activations"

    @property
    def models(
        self,
    ) -> Path:  # hand-downloaded weights, the smoke profile's tiny encoders, trained candidates
        return Path(self.data_dir) / "models"

    @property
    def explanations(self) -> Path:  # cached LIME / SHAP results
        return Path(self.data_dir) / "explanations"

    @property
    def catalog(self) -> Path:
        return self.processed / "catalog.csv"

    @property
    def inspected(
        self,
    ) -> Path:  # per-image validation results, so an interrupted validation resumes
        return self.processed / "inspected.jsonl"

    @property
    def split(self) -> Path:
        return self.processed / "split.csv"

    @property
    def split_info(
        self,
    ) -> Path:  # the settings notebook 02 used (seed, fractions, grouping thresholds)
        return self.processed / "split.json"

    @property
    def hf_split(self) -> Path:  # the split as a Hugging Face DatasetDict (datasets.load_from_disk)
        return self.processed / "hf_split"

    def candidate(self, name: str) -> Path:
        """Folder of a trained candidate: its model file(s) and ``meta.json``."""
        return self.models / "candidates" / name


FIGURES = ROOT / "figures"
REPORTS = ROOT / "reports"
