"""The note's sections, in reading order: key, title, and whether its numbers read the encoders.

``utils.report.prose.SECTION_WRITERS`` writes each one; the figure registry (``figures.py``)
places figures in them by key. A new section is one line here and its writer there. A title may
name the run's choice (``{choice}``: ``decision.CALLED``, filled in by the note).

Sections are numbered by the run (``numbers``): a section that needs a pretrained encoder this
run did not have (``needs``) has nothing of its own to show, so it is left out of the note (what
it would hold is in the note's list of what did not run) and the sections after it are numbered
on, without a gap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    title: str  # without its number (``numbers`` gives it)
    encoders: (
        bool  # states numbers that read the encoders (stand-in warning when they are stand-ins)
    )
    numbered: bool = True
    needs: str | None = None  # the pretrained encoder ("clip") without which nothing of it runs


SECTIONS = [
    Section("summary", "Summary: the answer first", True, numbered=False),
    Section("data", "The dataset", False),
    Section("clip", "CLIP, and what it knows before any training", True, needs="clip"),
    Section("split", "Split and architecture", True),
    Section("loss", "Loss", True),
    Section("optimiser", "Optimiser and training", True),
    Section("results", "Results on the test split", True),
    Section("explanations", "Local and global importance", True),
    Section("improvements", "Limits and the proposed improvements", True),
    Section("beyond", "Beyond the note: a panel of candidates", True),
    Section("labels", "Which products to label next, and which labels look wrong", True),
    Section("deployed", "What {choice} looks at", True),
    Section("template", "What the text candidates read besides the product", True),
    Section("automation", "Which products {choice} can classify without a person", True),
    Section("reproducibility", "Reproducibility", False, numbered=False),
]
BY_KEY = {s.key: s for s in SECTIONS}


def ran_encoders(m: dict | None) -> set[str] | None:
    """The pretrained encoders (``"clip"``, ``"vgg16"``) of the candidates that ran; None when
    ``m`` records neither features nor an evaluation (then every section is shown)."""
    from ..models.candidates import encoder_kinds

    features = (m or {}).get("features")
    if features and "models" in features:
        skipped = features.get("skipped") or {}
        return encoder_kinds([n for n in features.get("models") or [] if n not in skipped])
    table = ((m or {}).get("evaluation") or {}).get("table")
    return encoder_kinds(list(table)) if table else None


def shown(m: dict | None = None) -> list[Section]:
    """The sections of the run's note, in reading order (those whose encoder did not run are
    left out)."""
    ran = ran_encoders(m)
    return [s for s in SECTIONS if s.needs is None or ran is None or s.needs in ran]


def numbers(m: dict | None = None) -> dict[str, int]:
    """Each shown, numbered section's number in the run's note (1, 2, ... without a gap)."""
    return {s.key: i + 1 for i, s in enumerate(x for x in shown(m) if x.numbered)}
