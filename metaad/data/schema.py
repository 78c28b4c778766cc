"""The columns a model was fitted on, and the check that later data still has them.

A :class:`Schema` records each column's name, kind (numeric, categorical, datetime, or ignored: an id or a
dropped column that may be present but is never a feature), dtype and, for categorical columns, the
categories seen at fit. :meth:`Schema.validate` is called on every frame given to a fitted model
and raises :class:`~metaad.exceptions.SchemaError` naming the missing, extra or mistyped column.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from metaad.data.readers import as_frame, plain
from metaad.exceptions import SchemaError

ColumnKind = Literal["numeric", "categorical", "datetime", "ignored"]
COLUMN_KINDS: tuple[str, ...] = ("numeric", "categorical", "datetime", "ignored")


@dataclass
class ColumnSpec:
    """One column of a :class:`Schema`.

    Attributes
    ----------
    name : str
        The column name.
    kind : {"numeric", "categorical", "datetime", "ignored"}
        Numeric columns are int, float or bool; categorical ones are object, string or category columns;
        datetime ones hold timestamps (or date text); ignored ones are ids or dropped columns.
    dtype : str
        The pandas dtype at fit, as text (``"float64"``, ``"str"``, ``"category"`` ...), for messages.
    categories : list of str or None
        For a categorical column the distinct non-missing values seen at fit, as text, sorted; else None.
    reason : str or None
        For an ignored column, why it is not a feature (``"id column"``, ``"dropped"``, ``"id-like ..."``).

    Examples
    --------
    >>> ColumnSpec("age", "numeric", "int64", None).kind
    'numeric'
    """

    name: str
    kind: ColumnKind
    dtype: str
    categories: list[str] | None = None
    reason: str | None = None


def is_numeric_series(column: pd.Series) -> bool:
    """Whether a column counts as numeric: int, float or bool dtype (complex excluded).

    Examples
    --------
    >>> is_numeric_series(pd.Series([1, 2])), is_numeric_series(pd.Series(["a"]))
    (True, False)
    """
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return True
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)


def is_categorical_series(column: pd.Series) -> bool:
    """Whether a column counts as categorical: object, string or category dtype."""
    dtype = column.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def category_text(column: pd.Series) -> np.ndarray:
    """The values of a categorical column as an object array of ``str``, missing values as None.

    Examples
    --------
    >>> category_text(pd.Series(["a", None, 3])).tolist()
    ['a', None, '3']
    """
    values = column.to_numpy(dtype=object)
    missing = pd.isna(column).to_numpy()
    out = np.empty(len(values), dtype=object)
    out[:] = [None if gone else str(value) for value, gone in zip(values, missing, strict=True)]
    return out


def first_non_number(column: pd.Series) -> tuple[Any, Any] | None:
    """The (row label, value) of the first non-missing value that does not parse as a number, or None.

    Examples
    --------
    >>> first_non_number(pd.Series(["1", "2.5", "abc"], index=[10, 11, 12]))
    (12, 'abc')
    """
    parsed = pd.to_numeric(column.astype(object), errors="coerce")
    bad = np.flatnonzero((parsed.isna() & column.notna()).to_numpy())
    if bad.size == 0:
        return None
    return plain(column.index[bad[0]]), plain(column.iloc[bad[0]])


@dataclass
class Schema:
    """The ordered columns of a feature table.

    Attributes
    ----------
    columns : list of ColumnSpec
        In the order of the fitted frame; :meth:`validate` returns frames in this order.

    Examples
    --------
    >>> df = pd.DataFrame({"size": [1.0, 2.0], "colour": ["red", "blue"]})
    >>> schema = Schema.from_frame(df)
    >>> [(c.name, c.kind, c.categories) for c in schema.columns]
    [('size', 'numeric', None), ('colour', 'categorical', ['blue', 'red'])]
    >>> schema.validate(df[["colour", "size"]]).columns.tolist()
    ['size', 'colour']
    """

    columns: list[ColumnSpec] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The column names in order."""
        return [spec.name for spec in self.columns]

    @classmethod
    def from_frame(cls, df: pd.DataFrame, ignored: dict[str, str] | None = None) -> Schema:
        """Record the columns of ``df``: numeric for int/float/bool, categorical for object/string/category,
        datetime for datetime dtypes, and ``ignored`` for the names in ``ignored`` (name -> reason).

        Raises
        ------
        SchemaError
            When two columns share a name, or a column has a dtype that is none of these (complex ...).
        """
        _check_unique(df)
        ignored = dict(ignored or {})
        specs = []
        for column_name in df.columns:
            column = df[column_name]
            name = str(column_name)
            if name in ignored:
                specs.append(ColumnSpec(name, "ignored", str(column.dtype), None, ignored[name]))
            elif is_numeric_series(column):
                specs.append(ColumnSpec(name, "numeric", str(column.dtype), None))
            elif pd.api.types.is_datetime64_any_dtype(column.dtype):
                specs.append(ColumnSpec(name, "datetime", str(column.dtype), None))
            elif is_categorical_series(column):
                categories = sorted({value for value in category_text(column) if value is not None})
                specs.append(ColumnSpec(name, "categorical", str(column.dtype), categories))
            else:
                raise SchemaError(
                    f"column {name!r} has dtype {column.dtype}, which is neither numeric, categorical nor a date; "
                    "convert it to numbers or text first, or drop it (--drop-cols)"
                )
        return cls(specs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description (lists, strings and None only).

        Examples
        --------
        >>> Schema([ColumnSpec("a", "numeric", "float64", None)]).to_dict()
        {'columns': [{'name': 'a', 'kind': 'numeric', 'dtype': 'float64', 'categories': None}]}
        """
        columns = []
        for spec in self.columns:
            item = {
                "name": spec.name,
                "kind": spec.kind,
                "dtype": spec.dtype,
                "categories": None if spec.categories is None else list(spec.categories),
            }
            if spec.reason is not None:
                item["reason"] = spec.reason
            columns.append(item)
        return {"columns": columns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Rebuild a schema from :meth:`to_dict` output.

        Raises
        ------
        SchemaError
            When the dictionary is not a schema description.
        """
        try:
            specs = []
            for item in data["columns"]:
                kind = item["kind"]
                if kind not in COLUMN_KINDS:
                    raise SchemaError(f"column {item['name']!r} has kind {kind!r}; expected one of {list(COLUMN_KINDS)}")
                categories = item.get("categories")
                categories = None if categories is None else [str(c) for c in categories]
                reason = item.get("reason")
                reason = None if reason is None else str(reason)
                specs.append(ColumnSpec(str(item["name"]), kind, str(item["dtype"]), categories, reason))
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"not a schema description: missing or malformed entry {exc}") from exc
        return cls(specs)

    def validate(self, df: pd.DataFrame) -> pd.DataFrame:
        """Check ``df`` has the fitted columns and kinds; return it with columns in the fitted order.

        Columns are matched by name (as text). A numeric column may arrive as text when every value parses
        as a number; it is returned converted. A categorical column may arrive as numbers (a CSV where only
        numeric-looking categories appear); its values are compared as text downstream. Categories not seen
        at fit are not an error here. A datetime column may arrive as date text; it is returned parsed (naive
        UTC). An ignored column (an id or a dropped column) may be absent; it is then returned empty.

        Raises
        ------
        SchemaError
            Naming the missing and extra columns, or the column whose kind changed with its first bad row
            and value.
        """
        df = as_frame(df)
        _check_unique(df)
        by_name = {str(column): column for column in df.columns}
        optional = {spec.name for spec in self.columns if spec.kind == "ignored"}
        missing = [name for name in self.names if name not in by_name and name not in optional]
        extra = [name for name in by_name if name not in set(self.names)]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {missing}")
            if extra:
                parts.append(f"unexpected column(s) {extra}")
            raise SchemaError(f"data does not match the fitted schema: {'; '.join(parts)}; expected {self.names}")
        present = [name for name in self.names if name in by_name]
        out = df[[by_name[name] for name in present]].copy()
        out.columns = present
        for name in self.names:
            if name not in by_name:
                out[name] = pd.Series([None] * len(out), index=out.index, dtype=object)
        out = out[self.names]
        for spec in self.columns:
            column = out[spec.name]
            if spec.kind == "ignored":
                continue
            if spec.kind == "datetime":
                out[spec.name] = _coerce_datetime(column, spec)
            elif spec.kind == "numeric" and not is_numeric_series(column):
                out[spec.name] = _coerce_numeric(column, spec)
            elif spec.kind == "categorical" and not (is_categorical_series(column) or is_numeric_series(column)):
                raise SchemaError(
                    f"column {spec.name!r} was categorical at fit but now has dtype {column.dtype}"
                )
        return out


