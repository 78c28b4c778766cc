"""The search's final choice, guarded against the winner's curse: ``auto``'s choice is the incumbent.

Without labels the reward is synthetic (anomalies injected into a held-out part of the table, blended with the
selector's predicted AUROC), and it agrees only weakly with the true AUROC (Spearman about 0.1 on the benchmark
tables). Taking the maximum of 50 such noisy rewards selects the configurations whose reward is high by luck or
whose strength is the synthetic anomalies only: on 15 benchmark tables the searches' picks lost 0.05 to 0.16 mean
test AUROC to ``auto`` and got worse with more trials (benchmarks/results/tune.md, "before").

:func:`guard` therefore decides as follows:

1. **The incumbent** is ``auto``'s own choice on the table (:class:`metaad.meta.auto.AutoDetector`: the selector's
   best candidates, their synthetic evidence, and its rank-ensemble hedge with Isolation Forest at its defaults
   when no candidate leads clearly).
2. **A fresh draw**: the search's ``top`` best configurations and the incumbent are all judged again on a new
   synthetic task built with another seed (another subsample, another held-out split, other injected anomalies),
   with the same prior blend. A configuration that won the search by luck on the search's draw loses that luck
   here: the fresh reward is free of the selection bias of the maximum.
3. **The margin**: the best challenger replaces the incumbent only when its fresh reward beats the incumbent's
   fresh reward by at least ``margin`` (default 0.05, ``auto``'s own hedge margin); otherwise ``auto``'s choice is
   kept, so the search cannot do much worse than ``auto`` on the reward's own terms.

With known anomalies the reward is real evidence on held-out folds and the guard is not applied.

Examples
--------
>>> import numpy as np
>>> from metaad.search.loop import run_search
>>> X = np.random.RandomState(0).normal(size=(400, 4))
>>> result = run_search(X, trials=2, batch_size=2, engine="inline", families=["ecod", "hbos"], fit_rows=200,
...                     prior_weight=0.0, warm_start=False)
>>> incumbent = [{"config_id": "ecod:default", "family": "ecod", "params": {}, "predicted_auroc": None}]
>>> decision = guard(result, X, incumbent, engine="inline")
>>> decision.choice in ("incumbent", "challenger"), len(decision.challengers) <= DEFAULT_TOP
(True, True)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError, ParameterError

logger = logging.getLogger(__name__)

#: The fresh reward a challenger must beat the incumbent's by (``auto``'s hedge margin).
DEFAULT_MARGIN = 0.05
#: How many of the search's best configurations are judged again on the fresh draw.
DEFAULT_TOP = 4
#: Offset of the fresh draw's seed from the search's.
FRESH_SEED_OFFSET = 7919


@dataclass
class GuardDecision:
    """What :func:`guard` decided: keep the incumbent, or the challenger (``best``) that beat it by the margin."""

    choice: str
    incumbent: dict[str, Any]
    challengers: pd.DataFrame
    margin: float
    reason: str
    best: dict[str, Any] | None = None
    fresh_seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``tuning_`` and the reports)."""
        return {"choice": self.choice, "reason": self.reason, "margin": self.margin, "fresh_seed": self.fresh_seed,
                "incumbent": self.incumbent, "best": self.best,
                "challengers": json.loads(self.challengers.to_json(orient="records"))}


class MeanRankEnsemble:
    """The incumbent as one detector for the fresh draw: its members fitted on the same rows, scores averaged as
    ranks against each member's training scores (as ``auto`` combines an ensemble's members)."""

    def __init__(self, members: list[dict[str, Any]], random_state: int = 0) -> None:
        self.members = members
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> MeanRankEnsemble:
        from metaad.meta.selection import build_detector

        self.detectors_ = [build_detector(m, {"random_state": self.random_state, "n_threads": 1, "device": "cpu",
                                              "verbose": False}).fit(X) for m in self.members]
        self.reference_ = [np.sort(np.asarray(d.decision_scores_, dtype=np.float64)) for d in self.detectors_]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        ranks = [np.searchsorted(ref, np.asarray(d.decision_function(X), dtype=np.float64), side="right") / len(ref)
                 for d, ref in zip(self.detectors_, self.reference_)]
        return np.mean(ranks, axis=0)


def fresh_reward_data(X: np.ndarray, *, fit_rows: int, seed: int) -> dict[str, Any]:
    """A synthetic task independent of the search's: another subsample, split and injection (seed ``seed``)."""
    from metaad.benchmark.protocol import fit_sample
    from metaad.search.reward import synthetic_reward_data

    rows = fit_sample(X.shape[0], seed, int(fit_rows) + 400)
    return synthetic_reward_data(X[rows], fit_rows=int(fit_rows), random_state=seed)


def incumbent_members(auto: Any) -> list[dict[str, Any]]:
    """The members of a fitted ``AutoDetector``'s choice, with their predicted AUROC."""
    chosen = set(auto.ensemble_)
    by_id = {c["config_id"]: c for c in auto.candidates_}
    out = []
    for cid in auto.ensemble_:
        c = by_id.get(cid)
        if c is None and cid == auto.selected_["config_id"]:
            c = auto.selected_
        if c is not None:
            out.append({"config_id": cid, "family": c["family"], "params": c["params"],
                        "predicted_auroc": c.get("predicted_auroc")})
    if len(out) != len(chosen):
        raise DataError(f"auto's ensemble {sorted(chosen)} is not among its candidates")
    return out


def _blend(evidence: float, prior: float | None, weight: float) -> float:
    return (1 - weight) * evidence + weight * (evidence if prior is None or not np.isfinite(prior) else prior)


