"""The search loop: propose a batch from the policy, evaluate it on the engine, learn, log every trial, resume.

:func:`run_search` is what :func:`metaad.search.tune` and ``metaad tune`` run. Each batch is drawn with its own
generator (seeded by ``random_state`` and the batch's number) from the policy as the earlier batches left it, so
a search is a deterministic function of its settings and the rewards logged so far: a search killed at any point
and started again with the same settings and log folder replays the logged batches (no trial runs twice) and
continues where it stopped. Proposals already tried are not run again: they reuse their reward (status
``cached``) and do not count against the trial budget.

Examples
--------
>>> import numpy as np
>>> X = np.random.RandomState(0).normal(size=(300, 4))
>>> result = run_search(X, trials=4, batch_size=2, engine="inline", families=["ecod", "hbos", "knn"], random_state=0)
>>> len(result.trials[result.trials["status"] != "cached"]), result.best["family"] in ("ecod", "hbos", "knn")
(4, True)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.benchmark import space
from metaad.exceptions import DataError, ParameterError
from metaad.search.policy import Policy, Sample
from metaad.search.reward import FAILED_REWARD, evaluate_trial, label_reward_data, synthetic_reward_data, trial_task

logger = logging.getLogger(__name__)

#: Search methods: the policy-gradient ones, random search over the same space (a uniform policy never updated),
#: and Optuna's TPE (:mod:`metaad.search.tpe`, optional dependency) as the peer.
SEARCH_METHODS: tuple[str, ...] = ("reinforce", "ppo", "random", "tpe")
#: Where trials run: the engines of :mod:`metaad.engine`, or ``inline`` (in this process, one at a time, with no
#: per-trial time limit: for tests and debugging).
SEARCH_ENGINES: tuple[str, ...] = ("local", "ray", "inline")
#: The trial log's file name inside the search folder.
LOG_NAME = "trials.jsonl"
#: Columns of the trial log, in order.
TRIAL_COLUMNS: tuple[str, ...] = ("trial", "batch", "config_id", "family", "params_json", "reward", "evidence", "prior",
                                  "details", "seconds", "elapsed", "entropy", "status", "message")


@dataclass
class SearchResult:
    """What :func:`run_search` found: every trial, the best one, and how the reward was defined."""

    trials: pd.DataFrame
    best: dict[str, Any]
    reward_definition: str
    settings: dict[str, Any]
    ranked: pd.DataFrame | None = None
    stopped_by: str = "trials"
    history: list[dict[str, float]] = field(default_factory=list)


class TrialLog:
    """An append-only JSON-lines file: a header (the search's settings) and one line per finished trial.

    Each line is flushed and fsynced; a torn last line (a kill mid-write) is ignored when read and cut off
    before the next append.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOG_NAME

    def read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The header (None for a new log) and the trial rows."""
        if not self.path.exists():
            return None, []
        header, rows, good = None, [], 0
        with self.path.open("rb") as handle:
            for line in handle:
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    break
                if not line.endswith(b"\n"):
                    break
                good += len(line)
                if item.get("kind") == "header":
                    header = item
                else:
                    rows.append(item)
        if good < self.path.stat().st_size:  # a torn tail: cut it off so the next append starts a clean line
            with self.path.open("r+b") as handle:
                handle.truncate(good)
        return header, rows

    def append(self, item: dict[str, Any]) -> None:
        """Append one line and make it durable."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(item, default=_json_default) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _fingerprint(*arrays: np.ndarray | None) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        if a is not None:
            a = np.ascontiguousarray(a)
            digest.update(str(a.shape).encode())
            digest.update(a.tobytes())
    return digest.hexdigest()[:16]


def _as_known(y: Any, n_rows: int) -> np.ndarray | None:
    if y is None:
        return None
    values = np.asarray(y).ravel()
    if len(values) != n_rows:
        raise DataError(f"y has {len(values)} labels for {n_rows} rows")
    try:
        numbers = values.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError("y must hold 0 (unknown) or 1 (known anomaly) for each row") from None
    bad = ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"y must be 0 (unknown) or 1 (known anomaly); row {row} holds {values[row]!r}")
    return numbers.astype(int)


