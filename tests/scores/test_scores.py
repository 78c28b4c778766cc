"""Score functions against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metaad.exceptions import DataError, ParameterError
from metaad.scores import (
    center_distance,
    critic_score,
    feature_reconstruction_error,
    gaussian_kl,
    gaussian_kl_from_samples,
    gaussian_kl_to_standard,
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


# ------------------------------------------------------------------ the tensor forms the deep detectors use
def test_tensor_forms_equal_the_numpy_forms_and_keep_gradients():
    rng = np.random.RandomState(0)
    X, X_hat = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 2, 3))  # images are flattened in both forms
    tX = torch.tensor(X, requires_grad=True)
    for norm in ("l2", "l1"):
        for reduction in ("sum", "mean"):
            got = reconstruction_error(tX, torch.tensor(X_hat), norm=norm, reduction=reduction)
            np.testing.assert_allclose(got.detach().numpy(), reconstruction_error(X, X_hat, norm=norm, reduction=reduction))
        np.testing.assert_allclose(feature_reconstruction_error(tX, torch.tensor(X_hat), norm=norm).detach().numpy(),
                                   feature_reconstruction_error(X, X_hat, norm=norm))
    reconstruction_error(tX, torch.tensor(X_hat)).sum().backward()
    np.testing.assert_allclose(tX.grad.numpy(), 2 * (X - X_hat))  # d/dx (x - x̂)²
    mean, logvar = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    by_hand = [gaussian_kl(mean[i], np.exp(logvar[i]), 0.0, 1.0) for i in range(4)]
    np.testing.assert_allclose(gaussian_kl_to_standard(mean, logvar), by_hand)
    np.testing.assert_allclose(gaussian_kl_to_standard(torch.tensor(mean), torch.tensor(logvar)).numpy(), by_hand)
    Z, c = rng.normal(size=(6, 3)), rng.normal(size=3)
    np.testing.assert_allclose(center_distance(Z, c), ((Z - c) ** 2).sum(axis=1))
    np.testing.assert_allclose(center_distance(torch.tensor(Z), torch.tensor(c)).numpy(), ((Z - c) ** 2).sum(axis=1))
    critic = torch.nn.Linear(3, 1)  # float32, as the detectors' networks
    np.testing.assert_allclose(critic_score(critic, torch.tensor(Z, dtype=torch.float32)).detach().numpy(),
                               critic_score(critic, Z), rtol=1e-6)


def test_tensor_forms_refuse_mixed_and_mismatched_inputs():
    with pytest.raises(ParameterError, match="both be torch tensors"):
        reconstruction_error(torch.zeros(2, 3), np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"X has shape \(2, 3\) but X_hat has shape \(2, 4\)"):
        reconstruction_error(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(DataError, match="center has 2 dimension"):
        center_distance(np.zeros((4, 3)), np.zeros(2))
    with pytest.raises(ParameterError, match="both be torch tensors"):
        gaussian_kl_to_standard(torch.zeros(1, 2), np.zeros((1, 2)))
