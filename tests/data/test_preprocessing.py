"""Tests for metaad.data.preprocessing.TabularPreprocessor."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from metaad.data import TabularPreprocessor, load_dataset
from metaad.data.preprocessing import ExcludedColumnsWarning, MissingValuesWarning
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


# --- text in numeric columns ----------------------------------------------------------------------------------


def test_column_with_a_third_text_is_refused_not_one_hot_encoded():
    rng = np.random.default_rng(0)
    values = [f"{v:.4f}" for v in rng.normal(size=200)]
    for row in range(0, 200, 3):  # 67 of 200 rows (34%) hold text
        values[row] = f"n/a-{row}"
    df = pd.DataFrame({"reading": values, "other": rng.normal(size=200)})
    with pytest.raises(DataError, match=r"column 'reading' row 0: value 'n/a-0' is not a number, and 67 of its 200 "
                                        r"values \(34%\) are text while 66% are numbers.*--drop-cols"):
        TabularPreprocessor().fit(df)


def test_column_mostly_text_stays_categorical():
    df = pd.DataFrame({"size": ["S", "M", "L", "XL", "2", "3"] * 5, "x": np.arange(30.0) % 7})
    pre = TabularPreprocessor().fit(df)  # 33% numbers: below the share, so a category column
    assert pre.schema_.columns[0].kind == "categorical"


# --- large finite values --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_huge_finite_values_scale_without_overflow(scaling):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    df.loc[0, "a"], df.loc[1, "b"], df.loc[2, "b"] = 1e200, 1e300, -1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy overflow RuntimeWarnings fail the test
        pre = TabularPreprocessor(scaling=scaling).fit(df)
        out = pre.transform(df)
    assert np.isfinite(out).all()
    assert out[:, 0].argmax() == 0 and out[:, 1].argmax() == 1 and out[:, 1].argmin() == 2
    assert all(np.isfinite(stat["scale"]) and stat["scale"] > 1 for stat in pre.column_stats_)


def test_value_too_large_for_float32_is_named():
    df = pd.DataFrame({"a": [*range(1, 20), 1e200], "b": np.arange(20.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre = TabularPreprocessor(scaling="robust").fit(df)
        with pytest.raises(DataError, match=r"column 'a' row 19: value 1e\+200 is .* after robust scaling, beyond "
                                            r"the float32 range"):
            pre.transform(df)


# --- dates, ids, dropped columns ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payments() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 120
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 30.0, n),
            "when": pd.date_range("2024-01-01 08:00", periods=n, freq="7h"),
            "txn": [f"T{i:06d}" for i in range(n)],
            "row_number": np.arange(1, n + 1),
            "customer_id": rng.choice(10**6, n, replace=False),  # unique, not evenly spaced: an id by its name
            "country": rng.choice(["fr", "de"], n),
        }
    )


def test_datetime_column_becomes_cyclic_features(payments):
    df = payments[["amount", "when", "country"]]
    pre = TabularPreprocessor().fit(df)
    assert pre.schema_.columns[1].kind == "datetime"
    names = pre.feature_names_out_
    assert [n for n in names if n.startswith("when=")] == [
        "when=hour_sin", "when=hour_cos", "when=weekday_sin", "when=weekday_cos", "when=yearday_sin", "when=yearday_cos"
    ]
    out = pre.transform(df)
    hour_sin = names.index("when=hour_sin")
    expected = np.sin(2 * np.pi * df["when"].dt.hour.to_numpy() / 24)
    np.testing.assert_allclose(out[:, hour_sin], expected, atol=1e-6)
    # a year later the same hours and weekdays give features in the fitted range: not every row an outlier
    later = df.assign(when=df["when"] + pd.Timedelta(days=364))
    np.testing.assert_allclose(pre.transform(later)[:, hour_sin], out[:, hour_sin], atol=1e-6)
    assert np.abs(pre.transform(later)[:, hour_sin:]).max() <= 1.0 + 1e-6


def test_date_text_and_round_trip(payments, tmp_path):
    text = payments[["amount", "when"]].assign(when=payments["when"].dt.strftime("%Y-%m-%d %H:%M"))
    pre = TabularPreprocessor().fit(text)
    assert pre.schema_.columns[1].kind == "datetime"
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(payments[["amount", "when"]]), pre.transform(text))
    with pytest.raises(SchemaError, match=r"column 'when' row 0: value 'yesterday' is not a date"):
        again.transform(text.assign(when="yesterday"))


def test_missing_dates_are_imputed_with_a_warning(payments):
    df = payments[["amount", "when"]].copy()
    df.loc[3, "when"] = pd.NaT
    with pytest.warns(MissingValuesWarning, match=r"'when': 1 missing"):
        out = TabularPreprocessor().fit_transform(df)
    assert np.isfinite(out).all()


def test_id_like_columns_are_left_out_with_a_warning(payments):
    with pytest.warns(ExcludedColumnsWarning, match=r"left out column\(s\) \['customer_id', 'row_number', 'txn'\]"):
        pre = TabularPreprocessor().fit(payments)
    kinds = {c.name: c.kind for c in pre.schema_.columns}
    assert kinds == {"amount": "numeric", "when": "datetime", "txn": "ignored", "row_number": "ignored",
                     "customer_id": "ignored", "country": "categorical"}
    assert not any(n.startswith(("txn", "row_number", "customer_id")) for n in pre.feature_names_out_)
    # present or absent when scoring, ids change nothing
    np.testing.assert_array_equal(
        pre.transform(payments), pre.transform(payments.drop(columns=["txn", "row_number", "customer_id"]))
    )


def test_unique_amounts_and_small_tables_are_not_ids():
    amounts = pd.DataFrame({"cents": np.arange(30) ** 2 + 7, "x": np.arange(30.0) % 4})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExcludedColumnsWarning)
        assert TabularPreprocessor().fit(amounts).schema_.columns[0].kind == "numeric"
        small = pd.DataFrame({"name": ["ann", "bob", "cy"], "x": [1.0, 2.0, 3.0]})
        assert TabularPreprocessor().fit(small).schema_.columns[0].kind == "categorical"


def test_drop_columns_and_id_column(payments):
    df = payments[["amount", "txn", "country"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExcludedColumnsWarning)  # a named id column is not warned about
        pre = TabularPreprocessor(drop_columns=("country",), id_column="txn").fit(df)
    assert pre.feature_names_out_ == ["amount"]
    assert [c.reason for c in pre.schema_.columns] == [None, "id column (id_column)", "dropped (drop_columns)"]
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert (again.drop_columns, again.id_column) == (("country",), "txn")
    np.testing.assert_array_equal(again.transform(df[["amount"]]), pre.transform(df))
    with pytest.raises(DataError, match=r"column\(s\) \['nope'\] to leave out are not in the table"):
        TabularPreprocessor(drop_columns=("nope",)).fit(df)
    with pytest.raises(DataError, match="no feature column is left"):
        TabularPreprocessor(drop_columns=("amount", "country"), id_column="txn").fit(df)
    with pytest.raises(ParameterError, match="drop_columns='amount' must be a tuple"):
        TabularPreprocessor(drop_columns="amount").fit(df)


# --- the missing-value warning is said once --------------------------------------------------------------------


def test_missing_value_warning_is_not_repeated_for_the_fitted_table(mixed):
    df = mixed.copy()
    df.loc[[1, 2], "height"] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pre = TabularPreprocessor()
        pre.fit(df)
        pre.transform(df)
        pre.transform(df)
    assert [str(w.message)[:4] for w in caught if w.category is MissingValuesWarning] == ["fit:"]
    new = df.copy()
    new.loc[5, "height"] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pre.transform(new)
    assert [str(w.message) for w in caught if w.category is MissingValuesWarning] == [
        "transform: filled missing/infinite values with the fitted median (numeric) or most frequent category: "
        "column 'height': 3 missing"
    ]
