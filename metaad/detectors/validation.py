"""Checking what goes into a detector, with errors that name the row, the column and the value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError


def _column_name(columns: list[str] | None, j: int) -> str:
    return repr(columns[j]) if columns is not None else str(j)


def check_detector_input(
    X: Any,
    *,
    dtype: type = np.float64,
    min_rows: int = 1,
    n_features: int | None = None,
    feature_shape: tuple[int, ...] | None = None,
    allow_images: bool = False,
    what: str = "X",
) -> np.ndarray:
    """Validate ``X`` and return it as a C-contiguous array of ``dtype``.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        Rows are samples. A DataFrame must hold numeric columns only (use :class:`metaad.AnomalyPipeline` or
        :class:`metaad.data.TabularPreprocessor` for categorical data).
    min_rows : int
        Fewest rows accepted (2 at fit time).
    n_features, feature_shape : int or tuple, optional
        What the fitted detector expects; a different width is a :class:`DataError`.
    allow_images : bool
        Accept N×H×W and N×C×H×W arrays (image detectors).

    Examples
    --------
    >>> check_detector_input([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> check_detector_input([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    metaad.exceptions.DataError: X has a missing or infinite value (nan) at row 0, column 1; ...
    """
    columns: list[str] | None = None
    if isinstance(X, pd.DataFrame):
        columns = [str(c) for c in X.columns]
        bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            raise DataError(
                f"{what} has non-numeric column(s) {', '.join(map(repr, bad[:5]))}: detectors take numbers; "
                "use metaad.AnomalyPipeline (or the CLI) to encode categorical columns"
            )
        X = X.to_numpy()
    try:
        array = np.asarray(X)
        if array.dtype == object or array.dtype.kind in "USV":
            array = array.astype(dtype)
        else:
            array = array.astype(dtype, copy=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} cannot be read as numbers: {exc}") from None
    if array.ndim == 1:
        raise DataError(f"{what} is 1-D with {array.shape[0]} values; expected 2-D (rows, features): use X.reshape(-1, 1)")
    if array.ndim > 2 and not allow_images:
        raise DataError(f"{what} has shape {array.shape}; this detector expects a 2-D table (rows, features)")
    if array.ndim > 4 or array.ndim == 0:
        raise DataError(f"{what} has shape {array.shape}; expected (rows, features), (N, H, W) or (N, C, H, W)")
    if array.shape[0] < min_rows:
        if array.shape[0] == 0:
            raise DataError(f"{what} is empty (0 rows)")
        raise DataError(f"{what} has {array.shape[0]} row(s); at least {min_rows} are needed")
    if array.size == 0:
        raise DataError(f"{what} has no features (shape {array.shape})")
    finite = np.isfinite(array)
    if not finite.all():
        flat_rows = finite.reshape(array.shape[0], -1)
        row = int(np.argmin(flat_rows.all(axis=1)))
        col = int(np.argmin(flat_rows[row]))
        value = array.reshape(array.shape[0], -1)[row, col]
        raise DataError(
            f"{what} has a missing or infinite value ({value}) at row {row}, column {_column_name(columns, col)}; "
            "impute it first or use the CLI/AnomalyPipeline, which impute missing values"
        )
    if feature_shape is not None and tuple(array.shape[1:]) != tuple(feature_shape):
        raise DataError(
            f"{what} has {array.shape[1:] if array.ndim > 2 else array.shape[1]} feature(s) per row but the detector "
            f"was fitted on {feature_shape if len(feature_shape) > 1 else feature_shape[0]}"
        )
    if n_features is not None and array.ndim == 2 and array.shape[1] != n_features:
        raise DataError(f"{what} has {array.shape[1]} feature(s) but the detector was fitted on {n_features}")
    return np.ascontiguousarray(array)
