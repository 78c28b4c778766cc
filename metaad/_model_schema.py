"""The schema of a saved model folder, checked whole before :mod:`metaad.persistence` builds anything from it.

Every JSON document is validated by a pydantic model (strict types, finite numbers, no unknown fields), every
parameter by the detector's ``_parameter_constraints`` (:mod:`metaad._constraints`) plus the bounds of
:data:`LOAD_LIMITS`, and every array of ``detector.safetensors`` by name, dtype, shape and finiteness against what the documents say: a network's
weights must have exactly the shapes of the architecture (built on torch's ``meta`` device, which allocates
nothing), and every size the documents give is bounded by the arrays actually stored. Each problem is one
:class:`~metaad.exceptions.ModelFileError` naming the file and the field (or the array).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from metaad.exceptions import MetaADError, ModelFileError

FORMAT = "metaad-model"
FORMAT_VERSION = 1

#: Most torch threads a saved model may ask for.
MAX_THREADS = 256
#: Bounds on parameters that set how much work loading does: a classical model is refit from its training data
#: when loaded, so ``"n_estimators": 100000000`` would make loading run for hours. The bounds are far above the
#: defaults (100 trees, 100 cuts, 10 bins) and above anything the zoo uses.
LOAD_LIMITS: dict[str, int] = {
    "n_estimators": 10_000, "n_random_cuts": 10_000, "n_bins": 10_000, "n_threads": MAX_THREADS, "ensemble_size": 100,
}

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
AnyFloat = Annotated[float, Field(strict=True)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]


class _Document(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Manifest(_Document):
    """``manifest.json``."""

    model_config = ConfigDict(strict=True, extra="ignore")
    format: Literal["metaad-model"]
    format_version: Annotated[int, Field(strict=True, ge=1, le=FORMAT_VERSION)]
    metaad_version: str
    kind: Literal["detector", "pipeline"]
    detector: str


class DetectorDocument(_Document):
    """``detector.json`` (and each member of an ``auto`` model)."""

    detector: str
    params: dict[str, JsonValue]
    fitted: dict[str, JsonValue]


class ClassicalFitted(_Document):
    state: Literal["refit-from-training-data"]
    threshold: FiniteFloat
    #: The seed a randomized detector (iforest, loda) was fitted with when its ``random_state`` was None.
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] | None = None


class Architecture(_Document):
    hidden_sizes: list[PositiveInt]
    latent_size: PositiveInt
    activation: str
    dropout: Annotated[float, Field(strict=True, ge=0.0, lt=1.0)]


class History(_Document):
    train_loss: list[AnyFloat]
    val_loss: list[AnyFloat]
    best_epoch: Annotated[int, Field(strict=True, ge=-1)]
    stopped_early: bool
    stopped_by_max_steps: bool = False  # absent in models saved before it was recorded
    seconds: AnyFloat
    n_steps: Annotated[int, Field(strict=True, ge=0)] = 0


class DeepFitted(_Document):
    architecture: Architecture
    feature_shape: Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]
    threshold: FiniteFloat
    history: History
    n_threads: Annotated[int, Field(strict=True, ge=1, le=MAX_THREADS)] | None = None


class AutoFitted(_Document):
    members: Annotated[list[dict[str, JsonValue]], Field(min_length=1, max_length=LOAD_LIMITS["ensemble_size"])]
    selected: dict[str, JsonValue]
    candidates: list[dict[str, JsonValue]]
    explanation: dict[str, JsonValue]
    ensemble: Annotated[list[str], Field(min_length=1)]
    threshold: FiniteFloat
    n_features_in: PositiveInt
    feature_shape: Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]


class NumericStat(_Document):
    name: str
    kind: Literal["numeric"]
    fill: FiniteFloat
    center: FiniteFloat
    scale: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0)]


class CategoricalStat(_Document):
    name: str
    kind: Literal["categorical"]
    fill: str
    categories: Annotated[list[str], Field(min_length=1)]
    other: bool


class DatetimeStat(_Document):
    name: str
    kind: Literal["datetime"]
    fill: FiniteFloat
    parts: list[Literal["hour", "weekday", "yearday"]]


class IgnoredStat(_Document):
    name: str
    kind: Literal["ignored"]


class ColumnDocument(_Document):
    name: str
    kind: Literal["numeric", "categorical", "datetime", "ignored"]
    dtype: str
    categories: list[str] | None
    reason: str | None = None


class SchemaDocument(_Document):
    columns: Annotated[list[ColumnDocument], Field(min_length=1)]


class PreprocessorParams(_Document):
    scaling: Literal["standard", "minmax", "robust", "none"]
    categorical: Literal["onehot", "ordinal"]
    missing: Literal["impute", "error"]
    max_categories: PositiveInt
    drop_columns: list[str] | None = None
    id_column: str | None = None


class PreprocessorState(_Document):
    """``preprocessor.json``: a fitted :class:`~metaad.data.TabularPreprocessor` (``to_dict``)."""

    format: Literal["metaad.TabularPreprocessor"]
    state_version: Annotated[int, Field(strict=True, ge=1)]
    metaad_version: str
    params: PreprocessorParams
    fitted: Literal[True]
    schema_: SchemaDocument = Field(alias="schema")
    column_stats: list[Annotated[Union[NumericStat, CategoricalStat, DatetimeStat, IgnoredStat], Field(discriminator="kind")]]


class PipelineMeta(_Document):
    """``pipeline.json``."""

    feature_names_in: list[str]


# ----------------------------------------------------------------------------------------------- errors
def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validate(model: type[BaseModel], data: Any, where: str, prefix: str = "") -> BaseModel:
    """``model`` validated from ``data``, or one :class:`ModelFileError` naming ``where`` and the field.

    Examples
    --------
    >>> validate(ClassicalFitted, {"state": "refit-from-training-data", "threshold": "abc"}, "detector.json", "fitted")
    Traceback (most recent call last):
    ...
    metaad.exceptions.ModelFileError: detector.json: field 'fitted.threshold': Input should be a valid number (got 'abc')
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        loc = _location(tuple(p for p in (prefix, *first["loc"]) if p != ""))
        got = repr(first.get("input"))
        got = "" if first["type"] == "missing" else f" (got {got if len(got) <= 60 else got[:57] + '...'})"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        field = f"field '{loc}'" if loc else "the document"
        raise ModelFileError(f"{where}: {field}: {first['msg']}{got}{more}") from None


