"""A self-contained HTML report of a detection run: summary, metrics, plots, top rows and explanations.

The page has inline CSS and inline PNG images (``data:`` URIs), no scripts and no external links, so it can be
mailed or archived as a single file. Every user-provided string is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad._io import atomic_write_text
from metaad._version import __version__
from metaad.evaluation._html import STYLE, escape, image, section, table
from metaad.evaluation._validation import check_binary, check_same_length, check_scores
from metaad.evaluation.plots import (
    feature_contributions_figure,
    figure_to_data_uri,
    pr_curve_figure,
    roc_curve_figure,
    score_histogram,
)
from metaad.exceptions import DataError, ParameterError

MAX_COLUMNS = 30
"""At most this many columns of ``frame`` are shown in the top-rows table."""

TOP_FEATURES_PER_ROW = 3
#: Most flagged rows a callable ``explanation`` is asked about for the mean-contribution chart (highest scores).
MAX_EXPLAINED_FLAGGED = 500
SUMMARY_METRICS = ("auroc", "average_precision", "precision", "recall", "f1", "precision_at_n")


def write_report(
    path: str | os.PathLike[str],
    *,
    scores: Any,
    threshold: float,
    frame: pd.DataFrame,
    labels: Any | None = None,
    metrics: Mapping[str, Any] | None = None,
    title: str,
    detector_name: str,
    params: Mapping[str, Any],
    explanation: pd.DataFrame | None = None,
    sections: Sequence[tuple[str, str]] | None = None,
    top: int = 20,
    selected: Mapping[str, Any] | None = None,
) -> Path:
    """Write a self-contained HTML report of anomaly scores and return its path.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write the page; written atomically, parent folders created.
    scores : array-like of shape (n_samples,)
        Anomaly scores of the rows of ``frame``, higher is more anomalous.
    threshold : float
        Rows with ``score > threshold`` are counted as flagged.
    frame : pandas.DataFrame
        The scored data with its original values, one row per score.
    labels : array-like of shape (n_samples,), optional
        Known 0/1 labels; when both classes occur, the ROC and precision-recall curves are drawn.
    metrics : mapping, optional
        The output of :func:`metaad.evaluation.evaluate`; shown as a table, with its classification report.
    title : str
        Page title.
    detector_name : str
        Name of the detector that produced the scores.
    params : mapping
        The detector's parameters, shown in the header. Their ``threshold`` and ``contamination`` (when
        present) describe the threshold rule: the summary states the share of rows flagged against the rule's
        target (for ``"fpr:R"`` the flag rate on the training table is about ``c + (1 - c) R``, not ``R``).
    explanation : pandas.DataFrame or callable, optional
        Rows x features of per-feature contributions, aligned with ``frame`` (same length, same order). Adds a
        "Why these rows" section with the 3 features that contribute most to each top row and a bar chart of
        the mean contribution over the flagged rows. A callable ``explanation(positions)`` returns that frame
        for the given row positions only, and is asked only about the rows shown (the top rows and at most
        500 flagged rows): e.g. ``lambda rows: pipeline.explain(frame.iloc[rows])``, whose model-agnostic
        rule costs one scoring pass per feature.
    sections : sequence of (str, str), optional
        Extra sections appended at the end, as (heading, body). The heading is escaped; the body must already
        be safe HTML and is inserted as is.
    top : int, default 20
        How many of the most anomalous rows to list.
    selected : mapping, optional
        For a detector that chose another (``auto``): its ``selected_`` (``config_id``, ``family``,
        ``params``, ``predicted_auroc``). The fitted configuration then heads the page and ``params`` (the
        chooser's own settings) follow it.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    DataError
        If scores or labels are invalid or their lengths differ from ``frame`` (or ``explanation``).
    ParameterError
        If ``top`` is not a positive integer or ``threshold`` is not a finite number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 50.0], "y": [0.1, 0.2, 9.0]})
    >>> out = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", scores=[0.1, 0.2, 0.9],
    ...                    threshold=0.5, frame=frame, title="Demo", detector_name="iforest",
    ...                    params={"n_estimators": 100})
    >>> text = out.read_text()
    >>> "Demo" in text and "data:image/png;base64," in text and "<script" not in text
    True
    """
    values, classes = _check_inputs(scores, threshold, frame, labels, None if callable(explanation) else explanation, top)
    threshold = float(threshold)
    flagged = values > threshold
    order = np.argsort(-values, kind="stable")[: min(int(top), values.size)]
    if callable(explanation):
        by_score = np.argsort(-values, kind="stable")
        rows = np.union1d(order, by_score[flagged[by_score]][:MAX_EXPLAINED_FLAGGED])
        part = explanation(rows)
        explanation = pd.DataFrame(np.nan, index=frame.index, columns=part.columns)
        explanation.iloc[rows] = np.asarray(part, dtype=float)
    has_both_classes = classes is not None and classes.min() != classes.max()

    parts = [
        _header(title, detector_name, params, selected),
        section("Summary", _summary(values, flagged, threshold, classes, metrics, params)),
        section("Scores", _plots(values, threshold, classes, has_both_classes)),
        section(f"Top {order.size} most anomalous rows", _top_rows(frame, values, classes, order)),
    ]
    if metrics and isinstance(metrics.get("classification_report"), Mapping):
        parts.append(section("Classification report", _classification_report(metrics["classification_report"])))
    if explanation is not None:
        parts.append(section("Why these rows", _why(explanation, frame, values, flagged, order)))
    for heading, body in sections or ():
        parts.append(section(heading, body))

    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + f"\n<footer>Generated by metaad {escape(__version__)} on {generated}.</footer>\n</body>\n</html>\n"
    )
    return atomic_write_text(path, page)


def _check_inputs(
    scores: Any,
    threshold: Any,
    frame: Any,
    labels: Any,
    explanation: Any,
    top: Any,
) -> tuple[np.ndarray, np.ndarray | None]:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ParameterError(f"top must be a positive integer, got {top!r}")
    try:
        finite = np.isfinite(float(threshold))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        raise ParameterError(f"threshold must be a finite number, got {threshold!r}")
    values = check_scores(scores)
    check_same_length(scores=values, frame=frame)
    classes = None
    if labels is not None:
        classes = check_binary(labels, name="labels")
        check_same_length(scores=values, labels=classes)
    if explanation is not None:
        if not isinstance(explanation, pd.DataFrame):
            raise DataError(f"explanation must be a pandas DataFrame, got {type(explanation).__name__}")
        check_same_length(frame=frame, explanation=explanation)
    return values, classes


def _parameter_table(params: Mapping[str, Any]) -> str:
    rows = [[str(name), params[name]] for name in sorted(params, key=str)]
    return table(["parameter", "value"], rows) if rows else '<p class="note">No parameters.</p>'


def _header(title: str, detector_name: str, params: Mapping[str, Any], selected: Mapping[str, Any] | None) -> str:
    if not selected:
        return (
            f"<header><h1>{escape(title)}</h1>\n"
            f'<p class="subtitle">Detector: <strong>{escape(detector_name)}</strong></p>\n'
            f"{_parameter_table(params)}</header>"
        )
    chosen = selected.get("params") if isinstance(selected.get("params"), Mapping) else {}
    predicted = selected.get("predicted_auroc")
    predicted_text = f", predicted AUROC {predicted:.3f}" if isinstance(predicted, (int, float)) else ""
    return (
        f"<header><h1>{escape(title)}</h1>\n"
        f'<p class="subtitle">Detector: <strong>{escape(str(selected.get("family", "?")))}</strong> '
        f"(configuration {escape(str(selected.get('config_id', '?')))}), chosen by "
        f"<strong>{escape(detector_name)}</strong>{escape(predicted_text)}</p>\n"
        f"{_parameter_table(chosen)}\n"
        f'<p class="note">Settings of {escape(detector_name)} itself, which made the choice:</p>\n'
        f"{_parameter_table(params)}</header>"
    )


def threshold_note(params: Mapping[str, Any], flagged_share: float) -> str:
    """One sentence comparing the share of rows flagged with the target of the threshold rule in ``params``.

    Examples
    --------
    >>> threshold_note({"threshold": "fpr:0.01", "contamination": 0.1}, 0.109)[:97]
    'Threshold rule fpr:0.01: a false-positive rate of 1% on normal rows. It flags 10.9% of these rows'
    >>> threshold_note({"contamination": 0.05}, 0.05)
    'Threshold rule: the top 5% of training scores (contamination=0.05). It flags 5.0% of these rows.'
    """
    rule = params.get("threshold")
    contamination = params.get("contamination")
    contamination = 0.1 if contamination is None else contamination
    flagged = f"It flags {flagged_share:.1%} of these rows"
    try:
        contamination = float(contamination)
    except (TypeError, ValueError):
        return f"{flagged}."
    if rule is None or rule == "contamination":
        return f"Threshold rule: the top {_percent(contamination)} of training scores (contamination={contamination:g}). {flagged}."
    if isinstance(rule, str) and rule.strip().lower().startswith("fpr:"):
        try:
            rate = float(rule.split(":", 1)[1])
        except ValueError:
            return f"Threshold rule {rule}. {flagged}."
        expected = contamination + (1.0 - contamination) * rate
        return (
            f"Threshold rule {rule}: a false-positive rate of {_percent(rate)} on normal rows. {flagged}, not {_percent(rate)}: "
            f"on the training table the top {_percent(contamination)} of scores (contamination={contamination:g}) are set "
            f"aside as suspected anomalies and the threshold is the {_percent(1 - rate)} quantile of the rest, so about "
            f"{_percent(contamination)} + {_percent(rate)} of the remaining {_percent(1 - contamination)} = {expected:.1%} of training "
            f"rows are flagged. On new normal data about {_percent(rate)} should be."
        )
    return f"Threshold rule: the fixed value {rule}. {flagged}."


def _percent(share: float) -> str:
    """A share as a percentage with up to 3 significant digits: 0.1 -> '10%', 0.005 -> '0.5%'."""
    return f"{100 * share:.3g}%"


def _summary(
    values: np.ndarray,
    flagged: np.ndarray,
    threshold: float,
    classes: np.ndarray | None,
    metrics: Mapping[str, Any] | None,
    params: Mapping[str, Any],
) -> str:
    n_flagged = int(flagged.sum())
    rows: list[list[Any]] = [
        ["rows", int(values.size)],
        ["flagged (score > threshold)", n_flagged],
        ["flagged share", n_flagged / values.size],
        ["threshold", threshold],
    ]
    if classes is not None:
        rows.append(["true anomalies", int(classes.sum())])
    body = table(["", "value"], rows)
    body += f'\n<p class="note">{escape(threshold_note(params, n_flagged / values.size))}</p>'
    if metrics:
        metric_rows = [[key, metrics.get(key)] for key in SUMMARY_METRICS]
        body += "\n<h3>Metrics</h3>\n" + table(["metric", "value"], metric_rows)
    return body


def _plots(values: np.ndarray, threshold: float, classes: np.ndarray | None, has_both_classes: bool) -> str:
    figures = [image(figure_to_data_uri(score_histogram(values, threshold, classes)), "score histogram")]
    note = ""
    if has_both_classes:
        figures.append(image(figure_to_data_uri(roc_curve_figure(classes, values)), "ROC curve"))
        figures.append(image(figure_to_data_uri(pr_curve_figure(classes, values)), "precision-recall curve"))
    elif classes is not None:
        note = '<p class="note">The labels hold a single class, so no ROC or precision-recall curve is drawn.</p>'
    return f'<div class="figures">{"".join(figures)}</div>{note}'


def _top_rows(frame: pd.DataFrame, values: np.ndarray, classes: np.ndarray | None, order: np.ndarray) -> str:
    shown = list(frame.columns[:MAX_COLUMNS])
    header = ["row", "score"] + (["label"] if classes is not None else []) + shown
    subset = frame.iloc[order, :MAX_COLUMNS]
    rows = []
    for position, (index, *record) in zip(order, subset.itertuples(index=True, name=None), strict=True):
        label = [int(classes[position])] if classes is not None else []
        rows.append([_cell(index), float(values[position]), *label, *(_cell(value) for value in record)])
    body = table(header, rows)
    hidden = frame.shape[1] - len(shown)
    if hidden > 0:
        plural = "s" if hidden != 1 else ""
        body += f'<p class="note">{hidden} more column{plural} hidden (showing the first {MAX_COLUMNS}).</p>'
    return body


def _classification_report(report: Mapping[str, Any]) -> str:
    header = ["", "precision", "recall", "f1-score", "support"]
    rows = []
    for name, entry in report.items():
        if isinstance(entry, Mapping):
            rows.append([str(name), *(entry.get(key) for key in header[1:])])
        else:  # "accuracy" is a single number; sklearn prints it in the f1-score column
            rows.append([str(name), "", "", entry, ""])
    return table(header, rows)


def _why(
    explanation: pd.DataFrame,
    frame: pd.DataFrame,
    values: np.ndarray,
    flagged: np.ndarray,
    order: np.ndarray,
) -> str:
    try:
        contributions = explanation.astype(float)
    except (TypeError, ValueError) as error:
        raise DataError(f"explanation must hold numeric contributions: {error}") from error
    header = ["row", "score"]
    for rank in range(1, TOP_FEATURES_PER_ROW + 1):
        header += [f"feature {rank}", f"value {rank}", f"contribution {rank}"]
    rows = []
    for position in order:
        row = contributions.iloc[position].dropna().sort_values(ascending=False, kind="stable")
        cells: list[Any] = [_cell(frame.index[position]), float(values[position])]
        for feature, contribution in list(row.items())[:TOP_FEATURES_PER_ROW]:
            original = frame.iloc[position][feature] if feature in frame.columns else None
            if isinstance(original, pd.Series):  # duplicated column name: show the first
                original = original.iloc[0]
            cells += [str(feature), _cell(original), float(contribution)]
        cells += [""] * (len(header) - len(cells))
        rows.append(cells)
    body = (
        f'<p class="note">For each top row, the {TOP_FEATURES_PER_ROW} features with the largest contribution '
        "to its anomaly score, with the row's original value.</p>\n" + table(header, rows)
    )
    basis = (contributions[flagged] if flagged.any() else contributions.iloc[order]).dropna(how="all")
    described = "flagged rows" if flagged.any() else "top rows (no row is flagged)"
    if flagged.any() and len(basis) < int(flagged.sum()):
        described = f"highest-scoring of the {int(flagged.sum())} flagged rows"
    if not basis.dropna(how="all").empty:
        figure = feature_contributions_figure(basis)
        body += f'<p class="note">Mean contribution over the {len(basis)} {described}.</p>'
        body += image(figure_to_data_uri(figure), "feature contributions")
    return body


def _cell(value: Any) -> Any:
    """Keep numbers as numbers for formatting; turn everything else (timestamps, categories) into text."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return value
    return None if value is None else str(value)
