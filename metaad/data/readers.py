"""Read a table of features (and optional 0/1 labels) from CSV, Parquet, NPZ or ODDS ``.mat`` files.

Every problem a user can cause (missing file, unknown format, corrupt bytes, empty table, a label column that
is not 0/1) is raised as :class:`~metaad.exceptions.DataError` with one sentence naming what was wrong.

Hostile or ambiguous files are refused rather than guessed at: an HDF5 (MATLAB v7.3) dataset stored in an
external file, a virtual dataset or a link to another file is never read (it could pull any local file into
the outputs); a CSV whose delimiter cannot be told apart, or whose header repeats a name, is an error that says
how to fix it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.data._csv import check_header, choose_delimiter, encoding_message, has_decimal_commas, sample_lines
from metaad.exceptions import DataError, ParameterError

#: File suffixes :func:`read_table` understands, longest first so ``.csv.gz`` wins over ``.gz``.
SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv.gz", ".tsv.gz", ".csv", ".tsv", ".parquet", ".pq", ".npz", ".mat")


@dataclass
class Table:
    """A table of features with optional anomaly labels.

    Attributes
    ----------
    frame : pandas.DataFrame
        The feature columns only (the label column, if any, is removed).
    labels : numpy.ndarray or None
        Integer 0/1 labels, 1 = anomaly, one per row of ``frame``; None when the source has no labels.
    name : str
        The file stem (``cardio`` for ``cardio.mat``) or the dataset name.
    source : str
        Where the table came from: a path or a short description.

    Examples
    --------
    >>> t = Table(frame=as_frame(np.zeros((3, 2))), labels=np.array([0, 0, 1]), name="toy", source="memory")
    >>> t.frame.shape, int(t.labels.sum())
    ((3, 2), 1)
    """

    frame: pd.DataFrame
    labels: np.ndarray | None
    name: str
    source: str


def as_frame(X: Any, feature_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Turn a 2-D array (or a DataFrame) into a DataFrame of features.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features) or pandas.DataFrame
        A DataFrame is returned as it is (not copied). Anything else is converted with ``numpy.asarray``.
    feature_names : sequence of str, optional
        Column names for an array; default ``x0, x1, ...``. For a DataFrame they must equal its columns.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        When ``X`` is not 2-D (a 1-D array is told how to reshape).
    ParameterError
        When ``feature_names`` has the wrong length, repeats a name, or disagrees with a DataFrame's columns.

    Examples
    --------
    >>> as_frame(np.arange(6).reshape(3, 2)).columns.tolist()
    ['x0', 'x1']
    >>> as_frame([[1.0, 2.0]], feature_names=["a", "b"]).columns.tolist()
    ['a', 'b']
    """
    if isinstance(X, pd.DataFrame):
        if feature_names is not None and list(feature_names) != list(X.columns):
            raise ParameterError(
                f"feature_names {list(feature_names)} differ from the DataFrame's columns {list(X.columns)}; "
                "rename the DataFrame instead"
            )
        return X
    if isinstance(X, pd.Series):
        raise DataError(
            f"X is a 1-D Series of {len(X)} values; use series.to_frame() for one feature or pass a 2-D table"
        )
    try:
        array = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise DataError(f"X cannot be read as a 2-D array: {exc}") from exc
    if array.ndim == 1:
        raise DataError(
            f"X is 1-D with shape {array.shape}; reshape it with X.reshape(-1, 1) for one feature "
            "or X.reshape(1, -1) for one row"
        )
    if array.ndim != 2:
        raise DataError(f"X must be 2-D (rows x features) but has shape {array.shape}")
    n_features = array.shape[1]
    if feature_names is None:
        names = [f"x{i}" for i in range(n_features)]
    else:
        names = [str(name) for name in feature_names]
        if len(names) != n_features:
            raise ParameterError(f"feature_names has {len(names)} names but X has {n_features} columns")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ParameterError(f"feature_names repeats {duplicates}; every column needs its own name")
    return pd.DataFrame(array, columns=names)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds, so messages show ``2``, not ``np.int64(2)``.

    Examples
    --------
    >>> plain(np.int64(2)), plain("a")
    (2, 'a')
    """
    return value.item() if isinstance(value, np.generic) else value


def read_table(
    path: str | os.PathLike[str],
    label_col: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
) -> Table:
    """Read a feature table from a file, the format chosen by its suffix.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet``/``.pq``, ``.npz`` (keys ``X`` and optional ``y``) or
        ODDS ``.mat`` file (MATLAB v5 or v7.3/HDF5, keys ``X`` and ``y``).
    label_col : str, optional
        For CSV/TSV/Parquet, the name of the 0/1 (or bool) label column, removed from the features.
        Ignored for ``.npz`` and ``.mat`` files, whose labels come from ``y``.
    sep : str, optional
        The CSV/TSV delimiter. By default it is chosen from the first 64 KiB among comma, semicolon, tab and
        pipe: the one that splits every line into the same number (> 1) of fields, the suffix's own (comma
        for ``.csv``, tab for ``.tsv``) first. A file where no delimiter fits and whose single header cell
        holds one of them is refused, naming it, rather than read as one text column.
    encoding : str, optional
        Text encoding of a CSV/TSV file (default UTF-8), e.g. ``"latin-1"``. Ignored for other formats.

    Returns
    -------
    Table
        Features, labels (int 0/1 or None), the file stem as name and the path as source.

    Raises
    ------
    DataError
        When the file is missing, is a directory, has an unknown suffix, cannot be parsed, is empty, lacks
        ``X`` or has a non 2-D ``X``, when the label column is absent or not binary, when an HDF5 ``X`` or
        ``y`` uses external storage, is virtual or links to another file, when a CSV header repeats a name,
        or when the CSV delimiter cannot be determined.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = p.write_text("a,b,label\\n1,2,0\\n3,4,1\\n")
    >>> t = read_table(p, label_col="label")
    >>> t.name, t.frame.columns.tolist(), t.labels.tolist()
    ('toy', ['a', 'b'], [0, 1])
    >>> _ = p.write_text("a;b;label\\n1,5;2;0\\n3,25;4;1\\n")  # semicolons and decimal commas
    >>> read_table(p, label_col="label").frame["a"].tolist()
    [1.5, 3.25]
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory; give the path of a data file")
    lowered = path.name.lower()
    suffix = next((s for s in SUPPORTED_SUFFIXES if lowered.endswith(s)), None)
    if suffix is None:
        raise DataError(
            f"file {str(path)!r} has an unsupported suffix; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    name = path.name[: -len(suffix)] or path.name
    if suffix in (".npz", ".mat"):
        X, y = _read_npz(path) if suffix == ".npz" else _read_mat(path)
        frame = _check_features(as_frame(X), path)
        labels = None if y is None else _array_labels(y, len(frame), path)
        return Table(frame=frame, labels=labels, name=name, source=str(path))
    frame = _read_dataframe(path, suffix, sep=sep, encoding=encoding)
    labels = None
    if label_col is not None:
        if label_col not in frame.columns:
            raise DataError(
                f"label column {label_col!r} is not in {str(path)!r}; available columns: "
                f"{[str(c) for c in frame.columns]}"
            )
        labels = _frame_labels(frame[label_col], label_col)
        frame = frame.drop(columns=[label_col])
    frame = _check_features(frame, path)
    return Table(frame=frame, labels=labels, name=name, source=str(path))


def _read_dataframe(path: Path, suffix: str, *, sep: str | None, encoding: str | None) -> pd.DataFrame:
    """Parse a CSV/TSV/Parquet file, turning any parser failure into a DataError."""
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a user-caused unreadable file
            raise DataError(f"file {str(path)!r} cannot be read as {suffix}: {type(exc).__name__}: {exc}") from exc
    default = "\t" if suffix.startswith(".tsv") else ","
    lines = sample_lines(path, suffix, encoding)
    if sep is None:
        sep = choose_delimiter(lines, default, path)
    elif sep in ("\\t", "tab"):
        sep = "\t"
    if not sep or len(sep) != 1:
        raise DataError(f"sep={sep!r} must be one character (for example ',', ';' or a tab)")
    check_header(lines, sep, path)
    decimal = "," if sep != "," and has_decimal_commas(lines, sep) else "."
    try:
        return pd.read_csv(path, sep=sep, encoding=encoding, decimal=decimal)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"file {str(path)!r} is empty: it has no header and no rows") from exc
    except UnicodeDecodeError as exc:
        raise DataError(encoding_message(path, encoding, exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure is a user-caused unreadable file
        raise DataError(f"file {str(path)!r} cannot be read as {suffix}: {type(exc).__name__}: {exc}") from exc


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``X`` and ``y`` (or None) from an ``.npz`` archive."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "X" not in keys:
                raise DataError(f"file {str(path)!r} has no array 'X'; it holds {keys}")
            X = archive["X"]
            y = archive["y"] if "y" in keys else None
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"file {str(path)!r} cannot be read as .npz: {type(exc).__name__}: {exc}") from exc
    return X, y


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``X`` and ``y`` from an ODDS ``.mat`` file, MATLAB v5 (scipy) or v7.3 (HDF5, transposed)."""
    import h5py

    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                keys = list(handle.keys())
                if "X" not in keys:
                    raise DataError(f"file {str(path)!r} has no array 'X'; it holds {keys}")
                X = _hdf5_array(handle, "X", path).T
                y = _hdf5_array(handle, "y", path).T if "y" in keys else None
            return X, y
        import scipy.io

        contents = scipy.io.loadmat(path)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - scipy/h5py raise many types for corrupt files
        raise DataError(f"file {str(path)!r} cannot be read as .mat: {type(exc).__name__}: {exc}") from exc
    keys = [key for key in contents if not key.startswith("__")]
    if "X" not in contents:
        raise DataError(f"file {str(path)!r} has no array 'X'; it holds {keys}")
    return np.asarray(contents["X"]), (np.asarray(contents["y"]) if "y" in contents else None)


def _hdf5_array(handle: Any, key: str, path: Path) -> np.ndarray:
    """Read one numeric dataset of an open HDF5 file, refusing anything whose bytes live outside the file.

    External storage (``create_dataset(..., external=[...])``), virtual datasets and external links would make
    h5py read another local file, whose bytes would then end up in the model and the report; they are checked
    before a single value is read.
    """
    import h5py

    link = handle.get(key, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise DataError(
            f"file {str(path)!r}: {key!r} is a link to another file ({link.filename!r}); "
            "metaad reads only data stored inside the .mat file"
        )
    dataset = handle[key]
    if not isinstance(dataset, h5py.Dataset):
        raise DataError(f"file {str(path)!r}: {key!r} is a {type(dataset).__name__}, not a numeric array")
    if dataset.file.filename != handle.filename:
        raise DataError(f"file {str(path)!r}: {key!r} resolves into another file; refused")
    if dataset.is_virtual:
        raise DataError(
            f"file {str(path)!r}: {key!r} is a virtual dataset mapped from other files; "
            "metaad reads only data stored inside the .mat file"
        )
    if dataset.id.get_create_plist().get_external_count() > 0 or dataset.external:
        raise DataError(
            f"file {str(path)!r}: {key!r} keeps its data in an external file; "
            "metaad reads only data stored inside the .mat file"
        )
    if dataset.dtype.kind not in "biuf":
        raise DataError(f"file {str(path)!r}: {key!r} has dtype {dataset.dtype}; expected numbers")
    return np.asarray(dataset[()])


def _check_features(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Reject a table with no rows or no feature columns."""
    if frame.shape[0] == 0:
        raise DataError(f"file {str(path)!r} has no rows")
    if frame.shape[1] == 0:
        raise DataError(f"file {str(path)!r} has no feature columns")
    return frame


def _array_labels(y: np.ndarray, n_rows: int, path: Path) -> np.ndarray:
    """Check ``y`` from an npz/mat file holds only 0/1 (1.0 counts; 0.4 does not) and matches the rows of ``X``."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise DataError(f"file {str(path)!r}: labels 'y' have dtype {y.dtype}; expected numbers 0/1")
    flat = y.ravel()
    if flat.shape[0] != n_rows:
        raise DataError(f"file {str(path)!r}: 'y' has {flat.shape[0]} labels but 'X' has {n_rows} rows")
    bad = np.flatnonzero(~np.isin(flat, (0, 1)))  # NaN, inf, 2, -1 and 0.4 alike: never cast before checking
    if bad.size:
        raise DataError(
            f"file {str(path)!r}: label 'y' row {int(bad[0])} is {plain(flat[bad[0]])}; expected 0 or 1 "
            f"({bad.size} of {flat.size} labels are not 0 or 1)"
        )
    return flat.astype(int)


def _frame_labels(column: pd.Series, label_col: str) -> np.ndarray:
    """Check a label column holds only numeric 0/1 or booleans (no missing) and return int 0/1 labels."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))
    else:  # text such as "yes"/"no" fails here and is reported with its row
        values = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))
    if bad.size:
        position = int(bad[0])
        value = plain(column.iloc[position])
        raise DataError(
            f"label column {label_col!r} row {column.index[position]}: value {value!r} is not 0 or 1 "
            "(labels must be numeric 0/1 or bool)"
        )
    return values.astype(int)
