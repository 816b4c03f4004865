"""The note's sections, in reading order: key, title, and whether its numbers read the encoders.

``utils.report.prose.SECTION_WRITERS`` writes each one; the figure registry (``figures.py``)
places figures in them by key. A new section is one line here and its writer there. A title may
name the run's choice (``{choice}``: ``decision.CALLED``, filled in by the note).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    encoders: (
        bool  # states numbers that read the encoders (stand-in warning when they are stand-ins)
    )


SECTIONS = [
    Section("summary", "Summary: the answer first", True),
    Section("data", "1. The dataset", False),
    Section("clip", "2. CLIP, and what it knows before any training", True),
    Section("split", "3. Split and architecture", True),
    Section("loss", "4. Loss", True),
    Section("optimiser", "5. Optimiser and training", True),
    Section("results", "6. Results on the test split", True),
    Section("explanations", "7. Local and global importance", True),
    Section("improvements", "8. Limits and the proposed improvements", True),
    Section("beyond", "9. Beyond the note: a panel of candidates", True),
    Section("labels", "10. Which products to label next, and which labels look wrong", True),
    Section("deployed", "11. What {choice} looks at", True),
    Section("template", "12. What the text candidates read besides the product", True),
    Section("automation", "13. Which products {choice} can classify without a person", True),
    Section("reproducibility", "Reproducibility", False),
]
BY_KEY = {s.key: s for s in SECTIONS}
