"""One loaded model version as the service sees it: the pipeline, its request validators and its description.

A :class:`ServedModel` is immutable once built. The service holds a reference to the current one and a
request takes that reference once, at its start, so a hot reload (which swaps the reference) never changes
the model under a request already running: in-flight requests finish on the version they started with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, PlainValidator, TypeAdapter, ValidationError, WithJsonSchema, create_model

from metaad._version import __version__
from metaad.data.readers import plain
from metaad.data.schema import ColumnSpec, Schema
from metaad.exceptions import ModelFileError
from metaad.persistence import load
from metaad.pipeline import AnomalyPipeline
from metaad.serving.fastpath import FAST_ROWS, FOREST_ROWS, ForestScorer, NumericRows, quiet


class RequestError(Exception):
    """A request the model cannot score: its ``errors`` name each field (location, message, type)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors))
        self.errors = errors


def _check_number(value: Any) -> Any:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise ValueError(f"expected a number or null (numeric column), got {type(value).__name__} {value!r:.40}")


def _check_flag(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    raise ValueError(f"expected true, false, a number or null (boolean column), got {type(value).__name__} {value!r:.40}")


def _check_category(value: Any) -> Any:
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    raise ValueError(f"expected text or null (categorical column), got {type(value).__name__} {value!r:.40}")


_NUMBER = Annotated[Any, PlainValidator(_check_number), WithJsonSchema({"type": ["number", "null"]})]
_FLAG = Annotated[Any, PlainValidator(_check_flag), WithJsonSchema({"type": ["boolean", "number", "null"]})]


def _value_type(spec: ColumnSpec) -> Any:
    """The JSON types one cell of ``spec`` accepts; ``null`` (a missing value) is always accepted.

    Numbers for numeric columns (``true``/``false`` too when the column was boolean at fit); text (or a
    number, compared as text) for categorical ones. A string in a numeric column is refused: over JSON a
    number has its own type, so a string there is a mistyped field.
    """
    if spec.kind == "numeric":
        return _FLAG if spec.dtype in ("bool", "boolean") else _NUMBER
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if spec.categories:
        schema["examples"] = spec.categories[:5]
    return Annotated[Any, PlainValidator(_check_category), WithJsonSchema(schema)]


def _file_hash(folder: Path) -> str:
    """A short content hash of every file of a model directory: the model's version as the service reports it."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class ScoreResult:
    """Scores of one request: ``scores`` (NaN where a row could not be scored), flags, optional contributions."""

    scores: np.ndarray
    is_anomaly: np.ndarray
    contributions: pd.DataFrame | None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A fitted :class:`~metaad.pipeline.AnomalyPipeline` loaded from ``model_dir``, ready to serve.

    Build it with :meth:`load`. ``version`` is a content hash of the model directory, so two loads of the
    same files report the same version and any change to the files a new one.

    Examples
    --------
    >>> import tempfile, pandas as pd, metaad
    >>> df = pd.DataFrame({"amount": [1.0, 2.0, 1.5, 50.0] * 10, "country": ["fr", "de", "fr", "xx"] * 10})
    >>> folder = metaad.save(metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df), tempfile.mkdtemp() + "/m")
    >>> model = ServedModel.load(folder)
    >>> frame = model.rows_to_frame([{"amount": 1.0, "country": "fr"}, {"amount": 99.0, "country": "zz"}])
    >>> model.score(frame).is_anomaly.tolist()
    [False, True]
    >>> model.rows_to_frame([{"amount": "many", "country": "fr"}])
    Traceback (most recent call last):
    ...
    metaad.serving.model.RequestError: rows.0.amount: Value error, expected a number or null (numeric column), got str 'many'
    """

    pipeline: AnomalyPipeline
    model_dir: Path
    version: str
    loaded_at: str
    saved_at: str
    manifest: dict[str, Any]
    schema: Schema
    _rows_adapter: TypeAdapter = field(repr=False)
    _columns_adapter: TypeAdapter = field(repr=False)
    _fast_rows: NumericRows | None = field(default=None, repr=False)
    _forest: ForestScorer | None = field(default=None, repr=False)

    @classmethod
    def load(cls, model_dir: str | Path) -> ServedModel:
        """Load a pipeline saved by ``metaad detect`` (its ``model/`` folder) and build its validators.

        Raises
        ------
        ModelFileError
            When the folder is not a model, or holds a bare detector (no schema to validate requests with).
        """
        folder = Path(model_dir)
        pipeline = load(folder)
        if not isinstance(pipeline, AnomalyPipeline):
            raise ModelFileError(
                f"{folder} holds a bare detector; `metaad serve` needs a model saved by `metaad detect` "
                "(its model/ folder), which carries the input schema"
            )
        manifest = json.loads((folder / "manifest.json").read_text())
        saved = dt.datetime.fromtimestamp((folder / "manifest.json").stat().st_mtime, tz=dt.timezone.utc)
        schema = pipeline.schema_
        fields = {f"c{i}": (_value_type(spec), Field(alias=spec.name)) for i, spec in enumerate(schema.columns)}
        config = ConfigDict(extra="forbid")
        row_model = create_model("Row", __config__=config, **fields)
        column_fields = {
            f"c{i}": (list[_value_type(spec)], Field(alias=spec.name)) for i, spec in enumerate(schema.columns)
        }
        columns_model = create_model("Columns", __config__=config, **column_fields)
        return cls(
            pipeline=pipeline,
            model_dir=folder,
            version=_file_hash(folder),
            loaded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            saved_at=saved.isoformat(timespec="seconds"),
            manifest=manifest,
            schema=schema,
            _rows_adapter=TypeAdapter(list[row_model]),
            _columns_adapter=TypeAdapter(columns_model),
            _fast_rows=NumericRows.build(pipeline.preprocessor_),
            _forest=ForestScorer.build(pipeline.detector_),
        )

    # ------------------------------------------------------------------------------------------ requests
    def _errors(self, exc: ValidationError, prefix: str) -> RequestError:
        errors = [
            {"loc": [prefix, *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        return RequestError(errors)

    def rows_to_frame(self, rows: list[Any]) -> pd.DataFrame:
        """Validate records (one JSON object per row) against the schema; return them as a frame.

        Raises
        ------
        RequestError
            Naming each missing, extra or mistyped field with its row.
        """
        try:
            self._rows_adapter.validate_python(rows)
        except ValidationError as exc:
            raise self._errors(exc, "rows") from None
        names = self.schema.names
        return pd.DataFrame({name: [row[name] for row in rows] for name in names}, columns=names)

    def columns_to_frame(self, columns: Any) -> pd.DataFrame:
        """Validate columns (one JSON list per column, all of one length); return them as a frame.

        Raises
        ------
        RequestError
            Naming the missing, extra or mistyped field, or the column whose length differs.
        """
        try:
            self._columns_adapter.validate_python(columns)
        except ValidationError as exc:
            raise self._errors(exc, "columns") from None
        names = self.schema.names
        lengths = {name: len(columns[name]) for name in names}
        if len(set(lengths.values())) > 1:
            first = names[0]
            odd = next(name for name in names if lengths[name] != lengths[first])
            raise RequestError([{
                "loc": ["columns", odd],
                "msg": f"has {lengths[odd]} values but {first!r} has {lengths[first]}; every column needs one value per row",
                "type": "length_mismatch",
            }])
        return pd.DataFrame({name: columns[name] for name in names}, columns=names)

    # ------------------------------------------------------------------------------------------ scoring
    def score(self, frame: pd.DataFrame, *, explain: bool = False) -> ScoreResult:
        """Score a validated frame; missing values are imputed as at fit and reported in ``warnings``.

        A row whose score is not finite gets NaN and ``is_anomaly`` True: it is further from the training
        data than any number can say.

        Raises
        ------
        RequestError
            When a value is too large for the model's float32 arithmetic once scaled (naming row and column).
        """
        from metaad.data.preprocessing import ValueRangeError

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(all="ignore"):
                try:
                    matrix = self.pipeline.transform(frame)
                except ValueRangeError as exc:
                    raise RequestError([{"loc": ["rows", exc.row, exc.column],
                                         "msg": f"value {plain(frame[exc.column].loc[exc.row])!r} is out of range: "
                                                "it overflows float32 once scaled as at fit",
                                         "type": "value_out_of_range"}]) from None
                self._check_finite(frame, matrix)
                scores = self.detector_scores(matrix)
                contributions = self.pipeline.explain(frame) if explain else None
        return self._result(scores, contributions, sorted({str(w.message) for w in caught}))

    def detector_scores(self, matrix: np.ndarray) -> np.ndarray:
        """The detector's scores of a preprocessed matrix: the one detector call of every scoring path here.

        An Isolation Forest of at most :data:`~metaad.serving.fastpath.FOREST_ROWS` rows is walked by
        :class:`~metaad.serving.fastpath.ForestScorer` (the same scores, without PyOD's fixed cost per call).
        """
        if self._forest is not None and len(matrix) <= FOREST_ROWS:
            return self._forest(matrix)
        return np.asarray(self.pipeline.detector_.decision_function(matrix), dtype=np.float64)

    def _result(self, scores: np.ndarray, contributions: pd.DataFrame | None, messages: list[str]) -> ScoreResult:
        finite = np.isfinite(scores)
        is_anomaly = np.where(finite, scores > self.pipeline.threshold_, True)
        return ScoreResult(np.where(finite, scores, np.nan), is_anomaly, contributions, messages)

    def score_rows_fast(self, rows: list[Any]) -> ScoreResult | None:
        """Score up to :data:`~metaad.serving.fastpath.FAST_ROWS` plain records of an all-numeric model
        without pandas; None when the records need the general path (:meth:`rows_to_frame` then :meth:`score`),
        which validates, imputes and words every error. The results are the general path's.

        Examples
        --------
        >>> import tempfile, numpy as np, pandas as pd, metaad
        >>> df = pd.DataFrame(np.random.RandomState(0).normal(size=(200, 2)), columns=["a", "b"])
        >>> model = ServedModel.load(metaad.save(metaad.AnomalyPipeline(metaad.make_detector("iforest", random_state=0)).fit(df),
        ...                                      tempfile.mkdtemp() + "/m"))
        >>> model.score_rows_fast([{"a": 0.1, "b": 0.0}, {"a": 8.0, "b": -8}]).is_anomaly.tolist()
        [False, True]
        >>> model.score_rows_fast([{"a": 1.0}]) is None  # 'b' missing: the general path says so
        True
        """
        matrix = self.fast_matrix(rows)
        return self.score_matrix(matrix) if matrix is not None else None

    def fast_matrix(self, rows: list[Any]) -> np.ndarray | None:
        """The preprocessed matrix of up to :data:`~metaad.serving.fastpath.FAST_ROWS` plain records of an
        all-numeric model, built without pandas; None when the records need the general path."""
        if self._fast_rows is None or not 0 < len(rows) <= FAST_ROWS:
            return None
        return self._fast_rows.matrix(rows)

    def score_matrix(self, matrix: np.ndarray) -> ScoreResult:
        """Score a matrix from :meth:`fast_matrix` (finite, in range: nothing to impute or refuse)."""
        scores, messages = quiet(lambda: self.detector_scores(matrix))
        return self._result(scores, None, messages)

    @property
    def threshold_(self) -> float:
        """The model's threshold: a score above it is an anomaly."""
        return float(self.pipeline.threshold_)

    def decision_function(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores of a validated frame (NaN where not finite), for :func:`metaad.serving.batch.score_frames`."""
        return self.score(frame).scores

    def _check_finite(self, frame: pd.DataFrame, matrix: np.ndarray) -> None:
        """Refuse values that overflow float32 once scaled (missing and infinite inputs were imputed)."""
        bad = ~np.isfinite(matrix)
        if not bad.any():
            return
        row, position = (int(i) for i in np.argwhere(bad)[0])
        output = self.pipeline.preprocessor_.feature_names_out_[position]
        name = next(n for n in self.schema.names if output == n or output.startswith(f"{n}="))
        raise RequestError([{
            "loc": ["rows", plain(frame.index[row]), name],
            "msg": f"value {plain(frame[name].iloc[row])!r} is out of range: it overflows float32 once scaled as at fit",
            "type": "value_out_of_range",
        }])

    def result_rows(self, result: ScoreResult) -> list[dict[str, Any]]:
        """The per-row JSON objects of a response: ``score`` (null when not finite), ``is_anomaly`` and
        ``contributions`` (per input column) when they were asked for."""
        out = [
            {"score": _finite_or_none(score), "is_anomaly": bool(flag)}
            for score, flag in zip(result.scores.tolist(), result.is_anomaly.tolist(), strict=True)
        ]
        if result.contributions is not None:
            for row, values in zip(out, result.contributions.to_numpy(dtype=np.float64).tolist(), strict=True):
                row["contributions"] = {
                    name: _finite_or_none(value) for name, value in zip(result.contributions.columns, values, strict=True)
                }
        return out

    @property
    def explains(self) -> bool:
        """Whether ``?explain=true`` gives per-feature contributions: always, since every detector has them
        (its own ``explain``, else the model-agnostic score drop of :mod:`metaad.evaluation.explain`)."""
        return True

    def describe(self) -> dict[str, Any]:
        """What ``GET /model`` answers: detector, parameters, schema, threshold, versions, dates, explanation."""
        detector = self.pipeline.detector_
        params = json.loads(json.dumps(detector.get_params(deep=False), default=str))
        info: dict[str, Any] = {
            "model_dir": str(self.model_dir),
            "version": self.version,
            "detector": detector.registry_name,
            "params": params,
            "threshold": _finite_or_none(self.pipeline.threshold_),
            "schema": self.schema.to_dict(),
            "explains": self.explains,
            "metaad_version_saved": self.manifest.get("metaad_version"),
            "metaad_version_serving": __version__,
            "saved_at": self.saved_at,
            "loaded_at": self.loaded_at,
        }
        if hasattr(detector, "selected_") and hasattr(detector, "explanation_"):
            info["auto"] = json.loads(json.dumps(
                {"selected": detector.selected_, "explanation": detector.explanation_}, default=str
            ))
        return info

    def row_json_schema(self) -> dict[str, Any]:
        """JSON schema of one record, for the OpenAPI document of the running service."""
        return self._rows_adapter.json_schema()
