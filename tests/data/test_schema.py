"""Tests for metaad.data.schema: kinds, JSON round trip, and errors that name the column."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from metaad.data import ColumnSpec, Schema
from metaad.exceptions import SchemaError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size": [1.0, 2.5, 3.0],
            "count": [1, 2, 3],
            "flag": [True, False, True],
            "colour": ["red", "blue", "red"],
            "grade": pd.Categorical(["a", "b", "a"]),
        }
    )


def test_from_frame_kinds(frame):
    schema = Schema.from_frame(frame)
    assert schema.names == ["size", "count", "flag", "colour", "grade"]
    assert [spec.kind for spec in schema.columns] == ["numeric", "numeric", "numeric", "categorical", "categorical"]
    assert schema.columns[0] == ColumnSpec("size", "numeric", "float64", None)
    assert schema.columns[3].categories == ["blue", "red"]
    assert schema.columns[4].dtype == "category"


def test_dict_round_trip_is_json_safe(frame):
    schema = Schema.from_frame(frame)
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema


def test_from_dict_rejects_garbage():
    with pytest.raises(SchemaError, match="not a schema description"):
        Schema.from_dict({"cols": []})
    with pytest.raises(SchemaError, match="kind 'text'"):
        Schema.from_dict({"columns": [{"name": "a", "kind": "text", "dtype": "object"}]})


def test_validate_reorders_and_accepts_unseen_categories(frame):
    schema = Schema.from_frame(frame)
    shuffled = frame[["colour", "flag", "grade", "size", "count"]].copy()
    shuffled.loc[0, "colour"] = "purple"
    out = schema.validate(shuffled)
    assert out.columns.tolist() == schema.names
    assert out["colour"].tolist() == ["purple", "blue", "red"]


def test_validate_names_missing_and_extra_columns(frame):
    schema = Schema.from_frame(frame)
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['size'\]"):
        schema.validate(frame.drop(columns=["size"]))
    with pytest.raises(SchemaError, match=r"unexpected column\(s\) \['new'\]"):
        schema.validate(frame.assign(new=1))


def test_validate_names_text_in_numeric_column(frame):
    schema = Schema.from_frame(frame)
    bad = frame.astype({"size": object})
    bad.loc[2, "size"] = "abc"
    with pytest.raises(SchemaError, match=r"column 'size' row 2: value 'abc' is not a number; expected numeric"):
        schema.validate(bad)


def test_validate_converts_numeric_text(frame):
    schema = Schema.from_frame(frame)
    as_text = frame.astype({"size": str})
    out = schema.validate(as_text)
    np.testing.assert_array_equal(out["size"].to_numpy(), frame["size"].to_numpy())


def test_validate_rejects_a_kind_change_to_dates(frame):
    schema = Schema.from_frame(frame)
    dated = frame.assign(count=pd.to_datetime(["2024-01-01"] * 3))
    with pytest.raises(SchemaError, match="column 'count' was numeric"):
        schema.validate(dated)


def test_duplicate_and_unsupported_columns():
    with pytest.raises(SchemaError, match=r"\['a'\] appear more than once"):
        Schema.from_frame(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(SchemaError, match="column 'z' has dtype complex128, which is neither"):
        Schema.from_frame(pd.DataFrame({"z": [1 + 2j]}))


def test_datetime_and_ignored_columns_round_trip_and_validate():
    df = pd.DataFrame({"when": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00"]), "id": ["a", "b"], "x": [1.0, 2.0]})
    schema = Schema.from_frame(df, ignored={"id": "id column"})
    assert [(c.name, c.kind) for c in schema.columns] == [("when", "datetime"), ("id", "ignored"), ("x", "numeric")]
    again = Schema.from_dict(schema.to_dict())
    assert again.columns[1].reason == "id column"
    # date text is parsed; an ignored column may be absent; a value that is no date is named
    out = again.validate(pd.DataFrame({"when": ["2024-03-01 12:30"], "x": [3.0]}))
    assert out["when"].dt.hour.tolist() == [12] and out["id"].isna().all()
    with pytest.raises(SchemaError, match=r"column 'when' row 1: value 'soon' is not a date"):
        again.validate(pd.DataFrame({"when": ["2024-03-01", "soon"], "x": [3.0, 4.0]}))
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['x'\]"):
        again.validate(pd.DataFrame({"when": ["2024-03-01"]}))
