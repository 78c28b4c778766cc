"""The fast path of small requests: the same answers as the general path, and the general path whenever in doubt."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.serving import create_app
from metaad.serving.batching import LoopBatcher
from metaad.serving.fastpath import FAST_ROWS, ForestScorer, NumericRows
from metaad.serving.model import ServedModel

from tests.serving.conftest import httpx, records, running, training_frame


def numeric_frame(n_rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """The serving tests' table without its text column, plus a boolean column."""
    frame = training_frame(n_rows, seed=seed).drop(columns="country")
    frame["weekend"] = np.random.RandomState(seed + 1).rand(n_rows) < 0.3
    return frame


@pytest.fixture(scope="module")
def numeric_dirs(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("numeric")
    return {name: metaad.save(metaad.AnomalyPipeline(metaad.make_detector(name, **params)).fit(numeric_frame()), root / name)
            for name, params in {"iforest": {"n_estimators": 50, "random_state": 0},
                                 "autoencoder": {"max_steps": 20, "random_state": 0}}.items()}


# ------------------------------------------------------------------------------------------- the forest
@pytest.mark.parametrize("params", [{}, {"max_features": 0.5, "n_estimators": 30}, {"max_samples": 40, "bootstrap": True}])
def test_forest_scorer_equals_the_detector(params):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    X[:, 2] = 1.0  # a constant column: the detector leaves it out
    det = metaad.make_detector("iforest", random_state=0, **params).fit(X)
    fast = ForestScorer.build(det)
    new = np.vstack([rng.normal(scale=4, size=(300, 6)), X[:5]]).astype(np.float32)
    assert np.abs(fast(new) - det.decision_function(new)).max() <= 1e-9
    assert np.abs(fast(new[:1]) - det.decision_function(new[:1])).max() <= 1e-9


def test_forest_scorer_is_only_for_iforest():
    X = np.random.RandomState(0).normal(size=(100, 3))
    assert ForestScorer.build(metaad.make_detector("ecod").fit(X)) is None


# ------------------------------------------------------------------------------------------- records
def test_numeric_rows_give_the_preprocessed_matrix(numeric_dirs):
    model = ServedModel.load(numeric_dirs["iforest"])
    rows = records(numeric_frame(FAST_ROWS, seed=3))
    rows[0]["age"] = 31  # an int in a float column
    rows[1]["amount"] = 1e12  # far out, still within float32 once scaled
    fast = model.fast_matrix(rows)
    assert fast is not None and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, model.pipeline.transform(model.rows_to_frame(rows)))


@pytest.mark.parametrize("change", [
    {"amount": None}, {"amount": "12"}, {"amount": True}, {"hour": 2**60}, {"amount": float("inf")},
    {"amount": float("nan")}, {"amount": 1e300}, {"extra": 1.0}, {"weekend": "yes"},
])
def test_numeric_rows_decline_what_the_general_path_must_judge(numeric_dirs, change):
    model = ServedModel.load(numeric_dirs["iforest"])
    row = dict(records(numeric_frame(1, seed=4))[0], **change)
    assert model.fast_matrix([row]) is None
    assert model.fast_matrix([{k: v for k, v in row.items() if k != "age"}]) is None  # a missing key
    assert model.fast_matrix(records(numeric_frame(FAST_ROWS + 1, seed=4))) is None  # too many rows


def test_numeric_rows_need_an_all_numeric_model(model_dirs):
    assert ServedModel.load(model_dirs["iforest"]).fast_matrix(records(training_frame(1))) is None
    assert NumericRows.build(object()) is None


# ------------------------------------------------------------------------------------------- over HTTP
@pytest.mark.parametrize("name", ["iforest", "autoencoder"])
def test_fast_answers_equal_the_general_path(numeric_dirs, name, monkeypatch):
    app = create_app(numeric_dirs[name])
    frame = numeric_frame(6, seed=5)
    rows = records(frame)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        general = client.post("/score", json={"columns": {k: [r[k] for r in rows] for k in frame.columns}}).json()
        with monkeypatch.context() as patch:  # the general path is now out of reach: the fast one must answer
            patch.setattr(ServedModel, "rows_to_frame", lambda self, rows: 1 / 0)
            fast = client.post("/score", json={"rows": rows}).json()
        with_gap = client.post("/score", json={"rows": [dict(rows[0], amount=None)]})
    for key in ("n_rows", "n_flagged", "threshold", "detector", "model_version"):
        assert fast[key] == general[key]
    tolerance = 0 if name == "iforest" else 1e-6  # torch may round a batch of 6 differently from 6 single rows
    np.testing.assert_allclose([r["score"] for r in fast["results"]], [r["score"] for r in general["results"]],
                               rtol=tolerance, atol=0)
    expected = metaad.load(numeric_dirs[name]).decision_function(frame)
    assert [r["is_anomaly"] for r in fast["results"]] == (expected > fast["threshold"]).tolist()
    assert with_gap.status_code == 200 and "warnings" in with_gap.json()  # imputed by the general path


# ------------------------------------------------------------------------------------------- loop batching
def test_loop_batcher_scores_requests_of_one_turn_together(numeric_dirs, monkeypatch):
    model = ServedModel.load(numeric_dirs["iforest"])
    matrices = [model.fast_matrix(records(numeric_frame(n, seed=n))) for n in (1, 3, 1, 2)]
    expected = [model.score_matrix(m).scores for m in matrices]
    calls: list[int] = []
    original = ServedModel.detector_scores
    monkeypatch.setattr(ServedModel, "detector_scores", lambda self, X: calls.append(len(X)) or original(self, X))

    async def main():
        batcher = LoopBatcher(model, max_rows=5)
        return await asyncio.gather(*(batcher.score(m) for m in matrices))

    results = asyncio.run(main())
    assert calls == [5, 2]  # 1 + 3 + 1 rows, then the 2 that did not fit
    for result, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result.scores, want)


def test_loop_batcher_hands_an_error_only_to_its_request(numeric_dirs, monkeypatch):
    model = ServedModel.load(numeric_dirs["iforest"])
    good, bad = (model.fast_matrix(records(numeric_frame(2, seed=s))) for s in (6, 7))
    bad[0, 0] = 12345.0
    original = ServedModel.detector_scores

    def picky(self, X):
        if (X == 12345.0).any():
            raise ValueError("this request's rows")
        return original(self, X)

    monkeypatch.setattr(ServedModel, "detector_scores", picky)

    async def main():
        batcher = LoopBatcher(model)
        return await asyncio.gather(batcher.score(good), batcher.score(bad), return_exceptions=True)

    first, second = asyncio.run(main())
    np.testing.assert_array_equal(first.scores, model.score_matrix(good).scores)
    assert isinstance(second, ValueError)


def test_a_fast_path_failure_is_a_500_without_details(numeric_dirs, monkeypatch):
    def broken(self, X):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(ServedModel, "detector_scores", broken)
    with running(create_app(numeric_dirs["iforest"])) as url:
        answer = httpx.post(f"{url}/score", json={"rows": records(numeric_frame(1))}, timeout=10)
    assert answer.status_code == 500 and "internal detail" not in answer.text
