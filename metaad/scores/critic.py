"""The critic score: how unlike the training data a (Wasserstein) critic finds each row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from metaad._constraints import Integral, Interval, check_params
from metaad.exceptions import ParameterError
from metaad.scores._validation import as_rows


def critic_score(critic: Callable[..., Any], X: Any, *, batch_size: int = 4096) -> Any:
    """``-critic(x)`` for each row of ``X``: a critic rates data like its training data high, so negate it.

    Parameters
    ----------
    critic : torch.nn.Module or callable
        A module (called on float32 tensors, in eval mode, without gradients) or a function numpy → numpy,
        giving one value per row. For a fitted ``wgan`` detector use its ``critic_scores(X)``, which also
        standardizes ``X``.
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Rows in the critic's input space (images keep their shape for modules). A tensor is passed to the
        critic as it is, in one call, in the critic's current mode and with gradients if enabled, and the
        score comes back as a tensor (as the ``wgan`` detector scores a batch).

    Returns
    -------
    numpy.ndarray or torch.Tensor of shape (n_samples,)

    Examples
    --------
    >>> import torch
    >>> critic = torch.nn.Linear(2, 1)
    >>> _ = torch.nn.init.ones_(critic.weight); _ = torch.nn.init.zeros_(critic.bias)
    >>> critic_score(critic, np.array([[1.0, 2.0], [0.0, 0.0]])).tolist()
    [-3.0, -0.0]
    >>> critic_score(lambda x: x.sum(axis=1), np.array([[1.0, 2.0]])).tolist()
    [-3.0]
    >>> critic_score(critic, torch.tensor([[1.0, 2.0]])).tolist()
    [-3.0]
    """
    check_params({"batch_size": [Interval(Integral, 1, None)]}, {"batch_size": batch_size})
    if isinstance(X, torch.Tensor):
        values = critic(X).reshape(-1)
        if values.shape[0] != X.shape[0]:
            raise ParameterError(f"the critic gave {values.shape[0]} values for {X.shape[0]} rows; expected one per row")
        return -values
    rows = as_rows(X, "X")
    if isinstance(critic, torch.nn.Module):
        array = np.asarray(X, dtype=np.float32)
        device = next((p.device for p in critic.parameters()), torch.device("cpu"))
        was_training = critic.training
        critic.eval()
        try:
            with torch.no_grad():
                out = [
                    critic(torch.from_numpy(np.ascontiguousarray(array[i : i + batch_size])).to(device)).reshape(-1).double().cpu().numpy()
                    for i in range(0, array.shape[0], batch_size)
                ]
        finally:
            critic.train(was_training)
        values = np.concatenate(out)
    else:
        values = np.asarray(critic(rows), dtype=np.float64).reshape(-1)
    if values.shape[0] != rows.shape[0]:
        raise ParameterError(f"the critic gave {values.shape[0]} values for {rows.shape[0]} rows; expected one per row")
    return -values
