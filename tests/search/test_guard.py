"""The guard on the search's final choice: auto's choice is the incumbent, challengers are judged on a fresh draw."""

from __future__ import annotations

import json

import numpy as np
import pytest

import metaad
from metaad.benchmark.protocol import fit_sample
from metaad.search import choose_final, guard as guard_mod, loop
from metaad.search.guard import FRESH_SEED_OFFSET, fresh_reward_data, guard
from metaad.search.loop import run_search
from metaad.search.reward import synthetic_reward_data

FAST = ["ecod", "hbos", "iforest"]
IFOREST = [{"config_id": "iforest-default", "family": "iforest", "params": {}, "predicted_auroc": None}]


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.RandomState(0)
    return np.r_[rng.normal(size=(380, 4)), rng.normal(5, 1, size=(20, 4))]


def _search(X: np.ndarray, **kw):
    options = dict(trials=6, batch_size=3, engine="inline", families=FAST, random_state=0, fit_rows=200,
                   warm_start=False, prior_weight=0.0)
    return run_search(X, **(options | kw))


def _planted(monkeypatch, values: dict[str, float]) -> None:
    """Trials of the families in ``values`` report that evidence; the others are evaluated for real."""
    real = loop.evaluate_trial

    def fake(task):
        row = real(task)
        if task["family"] in values and row["status"] == "ok":
            row["evidence"] = values[task["family"]]
        return row

    monkeypatch.setattr(loop, "evaluate_trial", fake)


def test_a_configuration_good_on_the_search_draw_only_does_not_win(X: np.ndarray, monkeypatch) -> None:
    _planted(monkeypatch, {"hbos": 0.999})  # the winner's curse, planted: HBOS looks perfect on the search's draw
    result = _search(X)
    assert result.best["family"] == "hbos"
    _planted(monkeypatch, {"hbos": 0.5})  # ... and is no better than chance on a fresh draw
    decision = guard(result, X, IFOREST, engine="inline")
    assert decision.choice == "incumbent", decision.reason
    table = decision.challengers
    assert table.loc[table["family"] == "hbos", "fresh_reward"].tolist() == pytest.approx([0.5] * 2)
    # without the guard the planted configuration is what the search returns
    assert choose_final(result, X, margin=None, max_fit_rows=300).registry_name == "hbos"


def test_a_configuration_good_on_both_draws_replaces_the_incumbent(X: np.ndarray, monkeypatch) -> None:
    _planted(monkeypatch, {"hbos": 0.999})
    result = _search(X)
    decision = guard(result, X, IFOREST, engine="inline", incumbent_reward={"reward": 0.9})
    assert decision.choice == "challenger" and decision.best["family"] == "hbos"


@pytest.mark.parametrize(("incumbent", "choice"), [(0.79, "incumbent"), (0.775, "challenger")])
def test_the_incumbent_is_kept_unless_beaten_by_the_margin(X: np.ndarray, monkeypatch, incumbent: float, choice: str) -> None:
    evidence = {"ecod": 0.80, "hbos": 0.826, "knn": 0.78, "iforest": 0.79}
    _planted(monkeypatch, evidence)
    result = _search(X, trials=8, batch_size=4)
    decision = guard(result, X, IFOREST, engine="inline", margin=0.05, incumbent_reward={"reward": incumbent})
    assert decision.choice == choice, decision.reason  # hbos leads by 0.036 (kept) or 0.051 (replaced)
    if choice == "challenger":
        assert decision.best["family"] == "hbos"


def test_the_fresh_draw_is_independent_of_the_search_draw(X: np.ndarray) -> None:
    result = _search(X, trials=2, batch_size=2)
    search_rows = {tuple(r) for r in np.round(synthetic_reward_data(X[fit_sample(len(X), 0, 600)], fit_rows=200,
                                                                    random_state=0)["X_real"], 8)}
    fresh = fresh_reward_data(X, fit_rows=200, seed=result.settings["random_state"] + FRESH_SEED_OFFSET)
    fresh_rows = {tuple(r) for r in np.round(fresh["X_real"], 8)}
    assert len(fresh_rows & search_rows) < 0.5 * len(fresh_rows)  # another held-out split
    decision = guard(result, X, IFOREST, engine="inline")
    assert decision.fresh_seed == FRESH_SEED_OFFSET


def test_tune_keeps_auto_when_nothing_beats_it_and_the_result_saves_and_loads(X: np.ndarray, monkeypatch, tmp_path) -> None:
    _planted(monkeypatch, {f: 0.0 for f in FAST})  # every challenger is worthless on every draw
    # max_fit_rows=300 of the 400 rows: auto fitted on a subsample reloads to the same scores
    det = metaad.tune(X, trials=4, batch_size=2, engine="inline", families=FAST, fit_rows=200, max_fit_rows=300)
    assert det.registry_name == "auto" and det.tuning_["guard"]["choice"] == "incumbent"
    assert det.tuning_["best"]["params"]["ensemble"] == det.ensemble_ and len(det.search_) >= 4
    loaded = metaad.load(metaad.save(det, tmp_path / "model"))
    np.testing.assert_allclose(loaded.decision_function(X), det.decision_function(X))
    json.dumps(det.tuning_["guard"])  # the guard's summary is plain JSON
    assert loaded.tuning_["guard"] == json.loads(json.dumps(det.tuning_["guard"])) and len(loaded.search_) == len(det.search_)


def test_the_guard_refuses_a_labelled_search_and_a_negative_margin(X: np.ndarray) -> None:
    known = np.zeros(len(X), dtype=int)
    known[-5:] = 1
    labelled = _search(X, y=known, trials=2, batch_size=2)
    with pytest.raises(metaad.exceptions.ParameterError, match="unsupervised"):
        guard(labelled, X, IFOREST, engine="inline")
    with pytest.raises(metaad.exceptions.ParameterError, match="margin"):
        guard(_search(X, trials=2, batch_size=2), X, IFOREST, engine="inline", margin=-1.0)
    assert guard_mod.DEFAULT_MARGIN == 0.05
