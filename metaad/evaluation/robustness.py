"""Robustness of a fitted deep detector to an attacker who perturbs rows by PGD on its anomaly score.

Two attacks, both projected gradient steps (L-infinity) on the detector's own differentiable score, in the
detector's **standardized** input space: ``epsilon`` is in units of one training standard deviation per
feature (one global standard deviation for images).

* :func:`robust_auroc` moves each **anomaly** within the ``epsilon`` box to *lower* its score (hiding it).
* :func:`false_alarm_auroc` moves each **normal** row within the box to *raise* its score (a false alarm).

In both the other rows are left alone, and the attacker keeps the clean row when the attack does not move
its score the intended way, so the AUROC under attack is never above the clean one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from metaad.detectors.trainer import pgd_perturbation
from metaad.device import torch_threads
from metaad.exceptions import DataError, ParameterError


def _check_attack(detector: Any, X: Any, y: Any, epsilon: float, steps: int, caller: str) -> tuple[torch.Tensor, np.ndarray]:
    """Validate an attack's arguments; return the scaled test rows and the 0/1 labels."""
    if not hasattr(detector, "_score_batch") or not hasattr(detector, "_to_tensor"):
        raise ParameterError(f"{caller} needs a deep detector (with a differentiable score); got {type(detector).__name__}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not np.isfinite(epsilon) or epsilon <= 0:
        raise ParameterError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps must be a positive integer, got {steps!r}")
    X_tensor = detector._to_tensor(X)
    labels = np.asarray(y).astype(int).ravel()
    if labels.shape[0] != X_tensor.shape[0]:
        raise DataError(f"y has {labels.shape[0]} labels but X has {X_tensor.shape[0]} rows")
    if len(np.unique(labels)) != 2:
        raise DataError("y must contain both normal rows (0) and anomalies (1) to compute an AUROC")
    return X_tensor, labels


def _attacked_scores(
    detector: Any, X_tensor: torch.Tensor, rows: np.ndarray, *, epsilon: float, steps: int, maximize: bool, batch_size: int, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean scores of every row, the scores after PGD on ``rows`` (raising them if ``maximize``, else
    lowering them; a row whose attack fails keeps its clean score), and the perturbation of each of ``rows``
    in the scaled space."""
    network = detector.network_
    score_fn = lambda module, xb, yb: detector._score_batch(module, xb)  # noqa: E731
    generator = torch.Generator().manual_seed(int(random_state))
    with torch_threads(detector._scoring_threads()):
        clean = detector._score_tensor(X_tensor)
        attacked = clean.copy()
        deltas = np.zeros((len(rows), *X_tensor.shape[1:]), dtype=np.float32)
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            xb = X_tensor[torch.from_numpy(chunk).to(X_tensor.device)]
            delta = pgd_perturbation(network, score_fn, xb, None, epsilon=float(epsilon), steps=int(steps), generator=generator, maximize=maximize)
            with torch.no_grad():
                network.eval()
                scores = detector._score_batch(network, xb + delta).double().cpu().numpy()
            deltas[start : start + len(chunk)] = delta.cpu().numpy()
            attacked[chunk] = np.maximum(scores, clean[chunk]) if maximize else np.minimum(scores, clean[chunk])
    return clean, attacked, deltas


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

    See Also
    --------
    false_alarm_auroc : the attack on the normal rows (raising their scores).

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
    X_tensor, labels = _check_attack(detector, X, y, epsilon, steps, "robust_auroc")
    anomalies = np.flatnonzero(labels == 1)
    clean, attacked, _ = _attacked_scores(
        detector, X_tensor, anomalies, epsilon=epsilon, steps=steps, maximize=False, batch_size=batch_size, random_state=random_state
    )
    return {
        "auroc_clean": float(roc_auc_score(labels, clean)),
        "auroc_attacked": float(roc_auc_score(labels, attacked)),
        "epsilon": float(epsilon),
        "steps": int(steps),
        "mean_score_drop": float(np.mean(clean[anomalies] - attacked[anomalies])),
    }


def false_alarm_auroc(
    detector: Any,
    X: Any,
    y: Any,
    epsilon: float = 0.1,
    steps: int = 10,
    *,
    threshold: float | None = None,
    batch_size: int = 1024,
    random_state: int = 0,
) -> dict[str, float]:
    """AUROC and false-positive rate of a fitted deep detector, clean and with every **normal** row attacked.

    The attacker moves each normal row (``y == 0``) within an L-infinity box of radius ``epsilon`` by
    ``steps`` PGD steps of gradient *ascent* on the detector's score, to make it look anomalous; anomalies
    are left as they are. The false-positive rate is the share of normal rows scored above ``threshold``,
    a threshold fixed on clean data (the attacker does not move it).

    Parameters
    ----------
    detector : fitted :class:`~metaad.detectors.deep.BaseDeepDetector`
        Any deep detector (it exposes ``_to_tensor`` and a differentiable ``_score_batch``).
    X : array-like
        Test rows, raw (the detector standardizes them).
    y : array-like of {0, 1}
        0 marks the normal rows that the attacker perturbs.
    epsilon : float, default=0.1
        L-infinity radius in standardized units (0.1 = a tenth of a training standard deviation).
    steps : int, default=10
        PGD steps (step size ``2.5 * epsilon / steps``, random start in the box).
    threshold : float or None, default=None
        Score above which a row is flagged. None uses the detector's ``threshold_``, set at fit time on its
        (clean) training scores.
    batch_size : int, default=1024
    random_state : int, default=0
        Seed of the random start.

    Returns
    -------
    dict
        ``auroc_clean``, ``auroc_attacked``, ``auroc_lost`` (clean minus attacked), ``fpr_clean``,
        ``fpr_attacked``, ``threshold``, ``epsilon``, ``steps``, ``mean_score_rise`` (mean increase of the
        normal rows' scores) and ``first_order_rise`` (``epsilon`` times the mean L1 norm of the score's
        gradient at the clean normal rows: what a linear score would gain; a detector is hardened only if
        training shrinks it).

    See Also
    --------
    robust_auroc : the attack on the anomalies (lowering their scores).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), rng.normal(3, 1, size=(30, 4))])
    >>> y = np.r_[np.zeros(300), np.ones(30)]
    >>> det = metaad.make_detector("autoencoder", n_epochs=5, random_state=0).fit(X)
    >>> result = false_alarm_auroc(det, X, y, epsilon=0.1, steps=5)
    >>> result["fpr_attacked"] >= result["fpr_clean"], result["auroc_lost"] >= 0
    (True, True)
    """
    X_tensor, labels = _check_attack(detector, X, y, epsilon, steps, "false_alarm_auroc")
    if threshold is None:
        threshold = float(detector.threshold_)
    elif isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) or not np.isfinite(threshold):
        raise ParameterError(f"threshold must be a finite number or None, got {threshold!r}")
    normal = np.flatnonzero(labels == 0)
    clean, attacked, _ = _attacked_scores(
        detector, X_tensor, normal, epsilon=epsilon, steps=steps, maximize=True, batch_size=batch_size, random_state=random_state
    )
    auroc_clean = float(roc_auc_score(labels, clean))
    auroc_attacked = float(roc_auc_score(labels, attacked))
    gradient_l1 = _score_gradient_l1(detector, X_tensor, normal, batch_size)
    return {
        "auroc_clean": auroc_clean,
        "auroc_attacked": auroc_attacked,
        "auroc_lost": auroc_clean - auroc_attacked,
        "fpr_clean": float(np.mean(clean[normal] > threshold)),
        "fpr_attacked": float(np.mean(attacked[normal] > threshold)),
        "threshold": float(threshold),
        "epsilon": float(epsilon),
        "steps": int(steps),
        "mean_score_rise": float(np.mean(attacked[normal] - clean[normal])),
        "first_order_rise": float(epsilon) * gradient_l1,
    }


def _score_gradient_l1(detector: Any, X_tensor: torch.Tensor, rows: np.ndarray, batch_size: int) -> float:
    """Mean L1 norm of the score's gradient at ``rows``: a first-order L-infinity attack raises a score by
    ``epsilon`` times it."""
    network = detector.network_
    network.eval()
    total = 0.0
    with torch_threads(detector._scoring_threads()):
        for start in range(0, len(rows), batch_size):
            chunk = torch.from_numpy(rows[start : start + batch_size]).to(X_tensor.device)
            xb = X_tensor[chunk].clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(detector._score_batch(network, xb).sum(), xb)
            total += float(grad.abs().flatten(1).sum(dim=1).sum())
    return total / max(len(rows), 1)
