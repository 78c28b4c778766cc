"""Tests for metaad.data.preprocessing.TabularPreprocessor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from metaad.data import TabularPreprocessor, load_dataset
from metaad.data.preprocessing import MissingValuesWarning
from metaad.exceptions import DataError, ModelFileError, NotFittedError, ParameterError, SchemaError


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    rng = np.random.RandomState(0)
    n = 40
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, n),
            "count": rng.poisson(3, n).astype(float),
            "flag": rng.rand(n) > 0.5,
            "city": rng.choice(["paris", "rome", "oslo", "lima"], n),
            "steady": np.full(n, 7.0),
        }
    )


def test_standard_scaling_and_output(mixed):
    pre = TabularPreprocessor()
    out = pre.fit_transform(mixed)
    assert out.dtype == np.float32
    assert out.shape == (40, 4 + 4)
    assert pre.feature_names_out_[:3] == ["height", "count", "flag"]
    assert sorted(pre.feature_names_out_[3:7]) == ["city=lima", "city=oslo", "city=paris", "city=rome"]
    assert pre.feature_names_out_[7] == "steady"
    np.testing.assert_allclose(out[:, 0].mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(out[:, 0].std(), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out[:, 3:7].sum(axis=1), 1.0)
    np.testing.assert_array_equal(out[:, 7], 0.0)  # constant column kept, scale 1, no division by zero


@pytest.mark.parametrize("scaling", ["minmax", "robust", "none"])
def test_other_scalings(mixed, scaling):
    out = TabularPreprocessor(scaling=scaling).fit_transform(mixed[["height", "count"]])
    assert np.isfinite(out).all()
    if scaling == "minmax":
        np.testing.assert_allclose(out.min(axis=0), 0.0, atol=1e-6)
        np.testing.assert_allclose(out.max(axis=0), 1.0, atol=1e-6)
    elif scaling == "robust":
        np.testing.assert_allclose(np.median(out, axis=0), 0.0, atol=1e-6)
    else:
        np.testing.assert_allclose(out[:, 1], mixed["count"].to_numpy())


def test_robust_falls_back_to_std_when_iqr_is_zero():
    df = pd.DataFrame({"sparse": [0.0] * 9 + [10.0]})
    out = TabularPreprocessor(scaling="robust").fit_transform(df)
    np.testing.assert_allclose(out[-1, 0], 10.0 / 3.0, rtol=1e-6)  # std of the column is 3


@pytest.mark.parametrize("scaling", ["standard", "minmax", "robust", "none"])
@pytest.mark.parametrize("categorical", ["onehot", "ordinal"])
def test_dict_round_trip_is_bit_identical(mixed, scaling, categorical):
    train = mixed.copy()
    train.loc[3, "height"] = np.nan
    train.loc[5, "city"] = None
    pre = TabularPreprocessor(scaling=scaling, categorical=categorical, max_categories=2)
    with pytest.warns(MissingValuesWarning):
        pre.fit(train)
    text = json.dumps(pre.to_dict())
    again = TabularPreprocessor.from_dict(json.loads(text))
    assert again.get_params() == pre.get_params()
    assert again.feature_names_out_ == pre.feature_names_out_
    new = mixed.assign(city=["atlantis"] + mixed["city"].tolist()[1:])
    first, second = pre.transform(new), again.transform(new)
    assert first.tobytes() == second.tobytes()


def test_impute_warns_with_columns_and_counts(mixed):
    df = mixed.copy()
    df.loc[[1, 2], "height"] = np.nan
    df.loc[4, "count"] = np.inf
    df.loc[0, "city"] = None
    with pytest.warns(MissingValuesWarning, match=r"'height': 2 missing.*'count': 1 infinite.*'city': 1 missing"):
        out = TabularPreprocessor().fit_transform(df)
    assert np.isfinite(out).all()
    pre = TabularPreprocessor(scaling="none").fit(mixed)
    with pytest.warns(MissingValuesWarning, match="transform"):
        filled = pre.transform(df)
    assert filled[1, 0] == np.float32(np.median(mixed["height"]))


def test_error_policy_names_column_and_row(mixed):
    df = mixed.copy()
    df.loc[6, "height"] = np.nan
    with pytest.raises(DataError, match=r"column 'height' row 6: value is missing"):
        TabularPreprocessor(missing="error").fit(df)
    df = mixed.copy()
    df.loc[8, "count"] = -np.inf
    with pytest.raises(DataError, match=r"column 'count' row 8: value is infinite \(-inf\)"):
        TabularPreprocessor(missing="error").fit(df)
    pre = TabularPreprocessor(missing="error").fit(mixed)
    df = mixed.copy()
    df.loc[9, "city"] = None
    with pytest.raises(DataError, match=r"column 'city' row 9"):
        pre.transform(df)


def test_non_numeric_text_in_numeric_column_at_fit():
    values = [str(v) for v in range(30)]
    values[17] = "abc"
    df = pd.DataFrame({"c": values, "d": np.arange(30.0)})
    with pytest.raises(DataError, match=r"column 'c' row 17: value 'abc' is not a number"):
        TabularPreprocessor().fit(df)


def test_all_numeric_text_column_is_numeric():
    df = pd.DataFrame({"c": ["1", "2", "3.5"], "d": [1.0, 0.0, 1.0]})
    pre = TabularPreprocessor(scaling="none").fit(df)
    assert pre.schema_.columns[0].kind == "numeric"
    np.testing.assert_array_equal(pre.transform(df)[:, 0], [1.0, 2.0, 3.5])


def test_text_in_numeric_column_at_transform(mixed):
    pre = TabularPreprocessor().fit(mixed)
    bad = mixed.astype({"height": object})
    bad.loc[11, "height"] = "tall"
    with pytest.raises(SchemaError, match=r"column 'height' row 11: value 'tall' is not a number"):
        pre.transform(bad)
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['flag'\]"):
        pre.transform(mixed.drop(columns="flag"))


def test_constant_and_tiny_inputs():
    with pytest.raises(DataError, match="all 2 columns are constant: nothing to detect"):
        TabularPreprocessor().fit(pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": ["x", "x", "x"]}))
    with pytest.raises(DataError, match="at least 2 rows; got 1"):
        TabularPreprocessor().fit(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(DataError, match="column 'a' has no finite values"):
        TabularPreprocessor().fit(pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]}))


def test_unseen_categories_and_other_bucket():
    train = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c", "d"], "x": np.arange(10.0)})
    pre = TabularPreprocessor(max_categories=2).fit(train)
    assert pre.feature_names_out_ == ["c=a", "c=b", "c=<other>", "x"]
    out = pre.transform(pd.DataFrame({"c": ["a", "d", "zzz"], "x": [0.0, 0.0, 0.0]}))
    np.testing.assert_array_equal(out[:, :3], [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    ordinal = TabularPreprocessor(categorical="ordinal").fit(train)
    codes = ordinal.transform(pd.DataFrame({"c": ["a", "d", "zzz"], "x": [0.0, 0.0, 0.0]}))[:, 0]
    np.testing.assert_array_equal(codes, [0, 3, -1])


def test_numpy_input_and_real_dataset():
    table = load_dataset("breast_cancer")
    pre = TabularPreprocessor()
    out = pre.fit_transform(table.frame.to_numpy())
    assert out.shape == (376, 30)
    assert pre.feature_names_out_[0] == "x0"
    assert np.isfinite(out).all()


def test_parameters_fitting_and_state_errors(mixed):
    with pytest.raises(ParameterError, match=r"scaling='zscore' is not one of"):
        TabularPreprocessor(scaling="zscore").fit(mixed)
    with pytest.raises(ParameterError, match="max_categories=0"):
        TabularPreprocessor(max_categories=0).fit(mixed)
    with pytest.raises(NotFittedError):
        TabularPreprocessor().transform(mixed)
    with pytest.raises(ModelFileError, match="not a TabularPreprocessor state"):
        TabularPreprocessor.from_dict({"format": "pickle"})
    state = TabularPreprocessor().fit(mixed).to_dict()
    state["state_version"] = 99
    with pytest.raises(ModelFileError, match="newer metaad"):
        TabularPreprocessor.from_dict(state)
    assert clone(TabularPreprocessor(scaling="minmax")).scaling == "minmax"
    unfitted = TabularPreprocessor.from_dict(json.loads(json.dumps(TabularPreprocessor().to_dict())))
    assert not hasattr(unfitted, "schema_")
