"""Evaluation of anomaly scores: metrics, plots and the HTML report.

Examples
--------
>>> from metaad.evaluation import evaluate
>>> evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.5)["auroc"]
0.75
"""

from metaad.evaluation.metrics import empty_metrics, evaluate, precision_at_n
from metaad.evaluation.plots import (
    feature_contributions_figure,
    figure_to_data_uri,
    pr_curve_figure,
    roc_curve_figure,
    score_histogram,
)
from metaad.evaluation.report import write_report
from metaad.evaluation.robustness import false_alarm_auroc, robust_auroc

__all__ = [
    "empty_metrics",
    "evaluate",
    "false_alarm_auroc",
    "feature_contributions_figure",
    "figure_to_data_uri",
    "pr_curve_figure",
    "precision_at_n",
    "robust_auroc",
    "roc_curve_figure",
    "score_histogram",
    "write_report",
]
