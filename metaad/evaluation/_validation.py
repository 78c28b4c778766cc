"""Input checks shared by the evaluation modules: labels must be 0/1, scores must be finite."""

from __future__ import annotations

from typing import Any

import numpy as np

from metaad.exceptions import DataError


def check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D float array, or raise :class:`DataError` naming the first bad entry.

    Examples
    --------
    >>> check_scores([0.5, 1, 2.0]).tolist()
    [0.5, 1.0, 2.0]
    >>> check_scores([0.5, float("nan")])
    Traceback (most recent call last):
    ...
    metaad.exceptions.DataError: scores must be finite, but scores[1] is nan
    """
    try:
        array = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} must be numeric: {error}") from error
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        index = int(bad[0])
        raise DataError(f"{name} must be finite, but {name}[{index}] is {float(array[index])}")
    return array


def check_binary(values: Any, name: str = "y_true") -> np.ndarray:
    """Return ``values`` as a 1-D int array of 0/1, or raise :class:`DataError` naming the first bad value.

    Booleans and the floats ``0.0``/``1.0`` are accepted.

    Examples
    --------
    >>> check_binary([0, 1, True, 0.0]).tolist()
    [0, 1, 1, 0]
    >>> check_binary([0, 2])
    Traceback (most recent call last):
    ...
    metaad.exceptions.DataError: y_true must contain only 0 (normal) and 1 (anomaly), but y_true[1] is 2
    """
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":  # object keeps a stray string from turning every label into text
        array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{name} is empty")
    if array.dtype.kind in "biuf":
        bad = np.flatnonzero((array != 0) & (array != 1))
        if bad.size:
            raise _bad_label(name, int(bad[0]), array[bad[0]].item())
        return array.astype(int)
    for index, value in enumerate(array.tolist()):
        if not (isinstance(value, (bool, int, float)) and value in (0, 1)):
            raise _bad_label(name, index, value)
    return array.astype(int)


def _bad_label(name: str, index: int, value: object) -> DataError:
    return DataError(f"{name} must contain only 0 (normal) and 1 (anomaly), but {name}[{index}] is {value!r}")


def check_same_length(**arrays: np.ndarray) -> None:
    """Raise :class:`DataError` unless every array has the same length.

    Examples
    --------
    >>> check_same_length(y_true=np.zeros(3), scores=np.zeros(2))
    Traceback (most recent call last):
    ...
    metaad.exceptions.DataError: lengths differ: y_true has 3 entries, scores has 2 entries
    """
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length} entries" for name, length in lengths.items())
        raise DataError(f"lengths differ: {described}")
