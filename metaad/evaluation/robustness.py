"""Robustness of a fitted deep detector to an attacker who perturbs anomalies to hide them.

The attack is projected gradient descent (L-infinity) on the detector's own anomaly score, in the detector's
**standardized** input space: ``epsilon`` is in units of one training standard deviation per feature (one
global standard deviation for images). Normal rows are left alone; each anomaly is moved within the
``epsilon`` box to lower its score. The attacker keeps the clean row when the attack does not lower its
score, so the AUROC under attack is never above the clean one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from metaad.detectors.trainer import pgd_perturbation
from metaad.device import torch_threads
from metaad.exceptions import DataError, ParameterError


def robust_auroc(
    detector: Any,
    X: Any,
    y: Any,
    epsilon: float,
    steps: int = 10,
    *,
    batch_size: int = 1024,
    random_state: int = 0,
) -> dict[str, float]:
    """AUROC of a fitted deep detector on ``(X, y)``, clean and with every anomaly attacked by PGD.

    Parameters
    ----------
    detector : fitted :class:`~metaad.detectors.deep.BaseDeepDetector`
        Any deep detector (it exposes ``_to_tensor`` and a differentiable ``_score_batch``).
    X : array-like
        Test rows, raw (the detector standardizes them).
    y : array-like of {0, 1}
        1 marks the anomalies that the attacker perturbs.
    epsilon : float
        L-infinity radius in standardized units (0.1 = a tenth of a training standard deviation).
    steps : int, default=10
        PGD steps (step size ``2.5 * epsilon / steps``, random start).
    batch_size : int, default=1024
    random_state : int, default=0
        Seed of the random start.

    Returns
    -------
    dict
        ``auroc_clean``, ``auroc_attacked``, ``epsilon``, ``steps`` and ``mean_score_drop`` (mean decrease of
        the anomalies' scores).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), rng.normal(3, 1, size=(30, 4))])
    >>> y = np.r_[np.zeros(300), np.ones(30)]
    >>> det = metaad.make_detector("autoencoder", n_epochs=5, random_state=0).fit(X)
    >>> result = robust_auroc(det, X, y, epsilon=0.5, steps=5)
    >>> result["auroc_attacked"] <= result["auroc_clean"]
    True
    """
    if not hasattr(detector, "_score_batch") or not hasattr(detector, "_to_tensor"):
        raise ParameterError(f"robust_auroc needs a deep detector (with a differentiable score); got {type(detector).__name__}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
        raise ParameterError(f"epsilon must be > 0, got {epsilon!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps must be a positive integer, got {steps!r}")
    X_tensor = detector._to_tensor(X)
    labels = np.asarray(y).astype(int).ravel()
    if labels.shape[0] != X_tensor.shape[0]:
        raise DataError(f"y has {labels.shape[0]} labels but X has {X_tensor.shape[0]} rows")
    if len(np.unique(labels)) != 2:
        raise DataError("y must contain both normal rows (0) and anomalies (1) to compute an AUROC")

    network = detector.network_
    score_fn = lambda module, xb, yb: detector._score_batch(module, xb)  # noqa: E731
    generator = torch.Generator().manual_seed(int(random_state))
    clean = detector._score_tensor(X_tensor)
    attacked = clean.copy()
    anomalies = np.flatnonzero(labels == 1)
    with torch_threads(detector._n_threads()):
        for start in range(0, len(anomalies), batch_size):
            rows = anomalies[start : start + batch_size]
            xb = X_tensor[torch.from_numpy(rows).to(X_tensor.device)]
            delta = pgd_perturbation(network, score_fn, xb, None, epsilon=float(epsilon), steps=int(steps), generator=generator, maximize=False)
            with torch.no_grad():
                network.eval()
                scores = detector._score_batch(network, xb + delta).double().cpu().numpy()
            attacked[rows] = np.minimum(scores, clean[rows])
    return {
        "auroc_clean": float(roc_auc_score(labels, clean)),
        "auroc_attacked": float(roc_auc_score(labels, attacked)),
        "epsilon": float(epsilon),
        "steps": int(steps),
        "mean_score_drop": float(np.mean(clean[anomalies] - attacked[anomalies])),
    }