class _Prior:
    """The meta prior of a configuration: the selector's predicted AUROC of it, or of the zoo configuration of its
    family that shares most of its values (ties: their mean)."""

    def __init__(self, ranking: pd.DataFrame | None, families: list[str]) -> None:
        self.table: dict[str, list[tuple[tuple[int, ...], float]]] = {f: [] for f in families}
        if ranking is None:
            return
        for f, pj, pred in zip(ranking["family"], ranking["params_json"], ranking["predicted_auroc"]):
            params = json.loads(pj)
            if f in self.table and space.contains(f, params) and np.isfinite(pred):
                self.table[f].append((tuple(space.value_indices(f, params)), float(pred)))

    def __call__(self, sample: Sample) -> float | None:
        known = self.table.get(sample.family) or []
        if not known:
            return None
        matches = [sum(a == b for a, b in zip(idx, sample.indices)) for idx, _ in known]
        best = max(matches)
        return float(np.mean([pred for (_, pred), m in zip(known, matches) if m == best]))


def _rank(X: np.ndarray, families: list[str] | None, knowledge: Any, n_train: int) -> pd.DataFrame:
    from metaad.meta.selection import describe, rank_configurations, trained_selector

    return rank_configurations(describe(X), trained_selector(knowledge), families=families, n_train=n_train)


