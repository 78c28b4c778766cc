"""Micro-batching: concurrent requests share detector calls, yet each gets exactly its own scores and errors."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from metaad.serving.batching import MicroBatcher
from metaad.serving.model import RequestError, ServedModel

from tests.serving.conftest import records, training_frame


@pytest.fixture(scope="module", params=["iforest", "autoencoder"])
def model(request, model_dirs) -> ServedModel:
    return ServedModel.load(model_dirs[request.param])


def slowed(model: ServedModel, monkeypatch, seconds: float = 0.05) -> list[int]:
    """Make each detector call take ``seconds`` (so requests pile up) and count the rows of each call."""
    original = ServedModel.detector_scores
    calls: list[int] = []
    lock = threading.Lock()

    def counted(self, X):
        with lock:
            calls.append(len(X))
        time.sleep(seconds)
        return original(self, X)

    monkeypatch.setattr(ServedModel, "detector_scores", counted)
    return calls


def test_concurrent_requests_share_calls_and_get_their_own_scores(model, monkeypatch):
    frames = [model.rows_to_frame(records(training_frame(n, seed=n))) for n in (1, 3, 1, 2, 5, 1, 1, 4)]
    expected = [model.score(frame).scores for frame in frames]
    calls = slowed(model, monkeypatch)

    async def main():
        batcher = MicroBatcher(model, max_rows=1024, max_calls=1)
        return await asyncio.gather(*(batcher.score(frame) for frame in frames))

    results = asyncio.run(main())
    for result, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(result.scores, want, rtol=1e-6)
        assert result.is_anomaly.tolist() == (want > model.threshold_).tolist()
    assert len(calls) < len(frames) and sum(calls) == sum(len(f) for f in frames)


def test_max_rows_bounds_a_combined_call(model, monkeypatch):
    frames = [model.rows_to_frame(records(training_frame(3, seed=i))) for i in range(6)]
    calls = slowed(model, monkeypatch)

    async def main():
        batcher = MicroBatcher(model, max_rows=7, max_calls=1)
        return await asyncio.gather(*(batcher.score(frame) for frame in frames))

    asyncio.run(main())
    assert max(calls) <= 7 and sum(calls) == 18


def test_a_bad_request_fails_alone(model, monkeypatch):
    good = [model.rows_to_frame(records(training_frame(2, seed=i))) for i in range(3)]
    bad = model.rows_to_frame([dict(records(training_frame(1))[0], age=-1e300)])
    expected = [model.score(frame).scores for frame in good]
    slowed(model, monkeypatch)

    async def main():
        batcher = MicroBatcher(model, max_calls=1)
        return await asyncio.gather(*(batcher.score(f) for f in [good[0], bad, *good[1:]]), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[1], RequestError) and "age" in str(outcomes[1])
    for outcome, want in zip([outcomes[0], *outcomes[2:]], expected, strict=True):
        np.testing.assert_allclose(outcome.scores, want, rtol=1e-6)


def test_missing_values_are_scored_alone_with_their_own_warning(model, monkeypatch):
    plain = model.rows_to_frame(records(training_frame(2)))
    gappy = model.rows_to_frame([dict(records(training_frame(1))[0], hour=None)])
    slowed(model, monkeypatch)

    async def main():
        batcher = MicroBatcher(model, max_calls=1)
        return await asyncio.gather(batcher.score(plain), batcher.score(plain), batcher.score(gappy))

    first, second, third = asyncio.run(main())
    assert first.warnings == [] and second.warnings == []
    assert len(third.warnings) == 1 and "'hour'" in third.warnings[0]


def test_explain_only_for_the_requests_that_asked(model, monkeypatch):
    frame = model.rows_to_frame(records(training_frame(2)))
    slowed(model, monkeypatch)

    async def main():
        batcher = MicroBatcher(model, max_calls=1)
        return await asyncio.gather(batcher.score(frame), batcher.score(frame, explain=True), batcher.score(frame))

    plain, explained, other = asyncio.run(main())
    assert plain.contributions is None and other.contributions is None
    if model.explains:
        assert explained.contributions.shape == (2, 4)
        np.testing.assert_allclose(explained.contributions.to_numpy(), model.score(frame, explain=True).contributions.to_numpy(), rtol=1e-5)