def _array_problem(where: str, key: str, problem: str) -> ModelFileError:
    return ModelFileError(f"{where}: array '{key}' {problem}")


def check_finite(arrays: dict[str, np.ndarray], where: str, prefix: str = "") -> None:
    """Refuse arrays of an unexpected dtype and float arrays holding NaN or infinity."""
    for key, value in arrays.items():
        if value.dtype.kind not in "fiub":
            raise _array_problem(where, prefix + key, f"has dtype {value.dtype}; a model stores numbers only")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            index = np.unravel_index(int(np.argmin(np.isfinite(value))), value.shape)
            raise _array_problem(where, prefix + key, f"holds a non-finite value ({value[index]}) at index "
                                 f"{tuple(int(i) for i in index)}: the saved state is corrupt")


def _need(arrays: dict[str, np.ndarray], key: str, ndim: int, where: str, prefix: str, dtype: str = "float64") -> np.ndarray:
    if key not in arrays:
        raise _array_problem(where, prefix + key, "is missing: the model is incomplete")
    value = arrays[key]
    if value.ndim != ndim or value.size == 0 or value.dtype != np.dtype(dtype):
        raise _array_problem(where, prefix + key, f"has shape {value.shape} and dtype {value.dtype}; expected a "
                             f"non-empty {ndim}-D {dtype} array")
    return value


def _refuse_extra(arrays: dict[str, np.ndarray], expected: set[str], where: str, prefix: str) -> None:
    extra = sorted(set(arrays) - expected)
    if extra:
        raise _array_problem(where, prefix + extra[0], "is not part of this detector's saved state")


