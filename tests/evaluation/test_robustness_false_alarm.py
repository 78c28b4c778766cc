"""false_alarm_auroc: PGD on the *normal* rows raises their scores within epsilon, seeded, and costs AUROC."""

from __future__ import annotations

import numpy as np
import pytest

import metaad
from metaad.evaluation import false_alarm_auroc
from metaad.evaluation.robustness import _attacked_scores
from metaad.exceptions import DataError, ParameterError


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(200, 5)), rng.normal(1.5, 1, size=(20, 5))])
    y = np.r_[np.zeros(200), np.ones(20)].astype(int)
    det = metaad.make_detector("autoencoder", n_epochs=5, random_state=0, n_threads=1).fit(X[:150])
    return det, X, y


def test_attack_raises_normal_scores_and_false_alarms(fitted):
    det, X, y = fitted
    result = false_alarm_auroc(det, X, y, epsilon=0.3, steps=5)
    clean_scores = det.decision_function(X)
    assert result["mean_score_rise"] > 0.2 * float(np.mean(clean_scores[y == 0]))
    assert result["auroc_lost"] > 0.03
    assert result["auroc_attacked"] == pytest.approx(result["auroc_clean"] - result["auroc_lost"])
    assert result["fpr_attacked"] > result["fpr_clean"]
    # The clean figures are the detector's own: its threshold_ and its scores.
    assert result["threshold"] == det.threshold_
    assert result["fpr_clean"] == pytest.approx(np.mean(clean_scores[y == 0] > det.threshold_))
    assert result["epsilon"] == 0.3 and result["steps"] == 5
    # The attack gains at least about what the score's slope promises (it takes several steps).
    assert 0.5 * result["first_order_rise"] < result["mean_score_rise"] < 3 * result["first_order_rise"]


def test_attack_direction(fitted):
    """Raising moves nearly every normal row's score up (a flipped direction leaves them at their clean
    score, the attacker's fallback); lowering moves them down; anomalies are untouched."""
    det, X, y = fitted
    X_tensor = det._to_tensor(X)
    normal = np.flatnonzero(y == 0)
    clean, attacked, _ = _attacked_scores(det, X_tensor, normal, epsilon=0.3, steps=10, maximize=True, batch_size=64, random_state=0)
    _, lowered, _ = _attacked_scores(det, X_tensor, normal, epsilon=0.3, steps=10, maximize=False, batch_size=64, random_state=0)
    assert np.all(attacked[normal] >= clean[normal])
    assert np.mean(attacked[normal] > clean[normal]) > 0.9
    assert np.mean(lowered[normal] < clean[normal]) > 0.5
    np.testing.assert_array_equal(attacked[y == 1], clean[y == 1])  # anomalies are left alone


def test_perturbation_stays_within_epsilon_and_uses_it(fitted):
    det, X, y = fitted
    normal = np.flatnonzero(y == 0)
    _, _, deltas = _attacked_scores(det, det._to_tensor(X), normal, epsilon=0.2, steps=5, maximize=True, batch_size=50, random_state=0)
    assert deltas.shape == (len(normal), X.shape[1])
    assert np.abs(deltas).max() <= 0.2 + 1e-6
    assert np.mean(np.abs(deltas) > 0.19) > 0.5  # sign steps push most coordinates to the box's edge


def test_attack_is_seeded(fitted):
    det, X, y = fitted
    normal = np.flatnonzero(y == 0)
    X_tensor = det._to_tensor(X)
    runs = [_attacked_scores(det, X_tensor, normal, epsilon=0.1, steps=1, maximize=True, batch_size=64, random_state=seed)[2] for seed in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    assert false_alarm_auroc(det, X, y, steps=3, random_state=4) == false_alarm_auroc(det, X, y, steps=3, random_state=4)


def test_first_order_rise_is_epsilon_times_the_gradient_l1(fitted):
    import torch

    det, X, y = fitted
    xb = det._to_tensor(X[y == 0]).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(det._score_batch(det.network_, xb).sum(), xb)
    expected = 0.2 * float(grad.abs().sum(dim=1).mean())
    assert false_alarm_auroc(det, X, y, epsilon=0.2, steps=1, batch_size=37)["first_order_rise"] == pytest.approx(expected, rel=1e-5)


def test_explicit_threshold(fitted):
    det, X, y = fitted
    high = false_alarm_auroc(det, X, y, steps=2, threshold=1e9)
    assert high["fpr_clean"] == 0.0 and high["fpr_attacked"] == 0.0 and high["threshold"] == 1e9
    low = false_alarm_auroc(det, X, y, steps=2, threshold=-1.0)
    assert low["fpr_clean"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epsilon": 0}, ParameterError, "epsilon must be"),
        ({"epsilon": float("nan")}, ParameterError, "epsilon must be"),
        ({"steps": 0}, ParameterError, "steps must be"),
        ({"threshold": "high"}, ParameterError, "threshold must be"),
    ],
)
def test_rejects_bad_arguments(fitted, kwargs, error, match):
    det, X, y = fitted
    with pytest.raises(error, match=match):
        false_alarm_auroc(det, X, y, **kwargs)


def test_rejects_bad_labels_and_classical_detectors(fitted):
    det, X, y = fitted
    with pytest.raises(DataError, match="both normal rows"):
        false_alarm_auroc(det, X, np.zeros(len(X)))
    with pytest.raises(DataError, match="y has 3 labels but X has 220 rows"):
        false_alarm_auroc(det, X, [0, 1, 0])
    iforest = metaad.make_detector("iforest", random_state=0).fit(X)
    with pytest.raises(ParameterError, match="needs a deep detector.*IForest"):
        false_alarm_auroc(iforest, X, y)


def test_a_failed_attack_keeps_the_clean_score(fitted, monkeypatch):
    """An attack step that lowers the scores instead is discarded row by row: the attacker keeps the clean row,
    so nothing is lost and the FPR does not move."""
    import metaad.evaluation.robustness as robustness

    original = robustness.pgd_perturbation
    monkeypatch.setattr(robustness, "pgd_perturbation", lambda *a, **k: original(*a, **{**k, "maximize": not k["maximize"]}))
    det, X, y = fitted
    result = false_alarm_auroc(det, X, y, epsilon=0.3, steps=5)
    assert result["mean_score_rise"] == 0.0
    assert result["auroc_lost"] == 0.0 and result["fpr_attacked"] == result["fpr_clean"]
    assert result["first_order_rise"] > 0  # the slope is there; only the attack failed
