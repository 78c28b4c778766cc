"""Figures for anomaly scores: score histogram, ROC and precision-recall curves, feature contributions.

Every function builds a :class:`matplotlib.figure.Figure` directly, without :mod:`matplotlib.pyplot`, so no
GUI backend and no global figure state is involved and the functions are safe to call from threads.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as sk_metrics

from metaad.evaluation._validation import check_binary, check_same_length, check_scores
from metaad.exceptions import DataError, ParameterError

NORMAL_COLOUR = "#4c72b0"
ANOMALY_COLOUR = "#c44e52"
THRESHOLD_COLOUR = "#333333"
FIGURE_SIZE = (6.4, 4.0)
#: Scores are heavy-tailed when an extreme lies more than this many interdecile ranges (q90 - q10) from the
#: median. A normal sample of 10,000 reaches about 1.5, an exponential one about 4; shuttle's kNN scores
#: (nearly all near 0, a few near 140) far more, and on a linear axis they fill a single bin.
HEAVY_TAIL_RATIO = 10.0


def is_heavy_tailed(scores: Any) -> bool:
    """Whether a linear histogram of ``scores`` would squeeze the bulk into a bin or two (see HEAVY_TAIL_RATIO).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> is_heavy_tailed(rng.normal(size=1000)), is_heavy_tailed(np.r_[rng.random(990), np.full(10, 140.0)])
    (False, True)
    """
    values = check_scores(scores)
    q10, median, q90 = np.quantile(values, [0.1, 0.5, 0.9])
    spread = q90 - q10
    reach = max(values.max() - median, median - values.min())
    if reach == 0:
        return False
    return bool(spread == 0 or reach > HEAVY_TAIL_RATIO * spread)


def _histogram_axis(values: np.ndarray) -> tuple[np.ndarray, str, dict[str, float]]:
    """Bin edges, x scale and scale options: linear, or log (positive scores) / symlog when heavy-tailed."""
    n_bins = min(50, max(10, int(np.sqrt(values.size))))
    if not is_heavy_tailed(values):
        return np.histogram_bin_edges(values, bins=n_bins), "linear", {}
    low, high = float(values.min()), float(values.max())
    if low > 0:
        return np.geomspace(low, high, n_bins + 1), "log", {}
    # symlog: linear within +-linthresh of 0, logarithmic beyond; linthresh from the bulk of the scores
    q10, q90 = np.quantile(np.abs(values), [0.1, 0.9])
    linthresh = float(q90 - q10) or float(q90) or float(np.abs(values[values != 0]).min())

    def forward(x: np.ndarray) -> np.ndarray:
        return np.sign(x) * np.log1p(np.abs(x) / linthresh)

    def inverse(y: np.ndarray) -> np.ndarray:
        return np.sign(y) * linthresh * np.expm1(np.abs(y))

    edges = inverse(np.linspace(forward(np.array(low)), forward(np.array(high)), n_bins + 1))
    edges[0], edges[-1] = low, high
    return edges, "symlog", {"linthresh": linthresh}


def score_histogram(scores: Any, threshold: float, labels: Any | None = None) -> Figure:
    """Histogram of anomaly scores with the threshold drawn as a vertical line.

    Heavy-tailed scores (:func:`is_heavy_tailed`) are drawn on a logarithmic x axis with logarithmic bins
    (symmetric-log when some scores are 0 or negative), and the title says so; otherwise the axis is linear.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Anomaly scores; must be finite.
    threshold : float
        Drawn as a dashed vertical line.
    labels : array-like of shape (n_samples,), optional
        0/1 labels; when given, normal and anomalous rows are drawn in separate colours over shared bins.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = score_histogram([0.1, 0.2, 0.3, 0.9], threshold=0.5, labels=[0, 0, 0, 1])
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['threshold = 0.5', 'normal (3)', 'anomaly (1)']
    """
    values = check_scores(scores)
    edges, scale, options = _histogram_axis(values)
    fig = Figure(figsize=FIGURE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    if scale != "linear":
        ax.set_xscale(scale, **options)
    ax.axvline(float(threshold), color=THRESHOLD_COLOUR, linestyle="--", label=f"threshold = {threshold:.4g}")
    if labels is None:
        ax.hist(values, bins=edges, color=NORMAL_COLOUR, alpha=0.8, label=f"all rows ({values.size})")
    else:
        classes = check_binary(labels, name="labels")
        check_same_length(scores=values, labels=classes)
        for value, name, colour in ((0, "normal", NORMAL_COLOUR), (1, "anomaly", ANOMALY_COLOUR)):
            subset = values[classes == value]
            ax.hist(subset, bins=edges, color=colour, alpha=0.6, label=f"{name} ({subset.size})")
    ax.set_xlabel("anomaly score" + ("" if scale == "linear" else f" ({scale} scale)"))
    ax.set_ylabel("rows")
    ax.set_title("Score distribution" + ("" if scale == "linear" else " (heavy-tailed: logarithmic axis)"))
    ax.legend()
    return fig


def roc_curve_figure(y: Any, scores: Any) -> Figure:
    """ROC curve of anomaly scores, with the AUROC in the legend.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        0/1 labels holding both classes.
    scores : array-like of shape (n_samples,)
        Anomaly scores; must be finite.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        If the inputs are invalid or ``y`` holds a single class.

    Examples
    --------
    >>> fig = roc_curve_figure([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'AUROC = 0.7500'
    """
    labels, values = _check_curve_inputs(y, scores)
    false_positive_rate, true_positive_rate, _ = sk_metrics.roc_curve(labels, values)
    auroc = sk_metrics.roc_auc_score(labels, values)
    fig = Figure(figsize=FIGURE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(false_positive_rate, true_positive_rate, color=ANOMALY_COLOUR, label=f"AUROC = {auroc:.4f}")
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    return fig


def pr_curve_figure(y: Any, scores: Any) -> Figure:
    """Precision-recall curve of anomaly scores, with the average precision in the legend.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        0/1 labels holding both classes.
    scores : array-like of shape (n_samples,)
        Anomaly scores; must be finite.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        If the inputs are invalid or ``y`` holds a single class.

    Examples
    --------
    >>> fig = pr_curve_figure([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'AP = 0.8333'
    """
    labels, values = _check_curve_inputs(y, scores)
    precision, recall, _ = sk_metrics.precision_recall_curve(labels, values)
    average_precision = sk_metrics.average_precision_score(labels, values)
    prevalence = labels.mean()
    fig = Figure(figsize=FIGURE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.step(recall, precision, where="post", color=ANOMALY_COLOUR, label=f"AP = {average_precision:.4f}")
    ax.axhline(prevalence, color="#999999", linestyle=":", label=f"anomaly rate = {prevalence:.4g}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall curve")
    ax.legend(loc="lower left")
    return fig


def feature_contributions_figure(contributions: pd.DataFrame, top: int = 20) -> Figure:
    """Horizontal bar chart of the mean contribution of each feature over the given rows.

    Parameters
    ----------
    contributions : pandas.DataFrame
        Rows x features of per-feature contributions to the anomaly score, typically only the flagged rows.
    top : int, default 20
        How many features to show, those with the largest mean absolute contribution.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        If ``contributions`` is empty or not numeric.
    ParameterError
        If ``top`` is not a positive integer.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, 3.0], "b": [0.5, 0.5], "c": [0.0, 0.2]})
    >>> fig = feature_contributions_figure(frame, top=2)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['b', 'a']
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ParameterError(f"top must be a positive integer, got {top!r}")
    if not isinstance(contributions, pd.DataFrame) or contributions.empty:
        raise DataError("contributions must be a non-empty DataFrame of rows x features")
    try:
        means = contributions.astype(float).mean(axis=0)
    except (TypeError, ValueError) as error:
        raise DataError(f"contributions must be numeric: {error}") from error
    means = means.dropna()
    if means.empty:
        raise DataError("contributions holds only NaN values")
    chosen = means.reindex(means.abs().sort_values(ascending=False, kind="stable").index[: int(top)])
    chosen = chosen.iloc[::-1]  # largest at the top of a horizontal bar chart
    height = max(2.5, 0.3 * len(chosen) + 1.2)
    fig = Figure(figsize=(FIGURE_SIZE[0], height), layout="constrained")
    ax = fig.add_subplot()
    colours = [ANOMALY_COLOUR if value >= 0 else NORMAL_COLOUR for value in chosen.to_numpy()]
    ax.barh([str(name) for name in chosen.index], chosen.to_numpy(), color=colours)
    ax.set_xlabel("mean contribution")
    ax.set_title(f"Feature contributions (mean over {len(contributions)} rows)")
    return fig


def figure_to_data_uri(fig: Figure, dpi: int = 100) -> str:
    """Render a figure as PNG and return it as a ``data:image/png;base64,...`` URI for inline HTML.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to render.
    dpi : int, default 100
        Resolution of the PNG.

    Returns
    -------
    str

    Examples
    --------
    >>> figure_to_data_uri(score_histogram([0.1, 0.5, 0.9], threshold=0.6)).startswith("data:image/png;base64,")
    True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _check_curve_inputs(y: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = check_binary(y, name="y")
    values = check_scores(scores)
    check_same_length(y=labels, scores=values)
    if labels.min() == labels.max():
        raise DataError(f"y must contain both classes (0 and 1) to draw a curve, but every label is {labels[0]}")
    return labels, values
