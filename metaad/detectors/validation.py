"""Checking what goes into a detector, with errors that name the row, the column and the value.

The messages follow scikit-learn's wording where its check suite looks for it ("Reshape your data",
"Complex data not supported", "0 feature(s) (shape=(12, 0)) while a minimum of 1 is required", "X has 3
features, but KNNDetector is expecting 4 features as input", "sparse"), so that metaad detectors pass
``sklearn.utils.estimator_checks`` like scikit-learn's own estimators (see TESTING.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from metaad.exceptions import DataError


class InputTypeError(DataError, TypeError):
    """A value of the input has a type that is not a number (a dict, a list, ...); also a ``TypeError``.

    scikit-learn raises ``TypeError`` for such values (``check_dtype_object``); metaad's callers catch
    :class:`~metaad.exceptions.DataError`. This error is both.
    """


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _column_name(columns: list[str] | None, j: int) -> str:
    return repr(columns[j]) if columns is not None else str(j)


def _first_unreadable(array: np.ndarray) -> tuple[int, int, Any, Exception] | None:
    """Row, column, value and error of the first cell of an object/text array that is not a number."""
    flat = array.reshape(array.shape[0], -1) if array.ndim >= 2 else array.reshape(1, -1)
    for i in range(flat.shape[0]):
        for j in range(flat.shape[1]):
            try:
                float(flat[i, j])
            except (TypeError, ValueError) as exc:
                return i, j, flat[i, j], exc
    return None


def reshape_hint(n_values: int, n_features: int | None = None) -> str:
    """How to turn a 1-D array of ``n_values`` into the 2-D table a detector expects.

    Examples
    --------
    >>> reshape_hint(4, n_features=4)
    'Reshape your data: X.reshape(1, -1) makes it one row of 4 features'
    >>> reshape_hint(100, n_features=1)
    'Reshape your data: X.reshape(-1, 1) makes it 100 rows of the single feature'
    """
    if n_features == 1:
        return f"Reshape your data: X.reshape(-1, 1) makes it {n_values} rows of the single feature"
    if n_features is not None and n_values == n_features:
        return f"Reshape your data: X.reshape(1, -1) makes it one row of {n_features} features"
    if n_features is not None:
        return (f"Reshape your data: the detector expects rows of {n_features} features, so pass a 2-D array of "
                f"shape (n_rows, {n_features}); X.reshape(1, -1) for one row")
    return ("Reshape your data: X.reshape(1, -1) if it is one row, X.reshape(-1, 1) if it holds the values of "
            "a single feature")


def column_mismatch(given: Sequence[str], fitted: Sequence[str]) -> str | None:
    """What ``given`` column names lack and add compared with the ``fitted`` ones (at most 5 of each), or None.

    Examples
    --------
    >>> column_mismatch(["a", "z"], ["a", "b"])
    "missing column(s) 'b' and extra column(s) 'z'"
    >>> column_mismatch(["b", "a"], ["a", "b"]) is None
    True
    """
    missing = [n for n in fitted if n not in given]
    extra = [c for c in given if c not in fitted]
    parts = ([f"missing column(s) {', '.join(map(repr, missing[:5]))}"] if missing else []) + (
        [f"extra column(s) {', '.join(map(repr, extra[:5]))}"] if extra else [])
    return " and ".join(parts) or None


def row_from_mapping(row: Mapping[str, Any] | pd.Series, feature_names: Sequence[str] | None,
                     n_features: int | None, what: str = "X") -> np.ndarray:
    """One row (a dict or a pandas Series, keyed by column name) as a ``(1, n_features)`` array.

    With ``feature_names`` (the detector was fitted on a DataFrame), the values are put in the fitted column
    order and a missing or unknown name is an error that names it. Without names, a Series is read in its
    own order; a dict needs names to be matched against.

    Examples
    --------
    >>> row_from_mapping({"b": 2.0, "a": 1.0}, ["a", "b"], 2).astype(float)
    array([[1., 2.]])
    """
    keys = [str(k) for k in (row.index if isinstance(row, pd.Series) else row.keys())]
    values = list(row.to_numpy() if isinstance(row, pd.Series) else row.values())
    if feature_names is not None:
        names = [str(n) for n in feature_names]
        mismatch = column_mismatch(keys, names)
        if mismatch:
            raise DataError(f"the row given as {type(row).__name__} has {mismatch}; the detector was "
                            f"fitted on the columns {', '.join(map(repr, names[:10]))}")
        lookup = dict(zip(keys, values))
        return np.asarray([[lookup[n] for n in names]], dtype=object)
    if isinstance(row, Mapping):
        raise DataError(
            f"{what} is a dict, but the detector was fitted on an array without column names, so its keys cannot "
            f"be matched; pass a list of {n_features if n_features is not None else 'the'} values in fitted "
            "column order as [[...]] (or fit on a pandas DataFrame)"
        )
    return np.asarray([values], dtype=object)


def check_detector_input(
    X: Any,
    *,
    dtype: type = np.float64,
    min_rows: int = 1,
    n_features: int | None = None,
    feature_shape: tuple[int, ...] | None = None,
    allow_images: bool = False,
    what: str = "X",
    estimator_name: str = "the detector",
) -> np.ndarray:
    """Validate ``X`` and return it as a C-contiguous array of ``dtype``.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        Rows are samples. A DataFrame must hold numeric columns only (use :class:`metaad.AnomalyPipeline` or
        :class:`metaad.data.TabularPreprocessor` for categorical data). Sparse matrices are refused.
    min_rows : int
        Fewest rows accepted (2 at fit time).
    n_features, feature_shape : int or tuple, optional
        What the fitted detector expects; a different width is a :class:`DataError`.
    allow_images : bool
        Accept N×H×W and N×C×H×W arrays (image detectors).
    estimator_name : str
        Named in the error for a wrong number of features.

    Raises
    ------
    DataError
        For every problem, naming it; :class:`InputTypeError` (also a ``TypeError``) for a value that is not
        a number.

    Examples
    --------
    >>> check_detector_input([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> check_detector_input([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    metaad.exceptions.DataError: X has a missing or infinite value (nan) at row 0, column 1; ...
    >>> check_detector_input([1.0, 2.0, 3.0], n_features=3)
    Traceback (most recent call last):
    ...
    metaad.exceptions.DataError: X is 1-D with 3 values; expected 2-D (rows, features). Reshape your data: X.reshape(1, -1) makes it one row of 3 features
    """
    if sparse.issparse(X):
        raise DataError(
            f"{what} is a sparse matrix ({type(X).__name__}); metaad detectors do not support sparse input: "
            "pass a dense array (X.toarray())"
        )
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
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} cannot be read as an array of numbers: {exc}") from None
    if array.dtype.kind == "c":
        raise DataError(f"Complex data not supported: {what} holds complex numbers (dtype {array.dtype}); "
                        "detectors take real numbers")
    try:
        array = array.astype(dtype, copy=False)
    except (TypeError, ValueError) as exc:
        bad_cell = _first_unreadable(array) if array.ndim >= 1 else None
        if bad_cell is None:
            raise DataError(f"{what} cannot be read as numbers: {exc}") from None
        row, col, value, cell_error = bad_cell
        where = f"row {row}, column {_column_name(columns, col)}" if array.ndim >= 2 else f"position {col}"
        error = InputTypeError if isinstance(cell_error, TypeError) else DataError
        raise error(f"{what} cannot be read as numbers: {where} holds {_plain(value)!r} ({cell_error})") from None
    if array.ndim == 0:
        raise DataError(f"{what} is a single value ({_plain(array[()])!r}); expected a 2-D table (rows, features)")
    if array.ndim == 1:
        expected = n_features if n_features is not None else (
            int(np.prod(feature_shape)) if feature_shape is not None else None)
        raise DataError(
            f"{what} is 1-D with {array.shape[0]} values; expected 2-D (rows, features). "
            f"{reshape_hint(array.shape[0], expected)}"
        )
    if array.ndim > 2 and not allow_images:
        raise DataError(f"{what} has shape {array.shape}; this detector expects a 2-D table (rows, features)")
    if array.ndim > 4:
        raise DataError(f"{what} has shape {array.shape}; expected (rows, features), (N, H, W) or (N, C, H, W)")
    shape = tuple(int(s) for s in array.shape)
    if array.shape[0] < min_rows:
        if array.shape[0] == 0:
            raise DataError(f"{what} is empty: 0 sample(s) (shape={shape}) while a minimum of {min_rows} is required")
        if array.shape[0] == 1:
            raise DataError(f"{what} has 1 sample (n_samples=1); at least {min_rows} rows are needed to fit a detector")
        raise DataError(f"{what} has {array.shape[0]} samples; at least {min_rows} rows are needed")
    if array.size == 0:
        raise DataError(f"{what} has 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
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
    if feature_shape is not None and shape[1:] != tuple(feature_shape):
        if array.ndim == 2 and len(feature_shape) == 1:
            raise DataError(
                f"{what} has {shape[1]} features, but {estimator_name} is expecting {feature_shape[0]} features as "
                "input (the number of columns it was fitted on)"
            )
        raise DataError(
            f"{what} has rows of shape {shape[1:]}, but {estimator_name} was fitted on rows of shape {tuple(feature_shape)}"
        )
    if n_features is not None and array.ndim == 2 and shape[1] != n_features:
        raise DataError(
            f"{what} has {shape[1]} features, but {estimator_name} is expecting {n_features} features as input"
        )
    return np.ascontiguousarray(array)