def run_search(
    X: Any,
    y: Any = None,
    *,
    trials: int = 50,
    time_limit: float | None = None,
    method: str = "reinforce",
    warm_start: bool = True,
    prior_weight: float = 0.5,
    batch_size: int = 4,
    n_prior: int = 2,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    trial_time_limit: float | None = 120.0,
    fit_rows: int = 1000,
    max_fit_rows: int = 5000,
    families: list[str] | None = None,
    knowledge: str | os.PathLike[str] | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    random_state: int = 0,
    policy_options: dict[str, Any] | None = None,
    progress: Callable[[int, int, float | None, dict[str, Any] | None], None] | None = None,
) -> SearchResult:
    """Search the space for the configuration with the best reward on ``X``.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_columns)
        The (numeric, preprocessed) table.
    y : array-like of {0, 1}, optional
        1 marks known anomalies (0 = unknown): the reward is then their AUROC on folds the candidate was not
        fitted on; without ``y`` it is the synthetic-anomaly AUROC (:mod:`metaad.search.reward`).
    trials : int, default 50
        Trials to run (cached repeats do not count).
    time_limit : float, optional
        Seconds for the whole search (over every resumed run); no batch starts after it, and the batch running
        then is cut at it.
    method : {"reinforce", "ppo", "random", "tpe"}, default "reinforce"
        REINFORCE, PPO-clip, random search over the same space, or Optuna's TPE (needs Optuna).
    warm_start : bool, default True
        Start the policy from the meta prior (the selector's ranking of the zoo on ``X``) and spend the first
        ``n_prior`` trials on the best ranked configurations; False: a uniform policy.
    prior_weight : float in [0, 1], default 0.5
        Weight of the selector's predicted AUROC in the reward (0: the evidence alone).
    batch_size : int, default 4
        Trials per policy update (run in parallel).
    engine : {"local", "ray", "inline"}, default "local"
    workers : int, optional
        Parallel trials (default: the batch size, at most the CPU count).
    trial_time_limit : float, optional, default 120
        Seconds one trial may run before it is stopped (status ``timeout``, reward :data:`FAILED_REWARD`).
    fit_rows : int, default 1000
        Rows a candidate is fitted on during the search (the reward's bounded subsample).
    max_fit_rows : int, default 5000
        Rows the chosen configuration is refitted on: families too slow for that many are not searched.
    families : list of str, optional
        Search only these families.
    knowledge : path, optional
        The knowledge base the warm start and the prior come from (default the shipped one and the user's).
    log_dir : path, optional
        Folder of the trial log (:data:`LOG_NAME`); the same folder resumes the search.
    random_state : int, default 0

    Returns
    -------
    SearchResult

    Raises
    ------
    ParameterError
        For an invalid setting, or a log folder that holds a different search.
    """
    if method not in SEARCH_METHODS:
        raise ParameterError(f"method must be one of {', '.join(SEARCH_METHODS)}, got {method!r}")
    if engine not in SEARCH_ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(SEARCH_ENGINES)}, got {engine!r}")
    for name, value in (("trials", trials), ("batch_size", batch_size), ("fit_rows", fit_rows), ("max_fit_rows", max_fit_rows)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if time_limit is not None and not time_limit > 0:
        raise ParameterError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    if not 0.0 <= float(prior_weight) <= 1.0:
        raise ParameterError(f"prior_weight must be in [0, 1], got {prior_weight!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"X must be a 2-D table, got shape {X.shape}")
    known = _as_known(y, X.shape[0])
    labelled = known is not None and bool(known.any())
    seed = int(random_state)

    from metaad.benchmark.protocol import fit_sample
    from metaad.benchmark.zoo import fits_size

    if families is not None:
        unknown = sorted(set(families) - set(space.SPACE))
        if unknown:
            raise ParameterError(f"the search space has no families {unknown}; known: {', '.join(space.SPACE)}")
    rows = fit_sample(X.shape[0], seed, int(fit_rows) + 400)
    use_prior = warm_start or prior_weight > 0
    ranking = _rank(X[rows], families, knowledge, min(X.shape[0], int(max_fit_rows))) if use_prior else None
    if ranking is not None:
        searched = [f for f in space.families() if f in set(ranking["family"])]
    else:
        searched = [f for f in (families or space.families()) if f in space.SPACE]
        searched = [f for f in searched if fits_size(f, min(X.shape[0], int(max_fit_rows)))]
    if families is not None:
        searched = [f for f in searched if f in families]
    if not searched:
        raise ParameterError("no family of the search space can be used here")
    options = dict(policy_options or {})
    if method == "random":
        options["learning_rate"] = 0.0
    policy_method = "ppo" if method == "ppo" else "reinforce"
    warm = warm_start and ranking is not None and method not in ("random", "tpe")  # the peers start uninformed
    if method == "tpe":
        from metaad.search.tpe import TPEProposer

        policy: Any = TPEProposer(searched, seed=seed)
    elif warm:
        policy = Policy.from_ranking(ranking, families=searched, method=policy_method, **options)
    else:
        policy = Policy(searched, method=policy_method, **options)
    prior = _Prior(ranking, searched)

    if labelled:
        data = label_reward_data(X, known, max_rows=2 * int(fit_rows), random_state=seed)
        evidence_text = (f"AUROC of the {int(known.sum())} known anomalies against the other rows, each half of a "
                         f"stratified 2-fold split (at most {2 * int(fit_rows)} rows, every known anomaly kept) scored "
                         "by the candidate fitted without labels on the other half, mean over the halves")
    else:
        data = synthetic_reward_data(X[rows], fit_rows=int(fit_rows), random_state=seed)
        evidence_text = (f"mean AUROC of the candidate, fitted without labels on {len(data['X_fit'])} rows of the table, "
                         f"at telling {len(data['X_real'])} held-out real rows from injected synthetic anomalies "
                         f"({', '.join(data['injected'])}; {len(next(iter(data['injected'].values())))} rows each)")
    weight = float(prior_weight) if ranking is not None else 0.0
    definition = (f"reward = {1 - weight:g} x evidence + {weight:g} x prior. Evidence: {evidence_text}. Prior: the "
                  "selector's predicted AUROC for the configuration (or for the zoo configuration of its family that "
                  f"shares most of its values). A trial that fails or runs out of time gets {FAILED_REWARD}.")
    settings = {"method": method, "warm_start": bool(warm_start), "prior_weight": weight, "batch_size": int(batch_size),
                "n_prior": int(n_prior), "fit_rows": int(fit_rows), "families": searched, "random_state": seed,
                "labelled": labelled, "policy_options": options,
                "data": _fingerprint(X, known)}

    log = TrialLog(log_dir) if log_dir is not None else None
    logged: list[dict[str, Any]] = []
    if log is not None:
        header, logged = log.read()
        if header is None:
            log.append({"kind": "header", "settings": settings})
        elif header.get("settings") != json.loads(json.dumps(settings, default=_json_default)):
            raise ParameterError(f"{log.path} holds a different search (other data or settings); resume it with the "
                                 "same ones, or give another folder")
    by_key = {(r["batch"], r["config_id"]): r for r in logged}
    prior_elapsed = max((float(r.get("elapsed") or 0.0) for r in logged), default=0.0)
    start = time.monotonic()

    def elapsed() -> float:
        return prior_elapsed + time.monotonic() - start

    history: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    curve: list[dict[str, float]] = []
    n_run, batch, stopped_by = 0, 0, "trials"
    best = -np.inf
    if progress is not None:
        progress(0, int(trials), None, None)
    ranked_samples = []
    if warm and n_prior > 0:
        for f, pj in zip(ranking["family"], ranking["params_json"]):
            if f in searched and space.contains(f, json.loads(pj)):
                s = Sample.from_params(f, json.loads(pj))
                if s not in ranked_samples:
                    ranked_samples.append(s)
            if len(ranked_samples) == n_prior:
                break
    while n_run < trials:
        if time_limit is not None and batch > 0 and elapsed() >= time_limit:  # the first batch always runs
            stopped_by = "time_limit"
            break
        rng = np.random.default_rng([seed, batch])
        entropy = policy.entropy()
        want = min(int(batch_size), int(trials) - n_run)
        proposals: list[Sample] = list(ranked_samples[:want]) if batch == 0 else []
        new_ids = {_config_id(s) for s in proposals}
        attempts = 0
        while len([s for s in proposals if _config_id(s) not in history]) < want and attempts < 50 * want:
            attempts += 1
            s = policy.sample(rng)
            cid = _config_id(s)
            if cid in history:
                if len(proposals) < 2 * want:
                    proposals.append(s)  # a repeat: its known reward joins the update, at no trial's cost
                continue
            if cid not in new_ids:
                new_ids.add(cid)
                proposals.append(s)
        fresh = [s for s in proposals if _config_id(s) not in history]
        if not fresh:
            stopped_by = "converged"
            break
        tasks, rows_here = [], {}
        for i, s in enumerate(fresh):
            cid = _config_id(s)
            if (batch, cid) in by_key:
                rows_here[cid] = by_key[(batch, cid)]
            else:
                tasks.append(trial_task(data, s.family, s.params, trial=n_run + i, seed=seed, batch=batch))
        finished = dict(rows_here)
        if tasks:
            limit = trial_time_limit
            if time_limit is not None:
                remaining = max(1.0, time_limit - elapsed())
                limit = remaining if limit is None else min(limit, remaining)
            for raw in _run_tasks(tasks, engine, workers, ray_address, limit):
                task = next(t for t in tasks if t["config_id"] == raw.get("config_id"))
                sample = next(s for s in fresh if _config_id(s) == task["config_id"])
                row = _finish_row(raw, task, prior(sample), weight, entropy, elapsed())
                finished[task["config_id"]] = row
                if log is not None:
                    log.append(row)
                best = max(best, row["reward"])
                if progress is not None:
                    progress(n_run + len(finished), int(trials), best, row)
        for s in fresh:
            row = finished[_config_id(s)]
            history[_config_id(s)] = row
            records.append(row)
            best = max(best, row["reward"])
        n_run += len(fresh)
        repeats = [s for s in proposals if s not in fresh]
        for s in repeats:
            cached = dict(history[_config_id(s)], batch=batch, status="cached", seconds=0.0, elapsed=round(elapsed(), 3),
                          entropy=round(entropy, 4), message="already tried: its reward is reused")
            records.append(cached)
        rewards = [history[_config_id(s)]["reward"] for s in proposals]
        info = policy.update(proposals, rewards)
        curve.append({"batch": batch, "entropy_before": entropy, **info, "best": best})
        batch += 1
        if progress is not None and rows_here and not tasks:
            progress(n_run, int(trials), best, None)
    frame = pd.DataFrame(records, columns=list(TRIAL_COLUMNS)) if records else pd.DataFrame(columns=list(TRIAL_COLUMNS))
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        raise DataError(f"none of the {len(frame)} trials of the search succeeded; first error: "
                        f"{frame['message'].iloc[0] if len(frame) else 'no trial ran'}")
    top = ok.sort_values(["reward", "trial"], ascending=[False, True]).iloc[0]
    best_row = {"config_id": top["config_id"], "family": top["family"], "params": json.loads(top["params_json"]),
                "reward": float(top["reward"]), "evidence": float(top["evidence"]), "trial": int(top["trial"])}
    return SearchResult(frame, best_row, definition, settings, ranking, stopped_by, curve)


def _config_id(sample: Sample) -> str:
    from metaad.benchmark.zoo import Configuration

    return Configuration(sample.family, {k: (list(v) if isinstance(v, tuple) else v) for k, v in sample.params.items()}).config_id


def _finish_row(raw: dict[str, Any], task: dict[str, Any], prior: float | None, weight: float, entropy: float,
                elapsed: float) -> dict[str, Any]:
    evidence = raw.get("evidence")
    status = raw.get("status", "error")
    if status == "ok" and evidence is not None:
        reward = (1 - weight) * float(evidence) + (weight * prior if prior is not None else weight * float(evidence))
    else:
        reward = FAILED_REWARD
        if status == "ok":
            status = "error"
    return {"trial": task["trial"], "batch": task["batch"], "config_id": task["config_id"], "family": task["family"],
            "params_json": task["params_json"], "reward": round(float(reward), 6),
            "evidence": None if evidence is None else float(evidence), "prior": None if prior is None else round(prior, 6),
            "details": raw.get("details") or "{}", "seconds": float(raw.get("seconds") or 0.0),
            "elapsed": round(elapsed, 3), "entropy": round(entropy, 4), "status": status,
            "message": raw.get("message") or ""}


#: Modules the local engine's workers should have imported before their first trial: the engine starts a new pool
#: for every batch, and a fresh worker importing the evidence code took seconds per batch on a loaded 2-core machine.
_PRELOAD = ["metaad.benchmark.protocol", "metaad.detectors", "metaad.search.reward", "metaad.meta.synthetic",
            "sklearn.metrics", "sklearn.mixture", "metaad.search._warmup"]


def _start_forkserver() -> None:
    """Start the process's forkserver (once) with :data:`_PRELOAD`, before the engine asks for its shorter list:
    a forkserver keeps the preload it was started with."""
    import multiprocessing as mp
    from multiprocessing import forkserver

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    forkserver.ensure_running()


def _run_tasks(tasks: list[dict[str, Any]], engine: str, workers: int | None, ray_address: str | None,
               limit: float | None) -> Any:
    if engine == "inline":
        for task in tasks:
            yield evaluate_trial(task)
        return
    from metaad.engine import get_engine

    if engine == "local":
        _start_forkserver()
    n = workers or min(len(tasks), os.cpu_count() or 1)
    runner = get_engine(engine, workers=n, ray_address=ray_address)
    yield from runner.run(tasks, time_limit=limit)


__all__ = ["LOG_NAME", "SEARCH_ENGINES", "SEARCH_METHODS", "SearchResult", "TRIAL_COLUMNS", "TrialLog", "run_search"]