def guard(result: Any, X: np.ndarray, incumbent: list[dict[str, Any]], *, margin: float = DEFAULT_MARGIN,
          top: int = DEFAULT_TOP, engine: str = "local", workers: int | None = None, ray_address: str | None = None,
          trial_time_limit: float | None = 120.0, incumbent_reward: dict[str, Any] | None = None) -> GuardDecision:
    """Judge the search's ``top`` best configurations and the ``incumbent`` on a fresh synthetic draw; keep the
    incumbent unless a challenger beats it there by ``margin``.

    Parameters
    ----------
    result : SearchResult
        The search (unsupervised); its ``trials`` may be cut to a smaller budget.
    X : ndarray
        The table the search ran on.
    incumbent : list of dict
        The incumbent's members (``config_id``, ``family``, ``params``, ``predicted_auroc``): one configuration,
        or a rank-ensemble (:func:`incumbent_members` of a fitted ``AutoDetector``).
    margin : float, default 0.05
        Fresh reward a challenger must win by.
    top : int, default 4
        Challengers judged again.
    incumbent_reward : dict, optional
        The incumbent's fresh evaluation from an earlier call on the same search and table (it does not depend on
        the budget), to skip fitting it again.

    Returns
    -------
    GuardDecision
    """
    from metaad.search.loop import _run_tasks
    from metaad.search.reward import trial_task

    if not margin >= 0:
        raise ParameterError(f"margin must be >= 0, got {margin!r}")
    if not incumbent:
        raise ParameterError("the guard needs an incumbent (at least one configuration)")
    settings = result.settings
    if settings.get("labelled"):
        raise ParameterError("the guard judges unsupervised searches only; with known anomalies the reward is evidence")
    seed = int(settings["random_state"]) + FRESH_SEED_OFFSET
    weight = float(settings.get("prior_weight", 0.0))
    data = fresh_reward_data(X, fit_rows=int(settings["fit_rows"]), seed=seed)
    if incumbent_reward is None:
        from metaad.meta.synthetic import SyntheticTask

        priors = [m.get("predicted_auroc") for m in incumbent]
        priors = [float(p) for p in priors if p is not None and np.isfinite(p)]
        prior = float(np.mean(priors)) if priors else None
        try:
            ens = MeanRankEnsemble(incumbent, random_state=int(settings["random_state"]))
            evidence = SyntheticTask(data["X_fit"], data["X_real"], dict(data["injected"])).evaluate(ens)["mean"]
            reward = _blend(float(evidence), prior, weight)
        except (DataError, ParameterError, ValueError) as exc:  # an incumbent that cannot be judged never blocks
            logger.info("tune: the incumbent could not be judged on the fresh draw (%s)", exc)
            evidence, reward = None, -np.inf
        incumbent_reward = {"members": [m["config_id"] for m in incumbent], "evidence": evidence, "prior": prior,
                            "reward": reward}
    ok = result.trials[result.trials["status"] == "ok"].drop_duplicates("config_id")
    ok = ok.sort_values(["reward", "trial"], ascending=[False, True]).head(int(top))
    tasks = [trial_task(data, r.family, json.loads(r.params_json), trial=int(r.trial), seed=int(settings["random_state"]))
             for r in ok.itertuples()]
    fresh = {raw.get("config_id"): raw for raw in _run_tasks(tasks, engine, workers, ray_address, trial_time_limit)} if tasks else {}
    rows = []
    for r in ok.itertuples():
        raw = fresh.get(r.config_id, {})
        ev = raw.get("evidence") if raw.get("status") == "ok" else None
        prior = None if r.prior is None or pd.isna(r.prior) else float(r.prior)
        rows.append({"config_id": r.config_id, "family": r.family, "params_json": r.params_json, "trial": int(r.trial),
                     "search_reward": float(r.reward), "fresh_evidence": ev, "prior": prior,
                     "fresh_reward": None if ev is None else round(_blend(float(ev), prior, weight), 6),
                     "status": raw.get("status", "error"), "message": raw.get("message", "")})
    table = pd.DataFrame(rows, columns=["config_id", "family", "params_json", "trial", "search_reward", "fresh_evidence",
                                        "prior", "fresh_reward", "status", "message"])
    judged = table.dropna(subset=["fresh_reward"]).sort_values(["fresh_reward", "trial"], ascending=[False, True])
    inc = float(incumbent_reward["reward"])
    if judged.empty:
        return GuardDecision("incumbent", incumbent_reward, table, margin, "no challenger could be judged on the fresh draw",
                             None, seed)
    lead = judged.iloc[0]
    gap = float(lead["fresh_reward"]) - inc
    if gap >= margin:
        best = {"config_id": lead["config_id"], "family": lead["family"], "params": json.loads(lead["params_json"]),
                "reward": float(lead["search_reward"]), "fresh_reward": float(lead["fresh_reward"]), "trial": int(lead["trial"])}
        return GuardDecision("challenger", incumbent_reward, table, margin,
                             f"{lead['config_id']} beats auto's choice by {gap:.3f} on a fresh synthetic draw "
                             f"(margin {margin:.3f})", best, seed)
    return GuardDecision("incumbent", incumbent_reward, table, margin,
                         f"no configuration of the search beats auto's choice by {margin:.3f} on a fresh synthetic draw "
                         f"(best: {lead['config_id']}, {gap:+.3f})", None, seed)


__all__ = ["DEFAULT_MARGIN", "DEFAULT_TOP", "GuardDecision", "MeanRankEnsemble", "fresh_reward_data", "guard",
           "incumbent_members"]
