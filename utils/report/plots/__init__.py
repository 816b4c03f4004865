"""The figures' drawing functions, by the part of the report they serve.

``style`` (shared look: chance lines, colour bars, stand-in mark, saving), ``catalog``
(notebooks 01-02), ``training`` (03-04), ``results`` (05), ``photos``, ``words`` and
``template`` (06), ``labels`` (07), ``calibration`` (05's automation threshold).
Every drawing function is reachable here (``plots.split_figure(...)``); which figure is which
lives in the registry, ``utils.report.figures``.
"""

from .calibration import reliability_diagram, risk_coverage
from .catalog import (
    category_counts,
    duplicate_groups,
    example_grid,
    size_distribution,
    split_figure,
)
from .labels import active_learning, label_issues
from .photos import averaging, global_maps, lime_examples, shap_figure, trust
from .results import (
    accuracy_cost,
    confusion_matrices,
    error_gallery,
    label_budget,
    log_loss_curve,
    pareto_front,
    results_forest,
    similarity_matrix,
    zeroshot_vs_supervised,
)
from .style import (
    CHANCE_STYLE,
    DIVERGING,
    READS,
    chance_line,
    colorbar,
    describe,
    facts_of,
    mark_stand_in,
    reads_label,
    save_figure,
    show_array,
    shown_categories,
)
from .summary import headline
from .template import template_rates
from .training import (
    architecture,
    augmentation_views,
    feature_maps,
    learning_curves,
    loss_curves,
    optimizer_curves,
)
from .words import (
    modality_disagreements,
    modality_shares,
    text_explanations,
    text_trust,
    word_importance,
)
