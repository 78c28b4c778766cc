"""Tests for metaad.data.readers: every format round-trips, every bad input is a clear DataError."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import scipy.io

from metaad.data import Table, as_frame, read_table
from metaad.exceptions import DataError, ParameterError

from ._shared import shared_path


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1.5, 2.0, -3.25, 4.0],
            "b": [10, 20, 30, 40],
            "colour": ["red", "blue", "red", "green"],
            "label": [0, 0, 1, 0],
        }
    )


def _check_round_trip(table: Table, frame: pd.DataFrame, name: str) -> None:
    assert table.name == name
    assert table.frame.columns.tolist() == ["a", "b", "colour"]
    np.testing.assert_array_equal(table.frame["a"].to_numpy(), frame["a"].to_numpy())
    np.testing.assert_array_equal(table.frame["b"].to_numpy(), frame["b"].to_numpy())
    assert table.frame["colour"].tolist() == frame["colour"].tolist()
    assert table.labels.dtype.kind == "i"
    assert table.labels.tolist() == [0, 0, 1, 0]


def test_csv_round_trip(tmp_path, frame):
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    table = read_table(path, label_col="label")
    _check_round_trip(table, frame, "toy")
    assert table.source == str(path)


def test_csv_gz_and_tsv_round_trip(tmp_path, frame):
    gz = tmp_path / "toy.csv.gz"
    with gzip.open(gz, "wt") as handle:
        frame.to_csv(handle, index=False)
    _check_round_trip(read_table(gz, label_col="label"), frame, "toy")
    tsv = tmp_path / "tab.tsv"
    frame.to_csv(tsv, index=False, sep="\t")
    _check_round_trip(read_table(tsv, label_col="label"), frame, "tab")


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path, frame, suffix):
    path = tmp_path / f"toy{suffix}"
    frame.to_parquet(path, index=False)
    _check_round_trip(read_table(path, label_col="label"), frame, "toy")


def test_without_label_col_keeps_every_column(tmp_path, frame):
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    table = read_table(path)
    assert table.labels is None
    assert table.frame.shape == (4, 4)


def test_bool_labels_become_ints(tmp_path):
    path = tmp_path / "b.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "anomaly": [False, True, False]}).to_parquet(path)
    table = read_table(path, label_col="anomaly")
    assert table.labels.tolist() == [0, 1, 0]
    assert table.frame.columns.tolist() == ["x"]


def test_npz_round_trip(tmp_path):
    X = np.arange(12, dtype=float).reshape(4, 3)
    y = np.array([[0.0], [1.0], [0.0], [0.0]])  # column vector of floats, as in ADBench files
    path = tmp_path / "toy.npz"
    np.savez(path, X=X, y=y)
    table = read_table(path, label_col="ignored")
    assert table.frame.columns.tolist() == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(table.frame.to_numpy(), X)
    assert table.labels.tolist() == [0, 1, 0, 0]
    assert table.labels.dtype.kind == "i"


def test_npz_without_y_has_no_labels(tmp_path):
    path = tmp_path / "nolabels.npz"
    np.savez(path, X=np.ones((3, 2)))
    assert read_table(path).labels is None


def test_mat_v5_round_trip(tmp_path):
    X = np.random.RandomState(0).normal(size=(5, 2))
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": X, "y": np.array([[0], [0], [1], [0], [0]])})
    table = read_table(path)
    np.testing.assert_array_equal(table.frame.to_numpy(), X)
    assert table.labels.tolist() == [0, 0, 1, 0, 0]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "shape", "n_anomalies"), [("cardio", (1831, 21), 176), ("smtp", (95156, 3), 30)]
)
def test_real_odds_mat_files(name, shape, n_anomalies):
    table = read_table(shared_path("formats", f"{name}.mat"))
    assert table.name == name
    assert table.frame.shape == shape
    assert table.labels.shape == (shape[0],)
    assert int(table.labels.sum()) == n_anomalies
    assert np.isfinite(table.frame.to_numpy()).all()


def test_as_frame():
    frame = as_frame(np.arange(6).reshape(3, 2))
    assert frame.columns.tolist() == ["x0", "x1"]
    named = as_frame([[1.0, 2.0]], feature_names=["p", "q"])
    assert named.columns.tolist() == ["p", "q"]
    df = pd.DataFrame({"z": [1]})
    assert as_frame(df) is df


def test_as_frame_errors():
    with pytest.raises(DataError, match="reshape"):
        as_frame(np.arange(5))
    with pytest.raises(DataError, match="2-D"):
        as_frame(np.zeros((2, 2, 2)))
    with pytest.raises(ParameterError, match="3 names but X has 2 columns"):
        as_frame(np.zeros((2, 2)), feature_names=["a", "b", "c"])
    with pytest.raises(ParameterError, match="repeats"):
        as_frame(np.zeros((2, 2)), feature_names=["a", "a"])


# --- bad inputs -------------------------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)


def test_unknown_suffix_lists_supported(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"xx")
    with pytest.raises(DataError, match=r"unsupported suffix.*\.csv.*\.parquet.*\.npz.*\.mat"):
        read_table(path)


@pytest.mark.parametrize("suffix", [".parquet", ".npz", ".mat", ".csv.gz"])
def test_corrupt_files(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"\x00\x01 this is not a real file \xff" * 10)
    with pytest.raises(DataError, match="cannot be read"):
        read_table(path)


def test_empty_tables(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_table(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    with pytest.raises(DataError, match="has no rows"):
        read_table(header_only)
    only_label = tmp_path / "only_label.csv"
    only_label.write_text("label\n0\n1\n")
    with pytest.raises(DataError, match="no feature columns"):
        read_table(only_label, label_col="label")


def test_npz_without_x_and_x_not_2d(tmp_path):
    no_x = tmp_path / "no_x.npz"
    np.savez(no_x, data=np.ones((2, 2)))
    with pytest.raises(DataError, match=r"no array 'X'.*data"):
        read_table(no_x)
    flat = tmp_path / "flat.npz"
    np.savez(flat, X=np.ones(4))
    with pytest.raises(DataError, match="reshape"):
        read_table(flat)


def test_npz_label_problems(tmp_path):
    wrong_length = tmp_path / "len.npz"
    np.savez(wrong_length, X=np.ones((3, 2)), y=np.array([0, 1]))
    with pytest.raises(DataError, match="2 labels but 'X' has 3 rows"):
        read_table(wrong_length)
    not_binary = tmp_path / "multi.npz"
    np.savez(not_binary, X=np.ones((3, 2)), y=np.array([0, 2, 1]))
    with pytest.raises(DataError, match="row 1 is 2"):
        read_table(not_binary)


def test_missing_label_column_lists_available(tmp_path, frame):
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"'target' is not in .*\['a', 'b', 'colour', 'label'\]"):
        read_table(path, label_col="target")


@pytest.mark.parametrize(
    ("values", "bad"),
    [([0, 1, 2, 0], "row 2: value 2"), (["no", "yes", "no", "no"], "row 0: value 'no'"), ([0, 1, None, 0], "row 2")],
)
def test_non_binary_labels(tmp_path, values, bad):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"x": [1, 2, 3, 4], "y": values}).to_csv(path, index=False)
    with pytest.raises(DataError, match=f"label column 'y' {bad}"):
        read_table(path, label_col="y")
