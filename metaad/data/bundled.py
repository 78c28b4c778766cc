"""Small real anomaly-detection datasets that ship inside installed packages (scikit-learn, River).

Nothing is downloaded and nothing is synthetic: each dataset is read from the package's own files, and
where a classification dataset is turned into an anomaly one the anomalous class is subsampled with a
fixed seed, so every call returns the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metaad.data.readers import Table
from metaad.exceptions import DataError, ParameterError

#: Target share of anomalies when a class of a classification dataset is subsampled into anomalies.
ANOMALY_SHARE = 0.05


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` knows about one bundled dataset (without loading it).

    Attributes
    ----------
    name, description, source : str
    n_rows, n_features, n_anomalies : int
    """

    name: str
    description: str
    n_rows: int
    n_features: int
    n_anomalies: int
    source: str


_INFOS = (
    DatasetInfo(
        "breast_cancer",
        "Wisconsin diagnostic breast cancer: benign tumours normal, malignant subsampled to 5% (seed 0)",
        376, 30, 19,
        "sklearn.datasets.load_breast_cancer",
    ),
    DatasetInfo(
        "shuttle",
        "Statlog shuttle as packaged by River: class 1 normal, the rare classes anomalies",
        49097, 9, 3511,
        "river.datasets.Shuttle (shuttle.csv.gz)",
    ),
    DatasetInfo(
        "wine",
        "UCI wine recognition: cultivars 0 and 1 normal, cultivar 2 subsampled to 5% (seed 0)",
        137, 13, 7,
        "sklearn.datasets.load_wine",
    ),
)


def list_datasets() -> list[DatasetInfo]:
    """The bundled datasets, sorted by name.

    Examples
    --------
    >>> [info.name for info in list_datasets()]
    ['breast_cancer', 'shuttle', 'wine']
    """
    return list(_INFOS)


def is_bundled(name: str) -> bool:
    """Whether ``name`` is a bundled dataset.

    Examples
    --------
    >>> is_bundled("shuttle"), is_bundled("shuttle.csv")
    (True, False)
    """
    return any(info.name == name for info in _INFOS)


def load_dataset(name: str) -> Table:
    """Load a bundled dataset with its labels (1 = anomaly).

    Parameters
    ----------
    name : str
        One of the names from :func:`list_datasets`.

    Returns
    -------
    Table

    Raises
    ------
    ParameterError
        For an unknown name, listing the known ones.

    Examples
    --------
    >>> table = load_dataset("breast_cancer")
    >>> table.frame.shape, int(table.labels.sum())
    ((376, 30), 19)
    >>> table.frame.columns[0]
    'mean radius'
    """
    loaders: dict[str, Callable[[], Table]] = {
        "breast_cancer": _breast_cancer,
        "shuttle": _shuttle,
        "wine": _wine,
    }
    if name not in loaders:
        raise ParameterError(f"unknown dataset {name!r}; bundled datasets: {sorted(loaders)}")
    return loaders[name]()


def _subsample_class(
    frame: pd.DataFrame, target: np.ndarray, anomaly_classes: tuple[int, ...], name: str, source: str
) -> Table:
    """Keep all normal rows and a seeded sample of anomaly rows making up ``ANOMALY_SHARE`` of the result."""
    is_anomaly = np.isin(target, anomaly_classes)
    normal = np.flatnonzero(~is_anomaly)
    n_anomalies = int(round(ANOMALY_SHARE * len(normal) / (1 - ANOMALY_SHARE)))
    rng = np.random.RandomState(0)
    chosen = rng.choice(np.flatnonzero(is_anomaly), size=n_anomalies, replace=False)
    rows = np.sort(np.concatenate([normal, chosen]))
    return Table(
        frame=frame.iloc[rows].reset_index(drop=True),
        labels=is_anomaly[rows].astype(int),
        name=name,
        source=source,
    )


def _breast_cancer() -> Table:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=list(bunch.feature_names))
    # target 0 = malignant (anomaly), 1 = benign (normal)
    return _subsample_class(frame, bunch.target, (0,), "breast_cancer", "sklearn.datasets.load_breast_cancer")


def _wine() -> Table:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    frame = pd.DataFrame(bunch.data, columns=list(bunch.feature_names))
    return _subsample_class(frame, bunch.target, (2,), "wine", "sklearn.datasets.load_wine")


def _shuttle() -> Table:
    try:
        from river.datasets import Shuttle
    except ImportError as exc:  # pragma: no cover - river is a dependency
        raise DataError("the shuttle dataset needs the 'river' package, which is not installed") from exc
    path = Shuttle().path
    frame = pd.read_csv(path)
    labels = frame.pop("anomaly").to_numpy(dtype=int)
    return Table(frame=frame, labels=labels, name="shuttle", source=str(path))
