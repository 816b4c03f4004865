"""Every sentence of the report, written from the run's records, by the note's parts.

``banners`` (notebooks' first outputs and in-notebook sentences), ``summary`` (the answer),
``original`` (sections 1-8, the original note's order), ``panel`` (sections 9 and 11),
``labels`` (which products to label next, which labels look wrong), ``template``
(the catalogue's template phrases and the accuracy without them), ``automation``
(calibration and the automation threshold), ``common`` (shared helpers). Every
writer is reachable here (``prose.banner(...)``); ``SECTION_WRITERS`` maps each note section
(``sections.SECTIONS``) to its writer. Imports: ``utils.report``'s ``figures``, ``formatting``,
``sections`` and the stages below ``report``.
"""

from .automation import automation_text, section_automation
from .banners import (
    banner,
    decode_sentence,
    errors_line,
    image_study_intro,
    not_run_text,
    note_written,
    nothing_because,
    nothing_here,
    per_class_line,
    precision_sentence,
    pretrained_sentence,
    pretrained_warning,
    stand_in_warning,
    subsample_sentence,
)
from .captions import caption
from .common import (
    DAGGER,
    NEGLIGIBLE_GAIN,
    READS_WORDS,
    boilerplate_sentence,
    called,
    faithfulness_words,
)
from .labels import (
    audit_text,
    cleaning_text,
    labels_note,
    savings_text,
    section_labels,
    suggest_text,
)
from .original import (
    errors_text,
    explanation_verdict,
    fill_words,
    global_text,
    headline,
    improvements_text,
    section_clip,
    section_data,
    section_explanations,
    section_improvements,
    section_loss,
    section_optimiser,
    section_results,
    section_split,
)
from .panel import (
    budget_text,
    cost_line,
    section_beyond,
    section_deployed,
    text_verdict,
    text_verdicts,
)
from .summary import (
    against_original,
    answer,
    claims_table,
    claims_text,
    context,
    fitted_on,
    limits,
    not_run_table,
    question_part,
    recommendation_lines,
    section_summary,
    title,
)
from .template import section_template, template_limit, template_line

SECTION_WRITERS = {
    "summary": section_summary,
    "data": section_data,
    "clip": section_clip,
    "split": section_split,
    "loss": section_loss,
    "optimiser": section_optimiser,
    "results": section_results,
    "explanations": section_explanations,
    "improvements": section_improvements,
    "beyond": section_beyond,
    "labels": section_labels,
    "deployed": section_deployed,
    "template": section_template,
    "automation": section_automation,
}
