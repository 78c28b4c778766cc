"""Tests for metaad.data.bundled: real datasets from installed packages, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from metaad.data import DatasetInfo, is_bundled, list_datasets, load_dataset
from metaad.exceptions import ParameterError


@pytest.mark.parametrize("info", list_datasets(), ids=lambda info: info.name)
def test_info_matches_loaded_data(info: DatasetInfo):
    table = load_dataset(info.name)
    assert table.name == info.name
    assert table.frame.shape == (info.n_rows, info.n_features)
    assert int(table.labels.sum()) == info.n_anomalies
    assert set(np.unique(table.labels)) == {0, 1}
    assert np.isfinite(table.frame.to_numpy(dtype=float)).all()


def test_breast_cancer():
    table = load_dataset("breast_cancer")
    assert table.frame.shape == (376, 30)
    assert (table.labels == 0).sum() == 357
    assert 0.04 < table.labels.mean() < 0.06
    assert table.frame.columns[0] == "mean radius"
    again = load_dataset("breast_cancer")
    assert again.frame.equals(table.frame)  # seeded: same rows every call


def test_shuttle():
    table = load_dataset("shuttle")
    assert table.frame.shape == (49097, 9)
    assert table.frame.columns.tolist() == [f"f{i}" for i in range(1, 10)]
    assert int(table.labels.sum()) == 3511


def test_wine():
    table = load_dataset("wine")
    assert (table.labels == 0).sum() == 130
    assert 0.04 < table.labels.mean() < 0.06
    assert "alcohol" in table.frame.columns


def test_unknown_name_lists_known_ones():
    with pytest.raises(ParameterError, match=r"unknown dataset 'iris'.*breast_cancer.*shuttle.*wine"):
        load_dataset("iris")
    assert is_bundled("wine") and not is_bundled("iris")