# ----------------------------------------------------------------------------------------------- detectors
@dataclass
class DetectorPlan:
    """A detector checked against its saved state and ready to be built: constructed, not yet fitted."""

    detector: Any
    arrays: dict[str, np.ndarray]
    fitted: dict[str, Any]
    n_features: int
    where: str


@dataclass(frozen=True)
class _Where:
    json: str  # the JSON file, and the location inside it, e.g. ".../detector.json" or "...: fitted.members[0]"
    loc: str  # prefix of field names inside the JSON file ("" or "fitted.members[0]")
    arrays: str  # the safetensors file
    key: str  # prefix of array names ("" or "member0.")

    def field(self, name: str) -> str:
        return f"{self.loc}.{name}" if self.loc else name


def renamed_params(cls: type, params: dict[str, Any], where: str = "", loc: str = "params") -> dict[str, Any]:
    """Saved ``params`` of a detector class with each old name of its ``_renamed_params`` replaced by the new one,
    so that a model file written before a parameter was renamed still loads.

    Examples
    --------
    >>> from metaad.detectors.vae import VAEDetector
    >>> renamed_params(VAEDetector, {"score": "reconstruction", "beta": 1.0})
    {'score_type': 'reconstruction', 'beta': 1.0}
    """
    renames = getattr(cls, "_renamed_params", {})
    detector = getattr(cls, "_registry_name", cls.__name__)
    for old, new in renames.items():
        if old in params and new in params:
            raise ModelFileError(f"{where}: field '{loc}.{old}': {detector} holds both {old!r} and {new!r}, the old and "
                                 "the new name of one parameter")
    return {renames.get(name, name): value for name, value in params.items()}


def _check_params(document: DetectorDocument, where: _Where) -> Any:
    from metaad.detectors.registry import get_detector_info
    from metaad._params_json import _params_from_file

    try:
        info = get_detector_info(document.detector)
    except MetaADError as exc:
        raise ModelFileError(f"{where.json}: field '{where.field('detector')}': {exc}") from None
    accepted = info.parameters
    document.params = renamed_params(info.cls, document.params, where.json, where.field("params"))
    for name, value in document.params.items():
        if name not in accepted:
            raise ModelFileError(f"{where.json}: field '{where.field('params.' + name)}': {info.name} has no parameter "
                                 f"{name!r}; its parameters are: {', '.join(sorted(accepted))}")
        limit = LOAD_LIMITS.get(name)
        if limit is not None and isinstance(value, int) and not isinstance(value, bool) and value > limit:
            raise ModelFileError(f"{where.json}: field '{where.field('params.' + name)}': {value} is above {limit}, "
                                 "the most a saved model may use")
    detector = info.cls(**_params_from_file(document.params))
    try:
        detector._validate_params()
    except MetaADError as exc:
        raise ModelFileError(f"{where.json}: field '{where.field('params')}': {exc}") from None
    except Exception as exc:  # a check meeting a value of the wrong type (a string compared with a number)
        raise ModelFileError(f"{where.json}: field '{where.field('params')}' holds a value of the wrong type "
                             f"({type(exc).__name__}: {exc})") from None
    return detector


def _check_classical(detector: Any, fitted: dict[str, Any], arrays: dict[str, np.ndarray], where: _Where) -> int:
    validate(ClassicalFitted, fitted, where.json, where.field("fitted"))
    X = _need(arrays, "X_train", 2, where.arrays, where.key)
    scores = _need(arrays, "decision_scores", 1, where.arrays, where.key)
    _refuse_extra(arrays, {"X_train", "decision_scores"}, where.arrays, where.key)
    if X.shape[0] < 2 or scores.shape[0] != X.shape[0]:
        raise _array_problem(where.arrays, where.key + "decision_scores", f"holds {scores.shape[0]} scores for "
                             f"{X.shape[0]} training rows (X_train); expected one per row and at least 2 rows")
    neighbours = getattr(detector, "n_neighbors", None)
    if isinstance(neighbours, int) and neighbours >= X.shape[0]:
        raise ModelFileError(f"{where.json}: field '{where.field('params.n_neighbors')}': {neighbours} needs more "
                             f"training rows than the {X.shape[0]} stored")
    return int(X.shape[1])


