"""Labelled benchmark datasets: finding them, reading them as ``(X, y)``, and stratified subsamples.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> np.savez(d / "toy.npz", X=np.arange(200.0).reshape(100, 2), y=np.r_[np.zeros(90), np.ones(10)])
>>> paths = discover_datasets([d])
>>> dataset_rows(paths["toy"]), load_labelled(paths["toy"], max_rows=50)[0].shape
(100, (50, 2))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from metaad.exceptions import DataError


def discover_datasets(sources: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Map dataset names (file stems) to paths, from files and folders (their readable files, not recursive).

    Raises
    ------
    DataError
        When a source does not exist, a folder holds no readable file, or two files share a name.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(d / "toy.npz", X=np.zeros((4, 2)), y=np.array([0, 0, 0, 1]))
    >>> list(discover_datasets([d]))
    ['toy']
    """
    from metaad.data.readers import SUPPORTED_SUFFIXES

    def readable(p: Path) -> bool:
        return p.is_file() and any(p.name.lower().endswith(s) for s in SUPPORTED_SUFFIXES)

    def stem(p: Path) -> str:
        name = p.name
        for suffix in SUPPORTED_SUFFIXES:
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return p.stem

    found: dict[str, str] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if readable(p))
            if not files:
                raise DataError(f"{path}: no readable data file (expected {', '.join(SUPPORTED_SUFFIXES)})")
        elif path.exists():
            files = [path]
        else:
            raise DataError(f"{path}: no such file or folder")
        for file in files:
            name = stem(file)
            if name in found and found[name] != str(file):
                raise DataError(f"two datasets are named {name!r}: {found[name]} and {file}")
            found[name] = str(file)
    return found


#: A subsample keeps at least this many anomalies (when the dataset has them), so that datasets with very
#: rare anomalies (smtp: 30 in 95,156 rows) still give a test part with anomalies to rank.
MIN_SUBSAMPLE_ANOMALIES = 10


def subsample(X: np.ndarray, y: np.ndarray, max_rows: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified subsample of ``max_rows`` rows holding at least ``MIN_SUBSAMPLE_ANOMALIES`` anomalies.

    When stratification would keep fewer anomalies, the anomalies are drawn first (all of them, up to the
    minimum) and the normal rows fill the rest, which raises the anomaly share of that subsample.

    Examples
    --------
    >>> X = np.arange(2000.0).reshape(1000, 2)
    >>> y = np.r_[np.zeros(995), np.ones(5)].astype(int)
    >>> Xs, ys = subsample(X, y, 100)
    >>> Xs.shape, int(ys.sum())
    ((100, 2), 5)
    """
    from sklearn.model_selection import train_test_split

    n_anomalies = int(y.sum())
    wanted = min(n_anomalies, MIN_SUBSAMPLE_ANOMALIES)
    if round(max_rows * n_anomalies / len(y)) >= wanted:
        X, _, y, _ = train_test_split(X, y, train_size=int(max_rows), stratify=y, random_state=random_state)
        return X, y
    rng = np.random.RandomState(random_state)
    anomalies = rng.choice(np.flatnonzero(y == 1), size=wanted, replace=False)
    normals = rng.choice(np.flatnonzero(y == 0), size=int(max_rows) - wanted, replace=False)
    rows = np.sort(np.r_[anomalies, normals])
    return X[rows], y[rows]


@lru_cache(maxsize=4)
def load_labelled(path: str, max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a labelled dataset as ``(X float64, y int)``, subsampled to ``max_rows`` (see :func:`subsample`).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(p, X=np.arange(200.0).reshape(100, 2), y=np.r_[np.zeros(90), np.ones(10)])
    >>> X, y = load_labelled(str(p), max_rows=50)
    >>> X.shape, int(y.sum())
    ((50, 2), 10)
    """
    from metaad.data.readers import read_table

    table = read_table(path)
    if table.labels is None:
        raise DataError(f"{path}: the benchmark needs labels (1 = anomaly) and this file has none")
    X = np.asarray(table.frame.to_numpy(dtype=np.float64))
    y = np.asarray(table.labels).astype(int).ravel()
    if max_rows is not None and X.shape[0] > max_rows:
        X, y = subsample(X, y, int(max_rows))
    return np.ascontiguousarray(X), y


@lru_cache(maxsize=256)
def dataset_rows(path: str) -> int:
    """The number of rows of a labelled dataset file (read once per process; cheap for ``.npz``)."""
    if path.lower().endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            if "y" in archive.files:
                return int(np.asarray(archive["y"]).reshape(-1).shape[0])
    return int(load_labelled(path)[0].shape[0])


def sizes_for(path: str, sizes: Sequence[int | None]) -> list[int]:
    """The distinct row counts that the requested ``sizes`` (None = all rows) give for this dataset, ascending.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(p, X=np.zeros((300, 2)), y=np.r_[np.zeros(290), np.ones(10)])
    >>> sizes_for(str(p), [500, 5000, None])
    [300]
    >>> sizes_for(str(p), [100, None])
    [100, 300]
    """
    n = dataset_rows(str(path))
    return sorted({n if s is None else min(int(s), n) for s in sizes})


__all__ = ["MIN_SUBSAMPLE_ANOMALIES", "dataset_rows", "discover_datasets", "load_labelled", "sizes_for", "subsample"]