def _coerce_numeric(column: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Convert a text column that should be numeric, or raise naming the first value that is not a number."""
    if not is_categorical_series(column):
        raise SchemaError(f"column {spec.name!r} was numeric ({spec.dtype}) at fit but now has dtype {column.dtype}")
    bad = first_non_number(column)
    if bad is not None:
        row, value = bad
        raise SchemaError(
            f"column {spec.name!r} row {row}: value {value!r} is not a number; "
            f"expected numeric ({spec.dtype}) as at fit"
        )
    return pd.to_numeric(column.astype(object), errors="coerce").astype("float64")


def _coerce_datetime(column: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Parse a datetime column (or date text) into naive UTC timestamps, naming the first value that is no date."""
    from metaad.data.columns import is_datetime_series, to_datetimes

    if not (is_datetime_series(column) or is_categorical_series(column) or column.isna().all()):
        raise SchemaError(f"column {spec.name!r} held dates at fit but now has dtype {column.dtype}")
    parsed = to_datetimes(column)
    bad = np.flatnonzero((parsed.isna() & column.notna()).to_numpy())
    if bad.size:
        raise SchemaError(
            f"column {spec.name!r} row {plain(column.index[bad[0]])}: value {plain(column.iloc[bad[0]])!r} is not a "
            "date; expected dates as at fit"
        )
    return parsed


def _check_unique(df: pd.DataFrame) -> None:
    """Reject frames where two columns have the same name (as text)."""
    counts = Counter(str(column) for column in df.columns)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise SchemaError(f"column name(s) {duplicates} appear more than once; every column needs its own name")
