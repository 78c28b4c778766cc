"""The policy: REINFORCE's gradient, learning, the entropy bonus, the baseline, PPO's clip and the warm start."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metaad.exceptions import ParameterError
from metaad.search.policy import Policy, Sample, _entropy_gradient, _softmax


def test_step_moves_logits_along_advantage_times_grad_log_prob() -> None:
    # one sample, advantage a: the family logits move by lr * a * (onehot - p), checked against finite differences
    policy = Policy(["ecod", "knn", "lof"], learning_rate=0.1, entropy_weight=0.0)
    policy.family_logits = np.array([0.3, -0.2, 0.1])
    sample = Sample("knn", (2, 0, 1))
    before = policy.family_logits.copy()
    eps, numeric = 1e-6, np.zeros(3)
    for k in range(3):
        policy.family_logits = before.copy()
        policy.family_logits[k] += eps
        up = policy.log_prob(sample)
        policy.family_logits[k] -= 2 * eps
        numeric[k] = (up - policy.log_prob(sample)) / (2 * eps)
    policy.family_logits = before.copy()
    policy._step([sample], [2.0])
    np.testing.assert_allclose(policy.family_logits - before, 0.1 * 2.0 * numeric, atol=1e-6)


def test_entropy_gradient_matches_finite_differences() -> None:
    logits = np.array([0.5, -1.0, 2.0, 0.0])

    def entropy(z: np.ndarray) -> float:
        p = _softmax(z)
        return float(-(p * np.log(p)).sum())

    numeric = np.array([(entropy(logits + 1e-6 * e) - entropy(logits - 1e-6 * e)) / 2e-6 for e in np.eye(4)])
    np.testing.assert_allclose(_entropy_gradient(_softmax(logits)), numeric, atol=1e-6)


@pytest.mark.parametrize("method", ["reinforce", "ppo"])
def test_policy_learns_the_best_arm_of_a_bandit(method: str) -> None:
    policy = Policy(["ecod", "knn", "lof"], method=method)
    rng = np.random.default_rng(0)
    for _ in range(30):
        batch = [policy.sample(rng) for _ in range(8)]
        rewards = [1.0 if s.family == "lof" and s.params.get("n_neighbors") == 50 else 0.0 for s in batch]
        policy.update(batch, rewards)
    assert policy.family_probabilities()["lof"] > 0.9
    assert policy.head_probabilities("lof")["n_neighbors"][50] > 0.5


def test_entropy_bonus_spreads_a_peaked_policy_when_rewards_say_nothing() -> None:
    policy = Policy(["ecod", "knn"], entropy_weight=1.0)
    policy.family_logits = np.array([3.0, 0.0])
    before = policy.entropy()
    rng = np.random.default_rng(0)
    for _ in range(5):
        policy.update([policy.sample(rng) for _ in range(4)], [0.5] * 4)
    assert policy.entropy() > before
    policy = Policy(["ecod", "knn"], entropy_weight=0.0)
    policy.family_logits = np.array([3.0, 0.0])
    policy.update([policy.sample(rng) for _ in range(4)], [0.5] * 4)
    np.testing.assert_allclose(policy.family_logits, [3.0, 0.0])  # equal rewards, no bonus: nothing moves


def test_baseline_is_a_moving_average_of_batch_means() -> None:
    policy = Policy(["ecod"], baseline_decay=0.5)
    s = Sample("ecod", ())
    assert policy.update([s], [0.6])["baseline"] == pytest.approx(0.6)
    assert policy.update([s], [1.0])["baseline"] == pytest.approx(0.8)


def test_advantage_is_relative_to_the_baseline() -> None:
    # a batch whose every reward is below the baseline pushes the sampled family down
    policy = Policy(["ecod", "knn"], entropy_weight=0.0)
    policy.baseline = 0.9
    policy.update([Sample("ecod", ()), Sample("ecod", ())], [0.5, 0.6])
    assert policy.family_probabilities()["ecod"] < 0.4


def test_ppo_clip_bounds_how_far_one_batch_moves_the_policy() -> None:
    batch = [Sample("knn", (0, 0, 0))] * 4 + [Sample("ecod", ())] * 4
    rewards = [1.0] * 4 + [0.0] * 4
    moved = {}
    for clip in (0.2, 100.0):  # 100: the clip never binds, 20 plain gradient steps on the same batch
        policy = Policy(["ecod", "knn"], method="ppo", learning_rate=0.3, ppo_epochs=20, ppo_clip=clip, entropy_weight=0.0)
        old = policy.log_prob(batch[0])
        policy.update(batch, rewards)
        moved[clip] = np.exp(policy.log_prob(batch[0]) - old)
    # once a sample's ratio passes 1 + clip its gradient stops (one more step may carry it a little past)
    assert moved[0.2] < 2.0  # the ecod samples, clipped at 1 - clip, still lift the shared family head a little
    assert moved[100.0] > 10.0


def test_warm_start_follows_the_ranking_and_keeps_every_choice_possible() -> None:
    ranking = pd.DataFrame({
        "family": ["lof", "lof", "knn", "iforest", "ecod"],
        "params_json": ['{"n_neighbors":50}', '{"n_neighbors":50,"p":1}', "{}", "{}", "{}"],
        "score": [0.90, 0.89, 0.80, 0.79, 0.60],
    })
    policy = Policy.from_ranking(ranking, families=["knn", "iforest", "ecod", "lof"], temperature=0.02)
    fam = policy.family_probabilities()
    assert fam["lof"] > 0.5 and max(fam, key=fam.get) == "lof" and min(fam.values()) > 0
    heads = policy.head_probabilities("lof")
    assert max(heads["n_neighbors"], key=heads["n_neighbors"].get) == 50
    assert min(heads["n_neighbors"].values()) > 0
    cold = Policy(["knn", "iforest", "ecod", "lof"])
    assert policy.entropy() < cold.entropy()


def test_unknown_family_or_method_is_refused() -> None:
    with pytest.raises(ParameterError, match="devnet"):
        Policy(["devnet"])
    with pytest.raises(ParameterError, match="trpo"):
        Policy(["ecod"], method="trpo")
