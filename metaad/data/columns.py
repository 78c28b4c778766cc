"""Columns that are not features as they stand: dates and times, and identifiers.

A **datetime** column (a ``datetime64`` column, or text where every value is a date such as ``2024-01-31`` or
``2024-01-31 13:05``) is turned into cyclic features: hour of day, day of week and day of year, each as a
(sine, cosine) pair so 23:00 sits next to 00:00 and Sunday next to Monday. Only the parts that vary in the
fitted data are kept. The absolute date is *not* a feature: data scored later always lies after the training
period, so a raw timestamp would make every new row look anomalous (on a payments table, one-hot timestamps
made ``metaad score`` flag 200 of 200 new normal rows).

An **ID-like** column holds a different value in every row of a table with at least :data:`MIN_ROWS_FOR_ID`
rows: text (``T00017``, a UUID), or integers that either have an identifier's name (``id``, ``user_id``,
``txnId``, ``uuid``) or are evenly spaced once sorted (row numbers). Such a column says nothing about what is
normal, so it is excluded from the features with a warning.

A **text column that is mostly numbers** (at least :data:`NUMERIC_TEXT_SHARE` of its values) is a numeric
column with bad entries: :func:`numeric_text_to_numbers` refuses it naming the first non-number, where one-hot
encoding would have made a category of every number.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection

import numpy as np
import pandas as pd

from metaad.data.schema import first_non_number, is_categorical_series
from metaad.exceptions import DataError

#: Fewer rows than this and no column is called ID-like (in a tiny table every text value may be unique).
MIN_ROWS_FOR_ID = 20

#: A text column where at least this share of the non-missing values are numbers is a numeric column with
#: bad entries, and is refused naming the first one, rather than one-hot encoded as a category per number
#: (a column with 33% text became 134 categories). Below it, the column is text with a few numeric values.
NUMERIC_TEXT_SHARE = 0.5
#: Cyclic parts of a timestamp and their periods (hours, days, days).
DATETIME_PERIODS: dict[str, float] = {"hour": 24.0, "weekday": 7.0, "yearday": 365.2425}

_ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid)$|^(id|uuid|guid)([_\W]|$)", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")
_DATE_TEXT = re.compile(
    r"^\s*("
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2024-01-31, 2024/1/31
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 31/01/2024, 1.31.24
    r")([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?\s*$",
    re.IGNORECASE,
)


def is_datetime_series(column: pd.Series) -> bool:
    """Whether a column has a datetime dtype (naive or with a time zone).

    Examples
    --------
    >>> is_datetime_series(pd.Series(pd.to_datetime(["2024-01-01"]))), is_datetime_series(pd.Series([1]))
    (True, False)
    """
    return bool(pd.api.types.is_datetime64_any_dtype(column.dtype))


def looks_like_datetime_text(column: pd.Series) -> bool:
    """Whether a text column holds only dates (every non-missing value looks like a date and parses as one).

    Examples
    --------
    >>> looks_like_datetime_text(pd.Series(["2024-01-31", "2024-02-01 10:30", None]))
    True
    >>> looks_like_datetime_text(pd.Series(["2024-01-31", "soon"])), looks_like_datetime_text(pd.Series(["may"]))
    (False, False)
    """
    if not is_categorical_series(column) or isinstance(column.dtype, pd.CategoricalDtype):
        return False
    present = column.dropna()
    if present.empty:
        return False
    text = present.astype(str)
    if not text.map(lambda value: bool(_DATE_TEXT.match(value))).all():
        return False
    return not to_datetimes(present).isna().any()


def to_datetimes(column: pd.Series) -> pd.Series:
    """Parse a datetime or date-text column into naive UTC timestamps; what does not parse becomes NaT.

    Time-zone-aware values are converted to UTC; naive ones are taken as they are.

    Examples
    --------
    >>> to_datetimes(pd.Series(["2024-01-31 10:00+01:00", "2024-01-31"])).dt.hour.tolist()
    [9, 0]
    """
    if is_datetime_series(column):
        values = column
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[ns]")
    with warnings.catch_warnings():  # "could not infer format" is about speed, not correctness
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(column.astype(object), errors="coerce", utc=True, format="mixed")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def datetime_seconds(timestamps: pd.Series) -> np.ndarray:
    """Seconds since 1970-01-01 as float64, NaN for missing.

    Examples
    --------
    >>> datetime_seconds(pd.Series(pd.to_datetime(["1970-01-02", None]))).tolist()
    [86400.0, nan]
    """
    values = pd.to_datetime(timestamps).astype("datetime64[ns]")
    seconds = (values - pd.Timestamp(0)).dt.total_seconds()
    return seconds.to_numpy(dtype=np.float64, na_value=np.nan)


def datetime_part_values(seconds: np.ndarray) -> dict[str, np.ndarray]:
    """Hour of day (0-24), day of week (0-7, Monday 0) and day of year (0-366) of UTC seconds, with fractions.

    Examples
    --------
    >>> {k: v.tolist() for k, v in datetime_part_values(np.array([86400.0 * 4 + 5400.0])).items()}
    {'hour': [1.5], 'weekday': [0.0625], 'yearday': [4.0625]}
    """
    stamps = pd.to_datetime(pd.Series(seconds), unit="s")
    hour = (seconds % 86400.0) / 3600.0
    return {
        "hour": hour,
        "weekday": stamps.dt.day_of_week.to_numpy(dtype=np.float64) + hour / 24.0,
        "yearday": stamps.dt.day_of_year.to_numpy(dtype=np.float64) - 1.0 + hour / 24.0,
    }


def varying_parts(seconds: np.ndarray) -> list[str]:
    """The cyclic parts worth keeping: those that vary over the fitted (finite) timestamps.

    Hour of day is kept when the time of day varies, day of week when the weekday does, day of year when the
    month does. A column where none varies (one date) keeps ``weekday`` (a constant feature).

    Examples
    --------
    >>> day = 86400.0
    >>> varying_parts(np.array([0.0, day, 2 * day])), varying_parts(np.array([0.0, 3600.0]))
    (['weekday'], ['hour'])
    """
    finite = seconds[np.isfinite(seconds)]
    parts = datetime_part_values(finite)
    stamps = pd.to_datetime(pd.Series(finite), unit="s")
    kept = []
    if finite.size and np.ptp(parts["hour"]) > 0:
        kept.append("hour")
    if stamps.dt.day_of_week.nunique() > 1:
        kept.append("weekday")
    if stamps.dt.month.nunique() > 1:
        kept.append("yearday")
    return kept or ["weekday"]


def datetime_features(seconds: np.ndarray, parts: list[str]) -> np.ndarray:
    """The (sine, cosine) pair of each part, as columns ``[part1_sin, part1_cos, part2_sin, ...]``.

    Examples
    --------
    >>> datetime_features(np.array([0.0, 6 * 3600.0]), ["hour"]).round(3).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    values = datetime_part_values(seconds)
    columns = []
    for part in parts:
        angle = 2.0 * np.pi * values[part] / DATETIME_PERIODS[part]
        columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns) if columns else np.zeros((len(seconds), 0))


