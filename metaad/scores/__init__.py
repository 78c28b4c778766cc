"""Score functions: reconstruction error, distance to a centre, MMD, KL divergence and the critic score.

NumPy in, NumPy out, with the inputs checked. The functions the deep detectors train and score with
(reconstruction error, KL to the standard normal, distance to a centre, the critic score) also take torch
tensors and then return a tensor, unchecked and differentiable, so that a detector's loss and score are
these functions and not a copy of them.

Examples
--------
>>> import numpy as np
>>> from metaad.scores import reconstruction_error, gaussian_kl
>>> reconstruction_error(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]])).tolist()
[4.0]
>>> float(gaussian_kl(0.0, 1.0, 1.0, 1.0))
0.5
"""

from metaad.scores.critic import critic_score
from metaad.scores.distance import center_distance
from metaad.scores.kl import gaussian_kl, gaussian_kl_from_samples, gaussian_kl_to_standard, histogram_kl
from metaad.scores.mmd import (
    median_heuristic,
    mmd_linear_test,
    mmd_permutation_test,
    mmd_point_scores,
    mmd_rbf,
    rbf_kernel,
)
from metaad.scores.reconstruction import feature_reconstruction_error, reconstruction_error

__all__ = [
    "center_distance",
    "critic_score",
    "feature_reconstruction_error",
    "gaussian_kl",
    "gaussian_kl_from_samples",
    "gaussian_kl_to_standard",
    "histogram_kl",
    "median_heuristic",
    "mmd_linear_test",
    "mmd_permutation_test",
    "mmd_point_scores",
    "mmd_rbf",
    "rbf_kernel",
    "reconstruction_error",
]
