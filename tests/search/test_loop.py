"""The search loop: budget, failures as low rewards, the trial log, resume after a kill, labels, tune()."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.exceptions import DataError, ParameterError
from metaad.search import loop, reward
from metaad.search.loop import LOG_NAME, run_search

FAST = ["ecod", "hbos", "knn", "iforest"]


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.RandomState(0)
    return np.r_[rng.normal(size=(380, 4)), rng.normal(5, 1, size=(20, 4))]


def _run(X: np.ndarray, **kw):
    options = dict(trials=6, batch_size=3, engine="inline", families=FAST, random_state=0, fit_rows=200)
    return run_search(X, **(options | kw))


def test_budget_counts_trials_run_and_every_trial_is_logged(X: np.ndarray, tmp_path) -> None:
    result = _run(X, log_dir=tmp_path)
    run = result.trials[result.trials["status"] != "cached"]
    assert len(run) == 6 and run["trial"].tolist() == list(range(6))
    assert run["config_id"].is_unique
    header, rows = loop.TrialLog(tmp_path).read()
    assert header["settings"]["method"] == "reinforce" and len(rows) == 6
    assert {"config_id", "reward", "seconds", "status", "params_json"} <= set(rows[0])
    assert result.best["reward"] == pytest.approx(run["reward"].max())


def test_resume_after_a_kill_runs_no_trial_twice_and_ends_where_an_unbroken_run_ends(X: np.ndarray, tmp_path, monkeypatch) -> None:
    unbroken = _run(X, trials=9)
    calls = []
    real = loop.evaluate_trial
    monkeypatch.setattr(loop, "evaluate_trial", lambda task: calls.append(task["config_id"]) or real(task))
    _run(X, trials=9, log_dir=tmp_path)
    log = tmp_path / LOG_NAME
    lines = log.read_bytes().splitlines(keepends=True)
    # killed while writing the 5th trial, after its text and before its newline: not yet a finished line
    log.write_bytes(b"".join(lines[:5]) + lines[5][:-1])
    calls.clear()
    resumed = _run(X, trials=9, log_dir=tmp_path)
    assert len(calls) == 5  # the 4 complete lines were replayed, the torn one ran again
    assert all(json.loads(line) for line in log.read_text().splitlines())  # the torn tail was cut, not glued to
    cols = ["trial", "config_id", "reward", "status"]
    assert resumed.trials[cols].equals(unbroken.trials[cols])
    calls.clear()
    _run(X, trials=9, log_dir=tmp_path)
    assert calls == []  # a finished search replays entirely from its log


def test_a_log_of_another_search_is_refused(X: np.ndarray, tmp_path) -> None:
    _run(X, trials=3, log_dir=tmp_path)
    with pytest.raises(ParameterError, match="different search"):
        _run(X, trials=3, log_dir=tmp_path, method="random")
    with pytest.raises(ParameterError, match="different search"):
        _run(X[::-1].copy(), trials=3, log_dir=tmp_path)


def test_a_failing_trial_is_a_low_reward_with_its_reason(X: np.ndarray) -> None:
    # on 60 fitting rows kNN/LOF with 100 or 200 neighbours cannot be fitted: logged as errors, the search goes on
    result = _run(X, trials=24, batch_size=8, families=["knn", "lof"], fit_rows=60, warm_start=False, prior_weight=0.0)
    failed = result.trials[result.trials["status"] == "error"]
    assert len(failed) > 0
    assert (failed["reward"] == reward.FAILED_REWARD).all()
    assert failed["message"].str.len().gt(0).all()
    assert result.trials.loc[result.trials["status"] == "ok", "reward"].min() > reward.FAILED_REWARD


def test_time_limit_stops_the_search(X: np.ndarray) -> None:
    result = _run(X, trials=50, time_limit=1e-3)
    assert result.stopped_by == "time_limit" and len(result.trials) >= 3  # the first batch always runs


def test_reward_blends_evidence_and_prior(X: np.ndarray) -> None:
    result = _run(X, trials=3, prior_weight=0.25)
    row = result.trials.iloc[0]
    assert row["reward"] == pytest.approx(0.75 * row["evidence"] + 0.25 * row["prior"], abs=1e-5)
    plain = _run(X, trials=3, prior_weight=0.0)
    assert (plain.trials["reward"] == plain.trials["evidence"]).all()


def test_warm_start_spends_the_first_trials_on_the_best_ranked_configurations(X: np.ndarray) -> None:
    result = _run(X, trials=3, n_prior=2)
    top = [(f, json.loads(p)) for f, p in zip(result.ranked["family"], result.ranked["params_json"])][:2]
    first = [(r.family, json.loads(r.params_json)) for r in result.trials.head(2).itertuples()]
    from metaad.benchmark.space import canonical_params

    assert first == [(f, {k: list(v) if isinstance(v, tuple) else v for k, v in canonical_params(f, p).items()}) for f, p in top]


def test_label_reward_scores_rows_the_candidate_was_not_fitted_on() -> None:
    # isolated anomalies: a 1-NN fitted on them gives them distance 0 (no better than chance); held out, they stand far
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(300, 3)), rng.uniform(8, 12, size=(6, 3))]
    known = np.r_[np.zeros(300, dtype=int), np.ones(6, dtype=int)]
    data = reward.label_reward_data(X, known, random_state=0)
    folds = [set(map(tuple, x.round(8))) for x in data["X"]]
    assert not folds[0] & folds[1] and sum(int(y.sum()) for y in data["y"]) == 6
    task = reward.trial_task(data, "knn", {"n_neighbors": 1}, trial=0, seed=0)
    value, details = reward.evidence_of(task)
    assert value > 0.95, details


def test_label_reward_needs_a_known_anomaly(X: np.ndarray) -> None:
    with pytest.raises(DataError, match="known anomaly"):
        reward.label_reward_data(X, np.zeros(len(X)))


def test_search_with_known_anomalies_uses_the_label_reward(X: np.ndarray) -> None:
    known = np.zeros(len(X), dtype=int)
    known[-5:] = 1
    result = _run(X, y=known, trials=3, prior_weight=0.0)
    assert result.settings["labelled"] and "known anomalies" in result.reward_definition
    assert json.loads(result.trials["details"].iloc[0]).keys() == {"fold0", "fold1"}


def test_tune_returns_the_best_configuration_fitted_and_it_saves_and_loads(X: np.ndarray, tmp_path) -> None:
    det = metaad.tune(X, trials=4, batch_size=2, engine="inline", families=FAST, fit_rows=200, max_fit_rows=300,
                      guard_margin=None)  # the search's best as it is (the guard: test_guard.py)
    best = det.tuning_["best"]
    assert det.registry_name == best["family"] and det.tuning_["n_fit_rows"] == 300
    assert {k: v for k, v in det.get_params().items() if k in best["params"]} == \
        {k: tuple(v) if isinstance(v, list) else v for k, v in best["params"].items()}
    assert len(det.search_) >= 4
    loaded = metaad.load(metaad.save(det, tmp_path / "model"))
    np.testing.assert_allclose(loaded.decision_function(X), det.decision_function(X))
    # the trial log and the search's summary come back with the model (search.json)
    pd.testing.assert_frame_equal(loaded.search_, det.search_, check_dtype=False)
    assert loaded.tuning_ == json.loads(json.dumps(det.tuning_))


def test_bad_settings_are_refused(X: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="method"):
        _run(X, method="cmaes")
    with pytest.raises(ParameterError, match="trials"):
        _run(X, trials=0)
    with pytest.raises(ParameterError, match="no families"):
        _run(X, families=["nope"])
    with pytest.raises(DataError, match="row 3"):
        _run(X, y=np.r_[0, 0, 0, 2, np.zeros(len(X) - 4)])


def test_tpe_and_random_search_run_the_same_loop_deterministically(X: np.ndarray) -> None:
    pytest.importorskip("optuna")
    for method in ("tpe", "random"):
        a = _run(X, method=method, trials=5)
        b = _run(X, method=method, trials=5)
        assert a.trials["config_id"].tolist() == b.trials["config_id"].tolist()
        assert a.settings["method"] == method and len(a.trials[a.trials["status"] != "cached"]) == 5
    # random search ignores the warm start: its first proposals are not the ranking's top configurations
    assert _run(X, method="random", trials=2).trials["entropy"].iloc[0] == pytest.approx(
        _run(X, method="reinforce", warm_start=False, trials=2).trials["entropy"].iloc[0])
