"""The jobs behind the command line: fit a detector on a table, score every row, and write scores, metrics, a report
and the model.

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

from metaad._io import OutputError, atomic_directory, atomic_write_text, check_target
from metaad.data.preprocessing import TabularPreprocessor
from metaad.data.bundled import is_bundled, load_dataset
from metaad.data.readers import Table, read_table
from metaad.detectors.registry import make_detector
from metaad._version import __version__
from metaad.evaluation.metrics import empty_metrics, evaluate
from metaad.evaluation.report import write_report
from metaad.exceptions import DataError, ParameterError
from metaad.persistence import load, save
from metaad.pipeline import AnomalyPipeline

#: The detector ``metaad detect`` uses when none is named: ``auto`` picks a configuration from the zoo with
#: the selector trained on the shipped knowledge base (leave-one-dataset-out AUROC 0.831 vs 0.798 for
#: Isolation Forest at its defaults, BENCHMARKS.md section 5).
DEFAULT_DETECTOR = "auto"


#: The file that marks a folder as written by ``metaad detect``: such a folder may be replaced by a later
#: run without ``--force``. It holds JSON: ``written_by``, ``metaad_version``, ``command`` and ``input``.
OUTPUT_MARKER = ".metaad-output"
#: What ``metaad detect`` writes: a folder holding only these (older versions wrote no marker) is its own.
OUTPUT_FILES = frozenset({"scores.csv", "metrics.json", "report.html", "model"})


def _refuse_foreign_folder(folder: Path) -> None:
    """Refuse to replace ``folder`` unless metaad wrote it (see :data:`OUTPUT_MARKER`)."""
    names = {p.name for p in folder.iterdir()}
    if OUTPUT_MARKER in names or ("metrics.json" in names and names <= OUTPUT_FILES):
        return
    shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
    raise OutputError(
        f"{folder} already exists and was not written by metaad (it holds {shown}); metaad replaces its "
        f"output folder as a whole, so choose a new --out folder, or add --force to replace {folder} and "
        f"everything in it"
    )


def _check_output_folder(target: Path, check: Any) -> None:
    path = check_target(target)
    if check is not None and path.is_dir() and any(path.iterdir()):
        check(path)


@dataclass
class DetectResult:
    """What :func:`detect` produced: where the outputs went and the headline numbers."""

    out_dir: Path
    metrics: dict[str, Any]
    scores: np.ndarray
    is_anomaly: np.ndarray
    files: dict[str, Path] = field(default_factory=dict)


def _split_known_anomalies(frame: pd.DataFrame, column: str | None, det: Any, source: str) -> tuple[pd.DataFrame, Any]:
    """The table without the known-anomalies column, and that column as 0/1 (empty cells: 0, unknown)."""
    if column is None:
        return frame, None
    if column not in frame.columns:
        raise DataError(f"{source}: no column {column!r} for the known anomalies; columns: {', '.join(map(str, frame.columns))}")
    if not getattr(det, "_uses_labels", False):
        raise ParameterError(f"{det.registry_name} does not learn from known anomalies; use auto, stacked, deep_sad or devnet "
                             "(or --label-col to evaluate with labels)")
    known = pd.to_numeric(frame[column], errors="coerce")
    bad = known.notna() & ~known.isin((0, 1))
    text = frame[column].notna() & known.isna()
    if bad.any() or text.any():
        row = int(np.flatnonzero((bad | text).to_numpy())[0])
        raise DataError(f"{source}: column {column!r} must hold 1 (known anomaly), 0 or nothing (unknown); "
                        f"row {row} holds {frame[column].iloc[row]!r}")
    return frame.drop(columns=[column]), known.fillna(0).astype(int).to_numpy()


def load_input(
    source: str, label_col: str | None = None, *, sep: str | None = None, encoding: str | None = None
) -> Table:
    """A bundled dataset by name (see ``metaad datasets``) or a file (CSV, Parquet, NPZ, ODDS .mat)."""
    if is_bundled(source) and not Path(source).exists():
        return load_dataset(source)
    return read_table(source, label_col=label_col, sep=sep, encoding=encoding)


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
    force: bool = False,
    drop_cols: tuple[str, ...] = (),
    id_col: str | None = None,
    known_anomalies_col: str | None = None,
) -> DetectResult:
    """Fit ``detector`` on ``table`` without labels, score every row and write the outputs.

    Writes into ``out_dir`` (default ``./metaad-out/<table.name>/``): ``scores.csv`` (row, score, is_anomaly
    and label when known), ``metrics.json``, ``report.html`` and ``model/`` (load with :func:`metaad.load`).
    Missing values are imputed with a warning (``missing="impute"``) or refused (``missing="error"``).
    ``drop_cols`` are never features; ``id_col`` is not a feature and is copied into ``scores.csv``.
    ``known_anomalies_col`` names a column marking rows known to be anomalies (1; 0 or empty = unknown): it is
    not a feature, and it is given to ``fit(X, y)`` of a detector that learns from a few labels (``auto``,
    ``devnet``), unlike the label column, which only evaluates.

    The output folder is replaced as a whole, atomically. An existing ``out_dir`` is replaced only if metaad
    wrote it (it holds the marker file ``.metaad-output``, or only the four outputs above) or is empty;
    ``force=True`` replaces any folder. A file, the current folder or a parent of it is always refused.

    Examples
    --------
    >>> import tempfile, metaad
    >>> from metaad.data import load_dataset
    >>> result = detect(load_dataset("wine"), detector="ecod", out_dir=tempfile.mkdtemp() + "/wine")
    >>> sorted(p.name for p in result.out_dir.iterdir())
    ['.metaad-output', 'metrics.json', 'model', 'report.html', 'scores.csv']
    """
    params = dict(params or {})
    det = build_detector(detector, contamination=contamination, seed=seed, threshold=threshold, params=params)
    frame, labels = table.frame, table.labels
    if len(frame) < 2:
        raise DataError(f"{table.source} has {len(frame)} row(s); at least 2 are needed to fit a detector")
    if id_col in ("row", "score", "is_anomaly", "label"):
        raise ParameterError(f"id column {id_col!r} would clash with a column of scores.csv; rename it")
    frame, known = _split_known_anomalies(frame, known_anomalies_col, det, table.source)
    target = Path(out_dir) if out_dir is not None else Path("metaad-out") / table.name
    check = None if force else _refuse_foreign_folder
    _check_output_folder(target, check)  # before fitting: a refused folder fails at once, not after training
    preprocessor = TabularPreprocessor(missing=missing, drop_columns=tuple(drop_cols), id_column=id_col)
    pipeline = AnomalyPipeline(det, preprocessor)
    start = time.perf_counter()
    pipeline.fit(frame, known)
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
    with atomic_directory(target, check=check) as tmp:
        scores_frame = pd.DataFrame({"row": np.arange(len(frame)), "score": scores, "is_anomaly": is_anomaly})
        if id_col is not None:
            scores_frame.insert(1, id_col, frame[id_col].to_numpy())
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
            selected=summary.get("selected"),
        )
        save(pipeline, tmp / "model")
        marker = {"written_by": "metaad", "metaad_version": __version__, "command": "detect", "input": table.source}
        (tmp / OUTPUT_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    files = {name: target / name for name in ("scores.csv", "metrics.json", "report.html", "model")}
    return DetectResult(out_dir=target, metrics=summary, scores=scores, is_anomaly=is_anomaly, files=files)


#: Detectors whose training scores exclude each row from its own neighbourhood, so re-scoring the training
#: table as new data gives lower scores (each row is then its own nearest neighbour).
IN_SAMPLE_DETECTORS = ("knn", "lof")
IN_SAMPLE_NOTE = (
    "note: {name} scores a row by its distance to the training rows; `metaad detect` scored each training row "
    "without itself, while scoring treats every row as new, so a row that was in the training table is its own "
    "nearest neighbour and scores lower here (fewer rows flagged) than in detect's scores.csv"
)


def in_sample_note(model: Any) -> str | None:
    """:data:`IN_SAMPLE_NOTE` for a pipeline whose detector (or ``auto``'s choice) is neighbour-based, else None."""
    detector = model.detector_
    members = getattr(detector, "ensemble_", None) and [m.split("-")[0] for m in detector.ensemble_]
    family = next((f for f in members or [detector.registry_name] if f in IN_SAMPLE_DETECTORS), None)
    return IN_SAMPLE_NOTE.format(name=family) if family else None


def score_with_model(model_dir: str | Path, table: Table, out_file: str | Path) -> pd.DataFrame:
    """Score ``table`` with a saved pipeline and write ``row, score, is_anomaly`` (and ``label``) atomically.

    The model's id column, when the table has it, is copied after ``row``. For neighbour-based detectors
    (:data:`IN_SAMPLE_DETECTORS`, or ``auto`` having chosen one) the returned frame's ``attrs["note"]``
    explains why training rows score lower here than in ``metaad detect``'s output.
    """
    model = load(model_dir)
    if not isinstance(model, AnomalyPipeline):
        raise ParameterError(f"{model_dir} holds a bare detector; `metaad score` needs a model saved by `metaad detect`")
    scores = model.decision_function(table.frame)
    frame = pd.DataFrame({"row": np.arange(len(scores)), "score": scores, "is_anomaly": (scores > model.threshold_).astype(int)})
    id_col = getattr(model.preprocessor_, "id_column", None)
    if id_col is not None and id_col in table.frame.columns:
        frame.insert(1, id_col, table.frame[id_col].to_numpy())
    note = in_sample_note(model)
    if note:
        frame.attrs["note"] = note
    if table.labels is not None:
        frame["label"] = table.labels
    atomic_write_text(out_file, frame.to_csv(index=False))
    return frame
