"""Squared distance of each embedding to a centre: the hypersphere score of Deep SVDD (Ruff et al. 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from metaad.exceptions import DataError, ParameterError
from metaad.scores._validation import as_rows


def center_distance(Z: Any, center: Any) -> Any:
    """``||z - c||²`` for each row ``z`` of ``Z``: how far an embedding lies from the centre of normal data.

    Parameters
    ----------
    Z : array-like or torch.Tensor of shape (n_samples, n_dimensions)
        Embeddings, one row per sample.
    center : array-like or torch.Tensor of shape (n_dimensions,)
        Two tensors give a tensor (no checks, gradients kept: the ``deep_svdd`` detector's loss and score use
        it); arrays give a NumPy array.

    Returns
    -------
    numpy.ndarray or torch.Tensor of shape (n_samples,)

    Examples
    --------
    >>> center_distance([[1.0, 2.0], [0.0, 0.0]], [0.0, 2.0]).tolist()
    [1.0, 4.0]
    >>> center_distance(torch.tensor([[3.0, 4.0]]), torch.zeros(2))
    tensor([25.])
    """
    if isinstance(Z, torch.Tensor) or isinstance(center, torch.Tensor):
        if not (isinstance(Z, torch.Tensor) and isinstance(center, torch.Tensor)):
            raise ParameterError("Z and center must both be torch tensors, or neither")
        return ((Z - center) ** 2).sum(dim=1)
    rows = as_rows(Z, "Z")
    c = np.asarray(center, dtype=np.float64).reshape(-1)
    if c.shape[0] != rows.shape[1]:
        raise DataError(f"center has {c.shape[0]} dimension(s) but Z has {rows.shape[1]}; they must match")
    return ((rows - c) ** 2).sum(axis=1)
