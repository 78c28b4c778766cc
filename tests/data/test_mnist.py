"""Tests for metaad.data.mnist: the official IDX files and broken ones."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from metaad.data import load_mnist
from metaad.exceptions import DataError, ParameterError

from ._shared import shared_path

TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _write_idx(folder, stem, magic, dims, payload, compress=True):
    raw = struct.pack(">" + "i" * (1 + len(dims)), magic, *dims) + payload
    if compress:
        with gzip.open(folder / f"{stem}.gz", "wb") as handle:
            handle.write(raw)
    else:
        (folder / stem).write_bytes(raw)


@pytest.mark.shared_data
def test_official_test_split():
    images, labels = load_mnist(shared_path("images", "mnist"), "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,)
    assert np.bincount(labels).tolist() == TEST_COUNTS
    assert images.max() == 255


@pytest.mark.shared_data
def test_official_train_split():
    folder = shared_path("images", "mnist")
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/datasets not present: MNIST train files missing")
    images, labels = load_mnist(folder, "train")
    assert images.shape == (60000, 28, 28)
    assert np.bincount(labels).tolist() == TRAIN_COUNTS


def test_small_round_trip_plain_files(tmp_path):
    pixels = np.arange(2 * 2 * 3, dtype=np.uint8)
    _write_idx(tmp_path, "t10k-images-idx3-ubyte", 2051, (2, 2, 3), pixels.tobytes(), compress=False)
    _write_idx(tmp_path, "t10k-labels-idx1-ubyte", 2049, (2,), bytes([7, 1]), compress=False)
    images, labels = load_mnist(tmp_path, "test")
    np.testing.assert_array_equal(images, pixels.reshape(2, 2, 3))
    assert labels.tolist() == [7, 1]


def test_bad_magic_truncated_and_mismatched(tmp_path):
    _write_idx(tmp_path, "t10k-images-idx3-ubyte", 2049, (1, 2, 2), bytes(4))
    _write_idx(tmp_path, "t10k-labels-idx1-ubyte", 2049, (1,), bytes(1))
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        load_mnist(tmp_path, "test")
    _write_idx(tmp_path, "t10k-images-idx3-ubyte", 2051, (1, 2, 2), bytes(3))
    with pytest.raises(DataError, match="holds 3 data bytes"):
        load_mnist(tmp_path, "test")
    _write_idx(tmp_path, "t10k-images-idx3-ubyte", 2051, (2, 2, 2), bytes(8))
    with pytest.raises(DataError, match="2 images but 1 labels"):
        load_mnist(tmp_path, "test")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot be read"):
        load_mnist(tmp_path, "test")


def test_missing_files_and_bad_split(tmp_path):
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz .* not found"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ParameterError, match="split='valid'"):
        load_mnist(tmp_path, "valid")
