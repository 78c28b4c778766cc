"""Score functions against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metaad.exceptions import DataError, ParameterError
from metaad.scores import (
    critic_score,
    feature_reconstruction_error,
    gaussian_kl,
    gaussian_kl_from_samples,
    histogram_kl,
    median_heuristic,
    mmd_permutation_test,
    mmd_rbf,
    rbf_kernel,
    reconstruction_error,
)


def test_reconstruction_by_hand():
    X, X_hat = np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 4.0, 3.0]])
    assert feature_reconstruction_error(X, X_hat).tolist() == [[1.0, 4.0, 0.0]]
    assert feature_reconstruction_error(X, X_hat, norm="l1").tolist() == [[1.0, 2.0, 0.0]]
    assert reconstruction_error(X, X_hat).tolist() == [5.0]
    assert reconstruction_error(X, X_hat, reduction="mean").tolist() == pytest.approx([5 / 3])
    assert reconstruction_error(X, X_hat, norm="l1").tolist() == [3.0]
    with pytest.raises(DataError):
        reconstruction_error(X, X_hat[:, :2])
    with pytest.raises(ParameterError):
        reconstruction_error(X, X_hat, norm="l3")


def test_mmd_identical_near_zero_shifted_positive():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    assert abs(mmd_rbf(X, X, unbiased=False)) < 1e-12
    assert abs(mmd_rbf(X, rng.normal(size=(300, 3)))) < 0.02
    assert mmd_rbf(X, X + 1.0) > 0.1


def test_mmd_by_hand():
    # two one-point-per-sample sets: biased MMD² = k(x,x) + k(y,y) - 2k(x,y) = 2 - 2 exp(-1/2)
    assert mmd_rbf([[0.0]], [[1.0]], bandwidth=1.0, unbiased=False) == pytest.approx(2 - 2 * math.exp(-0.5))
    assert rbf_kernel([[0.0]], [[2.0]], 2.0)[0, 0] == pytest.approx(math.exp(-0.5))
    assert median_heuristic([[0.0], [1.0], [3.0]]) == 2.0


def test_permutation_p_values():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(50, 2))
    _, p_same = mmd_permutation_test(X, rng.normal(size=(50, 2)), n_permutations=99, random_state=0)
    _, p_shift = mmd_permutation_test(X, rng.normal(1.5, 1, size=(50, 2)), n_permutations=99, random_state=0)
    assert p_shift == pytest.approx(0.01) and p_same > 0.05


def test_gaussian_kl_closed_form():
    # KL(N(0,1) || N(1,2)) = 0.5 (log 2 + (1 + 1)/2 - 1) = 0.5 log 2
    assert gaussian_kl(0.0, 1.0, 1.0, 2.0) == pytest.approx(0.5 * math.log(2))
    assert gaussian_kl([0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]) == 0.0
    with pytest.raises(ParameterError):
        gaussian_kl(0.0, 0.0, 0.0, 1.0)


def test_kl_from_samples_and_histogram():
    rng = np.random.RandomState(0)
    p, q = rng.normal(0, 1, 100_000), rng.normal(1, np.sqrt(2), 100_000)
    assert gaussian_kl_from_samples(p, q) == pytest.approx(0.5 * math.log(2), abs=0.01)
    latent_p = rng.normal(size=(20_000, 2))
    latent_q = rng.normal(size=(20_000, 2)) + np.array([1.0, 0.0])
    assert gaussian_kl_from_samples(latent_p, latent_q) == pytest.approx(0.5, abs=0.03)
    assert histogram_kl(p, q, bins=100) == pytest.approx(0.5 * math.log(2), abs=0.05)
    assert histogram_kl(p, p) == 0.0


def test_critic_score_negates():
    critic = torch.nn.Linear(2, 1)
    torch.nn.init.constant_(critic.weight, 2.0)
    torch.nn.init.zeros_(critic.bias)
    assert critic_score(critic, np.array([[1.0, 1.0], [0.0, -1.0]])).tolist() == [-4.0, 2.0]
