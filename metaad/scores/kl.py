"""KL divergence between score or latent distributions: Gaussian closed form and a histogram estimate."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from metaad._constraints import Integral, Interval, check_params
from metaad.exceptions import DataError, ParameterError
from metaad.scores._validation import as_rows, same_shape


def gaussian_kl(mean_p: Any, var_p: Any, mean_q: Any, var_q: Any) -> float:
    """KL(P || Q) for diagonal Gaussians P = N(mean_p, var_p), Q = N(mean_q, var_q), summed over dimensions.

    ``0.5 * sum(log(var_q/var_p) + (var_p + (mean_p - mean_q)²)/var_q - 1)``.

    Examples
    --------
    >>> gaussian_kl(0.0, 1.0, 1.0, 1.0)
    0.5
    >>> round(gaussian_kl(0.0, 1.0, 0.0, 4.0), 4)   # 0.5 * (log 4 + 1/4 - 1)
    0.3181
    """
    mp, vp, mq, vq = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (mean_p, var_p, mean_q, var_q))
    if np.any(vp <= 0) or np.any(vq <= 0):
        raise ParameterError("variances must be > 0")
    return float(0.5 * np.sum(np.log(vq / vp) + (vp + (mp - mq) ** 2) / vq - 1.0))


def gaussian_kl_to_standard(mean: Any, log_variance: Any) -> Any:
    """KL( N(mean, exp(log_variance)) || N(0, I) ) of each row, summed over its dimensions: a VAE's KL term.

    :func:`gaussian_kl` with ``Q`` the standard normal, one value per row:
    ``0.5 * sum(mean² + exp(log_variance) - 1 - log_variance)``. Torch tensors give a tensor (no checks,
    gradients kept: the ``vae`` detector's loss and score use it); arrays give a NumPy array.

    Parameters
    ----------
    mean, log_variance : array-like or torch.Tensor of shape (n_samples, n_dimensions)

    Examples
    --------
    >>> gaussian_kl_to_standard(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))
    tensor([0.5000])
    >>> gaussian_kl_to_standard([[1.0, 0.0]], [[0.0, np.log(4.0)]]).round(4).tolist()  # gaussian_kl term by term
    [1.3069]
    >>> round(gaussian_kl([1.0, 0.0], [1.0, 4.0], 0.0, 1.0), 4)
    1.3069
    """
    if isinstance(mean, torch.Tensor) or isinstance(log_variance, torch.Tensor):
        if not (isinstance(mean, torch.Tensor) and isinstance(log_variance, torch.Tensor)):
            raise ParameterError("mean and log_variance must both be torch tensors, or neither")
        return 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance).sum(dim=1)
    mu, logvar = as_rows(mean, "mean"), as_rows(log_variance, "log_variance")
    same_shape(mu, logvar, ("mean", "log_variance"))
    return 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar).sum(axis=1)


def gaussian_kl_from_samples(P: Any, Q: Any, *, diagonal: bool = False, ridge: float = 1e-6) -> float:
    """KL(P || Q) between Gaussians fitted to two samples (scores: 1-D; latent codes: one row per sample).

    Parameters
    ----------
    P, Q : array-like of shape (n,) or (n, d)
    diagonal : bool, default=False
        Fit diagonal covariances (else full ones, with ``ridge`` added to the diagonal).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> round(gaussian_kl_from_samples(rng.normal(0, 1, 100_000), rng.normal(1, 1, 100_000)), 2)
    0.5
    """
    a, b = as_rows(P, "P"), as_rows(Q, "Q")
    if a.shape[1] != b.shape[1]:
        raise DataError(f"P has {a.shape[1]} dimension(s) but Q has {b.shape[1]}")
    if min(a.shape[0], b.shape[0]) < 2:
        raise DataError("each sample needs at least 2 rows")
    mp, mq = a.mean(0), b.mean(0)
    if diagonal or a.shape[1] == 1:
        return gaussian_kl(mp, a.var(0, ddof=1) + ridge, mq, b.var(0, ddof=1) + ridge)
    d = a.shape[1]
    cp = np.cov(a, rowvar=False) + ridge * np.eye(d)
    cq = np.cov(b, rowvar=False) + ridge * np.eye(d)
    cq_inv = np.linalg.inv(cq)
    diff = mq - mp
    _, logdet_p = np.linalg.slogdet(cp)
    _, logdet_q = np.linalg.slogdet(cq)
    return float(0.5 * (np.trace(cq_inv @ cp) + diff @ cq_inv @ diff - d + logdet_q - logdet_p))


def histogram_kl(p_samples: Any, q_samples: Any, *, bins: int = 50, smoothing: float = 1e-10) -> float:
    """KL(P || Q) between two 1-D samples (e.g. scores) from histograms on shared bins.

    Empty bins get ``smoothing`` mass so that the estimate stays finite.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> x = rng.normal(size=50_000)
    >>> histogram_kl(x, x)
    0.0
    >>> 0.4 < histogram_kl(x, rng.normal(1.0, 1.0, 50_000), bins=100) < 0.6
    True
    """
    check_params({"bins": [Interval(Integral, 1, None)]}, {"bins": bins})
    p = np.asarray(p_samples, dtype=np.float64).ravel()
    q = np.asarray(q_samples, dtype=np.float64).ravel()
    if p.size == 0 or q.size == 0 or not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise DataError("both samples must be non-empty and finite")
    low, high = min(p.min(), q.min()), max(p.max(), q.max())
    edges = np.linspace(low, high if high > low else low + 1.0, int(bins) + 1)
    hp = np.histogram(p, edges)[0].astype(np.float64) + smoothing
    hq = np.histogram(q, edges)[0].astype(np.float64) + smoothing
    hp /= hp.sum()
    hq /= hq.sum()
    return float(max(np.sum(hp * np.log(hp / hq)), 0.0))
