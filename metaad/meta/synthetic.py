"""Evidence from the user's own table, without labels: synthetic anomalies injected into a held-out part.

ADBench (Han et al., NeurIPS 2022, section 3.2) describes four types of anomaly; each generator here draws
rows of one type from a model of the (unlabeled) table:

``local``
    A Gaussian mixture fitted to the data, sampled with its covariances scaled by ``alpha`` (5): rows near the
    normal modes but too spread out for them.
``global``
    Uniform in the data's bounding box inflated by 10% on each side: rows anywhere, mostly far from the data.
``dependency``
    Every column drawn independently from its own empirical distribution: each value is ordinary, but the joint
    structure (the correlations) is broken.
``clustered``
    The mixture's components moved away from the data, every coordinate of a mean shifted by ``shift`` (2)
    standard deviations (random signs), same covariances: small, dense groups of anomalies.

:func:`make_synthetic_task` splits a table into a part to fit on and a held-out part of real rows, and injects
anomalies of each type; :meth:`SyntheticTask.evaluate` fits a detector on the fit part and reports, per type,
how well its scores separate the injected rows from the held-out real ones (AUROC). ``auto`` uses the mean
over types as evidence to re-rank its candidates; a search can use it as its reward.

Examples
--------
>>> import numpy as np
>>> from metaad.detectors.registry import make_detector
>>> X = np.random.RandomState(0).multivariate_normal([0, 0, 0], [[1, .9, .5], [.9, 1, .5], [.5, .5, 1]], size=600)
>>> task = make_synthetic_task(X, random_state=0)
>>> sorted(task.injected), task.X_fit.shape[1]
(['clustered', 'dependency', 'global', 'local'], 3)
>>> result = task.evaluate(make_detector("iforest", random_state=0))
>>> result["global"] > 0.9 and 0.0 <= result["mean"] <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from metaad.exceptions import DataError

#: The anomaly types, in ADBench's order.
ANOMALY_TYPES: tuple[str, ...] = ("local", "global", "dependency", "clustered")
#: Covariance scale of ``local`` anomalies (ADBench's alpha).
LOCAL_ALPHA = 5.0
#: Inflation of the bounding box of ``global`` anomalies, as a share of each column's range on each side.
GLOBAL_MARGIN = 0.1
#: Shift of ``clustered`` anomalies' means, in standard deviations per column.
CLUSTER_SHIFT = 2.0
#: Most mixture components fitted to model the data.
MAX_COMPONENTS = 5
#: Above this many columns the mixture's covariances are diagonal: a full one costs columns² memory per
#: component (4 x 10,000² floats = 3.2 GB for a 10,000-column table).
MAX_FULL_COVARIANCE_COLUMNS = 100


def _mixture(X: np.ndarray, rng: np.random.RandomState) -> Any:
    from sklearn.mixture import GaussianMixture

    n_components = int(max(1, min(MAX_COMPONENTS, X.shape[0] // 50)))
    kind = "full" if X.shape[1] <= MAX_FULL_COVARIANCE_COLUMNS else "diag"
    gm = GaussianMixture(n_components=n_components, covariance_type=kind, reg_covar=1e-3,
                         random_state=rng.randint(2**31 - 1)).fit(X)
    return gm


def _sample_mixture(gm: Any, n: int, rng: np.random.RandomState, *, cov_scale: float = 1.0,
                    mean_shift: np.ndarray | None = None) -> np.ndarray:
    component = rng.choice(len(gm.weights_), size=n, p=gm.weights_ / gm.weights_.sum())
    rows = np.empty((n, gm.means_.shape[1]))
    for k in np.unique(component):
        where = np.flatnonzero(component == k)
        mean = gm.means_[k] + (0.0 if mean_shift is None else mean_shift[k])
        noise = rng.standard_normal(size=(len(where), len(mean)))
        if gm.covariance_type == "diag":
            rows[where] = mean + noise * np.sqrt(cov_scale * gm.covariances_[k])
            continue
        cov = cov_scale * gm.covariances_[k]
        chol = np.linalg.cholesky(cov + 1e-9 * np.eye(len(cov)))  # covariances are regularized: positive definite
        rows[where] = mean + noise @ chol.T
    return rows


def local_anomalies(X: np.ndarray, n: int, random_state: Any = None) -> np.ndarray:
    """``n`` rows from a Gaussian mixture fitted to ``X``, covariances scaled by :data:`LOCAL_ALPHA`."""
    rng = check_random_state(random_state)
    return _sample_mixture(_mixture(X, rng), n, rng, cov_scale=LOCAL_ALPHA)


def global_anomalies(X: np.ndarray, n: int, random_state: Any = None) -> np.ndarray:
    """``n`` rows uniform in the bounding box of ``X`` inflated by :data:`GLOBAL_MARGIN` of each range."""
    rng = check_random_state(random_state)
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = GLOBAL_MARGIN * (hi - lo)
    return rng.uniform(lo - margin, hi + margin, size=(n, X.shape[1]))


def dependency_anomalies(X: np.ndarray, n: int, random_state: Any = None) -> np.ndarray:
    """``n`` rows whose columns are drawn independently from the columns of ``X`` (joint structure broken)."""
    rng = check_random_state(random_state)
    return np.column_stack([X[rng.randint(0, X.shape[0], size=n), j] for j in range(X.shape[1])])


def clustered_anomalies(X: np.ndarray, n: int, random_state: Any = None) -> np.ndarray:
    """``n`` rows from the mixture fitted to ``X`` with every mean moved :data:`CLUSTER_SHIFT` std per column."""
    rng = check_random_state(random_state)
    gm = _mixture(X, rng)
    std = np.maximum(X.std(axis=0), 1e-12)
    shift = CLUSTER_SHIFT * std[None, :] * rng.choice([-1.0, 1.0], size=gm.means_.shape)
    return _sample_mixture(gm, n, rng, mean_shift=shift)


#: The generator of each type: ``generator(X, n, random_state) -> (n, d) array``.
GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "local": local_anomalies, "global": global_anomalies,
    "dependency": dependency_anomalies, "clustered": clustered_anomalies,
}


@dataclass
class SyntheticTask:
    """A table split into rows to fit on, held-out real rows, and injected anomalies of each type.

    Attributes
    ----------
    X_fit : ndarray
        Rows a detector is fitted on (unlabeled, as the user's data).
    X_real : ndarray
        Held-out real rows: the "normal" side of every comparison.
    injected : dict of str to ndarray
        Anomaly type -> injected rows.
    fit_rows : ndarray, optional
        The indices in the original table of the rows of :attr:`X_fit`, in their order.
    """

    X_fit: np.ndarray
    X_real: np.ndarray
    injected: dict[str, np.ndarray]
    fit_rows: np.ndarray | None = None

    def scores(self, detector: Any) -> dict[str, float]:
        """AUROC per type of an already fitted ``detector``, plus their ``mean``."""
        from sklearn.metrics import roc_auc_score

        parts = [self.X_real, *self.injected.values()]
        scores = np.asarray(detector.decision_function(np.vstack(parts)), dtype=np.float64)
        real = scores[: len(self.X_real)]
        out, start = {}, len(self.X_real)
        for name, rows in self.injected.items():
            fake = scores[start:start + len(rows)]
            start += len(rows)
            y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
            s = np.r_[real, fake]
            out[name] = float(roc_auc_score(y, s)) if np.all(np.isfinite(s)) else 0.5
        out["mean"] = float(np.mean([out[name] for name in self.injected]))
        return out

    def evaluate(self, detector: Any) -> dict[str, float]:
        """Fit ``detector`` on :attr:`X_fit`, then :meth:`scores`."""
        return self.scores(detector.fit(self.X_fit))


def make_synthetic_task(X: np.ndarray, *, types: tuple[str, ...] = ANOMALY_TYPES, max_fit_rows: int = 2000,
                        n_real: int = 500, share: float = 0.1, random_state: Any = None) -> SyntheticTask:
    """Split ``X`` and inject anomalies: the unsupervised evidence of :mod:`metaad.meta.synthetic`.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_columns)
        The (preprocessed) table.
    types : tuple of str
        Anomaly types from :data:`ANOMALY_TYPES`.
    max_fit_rows : int, default 2000
        At most this many rows (drawn at random) to fit on: the evidence costs the same on any table size.
    n_real : int, default 500
        At most this many held-out real rows (a quarter of the table when it is small).
    share : float, default 0.1
        Injected rows of each type, as a share of the held-out real rows (at least 10).
    random_state : int, optional
        Seed of the split and of the generators.

    Raises
    ------
    DataError
        For fewer than 20 rows, or an unknown type.
    """
    unknown = [t for t in types if t not in GENERATORS]
    if unknown:
        raise DataError(f"unknown synthetic anomaly type(s) {unknown}; known: {', '.join(ANOMALY_TYPES)}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 20:
        raise DataError(f"synthetic evidence needs a table of at least 20 rows, got shape {X.shape}")
    rng = check_random_state(random_state)
    order = rng.permutation(X.shape[0])
    n_hold = int(min(n_real, max(5, X.shape[0] // 4)))
    X_real = X[order[:n_hold]]
    X_fit = X[order[n_hold:n_hold + max_fit_rows]]
    n_inject = max(10, int(round(share * n_hold)))
    injected = {t: GENERATORS[t](X_fit, n_inject, rng.randint(2**31 - 1)) for t in types}
    return SyntheticTask(X_fit, X_real, injected, order[n_hold:n_hold + max_fit_rows])


__all__ = ["ANOMALY_TYPES", "GENERATORS", "SyntheticTask", "clustered_anomalies", "dependency_anomalies",
           "global_anomalies", "local_anomalies", "make_synthetic_task"]
