"""Reconstruction error of each row and of each feature, with the L2 (squared) or L1 norm.

NumPy in, NumPy out (validated); torch tensors in, a tensor out (unvalidated and differentiable, as the deep
detectors' losses and scores need: they compute both with these functions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from metaad.exceptions import DataError, ParameterError
from metaad.scores._validation import as_rows, same_shape

NORMS = ("l2", "l1")


def _residual(X: Any, X_hat: Any, norm: str) -> Any:
    if norm not in NORMS:
        raise ParameterError(f"norm={norm!r}; expected 'l2' (squared error) or 'l1' (absolute error)")
    if isinstance(X, torch.Tensor) or isinstance(X_hat, torch.Tensor):
        if not (isinstance(X, torch.Tensor) and isinstance(X_hat, torch.Tensor)):
            raise ParameterError("X and X_hat must both be torch tensors, or neither")
        if X.shape != X_hat.shape:
            raise DataError(f"X has shape {tuple(X.shape)} but X_hat has shape {tuple(X_hat.shape)}; they must match")
        diff = (X - X_hat).reshape(X.shape[0], -1)
        return diff**2 if norm == "l2" else diff.abs()
    a, b = as_rows(X, "X"), as_rows(X_hat, "X_hat")
    same_shape(a, b, ("X", "X_hat"))
    diff = a - b
    return diff**2 if norm == "l2" else np.abs(diff)


def feature_reconstruction_error(X: Any, X_hat: Any, *, norm: str = "l2") -> Any:
    """Error of each feature of each row: ``(x - x̂)²`` for "l2", ``|x - x̂|`` for "l1".

    Parameters
    ----------
    X, X_hat : array-like or torch.Tensor of shape (n_samples, ...)
        Inputs and their reconstructions (images are flattened). Two tensors give a tensor (no checks, gradients
        kept).
    norm : {"l2", "l1"}, default="l2"

    Returns
    -------
    numpy.ndarray or torch.Tensor of shape (n_samples, n_features)

    Examples
    --------
    >>> feature_reconstruction_error([[1.0, 2.0]], [[0.0, 4.0]]).tolist()
    [[1.0, 4.0]]
    >>> feature_reconstruction_error([[1.0, 2.0]], [[0.0, 4.0]], norm="l1").tolist()
    [[1.0, 2.0]]
    """
    return _residual(X, X_hat, norm)


def reconstruction_error(X: Any, X_hat: Any, *, norm: str = "l2", reduction: str = "sum") -> Any:
    """Error of each row: the squared (``"l2"``) or absolute (``"l1"``) errors summed or averaged over features.

    Parameters
    ----------
    X, X_hat : array-like or torch.Tensor of shape (n_samples, ...)
        Two tensors give a tensor (no checks, gradients kept): the form the deep detectors' losses use.
    norm : {"l2", "l1"}, default="l2"
        "l2" gives the squared Euclidean norm of ``x - x̂`` (with ``reduction="sum"``), "l1" its L1 norm.
    reduction : {"sum", "mean"}, default="sum"
        "mean" divides by the number of features (the mean squared error with "l2").

    Returns
    -------
    numpy.ndarray or torch.Tensor of shape (n_samples,)

    Examples
    --------
    >>> reconstruction_error([[1.0, 2.0], [0.0, 0.0]], [[0.0, 4.0], [0.0, 0.0]]).tolist()
    [5.0, 0.0]
    >>> reconstruction_error([[1.0, 2.0]], [[0.0, 4.0]], norm="l1", reduction="mean").tolist()
    [1.5]
    >>> reconstruction_error(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]]), reduction="mean")
    tensor([2.5000])
    """
    if reduction not in ("sum", "mean"):
        raise ParameterError(f"reduction={reduction!r}; expected 'sum' or 'mean'")
    errors = _residual(X, X_hat, norm)
    if isinstance(errors, torch.Tensor):
        return errors.sum(dim=1) if reduction == "sum" else errors.mean(dim=1)
    return errors.sum(axis=1) if reduction == "sum" else errors.mean(axis=1)