def _check_stacked(fitted: dict[str, Any], arrays: dict[str, np.ndarray], where: _Where) -> int:
    validate(ClassicalFitted, fitted, where.json, where.field("fitted"))
    X = _need(arrays, "X_train", 2, where.arrays, where.key)
    y = _need(arrays, "y_train", 1, where.arrays, where.key, "int64")
    scores = _need(arrays, "decision_scores", 1, where.arrays, where.key)
    _refuse_extra(arrays, {"X_train", "y_train", "decision_scores"}, where.arrays, where.key)
    if not (y.shape[0] == scores.shape[0] == X.shape[0]) or not np.isin(y, (0, 1)).all() or not 0 < y.sum() < len(y):
        raise _array_problem(where.arrays, where.key + "y_train", f"must hold one 0/1 label per training row "
                             f"({X.shape[0]}), with both a 1 and a 0, and one score per row")
    return int(X.shape[1])


def _check_deep(detector: Any, fitted: dict[str, Any], arrays: dict[str, np.ndarray], where: _Where) -> int:
    import torch

    from metaad.detectors.deep import BaseDeepDetector
    from metaad.detectors.networks import ACTIVATIONS

    meta = validate(DeepFitted, fitted, where.json, where.field("fitted"))
    arch = meta.architecture
    if arch.activation not in ACTIVATIONS:
        raise ModelFileError(f"{where.json}: field '{where.field('fitted.architecture.activation')}': "
                             f"{arch.activation!r} is not one of {', '.join(ACTIVATIONS)}")
    mean = _need(arrays, "scaler_mean", 1, where.arrays, where.key, "float32")
    scale = _need(arrays, "scaler_scale", 1, where.arrays, where.key, "float32")
    _need(arrays, "decision_scores", 1, where.arrays, where.key)
    n_features = math.prod(meta.feature_shape)
    if mean.shape != (n_features,) or scale.shape != (n_features,):
        raise ModelFileError(f"{where.json}: field '{where.field('fitted.feature_shape')}': {meta.feature_shape} means "
                             f"{n_features} features, but the stored scaler has {mean.shape[0]}")
    if not (scale > 0).all():
        bad = int(np.argmin(scale > 0))
        raise _array_problem(where.arrays, where.key + "scaler_scale", f"holds {scale[bad]} at feature {bad}; a scale "
                             "must be positive (the scores would be blank)")
    network = {k.removeprefix("network."): v for k, v in arrays.items() if k.startswith("network.")}
    largest = max((max(v.shape, default=1) for v in network.values()), default=0)
    sizes = [*arch.hidden_sizes, arch.latent_size]
    if len(arch.hidden_sizes) > len(network) or max(sizes) > largest:
        raise ModelFileError(f"{where.json}: field '{where.field('fitted.architecture')}': layer sizes {sizes} do not "
                             f"fit the {len(network)} stored network arrays (largest dimension {largest})")
    probe = copy.copy(detector)
    probe.architecture_ = meta.architecture.model_dump()
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated, whatever the sizes say
            expected = probe._build_network(tuple(meta.feature_shape)).state_dict()
    except Exception as exc:
        raise ModelFileError(f"{where.json}: field '{where.field('fitted.architecture')}' cannot be built for inputs "
                             f"of shape {meta.feature_shape} ({type(exc).__name__}: {exc})") from None
    for name, tensor in expected.items():
        key = f"{where.key}network.{name}"
        if name not in network:
            raise _array_problem(where.arrays, key, "is missing: the weights do not match the architecture")
        stored = network[name]
        wanted = (tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."))
        if (stored.shape, str(stored.dtype)) != wanted:
            raise _array_problem(where.arrays, key, f"has shape {stored.shape} ({stored.dtype}) but the architecture in "
                                 f"{Path(where.json.split(':')[0]).name} needs {wanted[0]} ({wanted[1]})")
    allowed = {f"network.{k}" for k in expected} | {"scaler_mean", "scaler_scale", "decision_scores"}
    if type(detector)._extra_state is not BaseDeepDetector._extra_state:  # the detector checks its own extras
        allowed |= {k for k in arrays if k.startswith("extra.")}
    _refuse_extra(arrays, allowed, where.arrays, where.key)
    return n_features


def _check_auto(detector: Any, fitted: dict[str, Any], arrays: dict[str, np.ndarray], where: _Where) -> int:
    meta = validate(AutoFitted, fitted, where.json, where.field("fitted"))
    _need(arrays, "decision_scores", 1, where.arrays, where.key)
    n_features = math.prod(meta.feature_shape)
    if n_features != meta.n_features_in:
        raise ModelFileError(f"{where.json}: field '{where.field('fitted.n_features_in')}': {meta.n_features_in} "
                             f"differs from fitted.feature_shape {meta.feature_shape}")
    if len(meta.members) > detector.ensemble_size:
        raise ModelFileError(f"{where.json}: field '{where.field('fitted.members')}': {len(meta.members)} members for "
                             f"ensemble_size={detector.ensemble_size}")
    expected = {"decision_scores"}
    for i, member in enumerate(meta.members):
        prefix = f"member{i}."
        inner = _Where(where.json, where.field(f"fitted.members[{i}]"), where.arrays, where.key + prefix)
        plan = check_detector(member, {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}, inner,
                              nested=True)
        if isinstance(fitted["members"][i].get("params"), dict):  # what auto rebuilds its members from
            fitted["members"][i]["params"] = renamed_params(type(plan.detector), fitted["members"][i]["params"])
        if plan.n_features != n_features:
            raise ModelFileError(f"{where.json}: field '{inner.loc}': this member was fitted on {plan.n_features} "
                                 f"features, the model on {n_features}")
        expected |= {prefix + k for k in plan.arrays}
        if f"reference{i}" in arrays:  # the member's training-row scores that rank it in the ensemble
            _need(arrays, f"reference{i}", 1, where.arrays, where.key)
            expected.add(f"reference{i}")
    _refuse_extra(arrays, expected, where.arrays, where.key)
    return n_features


def check_detector(document: Any, arrays: dict[str, np.ndarray], where: _Where | tuple[Path, Path], *,
                   nested: bool = False) -> DetectorPlan:
    """Check a detector document and its arrays (recursively for ``auto``); build nothing but the parameters.

    ``where`` is the JSON file and the safetensors file, or the location of a member inside them.
    """
    from metaad.detectors.classical import PyODAdapter
    from metaad.detectors.deep import BaseDeepDetector
    if not isinstance(where, _Where):
        where = _Where(str(where[0]), "", str(where[1]), "")
    doc = validate(DetectorDocument, document, where.json, where.loc)
    if nested and doc.detector == "auto":
        raise ModelFileError(f"{where.json}: field '{where.field('detector')}': an auto model cannot be a member")
    detector = _check_params(doc, where)
    check_finite(arrays, where.arrays, where.key)
    if doc.detector == "auto" and not nested:  # by name: persistence sits below the meta layer
        n_features = _check_auto(detector, doc.fitted, arrays, where)
    elif isinstance(detector, BaseDeepDetector):
        n_features = _check_deep(detector, doc.fitted, arrays, where)
    elif isinstance(detector, PyODAdapter) or getattr(type(detector), "_refit_from_training_data", False):
        n_features = _check_classical(detector, doc.fitted, arrays, where)
    elif doc.detector == "stacked":  # refit from its training rows and labels, like the PyOD adapters
        n_features = _check_stacked(doc.fitted, arrays, where)
    else:
        raise ModelFileError(f"{where.json}: field '{where.field('detector')}': {doc.detector!r} cannot be loaded")
    return DetectorPlan(detector, arrays, doc.fitted, n_features, where.json)


# ----------------------------------------------------------------------------------------------- the rest
def check_manifest(document: Any, folder: Path) -> Manifest:
    """The validated ``manifest.json``; a newer format gets a message saying to upgrade."""
    from metaad._version import __version__

    path = folder / "manifest.json"
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: the document is {type(document).__name__}, not an object: not a metaad model")
    if document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: field 'format': {folder} is not a metaad model (format {document.get('format')!r})")
    version = document.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: {folder} was written in model format {version!r} by metaad {document.get('metaad_version')}; "
            f"this metaad ({__version__}) reads format {FORMAT_VERSION} and older: upgrade metaad"
        )
    return validate(Manifest, document, str(path))