def looks_like_id(column: pd.Series, name: str) -> bool:
    """Whether a column identifies rows rather than describing them (see the module docstring).

    Examples
    --------
    >>> n = MIN_ROWS_FOR_ID
    >>> looks_like_id(pd.Series([f"T{i:05d}" for i in range(n)]), "txn")
    True
    >>> looks_like_id(pd.Series(np.arange(n) * 7 + 100), "row"), looks_like_id(pd.Series(np.arange(n) ** 2), "amount")
    (True, False)
    >>> looks_like_id(pd.Series(np.arange(n) ** 2), "customer_id"), looks_like_id(pd.Series(np.arange(n) ** 2), "paid")
    (True, False)
    """
    if len(column) < MIN_ROWS_FOR_ID or column.isna().any():
        return False
    if isinstance(column.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(column.dtype):
        return False
    if not column.is_unique:
        return False
    if is_categorical_series(column):
        return True
    if not pd.api.types.is_integer_dtype(column.dtype):
        return False
    if _ID_NAME.search(str(name)) or _CAMEL_ID.search(str(name)):
        return True
    steps = np.diff(np.sort(column.to_numpy(dtype=np.int64)))
    return bool(steps.size and (steps == steps[0]).all())


def numeric_text_to_numbers(df: pd.DataFrame, skip: Collection[str] = ()) -> pd.DataFrame:
    """Convert text columns whose values are all numbers; refuse those at least NUMERIC_TEXT_SHARE numbers.

    Columns named in ``skip`` are left as they are.

    Examples
    --------
    >>> numeric_text_to_numbers(pd.DataFrame({"a": ["1", "2.5"], "b": ["x", "y"]})).dtypes.astype(str).tolist()
    ['float64', 'str']
    """
    converted = {}
    for name in df.columns:
        column = df[name]
        if str(name) in skip or not is_categorical_series(column) or isinstance(column.dtype, pd.CategoricalDtype):
            continue
        present = column.dropna()
        if present.empty:
            continue
        parsed = pd.to_numeric(present.astype(object), errors="coerce")
        share = float(parsed.notna().mean())
        if share == 1.0:
            converted[name] = pd.to_numeric(column.astype(object), errors="coerce").astype("float64")
        elif share >= NUMERIC_TEXT_SHARE:
            row, value = first_non_number(column)  # type: ignore[misc]
            n_text = int(parsed.isna().sum())
            raise DataError(
                f"column {str(name)!r} row {row}: value {value!r} is not a number, and {n_text} of its "
                f"{len(present)} values ({1 - share:.0%}) are text while {share:.0%} are numbers; a column at least "
                f"{NUMERIC_TEXT_SHARE:.0%} numeric is read as numeric: clean the text values, or leave the column "
                "out (--drop-cols)"
            )
    if not converted:
        return df
    out = df.copy()
    for name, values in converted.items():
        out[name] = values
    return out


def date_text_to_datetimes(df: pd.DataFrame, skip: Collection[str] = ()) -> pd.DataFrame:
    """Parse text columns that hold only dates into timestamps (so they become datetime columns).

    Examples
    --------
    >>> date_text_to_datetimes(pd.DataFrame({"d": ["2024-01-31", "2024-02-01"]}))["d"].dt.month.tolist()
    [1, 2]
    """
    dated = {name: to_datetimes(df[name]) for name in df.columns if str(name) not in skip and looks_like_datetime_text(df[name])}
    if not dated:
        return df
    out = df.copy()
    for name, values in dated.items():
        out[name] = values
    return out
