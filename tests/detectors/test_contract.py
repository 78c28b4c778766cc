"""The contract every registered detector passes: sklearn checks that apply, clone, shapes, determinism,
save/load round trip, and bad input. New detectors are picked up from the registry automatically."""

from __future__ import annotations


import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import metaad
from metaad.data import load_dataset
from metaad.detectors.registry import get_detector_info
from metaad.exceptions import DataError, NotFittedError, ParameterError

ALL = metaad.list_detectors()


def fast_params(name: str) -> dict:
    """Cheap settings so the whole suite stays fast; deep detectors train for 2 epochs."""
    accepted = get_detector_info(name).parameters
    params = {"random_state": 0}
    if "n_epochs" in accepted:
        params["n_epochs"] = 2
    return params


def fit_args(name: str, X: np.ndarray, y: np.ndarray) -> tuple:
    return (X, y) if get_detector_info(name).cls._uses_labels else (X,)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real data: scikit-learn's breast-cancer table with ~5% malignant rows, standardized."""
    table = load_dataset("breast_cancer")
    X = table.frame.to_numpy(dtype=np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:300], X[300:], table.labels[:300]


@pytest.mark.parametrize("name", ALL)
def test_sklearn_checks_that_apply(name: str) -> None:
    det = metaad.make_detector(name)
    cls_name = type(det).__name__
    check_no_attributes_set_in_init(cls_name, det)
    check_get_params_invariance(cls_name, det)
    check_set_params(cls_name, det)
    check_parameters_default_constructible(cls_name, det)


@pytest.mark.parametrize("name", ALL)
def test_clone_keeps_params_and_drops_fit(name: str, data) -> None:
    X, _, y = data
    det = metaad.make_detector(name, **fast_params(name)).fit(*fit_args(name, X, y))
    copy = clone(det)
    assert copy.get_params() == det.get_params()
    assert not hasattr(copy, "decision_scores_")


@pytest.mark.parametrize("name", ALL)
def test_fit_predict_shapes_and_threshold(name: str, data) -> None:
    X, X_test, y = data
    det = metaad.make_detector(name, **fast_params(name))
    assert det.fit(*fit_args(name, X, y)) is det
    assert det.decision_scores_.shape == (X.shape[0],)
    assert np.isfinite(det.decision_scores_).all()
    assert det.decision_scores_.std() > 0, "all training scores are equal: the detector learned nothing"
    scores = det.decision_function(X_test)
    assert scores.shape == (X_test.shape[0],)
    labels = det.predict(X_test)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, (scores > det.threshold_).astype(int))
    # default threshold: about `contamination` of the training rows are flagged
    assert abs(det.labels_.mean() - 0.1) <= 0.05


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_scores(name: str, data) -> None:
    X, X_test, y = data
    a = metaad.make_detector(name, **fast_params(name)).fit(*fit_args(name, X, y))
    b = metaad.make_detector(name, **fast_params(name)).fit(*fit_args(name, X, y))
    np.testing.assert_array_equal(a.decision_function(X_test), b.decision_function(X_test))


@pytest.mark.parametrize("name", ALL)
def test_save_load_round_trip(name: str, data, tmp_path) -> None:
    X, X_test, y = data
    det = metaad.make_detector(name, **fast_params(name)).fit(*fit_args(name, X, y))
    folder = metaad.save(det, tmp_path / "model")
    loaded = metaad.load(folder)
    assert type(loaded) is type(det)
    assert loaded.get_params() == det.get_params()
    np.testing.assert_array_equal(loaded.decision_function(X_test), det.decision_function(X_test))
    assert loaded.threshold_ == det.threshold_
    # the model directory holds only JSON and safetensors: nothing that executes on load
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".json", ".safetensors"]


@pytest.mark.parametrize("name", ALL)
def test_bad_input_is_a_clear_error(name: str, data) -> None:
    X, _, y = data
    det = metaad.make_detector(name, **fast_params(name))
    with pytest.raises(NotFittedError, match="not fitted"):
        det.decision_function(X)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(DataError, match="row 5, column 2"):
        det.fit(*fit_args(name, bad, y))
    bad[5, 2] = np.inf
    with pytest.raises(DataError, match="row 5"):
        det.fit(*fit_args(name, bad, y))
    with pytest.raises(DataError, match="1-D"):
        det.fit(*fit_args(name, X[:, 0], y))
    with pytest.raises(DataError, match="empty"):
        det.fit(*fit_args(name, X[:0], y[:0]))
    with pytest.raises(DataError, match="1 row"):
        det.fit(*fit_args(name, X[:1], y[:1]))
    with pytest.raises(DataError, match="constant"):
        det.fit(*fit_args(name, np.ones_like(X), y))
    with pytest.raises(DataError, match="numbers"):
        det.fit(*fit_args(name, np.array([["a", "b"], ["c", "d"]]), y[:2]))
    det.fit(*fit_args(name, X, y))
    with pytest.raises(DataError, match=f"fitted on {X.shape[1]}"):
        det.decision_function(X[:, :3])


@pytest.mark.parametrize("name", ALL)
def test_invalid_parameters_are_named(name: str, data) -> None:
    with pytest.raises(ParameterError, match="contamination"):
        metaad.make_detector(name, contamination=0.7)
    with pytest.raises(ParameterError, match="no_such_param"):
        metaad.make_detector(name, no_such_param=1)
    det = metaad.make_detector(name)
    det.set_params(contamination=-1)
    X, _, y = data
    with pytest.raises(ParameterError, match="contamination"):
        det.fit(*fit_args(name, X, y))


def test_unknown_detector_suggests_a_name() -> None:
    with pytest.raises(ParameterError, match="Did you mean 'iforest'"):
        metaad.make_detector("iforrest")


def test_registry_lists_the_required_detectors() -> None:
    required = {"iforest", "ecod", "copod", "hbos", "knn", "lof", "ocsvm", "pca", "autoencoder"}
    assert required <= set(ALL)
    for info in metaad.list_detectors(details=True):
        assert info.description and info.family in {"classical", "deep", "meta"}


def test_threshold_from_false_positive_rate(data) -> None:
    X, _, _ = data
    det = metaad.make_detector("ecod", threshold="fpr:0.01", contamination=0.05).fit(X)
    kept = np.sort(det.decision_scores_)[: int(len(X) * 0.95)]
    assert det.threshold_ == pytest.approx(np.quantile(kept, 0.99))
    assert det.labels_.mean() < 0.1
    with pytest.raises(ParameterError, match="fpr"):
        metaad.make_detector("ecod", threshold="fpr:2")
