"""The main job: fit a detector on a table, score every row, and write scores, metrics, a report and the model.

:func:`detect` is what ``metaad detect`` runs; :func:`score_with_model` is what ``metaad score`` runs.
Outputs are written into a temporary folder next to the destination and moved into place only when
complete, so an interrupted run never leaves a half-written output directory.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad._io import atomic_directory, atomic_write_text
from metaad.data.preprocessing import TabularPreprocessor
from metaad.data.bundled import is_bundled, load_dataset
from metaad.data.readers import Table, read_table
from metaad.detectors.registry import make_detector
from metaad.evaluation.metrics import empty_metrics, evaluate
from metaad.evaluation.report import write_report
from metaad.exceptions import DataError, ParameterError
from metaad.persistence import load, save
from metaad.pipeline import AnomalyPipeline

#: The detector ``metaad detect`` uses when none is named: ``auto`` picks a configuration from the zoo with
#: the selector trained on the shipped knowledge base (leave-one-dataset-out AUROC 0.831 vs 0.798 for
#: Isolation Forest at its defaults, BENCHMARKS.md section 5).
DEFAULT_DETECTOR = "auto"


@dataclass
class DetectResult:
    """What :func:`detect` produced: where the outputs went and the headline numbers."""

    out_dir: Path
    metrics: dict[str, Any]
    scores: np.ndarray
    is_anomaly: np.ndarray
    files: dict[str, Path] = field(default_factory=dict)


def load_input(source: str, label_col: str | None = None) -> Table:
    """A bundled dataset by name (see ``metaad datasets``) or a file (CSV, Parquet, NPZ, ODDS .mat)."""
    if is_bundled(source) and not Path(source).exists():
        return load_dataset(source)
    return read_table(source, label_col=label_col)


def build_detector(name: str, *, contamination: float | None, seed: int | None, threshold: Any, params: dict[str, Any]):
    """Build ``name`` through the registry, passing the common options only where the detector takes them."""
    from metaad.detectors.registry import get_detector_info

    accepted = get_detector_info(name).parameters
    options = dict(params)
    for key, value in (("contamination", contamination), ("random_state", seed), ("threshold", threshold)):
        if value is not None and key in accepted and key not in options:
            options[key] = value
    return make_detector(name, **options)


def detect(
    table: Table,
    *,
    detector: str = DEFAULT_DETECTOR,
    contamination: float | None = None,
    seed: int | None = 0,
    threshold: str | float | None = None,
    params: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    missing: str = "impute",
) -> DetectResult:
    """Fit ``detector`` on ``table`` without labels, score every row and write the outputs.

    Writes into ``out_dir`` (default ``./metaad-out/<table.name>/``): ``scores.csv`` (row, score, is_anomaly
    and label when known), ``metrics.json``, ``report.html`` and ``model/`` (load with :func:`metaad.load`).
    Missing values are imputed with a warning (``missing="impute"``) or refused (``missing="error"``).

    Examples
    --------
    >>> import tempfile, metaad
    >>> from metaad.data import load_dataset
    >>> result = detect(load_dataset("wine"), detector="ecod", out_dir=tempfile.mkdtemp() + "/wine")
    >>> sorted(p.name for p in result.out_dir.iterdir())
    ['metrics.json', 'model', 'report.html', 'scores.csv']
    """
    params = dict(params or {})
    det = build_detector(detector, contamination=contamination, seed=seed, threshold=threshold, params=params)
    frame, labels = table.frame, table.labels
    if len(frame) < 2:
        raise DataError(f"{table.source} has {len(frame)} row(s); at least 2 are needed to fit a detector")
    pipeline = AnomalyPipeline(det, TabularPreprocessor(missing=missing))
    start = time.perf_counter()
    pipeline.fit(frame)
    fit_seconds = time.perf_counter() - start
    # The table is the training data: its scores are the training scores, the ones ``threshold_`` was
    # computed from. Re-scoring it as new data differs for neighbour-based detectors (a row is then its own
    # nearest neighbour: knn flagged 7.8% instead of 10% of shuttle), so that pass only times scoring.
    start = time.perf_counter()
    pipeline.decision_function(frame)
    score_seconds = time.perf_counter() - start
    scores = pipeline.decision_scores_
    threshold_value = pipeline.threshold_
    is_anomaly = (scores > threshold_value).astype(int)

    if labels is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            metrics = evaluate(labels, scores, threshold_value)
    else:
        metrics = empty_metrics()
    summary = {
        "auroc": metrics["auroc"],
        "average_precision": metrics["average_precision"],
        "f1": metrics["f1"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "precision_at_n": metrics["precision_at_n"],
        "threshold": float(threshold_value),
        "n_rows": int(len(frame)),
        "n_anomalies_flagged": int(is_anomaly.sum()),
        "n_true_anomalies": None if labels is None else int(np.sum(labels)),
        "detector": det.registry_name,
        "params": json.loads(json.dumps(det.get_params(deep=False), default=str)),
        "fit_seconds": round(fit_seconds, 4),
        "score_seconds": round(score_seconds, 4),
        "input": table.source,
        "classification_report": metrics.get("classification_report"),
    }

    explanation = lambda rows: pipeline.explain(frame.iloc[rows])  # noqa: E731 - asked only about the rows shown
    sections = []
    if hasattr(pipeline.detector_, "explanation_html"):
        sections.append(("Why this detector", pipeline.detector_.explanation_html()))
        summary["selected"] = pipeline.detector_.selected_
    target = Path(out_dir) if out_dir is not None else Path("metaad-out") / table.name
    with atomic_directory(target) as tmp:
        scores_frame = pd.DataFrame({"row": np.arange(len(frame)), "score": scores, "is_anomaly": is_anomaly})
        if labels is not None:
            scores_frame["label"] = labels
        scores_frame.to_csv(tmp / "scores.csv", index=False)
        (tmp / "metrics.json").write_text(json.dumps(summary, indent=2))
        write_report(
            tmp / "report.html",
            scores=scores,
            threshold=threshold_value,
            frame=frame,
            labels=labels,
            metrics=metrics if labels is not None else None,
            title=f"metaad: {table.name}",
            detector_name=det.registry_name,
            params=summary["params"],
            explanation=explanation,
            sections=sections,
        )
        save(pipeline, tmp / "model")
    files = {name: target / name for name in ("scores.csv", "metrics.json", "report.html", "model")}
    return DetectResult(out_dir=target, metrics=summary, scores=scores, is_anomaly=is_anomaly, files=files)


def score_with_model(model_dir: str | Path, table: Table, out_file: str | Path) -> pd.DataFrame:
    """Score ``table`` with a saved pipeline and write ``row, score, is_anomaly`` (and ``label``) atomically."""
    model = load(model_dir)
    if not isinstance(model, AnomalyPipeline):
        raise ParameterError(f"{model_dir} holds a bare detector; `metaad score` needs a model saved by `metaad detect`")
    scores = model.decision_function(table.frame)
    frame = pd.DataFrame({"row": np.arange(len(scores)), "score": scores, "is_anomaly": (scores > model.threshold_).astype(int)})
    if table.labels is not None:
        frame["label"] = table.labels
    atomic_write_text(out_file, frame.to_csv(index=False))
    return frame
