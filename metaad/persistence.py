"""Safe, versioned model files: weights as safetensors, everything else as JSON, written atomically.

A saved model is a directory::

    manifest.json        format name and version, metaad version, what is inside
    detector.json        registry name, parameters, fitted metadata
    detector.safetensors fitted arrays (network weights, scaler, training scores, ...)
    preprocessor.json    (pipelines only) the fitted TabularPreprocessor state

Loading never executes code from the file: no pickle, and the detector class is looked up by its
registered name only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from metaad._io import atomic_directory, owned_folder_check
from metaad._version import __version__
from metaad.exceptions import ModelFileError

FORMAT = "metaad-model"
FORMAT_VERSION = 1


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ModelFileError(f"cannot save a value of type {type(value).__name__} ({value!r}) safely as JSON")


def _params_for_file(params: dict[str, Any]) -> dict[str, Any]:
    safe = {}
    for key, value in params.items():
        if isinstance(value, np.random.RandomState) or (value is not None and not isinstance(value, (str, int, float, bool, list, tuple, dict, np.integer, np.floating))):
            raise ModelFileError(f"parameter {key}={value!r} cannot be saved; use an int random_state")
        safe[key] = _json_safe(value)
    return safe


def _params_from_file(params: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


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
    return document


def _read_detector(folder: Path) -> Any:
    from metaad.detectors.registry import get_detector_info

    document = _read_json(folder / "detector.json")
    try:
        info = get_detector_info(document["detector"])
        detector = info.cls(**_params_from_file(document["params"]))
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{folder / 'detector.json'} is malformed: {exc}") from None
    try:
        arrays = load_file(str(folder / "detector.safetensors"))
    except FileNotFoundError:
        raise ModelFileError(f"{folder} has no detector.safetensors: the model is incomplete") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{folder / 'detector.safetensors'} cannot be read: {exc}") from None
    detector._set_fitted_state(arrays, document["fitted"])
    return detector


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path} is missing: not a complete metaad model directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} is not valid JSON: {exc}") from None


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

    Raises
    ------
    ModelFileError
        When ``path`` is not a metaad model, is incomplete, or was written by an incompatible format version.
    """
    from metaad.pipeline import AnomalyPipeline

    folder = Path(path)
    if not folder.is_dir():
        raise ModelFileError(f"{folder} is not a model directory (expected a folder written by metaad.save)")
    manifest = _read_json(folder / "manifest.json")
    if manifest.get("format") != FORMAT:
        raise ModelFileError(f"{folder} is not a metaad model (format {manifest.get('format')!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was written in model format {version!r} by metaad {manifest.get('metaad_version')}; "
            f"this metaad ({__version__}) reads format {FORMAT_VERSION} and older: upgrade metaad"
        )
    if manifest.get("kind") == "pipeline":
        return AnomalyPipeline._from_saved(folder, _read_detector(folder), _read_json(folder / "preprocessor.json"), _read_json(folder / "pipeline.json"))
    if manifest.get("kind") == "detector":
        return _read_detector(folder)
    raise ModelFileError(f"{folder}/manifest.json names an unknown kind {manifest.get('kind')!r}")
