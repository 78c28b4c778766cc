"""Optuna's TPE as a proposer for the same loop: the peer a user would reach for, over the same space and reward.

Optuna is optional (the ``bench`` extra); :class:`TPEProposer` imports it when built. It has the policy's two
methods: :meth:`sample` asks Optuna for a trial (the family, then each of its dimensions by choice index, as
conditional categorical parameters) and :meth:`update` tells it the rewards.

Examples
--------
>>> import numpy as np
>>> tpe = TPEProposer(["ecod", "knn"], seed=0)
>>> s = tpe.sample(np.random.default_rng(0))
>>> tpe.update([s], [0.8])["mean_reward"]
0.8
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metaad.benchmark import space
from metaad.exceptions import MetaADError
from metaad.search.policy import Sample


class TPEProposer:
    """Propose configurations with Optuna's TPE sampler (seeded); tell it the rewards of each batch."""

    method = "tpe"

    def __init__(self, families: list[str], *, seed: int = 0, n_startup_trials: int = 10) -> None:
        try:
            import optuna
        except ImportError as exc:
            raise MetaADError('method="tpe" needs Optuna: pip install "metaad[bench]" (or pip install optuna)') from exc
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.families = list(families)
        self._optuna = optuna
        sampler = optuna.samplers.TPESampler(seed=int(seed), n_startup_trials=n_startup_trials)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._pending: list[tuple[Sample, Any]] = []

    def sample(self, rng: np.random.Generator) -> Sample:
        """Ask Optuna for one configuration (``rng`` is unused: the sampler has its own seed)."""
        trial = self.study.ask()
        family = trial.suggest_categorical("family", self.families)
        indices = tuple(int(trial.suggest_categorical(f"{family}.{d.name}", list(range(len(d.choices)))))
                        for d in space.family_space(family))
        sample = Sample(family, indices)
        self._pending.append((sample, trial))
        return sample

    def update(self, samples: list[Sample], rewards: list[float]) -> dict[str, float]:
        """Tell Optuna the reward of every trial it proposed since the last update (a proposal the loop dropped as
        a repeat gets the reward of its twin when known, else is marked failed)."""
        known = dict(zip(samples, rewards))
        for sample, trial in self._pending:
            if sample in known:
                self.study.tell(trial, float(known[sample]))
            else:
                self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        self._pending = []
        return {"baseline": float("nan"), "mean_reward": float(np.mean(rewards)), "entropy": float("nan")}

    def entropy(self) -> float:
        """Not defined for TPE: NaN."""
        return float("nan")


__all__ = ["TPEProposer"]
