"""The selection pipeline, as small named steps that ``auto``, ``metaad select`` and the benchmarks compose.

1. :func:`describe`: the table's meta-features (checked: enough rows, not all constant).
2. :func:`trained_selector`: the selector trained on the knowledge (shipped + the user's, cached).
3. :func:`rank_configurations`: every usable configuration ranked for this table (registered unsupervised
   families only; families too slow for the table's size left out).
4. :func:`candidate_pool`: the top candidates, at most a few per family, plus a strong default as a hedge.
5. Evidence (:mod:`metaad.meta.evidence`): known anomalies, a labelled validation set, or, without labels,
   synthetic anomalies injected into a held-out part of the table (:mod:`metaad.meta.synthetic`).
6. :func:`decide`: blend evidence with the selector's prior, and choose one configuration, or a rank-ensemble
   of the best few when the choice is uncertain, with how sure it was.
7. :func:`fit_with_fallbacks`: fit the choice on the table; a configuration that cannot be fitted there gives
   way to the next.
8. :func:`similar_tasks`: the explanation, the nearest knowledge-base tasks and how the candidates did there.

Examples
--------
>>> import numpy as np
>>> X = np.random.RandomState(0).normal(size=(300, 5))
>>> features = describe(X)
>>> ranking = rank_configurations(features, trained_selector(), n_train=300)
>>> pool = candidate_pool(ranking, 5, max_per_family=1)
>>> len(pool), pool["family"].is_unique
(5, True)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError, ParameterError
from metaad.meta.selector import Selector

#: The selector settings, chosen by leave-one-dataset-out evaluation (BENCHMARKS.md section 5).
SELECTOR_SETTINGS: dict[str, Any] = {"model": "knn", "n_neighbors": 10, "shrinkage": 0.5, "cost_weight": 0.01}
#: Fewer rows than this cannot be described well enough to choose a detector.
MIN_ROWS = 10
#: How many similar tasks explain a recommendation.
N_SIMILAR = 3
#: The configuration every candidate pool holds as a hedge: Isolation Forest at its defaults, never far from
#: the best on any table of the benchmark corpus.
HEDGE_CONFIG: tuple[str, dict[str, Any]] = ("iforest", {})
#: Tables of more than this many rows are scored whole at fit time (and usually later), so there the chosen
#: model must score fast: ``auto``'s ``min_score_rate`` applies. Smaller tables take about a second to score at
#: the slowest rate in the zoo.
LARGE_TABLE_ROWS = 20_000
#: Families that compare every scored row with the rows they were fitted on: their scoring cost grows with the
#: fitted rows (a kNN with 5,000 reference rows scores about 18,000 rows/s on one thread).
INSTANCE_BASED: tuple[str, ...] = ("knn", "lof", "ocsvm")


# ----------------------------------------------------------------------------------------------- 1. describe
def describe(X: Any) -> dict[str, float]:
    """Meta-features of ``X`` (:func:`metaad.meta.features.meta_features`), after checking it can be described.

    Raises
    ------
    DataError
        For fewer than :data:`MIN_ROWS` rows, all-constant columns, or non-numeric or non-finite values.
    """
    from metaad.meta.features import as_matrix, meta_features

    array = as_matrix(X)
    if array.shape[0] < MIN_ROWS:
        raise DataError(
            f"{array.shape[0]} rows are too few to describe the data and choose a detector (at least {MIN_ROWS} are "
            "needed); with so few rows use a parameter-free detector such as 'ecod'"
        )
    if not (array != array[:1]).any():
        raise DataError(f"all {array.shape[1]} column(s) are constant over the {array.shape[0]} rows: nothing to detect")
    return meta_features(array)


# ----------------------------------------------------------------------------------------------- 2. the selector
def _stamp(path: Path) -> tuple[str, float]:
    manifest = path / "manifest.json"
    return (str(path), manifest.stat().st_mtime if manifest.exists() else 0.0)


@lru_cache(maxsize=8)
def _cached_selector(knowledge: str | None, user: tuple[str, float]) -> Selector:
    from metaad.meta.knowledge import load_merged_knowledge

    kb = load_merged_knowledge(knowledge, user_dir=user[0])
    return Selector(**SELECTOR_SETTINGS).fit(kb)


def trained_selector(knowledge: str | os.PathLike[str] | None = None, *,
                     user_dir: str | os.PathLike[str] | None = None) -> Selector:
    """The selector trained on ``knowledge`` (a knowledge base folder), or on the shipped knowledge base
    extended by the user's folder; cached until the user's folder changes."""
    from metaad.meta.knowledge import user_knowledge_dir

    folder = user_knowledge_dir(user_dir)
    return _cached_selector(None if knowledge is None else str(knowledge), _stamp(folder))


def clear_cache() -> None:
    """Forget the cached selectors (after the knowledge changed within a process)."""
    _cached_selector.cache_clear()


# ----------------------------------------------------------------------------------------------- 3. ranking
def rank_configurations(features: dict[str, float], selector: Selector, *, families: Any = None,
                        n_train: int | None = None) -> pd.DataFrame:
    """Every usable configuration ranked for the table: registered, unsupervised, and fit for ``n_train`` rows.

    Raises
    ------
    ParameterError
        When ``families`` names a family with no configuration, or nothing is usable.
    """
    from metaad.benchmark.zoo import fits_size
    from metaad.detectors.registry import list_detectors

    ranking = selector.rank(features)
    usable = {info.name for info in list_detectors(details=True) if not info.cls._uses_labels and info.family != "meta"}
    keep = ranking["family"].isin(usable)
    if n_train is not None:
        keep &= np.array([fits_size(f, int(n_train)) for f in ranking["family"]], dtype=bool)
    if families is not None:
        unknown = sorted(set(families) - set(ranking["family"]))
        if unknown:
            raise ParameterError(f"families {unknown} have no configuration in the knowledge base; "
                                 f"known: {', '.join(sorted(set(ranking['family'])))}")
        keep &= ranking["family"].isin(list(families))
    ranking = ranking[keep].reset_index(drop=True)
    if ranking.empty:
        raise ParameterError("no configuration of the knowledge base can be used here")
    ranking["rank"] = np.arange(1, len(ranking) + 1)
    return ranking


# ----------------------------------------------------------------------------------------------- 4. candidates
def candidate_pool(ranking: pd.DataFrame, n: int, max_per_family: int = 0, *, hedge: bool = False) -> pd.DataFrame:
    """The first ``n`` rows of ``ranking`` with at most ``max_per_family`` of one family (0 = no limit);
    with ``hedge``, :data:`HEDGE_CONFIG` is added when it is not among them (and is in the ranking).

    Examples
    --------
    >>> ranking = pd.DataFrame({"config_id": list("abcde"), "family": ["knn", "knn", "knn", "lof", "pca"],
    ...                         "params_json": ["{}"] * 5})
    >>> candidate_pool(ranking, 3, max_per_family=2)["config_id"].tolist()
    ['a', 'b', 'd']
    """
    picked, counts = [], {}
    for i, family in enumerate(ranking["family"]):
        if len(picked) == n:
            break
        if max_per_family and counts.get(family, 0) >= max_per_family:
            continue
        picked.append(i)
        counts[family] = counts.get(family, 0) + 1
    if hedge:
        family, params = HEDGE_CONFIG
        match = np.flatnonzero((ranking["family"] == family).to_numpy()
                               & (ranking["params_json"] == json.dumps(params, separators=(",", ":"))).to_numpy())
        if match.size and int(match[0]) not in picked:
            picked.append(int(match[0]))
    return ranking.iloc[picked]


def hedge_id(candidates: list[dict[str, Any]]) -> str | None:
    """The config id of :data:`HEDGE_CONFIG` among ``candidates`` (None when it is not one of them)."""
    family, params = HEDGE_CONFIG
    return next((c["config_id"] for c in candidates if c["family"] == family and c["params"] == params), None)


def candidates_from(pool: pd.DataFrame) -> list[dict[str, Any]]:
    """The pool as plain dicts: ``config_id``, ``family``, ``params``, ``predicted_auroc``, ``predicted_seconds``,
    ``prior`` (the ranking score) and ``rank``."""
    return [{"config_id": r.config_id, "family": r.family, "params": json.loads(r.params_json),
             "predicted_auroc": round(float(r.predicted_auroc), 4),
             "predicted_seconds": round(float(getattr(r, "predicted_seconds", float("nan"))), 4),
             "prior": float(r.score) if hasattr(r, "score") else 0.0, "rank": int(r.rank)}
            for r in pool.itertuples()]


def score_cost(candidate: dict[str, Any], n_fit: int, n_columns: int) -> float:
    """Estimated microseconds to score one row on one thread, for ``candidate`` fitted on ``n_fit`` rows.

    A deterministic model (the choice must not depend on the machine's load), calibrated on large batches with
    ``benchmarks/explore/score_rates.py`` and ``benchmarks/bench_auto_speed.py`` (Isolation Forest at its
    defaults: about 5 microseconds, 200,000 rows/s): instance-based families (:data:`INSTANCE_BASED`) 0.01 per
    fitted row; Isolation Forest 5 per 100 trees of 256 samples (times the squared ratio of the trees' depth to
    8 for larger samples); ECOD, COPOD and HBOS 0.15 per column; LODA 5 per 100 random cuts; PCA 1; the neural
    networks 5.

    Examples
    --------
    >>> score_cost({"family": "knn", "params": {}}, 5000, 30), score_cost({"family": "iforest", "params": {}}, 5000, 30)
    (50.0, 5.0)
    """
    family, params = candidate["family"], candidate.get("params") or {}
    if family in INSTANCE_BASED:
        return 0.01 * n_fit
    if family == "iforest":  # paths grow with the log of the trees' samples (256 by default)
        samples = params.get("max_samples", "auto")
        samples = 256 if samples == "auto" else (samples * n_fit if isinstance(samples, float) else samples)
        depth = max(1.0, np.log2(max(min(float(samples), n_fit), 2.0)) / 8.0)
        return 5.0 * float(params.get("n_estimators", 100)) / 100.0 * depth ** 2
    if family in ("ecod", "copod", "hbos"):
        return 0.15 * n_columns
    if family == "loda":
        return 5.0 * float(params.get("n_random_cuts", 100)) / 100.0
    if family == "pca":
        return 1.0
    return 5.0


def fast_enough(ranking: pd.DataFrame, max_cost: float | None, n_fit: int, n_columns: int) -> pd.DataFrame:
    """The rows of ``ranking`` whose estimated scoring cost (:func:`score_cost`) is at most ``max_cost``
    microseconds per row (all of them when ``max_cost`` is None, or when none is fast enough), ranks renumbered.

    Examples
    --------
    >>> ranking = pd.DataFrame({"config_id": ["k", "i"], "family": ["knn", "iforest"], "params_json": ["{}", "{}"],
    ...                         "rank": [1, 2]})
    >>> fast_enough(ranking, 20.0, 5000, 30)["config_id"].tolist(), fast_enough(ranking, 20.0, 500, 30)["rank"].tolist()
    (['i'], [1, 2])
    """
    if max_cost is None:
        return ranking
    cost = np.array([score_cost({"family": f, "params": json.loads(p)}, n_fit, n_columns)
                     for f, p in zip(ranking["family"], ranking["params_json"])])
    keep = cost <= max_cost
    if not keep.any():
        return ranking
    out = ranking[keep].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


# ----------------------------------------------------------------------------------------------- 6. decide
@dataclass
class Decision:
    """What :func:`decide` chose: the members (one, or a rank-ensemble), how sure, and why."""

    members: list[dict[str, Any]]
    confidence: str
    reason: str
    ranked: list[dict[str, Any]] = field(default_factory=list)


def decide(candidates: list[dict[str, Any]], *, evidence_key: str | None, evidence_weight: float,
           hedge_margin: float, ensemble_size: int, max_cost: float | None = None,
           anchor: str | None = None) -> Decision:
    """Blend each candidate's prior with its evidence and choose.

    ``posterior = prior + evidence_weight * (evidence - mean evidence over the candidates)``, where ``prior`` is
    the selector's score. The best candidate is chosen alone when it leads the next by at least
    ``hedge_margin``; otherwise the best ``ensemble_size`` candidates are rank-averaged (confidence "low").
    Candidates without evidence (they could not be fitted) get ``posterior`` None and rank last. With
    ``max_cost``, the members' summed ``score_us`` (estimated microseconds to score a row) stays within it.
    With ``anchor`` (a config id among the candidates), an uncertain choice's ensemble always holds that
    configuration (``auto``: Isolation Forest at its defaults), so it cannot stray far from a strong default.

    Examples
    --------
    >>> cands = [{"config_id": "a", "family": "knn", "params": {}, "prior": 0.02, "ev": 0.70, "rank": 1},
    ...          {"config_id": "b", "family": "knn", "params": {}, "prior": 0.01, "ev": 0.90, "rank": 2}]
    >>> d = decide(cands, evidence_key="ev", evidence_weight=0.5, hedge_margin=0.01, ensemble_size=2)
    >>> [m["config_id"] for m in d.members], d.confidence
    (['b'], 'high')
    >>> d = decide(cands, evidence_key="ev", evidence_weight=0.05, hedge_margin=0.01, ensemble_size=2)
    >>> [m["config_id"] for m in d.members], d.confidence
    (['a'], 'low')
    >>> decide(cands, evidence_key=None, evidence_weight=0.0, hedge_margin=0.005, ensemble_size=2).confidence
    'high'
    """
    observed = [c.get(evidence_key) for c in candidates] if evidence_key else []
    finite = [v for v in observed if v is not None and np.isfinite(v)]
    mean = float(np.mean(finite)) if finite else 0.0
    for c in candidates:
        value = c.get(evidence_key) if evidence_key else None
        if evidence_key and (value is None or not np.isfinite(value)):
            c["posterior"] = None  # could not be judged: ranked last
        else:
            c["posterior"] = round(c["prior"] + (evidence_weight * (value - mean) if evidence_key else 0.0), 6)
    ranked = sorted(candidates, key=lambda c: (c["posterior"] is None, -(c["posterior"] or 0.0), c["rank"]))
    usable = [c for c in ranked if c["posterior"] is not None] or ranked
    margin = usable[0]["posterior"] - usable[1]["posterior"] if len(usable) > 1 and usable[1]["posterior"] is not None else np.inf
    if margin >= hedge_margin or ensemble_size <= 1:
        reason = (f"it leads the next candidate by {margin:.3f}" if np.isfinite(margin) else "it is the only candidate")
        return Decision([usable[0]], "high", reason, ranked)
    members = hedge_members(usable, ensemble_size, max_cost, anchor=anchor)
    if len(members) == 1:
        return Decision(members, "low", f"the best candidates are within {margin:.3f} of each other, but only one "
                        "is fast enough to score this table", ranked)
    return Decision(members, "low", f"the best candidates are within {margin:.3f} of each other (less than "
                    f"{hedge_margin:.3f}), so the best of {len(members)} different families are rank-averaged", ranked)


def hedge_members(ranked: list[dict[str, Any]], size: int, max_cost: float | None = None, *,
                  anchor: str | None = None) -> list[dict[str, Any]]:
    """The rank-ensemble of an uncertain choice: the best candidate of each of the ``size`` best families
    (with ``max_cost``: only while the members' summed ``score_us`` stays within it; the best one always).
    With ``anchor``, that candidate is always a member (its family's other candidates are not), the others
    are the best of the other families, and the members are listed best first.

    Diverse members are the point: on the 43 benchmark tables at full size (seed 0), rank-averaging a kNN, an
    autoencoder and COPOD scored +0.025 AUROC over Isolation Forest at its defaults on the mean, where the best
    single configuration scored +0.023 and lost more than 0.05 to it on three tables (BENCHMARKS.md section 5).

    Examples
    --------
    >>> ranked = [{"config_id": "k1", "family": "knn"}, {"config_id": "k2", "family": "knn"},
    ...           {"config_id": "l1", "family": "lof"}, {"config_id": "e", "family": "ecod"}, {"config_id": "i", "family": "iforest"}]
    >>> [m["config_id"] for m in hedge_members(ranked, 3)]
    ['k1', 'l1', 'e']
    >>> costs = {"k1": 50.0, "k2": 50.0, "l1": 50.0, "e": 5.0, "i": 5.0}
    >>> [m["config_id"] for m in hedge_members([c | {"score_us": costs[c["config_id"]]} for c in ranked], 3, 20.0)]
    ['k1']
    >>> [m["config_id"] for m in hedge_members([c | {"score_us": costs[c["config_id"]]} for c in ranked[3:]], 3, 20.0)]
    ['e', 'i']
    >>> [m["config_id"] for m in hedge_members(ranked, 3, anchor="i")]
    ['k1', 'l1', 'i']
    """
    held = [c for c in ranked if c["config_id"] == anchor]
    if held and size > 1:
        rest = [c for c in ranked if c["family"] != held[0]["family"]]
        budget = None if max_cost is None else max_cost - float(held[0].get("score_us") or 0.0)
        if budget is not None:
            rest = [c for c in rest if float(c.get("score_us") or 0.0) <= budget]
        others = hedge_members(rest, size - 1, budget) if rest else []
        return sorted(held + others, key=ranked.index)
    members: list[dict[str, Any]] = []
    spent = 0.0
    for cand in ranked:
        if len(members) == size:
            break
        cost = float(cand.get("score_us") or 0.0)
        if members and max_cost is not None and spent + cost > max_cost:
            continue
        if cand["family"] not in {m["family"] for m in members}:
            members.append(cand)
            spent += cost
    return members


# ----------------------------------------------------------------------------------------------- 7. fitting
def build_detector(candidate: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """The candidate's detector through the registry, with the ``overrides`` its class accepts."""
    from metaad.benchmark.zoo import Configuration
    from metaad.detectors.registry import get_detector_info

    accepted = get_detector_info(candidate["family"]).parameters
    return Configuration(candidate["family"], candidate["params"]).make_detector(
        **{k: v for k, v in overrides.items() if k in accepted})


def fit_with_fallbacks(ordered: list[dict[str, Any]], X: np.ndarray, overrides: dict[str, Any], n: int, *,
                       rows: np.ndarray | None = None, log: Any = None) -> tuple[list[Any], list[dict[str, Any]]]:
    """Fit the first ``n`` of ``ordered`` that can be fitted on ``X[rows]``; returns the detectors and their candidates.

    Raises
    ------
    DataError
        When none can be fitted.
    """
    sample = X if rows is None else X[rows]
    members, chosen = [], []
    for cand in ordered:
        try:
            det = build_detector(cand, overrides).fit(sample)
        except (DataError, ParameterError) as exc:
            if log is not None:
                log.info("auto: %s cannot be fitted here (%s); trying the next candidate", cand["config_id"], exc)
            continue
        members.append(det)
        chosen.append(cand)
        if len(members) == n:
            break
    if not members:
        raise DataError(f"none of the {len(ordered)} candidate configurations could be fitted on data of shape {X.shape}")
    return members, chosen


def training_scores(detector: Any, X: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Scores of every row of ``X`` for a detector fitted on ``X[rows]``: its own training scores for the rows it
    was fitted on (neighbour methods leave a row out of its own neighbours there), new-data scores for the rest."""
    if rows is None or len(rows) == X.shape[0]:
        return np.asarray(detector.decision_scores_, dtype=np.float64)
    scores = np.empty(X.shape[0])
    rest = np.ones(X.shape[0], dtype=bool)
    rest[rows] = False
    scores[rows] = detector.decision_scores_
    scores[rest] = detector.decision_function(X[rest])
    return scores


# ----------------------------------------------------------------------------------------------- 8. explanation
def similar_tasks(selector: Selector, features: dict[str, float], config_ids: list[str], k: int = N_SIMILAR) -> list[dict[str, Any]]:
    """The ``k`` nearest knowledge-base tasks, with the AUROC there of each of ``config_ids`` and of the best."""
    near = selector.neighbours(features, k)
    out = []
    for task, name, distance in zip(near["task"], near["dataset"], near["distance"]):
        perf = selector.performance_.loc[task]
        best = str(perf.idxmax())
        out.append({
            "task": str(task), "dataset": str(name), "distance": round(float(distance), 4),
            "auroc": {c: (None if not np.isfinite(perf.get(c, np.nan)) else round(float(perf[c]), 4)) for c in config_ids},
            "best_config": best, "best_auroc": round(float(perf[best]), 4),
            "percentile": {c: (None if not np.isfinite(perf.get(c, np.nan))
                               else round(float((perf < perf[c]).mean()), 4)) for c in config_ids},
        })
    return out


__all__ = ["Decision", "HEDGE_CONFIG", "INSTANCE_BASED", "LARGE_TABLE_ROWS", "fast_enough", "hedge_id", "hedge_members", "score_cost", "MIN_ROWS", "N_SIMILAR", "SELECTOR_SETTINGS", "build_detector", "candidate_pool",
           "candidates_from", "clear_cache", "decide", "describe", "fit_with_fallbacks", "rank_configurations", "training_scores",
           "similar_tasks", "trained_selector"]
