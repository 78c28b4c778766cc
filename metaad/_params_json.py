"""Detector parameters and fitted metadata as plain JSON values, and back (no pickle, tuples as lists)."""

from __future__ import annotations

from typing import Any

import numpy as np

from metaad.exceptions import ModelFileError


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


__all__ = ["_json_safe", "_params_for_file", "_params_from_file"]
