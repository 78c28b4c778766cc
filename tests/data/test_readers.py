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


# --- hostile HDF5 (MATLAB v7.3) files: nothing outside the file is ever read -------------------------------

SECRET = np.arange(40, dtype="<f8") * 1000.0 + 0.123  # distinctive values that must never show up


@pytest.fixture()
def secret(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(SECRET.tobytes())
    return path


def _mat_with_external_x(path, secret):
    import h5py

    with h5py.File(path, "w") as handle:
        handle.create_dataset("X", shape=(4, 10), dtype="<f8", external=[(str(secret), 0, SECRET.nbytes)])
        handle["y"] = np.zeros((1, 10))


def _mat_with_external_y(path, secret):
    import h5py

    with h5py.File(path, "w") as handle:
        handle["X"] = np.ones((4, 10))
        handle.create_dataset("y", shape=(1, 10), dtype="<f8", external=[(str(secret), 0, 80)])


def _mat_with_virtual_x(path, secret):
    import h5py

    source = path.with_name("source.h5")
    with h5py.File(source, "w") as handle:
        handle["d"] = SECRET.reshape(4, 10)
    layout = h5py.VirtualLayout(shape=(4, 10), dtype="<f8")
    layout[:] = h5py.VirtualSource(str(source), "d", shape=(4, 10))
    with h5py.File(path, "w") as handle:
        handle.create_virtual_dataset("X", layout)


def _mat_with_linked_x(path, secret):
    import h5py

    source = path.with_name("source.h5")
    with h5py.File(source, "w") as handle:
        handle["d"] = SECRET.reshape(4, 10)
    with h5py.File(path, "w") as handle:
        handle["X"] = h5py.ExternalLink(str(source), "d")


@pytest.mark.parametrize(
    ("craft", "message"),
    [
        (_mat_with_external_x, r"'X' keeps its data in an external file"),
        (_mat_with_external_y, r"'y' keeps its data in an external file"),
        (_mat_with_virtual_x, r"'X' is a virtual dataset"),
        (_mat_with_linked_x, r"'X' is a link to another file"),
    ],
)
def test_hdf5_data_outside_the_file_is_refused(tmp_path, secret, craft, message):
    path = tmp_path / "crafted.mat"
    craft(path, secret)
    with pytest.raises(DataError, match=message):
        read_table(path)


def test_hdf5_external_secret_is_never_read(tmp_path, secret, monkeypatch):
    """The refusal comes before h5py reads a value: reading the dataset would have returned the secret."""
    import h5py

    path = tmp_path / "crafted.mat"
    _mat_with_external_x(path, secret)
    reads = []
    original = h5py.Dataset.__getitem__
    monkeypatch.setattr(h5py.Dataset, "__getitem__", lambda self, key: reads.append(self.name) or original(self, key))
    monkeypatch.setattr(h5py.Dataset, "__array__", lambda self, *a, **k: reads.append(self.name) or original(self, ()))
    with pytest.raises(DataError, match="external file"):
        read_table(path)
    assert reads == []


def test_hdf5_v73_mat_inside_the_file_reads(tmp_path):
    import h5py

    path = tmp_path / "odds.mat"
    with h5py.File(path, "w") as handle:  # MATLAB v7.3 stores arrays transposed
        handle["X"] = np.arange(12.0).reshape(3, 4)
        handle["y"] = np.array([[0.0, 1.0, 0.0, 0.0]])
    table = read_table(path)
    assert table.frame.shape == (4, 3) and table.labels.tolist() == [0, 1, 0, 0]


# --- labels in .npz / .mat -------------------------------------------------------------------------------------


def test_fractional_npz_and_mat_labels_are_refused_not_cut(tmp_path):
    npz = tmp_path / "frac.npz"
    np.savez(npz, X=np.ones((5, 2)), y=np.array([0.0, 0.4, 1.7, 0.0, 1.0]))
    with pytest.raises(DataError, match=r"label 'y' row 1 is 0.4; expected 0 or 1 \(2 of 5 labels"):
        read_table(npz)
    mat = tmp_path / "frac.mat"
    scipy.io.savemat(mat, {"X": np.ones((3, 2)), "y": np.array([[0.0], [1.0], [1.7]])})
    with pytest.raises(DataError, match=r"label 'y' row 2 is 1.7"):
        read_table(mat)
    whole = tmp_path / "whole.npz"
    np.savez(whole, X=np.ones((3, 2)), y=np.array([0.0, 1.0, 1.0]))
    assert read_table(whole).labels.tolist() == [0, 1, 1]


# --- CSV delimiters, headers, encodings ------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_detected(tmp_path, frame, sep):
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False, sep=sep)
    _check_round_trip(read_table(path, label_col="label"), frame, "toy")


def test_semicolon_csv_with_decimal_commas(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("temp;site;label\n1,5;a;0\n-2,25;b;1\n3,0;a;0\n")
    table = read_table(path, label_col="label")
    assert table.frame["temp"].tolist() == [1.5, -2.25, 3.0]
    assert table.frame["site"].tolist() == ["a", "b", "a"]


def test_comma_wins_when_it_splits_every_line(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("note,x\nred;blue,1\ngreen;red,2\n")
    assert read_table(path).frame.columns.tolist() == ["note", "x"]


def test_explicit_sep_and_undecidable_delimiter(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a;b;c\n1;2\n3;4;5;6\n")
    with pytest.raises(DataError, match=r"cannot tell its delimiter .*semicolon.*--sep"):
        read_table(ragged)
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1;2\n3;4\n")
    assert read_table(path, sep=";").frame.columns.tolist() == ["a", "b"]
    assert read_table(path, sep=",").frame.columns.tolist() == ["a;b"]  # asked for, so obeyed
    tabbed = tmp_path / "tab.csv"
    tabbed.write_text("a\tb\n1\t2\n")
    assert read_table(tabbed, sep="\\t").frame.columns.tolist() == ["a", "b"]


def test_repeated_header_names_are_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b,b\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"header repeats 'a' \(columns 1, 2\); 'b' \(columns 3, 4\)"):
        read_table(path)


def test_encoding_option_and_hint(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("ville,x\nBéziers,1\nSète,2\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid UTF-8 text .*--encoding latin-1"):
        read_table(path)
    assert read_table(path, encoding="latin-1").frame["ville"].tolist() == ["Béziers", "Sète"]
    with pytest.raises(DataError, match="encoding 'klingon' is not known"):
        read_table(path, encoding="klingon")
