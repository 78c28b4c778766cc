"""Per-feature explanations of anomaly scores, for any fitted detector.

Two kinds exist:

* a detector's **own** ``explain(X)``: every deep detector has one. Reconstruction-based detectors (``autoencoder``,
  ``vae``, ``wgan``) return each feature's share of the reconstruction error, which sums to the reconstruction
  part of the score; ``deep_svdd`` and ``devnet``, whose score is not a sum over features, use the rule below;
* the **model-agnostic** rule of :func:`replacement_contributions`, for every other detector (the classical PyOD
  adapters, ``auto``): the contribution of feature ``j`` to the score of row ``x`` is how much the score falls
  when ``x_j`` alone is replaced by its typical training value (the training median; the training mean where the
  detector keeps only that)::

      contribution_j(x) = score(x) - score(x with x_j := reference_j)

  Positive: the feature's value makes the row more anomalous; about 0: the feature does not matter for this row.
  It costs one scoring pass over ``n_rows × n_features`` rows, and the contributions do not add up to the score
  (features interact); they rank the features of one row.

:func:`explain` picks the detector's own explanation when there is one and the model-agnostic one otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metaad.exceptions import DataError, ParameterError

#: Rows scored per call of ``decision_function`` while explaining (bounds the memory of the perturbed copies).
CHUNK_ROWS = 65_536


def training_reference(detector: Any) -> np.ndarray:
    """The typical training value of each feature: what :func:`replacement_contributions` replaces a feature with.

    The median of the training matrix when the detector keeps it (``X_train_``, the PyOD adapters), else the
    training mean of its scaler (``scaler_mean_``, the deep detectors), else that of its first member
    (``detectors_``, ``auto``).

    Raises
    ------
    ParameterError
        When the detector keeps none of these: pass ``reference=`` to :func:`replacement_contributions`.
    """
    if hasattr(detector, "X_train_"):
        return np.median(np.asarray(detector.X_train_, dtype=np.float64), axis=0)
    if hasattr(detector, "scaler_mean_"):
        mean = np.asarray(detector.scaler_mean_, dtype=np.float64).ravel()
        n_features = int(np.prod(detector.feature_shape_))
        return np.broadcast_to(mean, (n_features,)).copy() if mean.size == 1 else mean
    members = getattr(detector, "detectors_", None)
    if members:
        return training_reference(members[0])
    raise ParameterError(
        f"{type(detector).__name__} keeps no training statistics to explain against; pass reference= (one value per feature)"
    )


def replacement_contributions(detector: Any, X: Any, *, reference: Any = None) -> np.ndarray:
    """Model-agnostic per-feature contributions: the score drop when one feature is set to its training median.

    Parameters
    ----------
    detector : fitted detector
        Anything with ``decision_function`` (higher = more anomalous) and ``feature_shape_``/``n_features_in_``.
    X : array-like of shape (n_rows, n_features) or images (n_rows, ...)
        Rows to explain.
    reference : array-like of shape (n_features,), optional
        The value each feature is replaced with; default :func:`training_reference`.

    Returns
    -------
    numpy.ndarray of shape (n_rows, n_features)
        ``score(x) - score(x with feature j replaced)`` (images: one column per pixel, flattened).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> rng = np.random.RandomState(0)
    >>> det = metaad.make_detector("iforest", random_state=0).fit(rng.normal(size=(300, 3)))
    >>> contributions = replacement_contributions(det, [[0.0, 6.0, 0.0]])   # far out in feature 1 only
    >>> int(np.argmax(contributions[0]))
    1
    >>> bool(contributions[0, 1] > 0.1 > abs(contributions[0, 0]))
    True
    """
    if not hasattr(detector, "decision_function"):
        raise ParameterError(f"{type(detector).__name__} is not a detector: it has no decision_function")
    rows = np.asarray(X, dtype=np.float64)
    if rows.ndim == 1:
        raise DataError(f"X is 1-D with {rows.shape[0]} values; pass one row as X.reshape(1, -1)")
    base = np.asarray(detector.decision_function(rows), dtype=np.float64)  # validates X and fitting
    flat = rows.reshape(rows.shape[0], -1)
    n_rows, n_features = flat.shape
    ref = training_reference(detector) if reference is None else np.asarray(reference, dtype=np.float64).ravel()
    if ref.shape != (n_features,):
        raise DataError(f"reference has {ref.size} value(s) but X has {n_features} feature(s) per row")
    contributions = np.empty((n_rows, n_features))
    rows_per_chunk = max(1, CHUNK_ROWS // n_features)
    for start in range(0, n_rows, rows_per_chunk):
        block = flat[start : start + rows_per_chunk]
        perturbed = np.repeat(block[:, None, :], n_features, axis=1)  # (rows, feature replaced, features)
        index = np.arange(n_features)
        perturbed[:, index, index] = ref
        scores = np.asarray(detector.decision_function(perturbed.reshape(-1, *rows.shape[1:])), dtype=np.float64)
        contributions[start : start + len(block)] = base[start : start + len(block), None] - scores.reshape(len(block), n_features)
    return contributions


def explain(detector: Any, X: Any) -> np.ndarray:
    """Per-feature contributions to each row's score: the detector's own ``explain`` if it has one, else
    :func:`replacement_contributions`.

    Returns
    -------
    numpy.ndarray of shape (n_rows, n_features)
        Larger = the feature pushes the row's score up more.

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> explain(metaad.make_detector("ecod").fit(X), X[:2]).shape
    (2, 4)
    """
    own = getattr(detector, "explain", None)
    if callable(own):
        return np.asarray(own(X), dtype=np.float64)
    return replacement_contributions(detector, X)
