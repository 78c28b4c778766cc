"""Turn a feature table (numbers, categories and dates, possibly with gaps) into a float32 matrix for a detector.

:class:`TabularPreprocessor` imputes or rejects missing values, scales numeric columns, encodes categorical
ones, turns dates into cyclic features, leaves out id columns, and saves its whole fitted state as JSON
(:meth:`~TabularPreprocessor.to_dict`), never as a pickle.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from metaad._version import __version__
from metaad.data.columns import (
    NUMERIC_TEXT_SHARE,  # noqa: F401 - re-exported: it decides which text columns fit refuses
    date_text_to_datetimes,
    datetime_features,
    datetime_seconds,
    looks_like_id,
    numeric_text_to_numbers,
    varying_parts,
)
from metaad.data.readers import as_frame, plain
from metaad.data.schema import Schema, category_text
from metaad.exceptions import DataError, ModelFileError, NotFittedError, ParameterError

SCALINGS = ("standard", "minmax", "robust", "none")
CATEGORICAL_ENCODINGS = ("onehot", "ordinal")
MISSING_POLICIES = ("impute", "error")
STATE_FORMAT = "metaad.TabularPreprocessor"
#: Version 2 added datetime and ignored (id / dropped) columns; version 1 states load unchanged.
STATE_VERSION = 2
#: Values whose scaled magnitude exceeds this do not fit the float32 matrix detectors take.
FLOAT32_MAX = float(np.finfo(np.float32).max)


class MissingValuesWarning(UserWarning):
    """Missing or infinite values were replaced by the fitted median / most frequent category."""


class ExcludedColumnsWarning(UserWarning):
    """Columns that look like row identifiers were left out of the features."""


class TabularPreprocessor(BaseEstimator):
    """Impute, scale and encode a table into a float32 matrix, with a JSON-safe fitted state.

    Parameters
    ----------
    scaling : {"standard", "minmax", "robust", "none"}, default "standard"
        Numeric columns become ``(x - center) / scale``: mean/std, min/(max - min), or median/IQR (falling
        back to the std when the IQR is 0, as in sparse count columns). A scale of 0 (a constant column)
        becomes 1, so constant columns are kept and map to 0.
    categorical : {"onehot", "ordinal"}, default "onehot"
        One-hot: one 0/1 column per kept category, named ``"col=value"``. A category not seen at fit gives
        an all-zeros row for that column (distinct from every seen category). Ordinal: the code is the
        index of the value in the sorted fitted categories; unseen values get -1. Ordinal codes are not
        scaled.
    missing : {"impute", "error"}, default "impute"
        ``"impute"`` fills missing (and ±inf numeric) values with the fitted median (numeric) or most
        frequent category, and warns with :class:`MissingValuesWarning` naming columns and counts.
        ``"error"`` raises :class:`~metaad.exceptions.DataError` naming the column and first row.
    max_categories : int, default 50
        One-hot keeps the most frequent categories (ties by name); the rest of those seen at fit share a
        ``"col=<other>"`` column. Does not apply to ordinal encoding.
    drop_columns : tuple of str, default ()
        Columns that are never features. They may be present (or absent) when transforming.
    id_column : str or None, default None
        A column identifying rows: never a feature, may be present when transforming (``metaad detect``
        copies it into ``scores.csv``).

    Notes
    -----
    Besides the columns named above, a text or integer column that is unique per row and looks like an
    identifier (see :mod:`metaad.data.columns`) is left out with an :class:`ExcludedColumnsWarning`. A
    datetime column (or text holding only dates) becomes (sine, cosine) pairs of its hour of day, day of week
    and day of year, named ``"col=hour_sin"`` etc.; the absolute date is not a feature, because rows scored
    later would all lie outside the fitted range. A missing date is imputed with the fitted median date.

    Attributes
    ----------
    schema_ : Schema
        Columns, kinds and categories seen at fit.
    feature_names_out_ : list of str
        Names of the output columns.
    column_stats_ : list of dict
        Per input column: ``fill`` and ``center``/``scale`` (numeric) or ``categories``/``other``.
    n_features_in_ : int

    Examples
    --------
    >>> df = pd.DataFrame({"size": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"]})
    >>> pre = TabularPreprocessor(scaling="minmax").fit(df)
    >>> pre.feature_names_out_
    ['size', 'colour=red', 'colour=blue']
    >>> pre.transform(df)
    array([[0. , 1. , 0. ],
           [0.5, 0. , 1. ],
           [1. , 1. , 0. ]], dtype=float32)
    >>> pre.transform(pd.DataFrame({"size": [2.0], "colour": ["green"]}))  # unseen category: all zeros
    array([[0.5, 0. , 0. ]], dtype=float32)
    """

    def __init__(
        self,
        *,
        scaling: str = "standard",
        categorical: str = "onehot",
        missing: str = "impute",
        max_categories: int = 50,
        drop_columns: tuple[str, ...] = (),
        id_column: str | None = None,
    ) -> None:
        self.scaling = scaling
        self.categorical = categorical
        self.missing = missing
        self.max_categories = max_categories
        self.drop_columns = drop_columns
        self.id_column = id_column

    def _check_params(self) -> None:
        for name, allowed in (
            ("scaling", SCALINGS),
            ("categorical", CATEGORICAL_ENCODINGS),
            ("missing", MISSING_POLICIES),
        ):
            if getattr(self, name) not in allowed:
                raise ParameterError(f"{name}={getattr(self, name)!r} is not one of {list(allowed)}")
        max_categories = self.max_categories
        if isinstance(max_categories, bool) or not isinstance(max_categories, (int, np.integer)) or max_categories < 1:
            raise ParameterError(f"max_categories={self.max_categories!r} must be an integer >= 1")
        if isinstance(self.drop_columns, str) or not all(isinstance(c, str) for c in self.drop_columns or ()):
            raise ParameterError(f"drop_columns={self.drop_columns!r} must be a tuple of column names")
        if self.id_column is not None and not isinstance(self.id_column, str):
            raise ParameterError(f"id_column={self.id_column!r} must be a column name or None")

    def _named_columns(self, df: pd.DataFrame) -> dict[str, str]:
        """Name -> reason for the columns the user named as not features (``drop_columns``, ``id_column``)."""
        names = [str(c) for c in df.columns]
        ignored = {str(c): "dropped (drop_columns)" for c in self.drop_columns or ()}
        if self.id_column is not None:
            ignored[self.id_column] = "id column (id_column)"
        unknown = [name for name in ignored if name not in names]
        if unknown:
            raise DataError(f"column(s) {unknown} to leave out are not in the table; its columns are {names}")
        return ignored

    def _id_like_columns(self, df: pd.DataFrame, ignored: dict[str, str]) -> dict[str, str]:
        """``ignored`` plus the columns that look like row identifiers (warned about)."""
        names = [str(c) for c in df.columns]
        ignored = dict(ignored)
        auto = {}
        for column_name in df.columns:
            name = str(column_name)
            if name not in ignored and looks_like_id(df[column_name], name):
                auto[name] = "id-like (a different value in every row)"
        if auto:
            warnings.warn(
                f"left out column(s) {sorted(auto)}: a different value in every one of the {len(df)} rows, so they "
                "identify rows rather than describe them (name one with --id-col to copy it into scores.csv)",
                ExcludedColumnsWarning,
                stacklevel=3,
            )
        ignored.update(auto)
        if len(ignored) == len(names):
            raise DataError(f"no feature column is left: every column ({names}) is an id or dropped")
        return ignored

    def fit(self, df: pd.DataFrame | np.ndarray, y: Any = None) -> TabularPreprocessor:
        """Learn the schema, fill values, scaling and categories from ``df``.

        Parameters
        ----------
        df : pandas.DataFrame or 2-D array
            Feature columns only.
        y : ignored

        Returns
        -------
        TabularPreprocessor
            ``self``.

        Raises
        ------
        DataError
            Fewer than 2 rows or no columns; a text column where at least half the values are numbers
            (naming column, row and value); a column with no usable values; missing/inf values under
            ``missing="error"``; every column constant; ``drop_columns``/``id_column`` not in the table.
        """
        self._check_params()
        df = as_frame(df)
        if df.shape[0] < 2:
            raise DataError(f"fit needs at least 2 rows; got {df.shape[0]}")
        if df.shape[1] == 0:
            raise DataError("fit needs at least 1 feature column; got none")
        ignored = self._named_columns(df)
        df = numeric_text_to_numbers(df, skip=set(ignored))
        df = date_text_to_datetimes(df, skip=set(ignored))
        ignored = self._id_like_columns(df, ignored)
        schema = Schema.from_frame(df, ignored=ignored)
        frame = schema.validate(df)
        stats: list[dict[str, Any]] = []
        problems: list[str] = []
        n_constant = 0
        for spec in schema.columns:
            column = frame[spec.name]
            if spec.kind == "ignored":
                stats.append({"name": spec.name, "kind": "ignored"})
                continue
            if spec.kind == "datetime":
                seconds = datetime_seconds(column)
                problems += self._check_gaps(column, seconds)
                finite = seconds[np.isfinite(seconds)]
                if finite.size == 0:
                    raise DataError(f"column {spec.name!r} has no dates (all {len(seconds)} rows missing); drop it")
                parts = varying_parts(finite)
                stats.append({"name": spec.name, "kind": "datetime", "fill": float(np.median(finite)), "parts": parts})
                n_constant += bool(finite.min() == finite.max())
                continue
            if spec.kind == "numeric":
                values = _as_float(column)
                finite = values[np.isfinite(values)]
                problems += self._check_gaps(column, values)
                if finite.size == 0:
                    raise DataError(
                        f"column {spec.name!r} has no finite values (all {len(values)} rows missing or infinite); drop it"
                    )
                center, scale = _scaling_stats(finite, self.scaling)
                fill = float(np.median(finite))
                stats.append({"name": spec.name, "kind": "numeric", "fill": fill, "center": center, "scale": scale})
                n_constant += bool(finite.min() == finite.max())
            else:
                text = category_text(column)
                problems += self._check_gaps(column, text)
                counts = Counter(value for value in text if value is not None)
                if not counts:
                    raise DataError(f"column {spec.name!r} has no values (all {len(text)} rows missing); drop it")
                by_frequency = [value for value, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
                if self.categorical == "onehot":
                    kept, other = by_frequency[: self.max_categories], len(by_frequency) > self.max_categories
                else:
                    kept, other = sorted(counts), False
                stats.append(
                    {"name": spec.name, "kind": "categorical", "fill": by_frequency[0], "categories": kept, "other": other}
                )
                n_constant += len(counts) == 1
        n_features = sum(spec.kind != "ignored" for spec in schema.columns)
        if n_constant == n_features:
            raise DataError(f"all {n_constant} columns are constant: nothing to detect")
        self._fit_gaps = problems  # transform on a table with the same gaps (the fitted one) does not warn again
        if problems:
            warnings.warn(_impute_message(problems, "fit"), MissingValuesWarning, stacklevel=2)
        self.schema_ = schema
        self.column_stats_ = stats
        self.n_features_in_ = len(schema.columns)
        self.feature_names_in_ = np.array(schema.names, dtype=object)
        self.feature_names_out_ = self._output_names()
        return self

    def transform(self, df: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Impute, scale and encode ``df`` with the fitted state.

        Returns
        -------
        numpy.ndarray of float32, shape (n_rows, len(feature_names_out_))

        Missing values are warned about once per table: not again when they are the very gaps :meth:`fit`
        warned about (transforming the fitted table), and Python shows a repeated identical warning once.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        SchemaError
            When columns are missing, extra, or changed kind (text in a numeric column).
        DataError
            Missing/inf values under ``missing="error"``; a value too large for float32 once scaled.
        """
        self._check_fitted()
        frame = self.schema_.validate(as_frame(df))
        out = np.zeros((len(frame), len(self.feature_names_out_)), dtype=np.float64)
        problems: list[str] = []
        position = 0
        for spec, stat in zip(self.schema_.columns, self.column_stats_, strict=True):
            column = frame[spec.name]
            if spec.kind == "ignored":
                continue
            if spec.kind == "datetime":
                seconds = datetime_seconds(column)
                problems += self._check_gaps(column, seconds)
                seconds = np.where(np.isfinite(seconds), seconds, stat["fill"])
                width = 2 * len(stat["parts"])
                out[:, position : position + width] = datetime_features(seconds, stat["parts"])
                position += width
                continue
            if spec.kind == "numeric":
                values = _as_float(column)
                problems += self._check_gaps(column, values)
                values = np.where(np.isfinite(values), values, stat["fill"])
                scaled = (values - stat["center"]) / stat["scale"]
                _check_float32_range(scaled, values, column, self.scaling)
                out[:, position] = scaled
                position += 1
                continue
            text = category_text(column)
            problems += self._check_gaps(column, text)
            text[pd.isna(text)] = stat["fill"]
            index = {value: i for i, value in enumerate(stat["categories"])}
            if self.categorical == "ordinal":
                out[:, position] = [index.get(value, -1) for value in text]
                position += 1
                continue
            width = len(stat["categories"]) + int(stat["other"])
            seen = set(spec.categories or ())
            other_code = len(stat["categories"]) if stat["other"] else -1
            codes = np.array([index.get(value, other_code if value in seen else -1) for value in text], dtype=np.int64)
            rows = np.flatnonzero(codes >= 0)
            out[rows, position + codes[rows]] = 1.0
            position += width
        if problems and problems != getattr(self, "_fit_gaps", None):
            warnings.warn(_impute_message(problems, "transform"), MissingValuesWarning, stacklevel=2)
        return out.astype(np.float32)

    def fit_transform(self, df: pd.DataFrame | np.ndarray, y: Any = None) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same table (imputation is warned about once, by fit)."""
        self.fit(df)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingValuesWarning)
            return self.transform(df)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names, as scikit-learn expects."""
        self._check_fitted()
        return np.array(self.feature_names_out_, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """The full state as JSON-safe dicts, lists, strings and numbers (no pickle).

        Examples
        --------
        >>> import json
        >>> pre = TabularPreprocessor().fit(pd.DataFrame({"a": [1.0, 2.0, 4.0]}))
        >>> again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
        >>> again.transform(pd.DataFrame({"a": [3.0]})) == pre.transform(pd.DataFrame({"a": [3.0]}))
        array([[ True]])
        """
        state: dict[str, Any] = {
            "format": STATE_FORMAT,
            "state_version": STATE_VERSION,
            "metaad_version": __version__,
            "params": {name: getattr(self, name) for name in ("scaling", "categorical", "missing", "max_categories")},
            "fitted": hasattr(self, "schema_"),
        }
        state["params"]["max_categories"] = int(state["params"]["max_categories"])
        if self.drop_columns:
            state["params"]["drop_columns"] = [str(c) for c in self.drop_columns]
        if self.id_column is not None:
            state["params"]["id_column"] = str(self.id_column)
        if state["fitted"]:
            state["schema"] = self.schema_.to_dict()
            state["column_stats"] = [
                dict(stat, categories=list(stat["categories"])) if "categories" in stat else dict(stat)
                for stat in self.column_stats_
            ]
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TabularPreprocessor:
        """Rebuild a preprocessor from :meth:`to_dict`; ``transform`` output is bit-identical.

        Raises
        ------
        ModelFileError
            When ``state`` is not a preprocessor state or comes from a newer state version.
        """
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ModelFileError(f"not a TabularPreprocessor state: expected format {STATE_FORMAT!r}")
        if state.get("state_version", 0) > STATE_VERSION:
            raise ModelFileError(
                f"TabularPreprocessor state version {state.get('state_version')} was written by a newer metaad "
                f"({state.get('metaad_version')}); this one ({__version__}) reads up to version {STATE_VERSION}"
            )
        try:
            params = dict(state["params"])
            if isinstance(params.get("drop_columns"), list):
                params["drop_columns"] = tuple(params["drop_columns"])
            pre = cls(**params)
            pre._check_params()
            if state["fitted"]:
                pre.schema_ = Schema.from_dict(state["schema"])
                pre.column_stats_ = [dict(stat) for stat in state["column_stats"]]
                if [stat["name"] for stat in pre.column_stats_] != pre.schema_.names:
                    raise ModelFileError("TabularPreprocessor state: column_stats do not match the schema columns")
                pre.n_features_in_ = len(pre.schema_.columns)
                pre.feature_names_in_ = np.array(pre.schema_.names, dtype=object)
                pre.feature_names_out_ = pre._output_names()
        except (KeyError, TypeError, ParameterError) as exc:
            raise ModelFileError(f"TabularPreprocessor state is malformed: {type(exc).__name__}: {exc}") from exc
        return pre

    def _check_fitted(self) -> None:
        if not hasattr(self, "schema_"):
            raise NotFittedError("this TabularPreprocessor is not fitted yet; call fit first")

    def _output_names(self) -> list[str]:
        names: list[str] = []
        for stat in self.column_stats_:
            if stat["kind"] == "ignored":
                continue
            if stat["kind"] == "datetime":
                names += [f"{stat['name']}={part}_{wave}" for part in stat["parts"] for wave in ("sin", "cos")]
            elif stat["kind"] == "numeric" or self.categorical == "ordinal":
                names.append(stat["name"])
            else:
                names += [f"{stat['name']}={value}" for value in stat["categories"]]
                names += [f"{stat['name']}=<other>"] if stat["other"] else []
        return names

    def _check_gaps(self, column: pd.Series, values: np.ndarray) -> list[str]:
        """Describe missing / infinite values in one column, or raise under ``missing="error"``."""
        if values.dtype == object:
            missing, infinite = pd.isna(values), np.zeros(len(values), dtype=bool)
        else:
            missing, infinite = np.isnan(values), np.isinf(values)
        bad = missing | infinite
        if not bad.any():
            return []
        if self.missing == "error":
            first = int(np.flatnonzero(bad)[0])
            what = "missing" if missing[first] else f"infinite ({values[first]})"
            raise DataError(
                f"column {str(column.name)!r} row {plain(column.index[first])}: value is {what} and missing='error'"
            )
        parts = [f"{int(missing.sum())} missing"] if missing.any() else []
        parts += [f"{int(infinite.sum())} infinite"] if infinite.any() else []
        return [f"column {str(column.name)!r}: {' and '.join(parts)}"]


def _as_float(column: pd.Series) -> np.ndarray:
    """A numeric or bool column as float64 with NaN for missing."""
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _scaling_stats(finite: np.ndarray, scaling: str) -> tuple[float, float]:
    """(center, scale) for one column's finite values; a zero or non-finite scale becomes 1.

    Values beyond 1e100 are divided by the largest magnitude first, so squaring 1e200 in the standard
    deviation (or subtracting -1e308 from 1e308) cannot overflow.
    """
    magnitude = float(np.max(np.abs(finite)))
    unit = magnitude if magnitude > 1e100 else 1.0
    shrunk = finite / unit
    if scaling == "standard":
        center, scale = shrunk.mean(), shrunk.std()
    elif scaling == "minmax":
        center, scale = shrunk.min(), shrunk.max() - shrunk.min()
    elif scaling == "robust":
        q25, center, q75 = np.percentile(shrunk, [25, 50, 75])
        scale = q75 - q25 if q75 > q25 else shrunk.std()
    else:
        center, scale, unit = 0.0, 1.0, 1.0
    center, scale = float(center) * unit, float(scale) * unit
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    return center, scale


class ValueRangeError(DataError):
    """A value too large for the float32 matrix once scaled; ``column`` and ``row`` (the table's index label) name it."""

    def __init__(self, message: str, column: str, row: Any) -> None:
        super().__init__(message)
        self.column, self.row = column, row


def _check_float32_range(scaled: np.ndarray, values: np.ndarray, column: pd.Series, scaling: str) -> None:
    """Refuse a value that would become infinite in the float32 matrix, naming it, instead of passing inf on."""
    with np.errstate(over="ignore", invalid="ignore"):
        too_large = ~(np.abs(scaled) <= FLOAT32_MAX)
    if too_large.any():
        first = int(np.flatnonzero(too_large)[0])
        raise ValueRangeError(
            f"column {str(column.name)!r} row {plain(column.index[first])}: value {values[first]:.6g} is "
            f"{scaled[first]:.3g} after {scaling} scaling, beyond the float32 range (±3.4e38) detectors use; "
            "rescale the column (e.g. log) or drop it", str(column.name), plain(column.index[first]))


def _impute_message(problems: list[str], stage: str) -> str:
    return (
        f"{stage}: filled missing/infinite values with the fitted median (numeric) or most frequent category: "
        + "; ".join(problems)
    )
