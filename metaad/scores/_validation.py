"""Shared input checks of the score functions."""

from __future__ import annotations

from typing import Any

import numpy as np

from metaad.exceptions import DataError


def as_rows(X: Any, what: str) -> np.ndarray:
    """``X`` as a finite float64 array with one row per sample (1-D input is one feature; images are flattened)."""
    array = np.asarray(X, dtype=np.float64)
    if array.ndim == 0:
        raise DataError(f"{what} is a scalar; expected one row per sample")
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    array = array.reshape(array.shape[0], -1)
    if array.shape[0] == 0:
        raise DataError(f"{what} is empty")
    if not np.isfinite(array).all():
        raise DataError(f"{what} has a missing or infinite value")
    return array


def same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape != b.shape:
        raise DataError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}; they must match")
