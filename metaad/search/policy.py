"""The search policy: a factorized distribution over :mod:`metaad.benchmark.space`, trained by REINFORCE.

One categorical head chooses the family; one head per dimension of each family chooses its value (numeric
dimensions are discretized by the space). A configuration's log-probability is the family's plus its
dimensions'. :meth:`Policy.update` is REINFORCE with a moving-average baseline and an entropy bonus, or with
``method="ppo"`` a PPO-clip step (a few epochs on the clipped surrogate, the trust-region stand-in for TRPO).

The policy can be warm-started from the meta prior (:meth:`Policy.from_ranking`): the selector's ranking of
the zoo on the user's table gives each family and each value a weight, the softmax of the ranking scores of the
configurations that have it, so the first samples look like the best configurations the knowledge base knows.

Examples
--------
>>> import numpy as np
>>> policy = Policy(families=["ecod", "knn"])
>>> rng = np.random.default_rng(0)
>>> samples = [policy.sample(rng) for _ in range(8)]
>>> all(s.family in ("ecod", "knn") for s in samples)
True
>>> before = policy.family_probabilities()["knn"]
>>> info = policy.update(samples, [1.0 if s.family == "knn" else 0.0 for s in samples])
>>> policy.family_probabilities()["knn"] > before
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaad.benchmark import space
from metaad.exceptions import ParameterError

METHODS: tuple[str, ...] = ("reinforce", "ppo")


@dataclass(frozen=True)
class Sample:
    """A configuration drawn from the policy: its family, the choice index of each dimension, and params."""

    family: str
    indices: tuple[int, ...]

    @property
    def params(self) -> dict[str, Any]:
        """The constructor parameters, defaults left out (see :func:`metaad.benchmark.space.canonical_params`)."""
        dims = space.family_space(self.family)
        return space.canonical_params(self.family, {d.name: d.choices[i] for d, i in zip(dims, self.indices)})

    @classmethod
    def from_params(cls, family: str, params: dict[str, Any]) -> Sample:
        """The sample that stands for ``params`` (absent dimensions at their defaults)."""
        return cls(family, tuple(space.value_indices(family, params)))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return z / z.sum()


def _entropy(p: np.ndarray) -> float:
    return float(-(p * np.log(np.maximum(p, 1e-300))).sum())


def _entropy_gradient(p: np.ndarray) -> np.ndarray:
    """d H(softmax(logits)) / d logits."""
    logp = np.log(np.maximum(p, 1e-300))
    return -p * (logp + _entropy(p))


class Policy:
    """Categorical heads over the families and over each family's dimensions.

    Parameters
    ----------
    families : list of str, optional
        The families to search (default every family of the space).
    learning_rate : float, default 0.5
        Step size of the logits.
    entropy_weight : float, default 0.01
        Weight of the entropy bonus of every head.
    baseline_decay : float, default 0.7
        The baseline is ``decay * baseline + (1 - decay) * mean reward of the batch`` after each update; the
        first batch sets it to its mean.
    method : {"reinforce", "ppo"}, default "reinforce"
        Plain REINFORCE, or PPO-clip (``ppo_epochs`` steps on the clipped surrogate, ratio clipped to
        ``1 +- ppo_clip``).
    ppo_clip, ppo_epochs : float, int
        See ``method``.
    """

    def __init__(self, families: list[str] | None = None, *, learning_rate: float = 0.5, entropy_weight: float = 0.01,
                 baseline_decay: float = 0.7, method: str = "reinforce", ppo_clip: float = 0.2, ppo_epochs: int = 4) -> None:
        if method not in METHODS:
            raise ParameterError(f"policy method must be one of {', '.join(METHODS)}, got {method!r}")
        self.families = list(families) if families is not None else space.families()
        for family in self.families:
            space.family_space(family)  # unknown family: ParameterError naming it
        if not self.families:
            raise ParameterError("the policy needs at least one family to search")
        self.learning_rate, self.entropy_weight, self.baseline_decay = learning_rate, entropy_weight, baseline_decay
        self.method, self.ppo_clip, self.ppo_epochs = method, ppo_clip, ppo_epochs
        self.family_logits = np.zeros(len(self.families))
        self.dim_logits = {f: [np.zeros(len(d.choices)) for d in space.family_space(f)] for f in self.families}
        self.baseline: float | None = None

    # ------------------------------------------------------------------ warm start
    @classmethod
    def from_ranking(cls, ranking: Any, *, temperature: float = 0.01, top: int = 10, smoothing: float = 0.2,
                     **kwargs: Any) -> Policy:
        """A policy whose heads start from the meta prior: the selector's ranking of the zoo on this table.

        The family head is the log of the softmax weights (``score / temperature``) of the ``top`` ranked
        configurations summed per family; each family's dimension heads are the log of the weights of that
        family's ranked configurations summed per value. Both are mixed with ``smoothing`` of the uniform
        distribution, so no choice starts impossible. Families of the ranking outside the space are ignored.

        Parameters
        ----------
        ranking : DataFrame
            From :func:`metaad.meta.selection.rank_configurations`: ``family``, ``params_json``, ``score``.

        Examples
        --------
        >>> import pandas as pd
        >>> ranking = pd.DataFrame({"family": ["knn", "knn", "ecod"], "score": [0.9, 0.85, 0.5],
        ...                         "params_json": ['{"n_neighbors":50}', '{"n_neighbors":50,"p":1}', "{}"]})
        >>> policy = Policy.from_ranking(ranking, families=["knn", "ecod"])
        >>> p = policy.family_probabilities()
        >>> round(p["knn"], 2), policy.head_probabilities("knn")["n_neighbors"][50] > 0.8
        (0.9, True)
        """
        policy = cls(**kwargs)
        rows = [(f, json.loads(pj), float(s)) for f, pj, s in zip(ranking["family"], ranking["params_json"], ranking["score"])
                if f in policy.families and space.contains(f, json.loads(pj))]
        if not rows:
            return policy
        scores = np.array([r[2] for r in rows])
        weights = _softmax((scores - scores.max()) / max(temperature, 1e-9))
        order = np.argsort(-scores, kind="stable")[:top]
        fam_weight = np.zeros(len(policy.families))
        for i in order:
            fam_weight[policy.families.index(rows[i][0])] += weights[i]
        fam_p = (1 - smoothing) * fam_weight / fam_weight.sum() + smoothing / len(policy.families)
        policy.family_logits = np.log(fam_p)
        for family in policy.families:
            mine = [(params, w) for (f, params, _), w in zip(rows, weights) if f == family]
            if not mine:
                continue
            heads = policy.dim_logits[family]
            counts = [np.zeros(len(h)) for h in heads]
            total = sum(w for _, w in mine)
            for params, w in mine:
                for c, idx in zip(counts, space.value_indices(family, params)):
                    c[idx] += w / total if total > 0 else 1.0 / len(mine)
            for k, c in enumerate(counts):
                c = c / c.sum() if c.sum() > 0 else np.full(len(c), 1.0 / len(c))
                heads[k] = np.log((1 - smoothing) * c + smoothing / len(c))
        return policy

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator) -> Sample:
        """Draw one configuration."""
        f = int(rng.choice(len(self.families), p=_softmax(self.family_logits)))
        family = self.families[f]
        return Sample(family, tuple(int(rng.choice(len(h), p=_softmax(h))) for h in self.dim_logits[family]))

    def log_prob(self, sample: Sample) -> float:
        """log pi(sample)."""
        f = self.families.index(sample.family)
        total = float(np.log(_softmax(self.family_logits)[f]))
        for h, i in zip(self.dim_logits[sample.family], sample.indices):
            total += float(np.log(_softmax(h)[i]))
        return total

    def family_probabilities(self) -> dict[str, float]:
        """Family -> probability."""
        return dict(zip(self.families, map(float, _softmax(self.family_logits))))

    def head_probabilities(self, family: str) -> dict[str, dict[Any, float]]:
        """Dimension -> {value: probability} for ``family``."""
        return {d.name: dict(zip(d.choices, map(float, _softmax(h))))
                for d, h in zip(space.family_space(family), self.dim_logits[family])}

    def entropy(self) -> float:
        """Entropy of the joint distribution (nats): the family head's plus each family's expected heads'."""
        p = _softmax(self.family_logits)
        return _entropy(p) + float(sum(pf * sum(_entropy(_softmax(h)) for h in self.dim_logits[f])
                                       for pf, f in zip(p, self.families)))

    # ------------------------------------------------------------------ learning
    def _grad_log_prob(self, sample: Sample, scale: float, fam_grad: np.ndarray, dim_grads: dict[str, list[np.ndarray]]) -> None:
        f = self.families.index(sample.family)
        p = _softmax(self.family_logits)
        fam_grad += scale * (np.eye(len(p))[f] - p)
        for g, h, i in zip(dim_grads[sample.family], self.dim_logits[sample.family], sample.indices):
            q = _softmax(h)
            g += scale * (np.eye(len(q))[i] - q)

    def _step(self, samples: list[Sample], scales: list[float]) -> None:
        fam_grad = np.zeros_like(self.family_logits)
        dim_grads = {f: [np.zeros_like(h) for h in hs] for f, hs in self.dim_logits.items()}
        for s, scale in zip(samples, scales):
            if scale:
                self._grad_log_prob(s, scale / len(samples), fam_grad, dim_grads)
        fam_grad += self.entropy_weight * _entropy_gradient(_softmax(self.family_logits))
        self.family_logits = self.family_logits + self.learning_rate * fam_grad
        for f, hs in self.dim_logits.items():
            for k, h in enumerate(hs):
                g = dim_grads[f][k] + self.entropy_weight * _entropy_gradient(_softmax(h))
                hs[k] = h + self.learning_rate * g

    def update(self, samples: list[Sample], rewards: list[float]) -> dict[str, float]:
        """One policy-gradient step on a batch; returns ``baseline``, ``mean_reward`` and ``entropy`` after it.

        Advantages are ``reward - baseline`` (the baseline before this batch; the batch mean for the first)
        divided by the batch's standard deviation when it is above 1e-8.
        """
        r = np.asarray(rewards, dtype=np.float64)
        if len(samples) != len(r) or not len(r):
            raise ParameterError(f"update needs one reward per sample, got {len(samples)} samples and {len(r)} rewards")
        baseline = float(r.mean()) if self.baseline is None else self.baseline
        advantages = r - baseline
        spread = float(r.std())
        if spread > 1e-8:
            advantages = advantages / spread
        if self.method == "reinforce":
            self._step(samples, list(advantages))
        else:
            old = np.array([self.log_prob(s) for s in samples])
            for _ in range(self.ppo_epochs):
                ratio = np.exp(np.array([self.log_prob(s) for s in samples]) - old)
                # gradient of min(ratio*A, clip(ratio)*A): ratio*A*grad(log pi) unless the clip is active
                active = ((advantages > 0) & (ratio > 1 + self.ppo_clip)) | ((advantages < 0) & (ratio < 1 - self.ppo_clip))
                self._step(samples, list(np.where(active, 0.0, ratio * advantages)))
        self.baseline = float(r.mean()) if self.baseline is None else \
            self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(r.mean())
        return {"baseline": self.baseline, "mean_reward": float(r.mean()), "entropy": self.entropy()}


__all__ = ["METHODS", "Policy", "Sample"]
