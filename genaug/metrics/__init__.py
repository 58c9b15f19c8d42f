"""Metrics of synthetic data: fidelity, diversity, detection, privacy and utility.

:func:`evaluate` runs every family and returns a :class:`Report`; each metric is also a plain
function in its family's module, whose docstring gives the definition and the reference.

=========== ========================================================================
fidelity    per-column KS / total variation / missing-rate gap; pairwise correlation,
            Cramér's V and contingency differences
diversity   precision and recall (Kynkäänniemi et al., 2019), density and coverage
            (Naeem et al., 2020), per-class and per-category coverage
detection   classifier two-sample test: ROC-AUC of gradient boosting, 0.5 ideal
privacy     exact copies, distance to closest record, NNDR, DCR share, membership
            inference
utility     TRTR, TSTR and train-on-augmented on a real holdout, as gains over TRTR
=========== ========================================================================
"""

from genaug.metrics._evaluate import evaluate
from genaug.metrics.detection import DetectionResult, detection_auc, detection_test
from genaug.metrics.diversity import (
    category_coverage,
    class_coverage,
    density_coverage,
    manifold_metrics,
    precision_recall,
)
from genaug.metrics.fidelity import (
    column_fidelity,
    contingency_difference,
    correlation_difference,
    cramers_v_difference,
    ks_statistics,
    missing_rate_gaps,
    tv_distances,
)
from genaug.metrics.privacy import (
    dcr_share,
    distance_to_closest_record,
    exact_copies,
    exact_copy_rate,
    membership_inference_auc,
    nearest_neighbor_distance_ratio,
)
from genaug.metrics.report import FAMILIES, METRIC_DEFINITIONS, FamilyResult, Report
from genaug.metrics.utility import UTILITY_METRICS, classification_scores, utility_scores

__all__ = [
    "FAMILIES",
    "METRIC_DEFINITIONS",
    "UTILITY_METRICS",
    "DetectionResult",
    "FamilyResult",
    "Report",
    "category_coverage",
    "class_coverage",
    "classification_scores",
    "column_fidelity",
    "contingency_difference",
    "correlation_difference",
    "cramers_v_difference",
    "dcr_share",
    "density_coverage",
    "detection_auc",
    "detection_test",
    "distance_to_closest_record",
    "evaluate",
    "exact_copies",
    "exact_copy_rate",
    "ks_statistics",
    "manifold_metrics",
    "membership_inference_auc",
    "missing_rate_gaps",
    "nearest_neighbor_distance_ratio",
    "precision_recall",
    "tv_distances",
    "utility_scores",
]
