"""Read the MNIST digits from the original IDX files (gzip or plain), checking their magic numbers."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from metaad.exceptions import DataError, ParameterError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_mnist(directory: str | os.PathLike[str], split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST from a folder holding the IDX files (``.gz`` or uncompressed).

    Parameters
    ----------
    directory : str or path-like
        Folder with ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``.
    split : {"train", "test"}, default "test"

    Returns
    -------
    images : numpy.ndarray of uint8, shape (n, 28, 28)
    labels : numpy.ndarray of int64, shape (n,)

    Raises
    ------
    ParameterError
        For a split other than "train" or "test".
    DataError
        When a file is missing, is not gzip, has the wrong magic number, is truncated, or the image and
        label counts differ.

    Examples
    --------
    >>> import pathlib
    >>> folder = pathlib.Path("../shared/datasets/images/mnist")
    >>> if folder.is_dir():  # the shared data, where present
    ...     images, labels = load_mnist(folder, "test")
    ...     assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    """
    if split not in _FILES:
        raise ParameterError(f"split={split!r} is not one of ['train', 'test']")
    directory = Path(directory)
    images_name, labels_name = _FILES[split]
    images_raw = _read_idx(_find(directory, images_name))
    labels_raw = _read_idx(_find(directory, labels_name))
    images = _parse(images_raw, IMAGES_MAGIC, 3, _find(directory, images_name))
    labels = _parse(labels_raw, LABELS_MAGIC, 1, _find(directory, labels_name)).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"MNIST {split}: {images.shape[0]} images but {labels.shape[0]} labels in {str(directory)!r}")
    return images, labels


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    raise DataError(f"MNIST file {stem}.gz (or {stem}) not found in {str(directory)!r}")


def _read_idx(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataError(f"MNIST file {str(path)!r} cannot be read: {type(exc).__name__}: {exc}") from exc


def _parse(raw: bytes, magic: int, n_dims: int, path: Path) -> np.ndarray:
    """Check the big-endian int32 header and return the uint8 payload shaped by its dimensions."""
    header_size = 4 * (1 + n_dims)
    if len(raw) < header_size:
        raise DataError(f"MNIST file {str(path)!r} is {len(raw)} bytes, too short for an IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(f"MNIST file {str(path)!r} has magic number {found}, expected {magic} (IDX {kind})")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=n_dims, offset=4))
    expected = int(np.prod(dims))
    if len(raw) - header_size != expected:
        raise DataError(
            f"MNIST file {str(path)!r} holds {len(raw) - header_size} data bytes but its header {dims} needs {expected}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims).copy()
