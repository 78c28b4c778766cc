"""A quality floor for each of the nine PyOD adapters: planted outliers score higher than the normal rows.

Shape and contract tests pass for an adapter whose scores have the wrong sign; these do not (every test below
failed with the scores negated in ``PyODAdapter._fit`` and ``_score``).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import metaad
from metaad.detectors.classical import CLASSICAL_SPECS
from tests.data._shared import shared_path

ADAPTERS = [spec.name for spec in CLASSICAL_SPECS]

#: Test AUROC on cardio (README protocol, seed 0) minus a margin of about 0.05; a sign flip gives 1 - AUROC.
CARDIO_FLOOR = {
    "iforest": 0.85, "ecod": 0.85, "copod": 0.85, "hbos": 0.75, "knn": 0.65, "lof": 0.52, "ocsvm": 0.85, "pca": 0.85,
    "loda": 0.8,
}


@pytest.fixture(scope="module")
def planted():
    """500 correlated Gaussian rows and 20 rows 4 to 6 standard deviations out in every column (random signs)."""
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(6, 6)) / 2 + np.eye(6)
    normal = rng.normal(size=(520, 6)) @ mixing
    outliers = rng.choice([-1, 1], size=(40, 6)) * rng.uniform(4, 6, size=(40, 6)) * normal.std(axis=0)
    X_train = np.vstack([normal[:500], outliers[:20]])
    y_train = np.r_[np.zeros(500), np.ones(20)]
    X_new = np.vstack([normal[500:], outliers[20:]])
    y_new = np.r_[np.zeros(20), np.ones(20)]
    return X_train, y_train, X_new, y_new


@pytest.mark.parametrize("name", ADAPTERS)
def test_planted_outliers_score_higher(name, planted):
    X_train, y_train, X_new, y_new = planted
    det = metaad.make_detector(name, contamination=20 / 520, random_state=0).fit(X_train)
    assert roc_auc_score(y_train, det.decision_scores_) >= 0.98, "training scores: planted outliers do not rank first"
    new_scores = det.decision_function(X_new)
    assert roc_auc_score(y_new, new_scores) >= 0.98, "new rows: planted outliers do not rank first"
    assert new_scores[20:].min() > np.median(new_scores[:20])
    # the threshold follows the scores' direction: most planted outliers are flagged, few normal rows
    assert det.predict(X_new)[20:].mean() >= 0.8 and det.predict(X_new)[:20].mean() <= 0.2


def test_pca_on_collinear_columns_gives_finite_scores_that_find_the_outliers(planted):
    """A column that is the sum of two others gives PyOD's weighted PCA a component of ~0 variance: every score
    was inf (as on cardio) before ``n_components`` was capped at the data's rank."""
    X_train, y_train, X_new, y_new = planted
    widen = lambda X: np.c_[X, X[:, 0] + X[:, 1]]  # noqa: E731
    det = metaad.make_detector("pca", contamination=20 / 520, random_state=0).fit(widen(X_train))
    scores = det.decision_function(widen(X_new))
    assert np.isfinite(det.decision_scores_).all() and np.isfinite(scores).all()
    assert det.model_.n_components == 6
    assert roc_auc_score(y_new, scores) >= 0.98


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ADAPTERS)
def test_quality_floor_on_cardio(name):
    data = np.load(shared_path("tabular", "cardio.npz"))
    X, y = data["X"].astype(np.float64), data["y"].astype(int).ravel()
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    det = metaad.make_detector(name, random_state=0).fit(X_train)
    scores = det.decision_function(X_test)
    assert np.isfinite(scores).all(), f"{name}: {int((~np.isfinite(scores)).sum())} non-finite scores"
    auroc = roc_auc_score(y_test, scores)
    assert auroc >= CARDIO_FLOOR[name], f"{name}: cardio test AUROC {auroc:.3f} below its floor {CARDIO_FLOOR[name]}"