def check_preprocessor(document: Any, path: Path, n_features: int) -> dict[str, Any]:
    """The validated ``preprocessor.json`` state, whose output width must be the detector's ``n_features``."""
    from metaad._version import __version__
    from metaad.data.preprocessing import STATE_VERSION

    version = document.get("state_version") if isinstance(document, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
        raise ModelFileError(f"{path}: TabularPreprocessor state version {version} was written by a newer metaad "
                             f"({document.get('metaad_version')}); this one ({__version__}) reads up to {STATE_VERSION}")
    state = validate(PreprocessorState, document, str(path))
    columns = state.schema_.columns
    if [s.name for s in state.column_stats] != [c.name for c in columns]:
        raise ModelFileError(f"{path}: field 'column_stats': the columns {[s.name for s in state.column_stats][:5]} "
                             f"do not match the schema's {[c.name for c in columns][:5]}")
    width = 0
    for i, (stat, column) in enumerate(zip(state.column_stats, columns)):
        if stat.kind != column.kind:
            raise ModelFileError(f"{path}: field 'column_stats[{i}].kind': {stat.kind!r} but the schema says {column.kind!r}")
        if stat.kind == "ignored":
            continue
        if stat.kind == "datetime":
            width += 2 * len(stat.parts)  # a sine and a cosine per part
            continue
        onehot = stat.kind == "categorical" and state.params.categorical == "onehot"
        width += len(stat.categories) + int(stat.other) if onehot else 1
    if width != n_features:
        raise ModelFileError(f"{path}: the preprocessor makes {width} feature(s) but the detector was fitted on {n_features}")
    return document


def check_pipeline(document: Any, path: Path) -> dict[str, Any]:
    """The validated ``pipeline.json``."""
    return validate(PipelineMeta, document, str(path)).model_dump()


class SearchDocument(_Document):
    """``search.json`` (a model chosen by ``metaad.tune``): the search's summary and its trial log."""

    tuning: dict[str, JsonValue]
    trials: Annotated[list[dict[str, JsonValue]], Field(max_length=1_000_000)]
    columns: list[str]


def check_search(document: Any, path: Path) -> dict[str, Any]:
    """The validated ``search.json``: ``tuning`` (a dict) and ``trials`` (records with the listed ``columns``).

    Examples
    --------
    >>> check_search({"tuning": {"best": {"reward": 0.9}}, "trials": [{"trial": 0}], "columns": ["trial"]}, Path("search.json"))["columns"]
    ['trial']
    >>> check_search({"tuning": {}, "trials": [{"trial": 0, "x": 1}], "columns": ["trial"]}, Path("search.json"))
    Traceback (most recent call last):
    ...
    metaad.exceptions.ModelFileError: search.json: field 'trials.0': has 'x', which is not one of the columns ['trial']
    """
    doc = validate(SearchDocument, document, str(path))
    for i, record in enumerate(doc.trials):
        extra = sorted(set(record) - set(doc.columns))
        if extra:
            raise ModelFileError(f"{path}: field 'trials.{i}': has {extra[0]!r}, which is not one of the columns {doc.columns}")
    return doc.model_dump()


__all__ = ["FORMAT", "FORMAT_VERSION", "LOAD_LIMITS", "DetectorPlan", "check_detector", "check_manifest",
           "check_pipeline", "check_preprocessor", "check_search", "renamed_params", "validate"]
