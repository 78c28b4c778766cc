"""Safe, versioned model files: weights as safetensors, everything else as JSON, written atomically.

A saved model is a directory::

    manifest.json        format name and version, metaad version, what is inside
    detector.json        registry name, parameters, fitted metadata
    detector.safetensors fitted arrays (network weights, scaler, training scores, ...)
    preprocessor.json    (pipelines only) the fitted TabularPreprocessor state
    search.json          (models chosen by :func:`metaad.tune` only) ``tuning_`` and the trial log ``search_``

Loading never executes code from the file: no pickle, and the detector class is looked up by its
registered name only. Before anything is built, the whole folder is checked (:mod:`metaad._model_schema`):
links and special files are refused, every document is validated against its schema, every parameter
against the detector's constraints, and every array by name, shape and finiteness, so that a damaged or
tampered folder gives one :class:`~metaad.exceptions.ModelFileError` naming the file and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from metaad._io import atomic_directory, owned_folder_check
from metaad._params_json import _json_safe, _params_for_file
from metaad._model_files import read_arrays, read_json, refuse_links
from metaad._model_schema import (FORMAT, FORMAT_VERSION, DetectorPlan, check_detector, check_manifest, check_pipeline,
                                  check_preprocessor, check_search)
from metaad._version import __version__
from metaad.exceptions import MetaADError, ModelFileError


def _write_detector(detector: Any, folder: Path) -> dict[str, Any]:
    from metaad.detectors.base import BaseDetector

    if not isinstance(detector, BaseDetector):
        raise ModelFileError(f"only metaad detectors can be saved, got {type(detector).__name__}")
    detector._check_fitted()
    arrays, meta = detector._get_fitted_state()
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    save_file(tensors, str(folder / "detector.safetensors"))
    document = {
        "detector": detector.registry_name,
        "params": _params_for_file(detector.get_params(deep=False)),
        "fitted": _json_safe(meta),
    }
    (folder / "detector.json").write_text(json.dumps(document, indent=2))
    _write_search(detector, folder)
    return document


SEARCH_FILE = "search.json"


def _write_search(detector: Any, folder: Path) -> None:
    """``search.json`` for a detector that :func:`metaad.tune` chose: its ``tuning_`` and ``search_`` (trial log)."""
    trials = getattr(detector, "search_", None)
    tuning = getattr(detector, "tuning_", None)
    if trials is None or tuning is None:
        return
    document = {"tuning": tuning, "trials": trials.to_dict(orient="records"), "columns": [str(c) for c in trials.columns]}
    (folder / SEARCH_FILE).write_text(json.dumps(_finite_json(_json_safe(document)), indent=2))


def _finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _checked_search(folder: Path) -> dict[str, Any] | None:
    """The checked ``search.json`` of ``folder``, or None when it has none."""
    return check_search(read_json(folder, SEARCH_FILE), folder / SEARCH_FILE) if (folder / SEARCH_FILE).exists() else None


def _attach_search(detector: Any, search: dict[str, Any] | None) -> Any:
    """``detector`` with ``tuning_`` and ``search_`` (a DataFrame) restored from a checked ``search.json``."""
    if search is not None:
        import pandas as pd

        detector.tuning_ = search["tuning"]
        detector.search_ = pd.DataFrame.from_records(search["trials"], columns=search["columns"])
    return detector


def _build(plan: DetectorPlan) -> Any:
    """Restore the checked detector's fitted state; a failure still reads as a model-file error naming the file."""
    try:
        plan.detector._set_fitted_state(plan.arrays, plan.fitted)
    except ModelFileError as exc:
        if plan.where in str(exc):
            raise
        raise ModelFileError(f"{plan.where}: {exc}") from None
    except MetaADError as exc:
        raise ModelFileError(f"{plan.where}: the saved state cannot be restored: {exc}") from None
    except Exception as exc:  # a combination the schema let through; still a model-file error, never a traceback
        raise ModelFileError(f"{plan.where}: the saved state cannot be restored ({type(exc).__name__}: {exc})") from None
    return plan.detector


def save(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save a fitted detector or :class:`~metaad.pipeline.AnomalyPipeline` to the directory ``path``.

    The directory is written next to its final place and moved there only when complete, so a crash leaves a
    previous model at ``path`` intact.

    Examples
    --------
    >>> import numpy as np, tempfile, metaad
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> det = metaad.make_detector("ecod").fit(X)
    >>> folder = metaad.save(det, tempfile.mkdtemp() + "/model")
    >>> np.allclose(metaad.load(folder).decision_function(X), det.decision_function(X))
    True
    """
    from metaad.pipeline import AnomalyPipeline

    target = Path(path)
    # An existing folder is replaced only if it is a metaad model (or empty): never a folder of the user's.
    check = owned_folder_check("manifest.json", what="a metaad model folder", hint="save replaces the whole folder, so choose a new path")
    with atomic_directory(target, check=check) as folder:
        if isinstance(model, AnomalyPipeline):
            kind = "pipeline"
            model._check_fitted()
            (folder / "preprocessor.json").write_text(json.dumps(model.preprocessor_.to_dict(), indent=2))
            (folder / "pipeline.json").write_text(json.dumps(_json_safe(model._fitted_meta()), indent=2))
            document = _write_detector(model.detector_, folder)
        else:
            kind = "detector"
            document = _write_detector(model, folder)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "metaad_version": __version__,
            "kind": kind,
            "detector": document["detector"],
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target


def load(path: str | os.PathLike[str]) -> Any:
    """Load a model saved by :func:`save`; executes no code from the file.

    The whole folder is checked before anything is built (see :mod:`metaad._model_schema`): only regular files
    inside it are read (links and special files are refused), every JSON document must match its schema,
    every parameter the detector's constraints (and :data:`~metaad._model_schema.LOAD_LIMITS`), and every
    array its expected name, dtype and shape with finite values.

    Raises
    ------
    ModelFileError
        When ``path`` is not a metaad model, is incomplete, damaged or tampered with (the message names the
        file and the field or array), or was written by an incompatible format version.
    """
    from metaad.pipeline import AnomalyPipeline

    folder = Path(path)
    if not folder.is_dir():
        raise ModelFileError(f"{folder} is not a model directory (expected a folder written by metaad.save)")
    refuse_links(folder)
    manifest = check_manifest(read_json(folder, "manifest.json"), folder)
    document = read_json(folder, "detector.json")
    plan = check_detector(document, read_arrays(folder, "detector.safetensors"),
                          (folder / "detector.json", folder / "detector.safetensors"))
    if plan.detector.registry_name != manifest.detector:
        raise ModelFileError(f"{folder / 'manifest.json'}: field 'detector': {manifest.detector!r} but detector.json "
                             f"holds {plan.detector.registry_name!r}")
    if manifest.kind == "pipeline":
        state = check_preprocessor(read_json(folder, "preprocessor.json"), folder / "preprocessor.json", plan.n_features)
        meta = check_pipeline(read_json(folder, "pipeline.json"), folder / "pipeline.json")
        search = _checked_search(folder)
        detector = _attach_search(_build(plan), search)
        try:
            return AnomalyPipeline._from_saved(folder, detector, state, meta)
        except MetaADError as exc:
            raise ModelFileError(f"{folder / 'preprocessor.json'}: the saved state cannot be restored: {exc}") from None
    search = _checked_search(folder)
    return _attach_search(_build(plan), search)
