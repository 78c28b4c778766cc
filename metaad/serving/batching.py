"""Opportunistic micro-batching: rows of concurrent requests scored in one detector call.

A detector call has a fixed cost that does not depend on the number of rows: scikit-learn's Isolation
Forest walks its 100 trees (26 ms for one row or for a hundred on the 2-core machine), preprocessing
loops over columns (6 ms). Requests that arrive while a call is running wait in a queue; the next call
takes all of them together (up to ``max_rows`` rows) and each request gets its own rows back. Nothing
waits on purpose: an idle service scores a lone request at once.

:class:`LoopBatcher` does the same on the event loop itself for the fast path (small all-numeric requests
already turned into matrices, see :mod:`metaad.serving.fastpath`): the requests whose bytes arrived
together are scored in one call, with no worker thread.

Rows with missing or infinite values are scored on their own, so the imputation warnings a request
receives are about its own rows; if a combined call fails (one request's value overflows once scaled),
each request of that batch is scored on its own, so the error reaches only the request that caused it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import numpy as np
import pandas as pd

from metaad.serving.model import ScoreResult, ServedModel


def batchable(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` has no missing value and no infinite number (those are scored alone).

    Examples
    --------
    >>> batchable(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})), batchable(pd.DataFrame({"a": [1.0, None]}))
    (True, False)
    >>> batchable(pd.DataFrame({"a": [float("inf")]}))
    False
    """
    if frame.isna().to_numpy().any():
        return False
    numbers = frame.select_dtypes(include="number")
    return bool(np.isfinite(numbers.to_numpy(dtype=np.float64)).all()) if numbers.shape[1] else True


def _settle(futures: list[asyncio.Future[Any]], outcomes: list[Any]) -> None:
    """Give each waiting request its own outcome: its result, or the exception its rows raised."""
    for future, outcome in zip(futures, outcomes, strict=True):
        if future.done():  # its request gave up (timeout, client gone)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class MicroBatcher:
    """Score frames of concurrent requests for one :class:`ServedModel` in combined calls.

    Parameters
    ----------
    model : ServedModel
        Every frame given to :meth:`score` has been validated against its schema.
    max_rows : int
        At most this many rows per combined call (a single larger request is still scored whole).
    max_calls : int
        Scoring calls running at once (worker threads): 2 uses both cores of the reference machine.
    """

    def __init__(self, model: ServedModel, *, max_rows: int = 1024, max_calls: int = 2) -> None:
        self.model = model
        self.max_rows = max_rows
        self.max_calls = max_calls
        self._pending: list[tuple[pd.DataFrame, bool, asyncio.Future]] = []
        self._running = 0

    async def score(self, frame: pd.DataFrame, *, explain: bool = False) -> ScoreResult:
        """The scores of ``frame``, possibly computed together with other requests' rows."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._pending.append((frame, explain, future))
        if self._running < self.max_calls:
            self._running += 1
            loop.create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[pd.DataFrame, bool, asyncio.Future]]:
        batch, rows = [], 0
        while self._pending:
            frame, explain, future = self._pending[0]
            if future.done():  # its request gave up (timeout, client gone)
                self._pending.pop(0)
                continue
            if batch and rows + len(frame) > self.max_rows:
                break
            batch.append(self._pending.pop(0))
            rows += len(frame)
        return batch

    async def _drain(self) -> None:
        try:
            while batch := self._take():
                try:
                    outcomes = await anyio.to_thread.run_sync(self._score_batch, [(f, e) for f, e, _ in batch])
                except BaseException as exc:  # cancelled while scoring: tell the waiting requests, then stop
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("scoring stopped"))
                    raise
                _settle([future for _, _, future in batch], outcomes)
        finally:
            self._running -= 1

    def _score_alone(self, frame: pd.DataFrame, explain: bool) -> Any:
        try:
            return self.model.score(frame, explain=explain)
        except Exception as exc:  # noqa: BLE001  (handed to the request that sent these rows)
            return exc

    def _score_batch(self, items: list[tuple[pd.DataFrame, bool]]) -> list[Any]:
        """Score ``items`` (in a worker thread): together where possible, alone otherwise."""
        outcomes: list[Any] = [None] * len(items)
        together = [i for i, (frame, _) in enumerate(items) if len(frame) and batchable(frame)]
        if len(together) < 2:
            together = []
        for i, (frame, explain) in enumerate(items):
            if i not in together:
                outcomes[i] = self._score_alone(frame, explain)
        if not together:
            return outcomes
        explain = any(items[i][1] for i in together)
        combined = pd.concat([items[i][0] for i in together], ignore_index=True)
        try:
            result = self.model.score(combined, explain=explain)
        except Exception:  # noqa: BLE001  (find out whose rows failed: score each alone)
            for i in together:
                outcomes[i] = self._score_alone(*items[i])
            return outcomes
        start = 0
        for i in together:
            stop = start + len(items[i][0])
            contributions = None
            if items[i][1] and result.contributions is not None:
                contributions = result.contributions.iloc[start:stop].reset_index(drop=True)
            outcomes[i] = ScoreResult(result.scores[start:stop], result.is_anomaly[start:stop], contributions, [])
            start = stop
        return outcomes


class LoopBatcher:
    """Score fast-path matrices of requests that arrive together in one detector call, on the event loop.

    A request appends its matrix and waits; the first one of an event-loop turn schedules the call for the
    next turn, by which time every request whose bytes came in the same turn has appended its own. A lone
    request waits one loop turn (microseconds). Should a combined call fail, each matrix is scored alone,
    so an error reaches only its own request.

    Parameters
    ----------
    model : ServedModel
        Every matrix comes from its :meth:`~ServedModel.fast_matrix`.
    max_rows : int
        At most this many rows per call; more waiting rows are scored in further calls of the same turn.
    """

    def __init__(self, model: ServedModel, *, max_rows: int = 1024) -> None:
        self.model = model
        self.max_rows = max(1, max_rows)
        self._pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self._scheduled = False

    async def score(self, matrix: np.ndarray) -> ScoreResult:
        """The scores of ``matrix``, possibly computed together with other requests' rows."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._pending.append((matrix, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        pending = [(matrix, future) for matrix, future in self._pending if not future.done()]
        self._pending = []
        while pending:
            batch, rows = [], 0
            while pending and (not batch or rows + len(pending[0][0]) <= self.max_rows):
                batch.append(pending.pop(0))
                rows += len(batch[-1][0])
            try:
                outcomes = self._score_batch([m for m, _ in batch])
            except BaseException as exc:  # never leave a request waiting: it gets the error
                outcomes = [exc if isinstance(exc, Exception) else RuntimeError("scoring stopped")] * len(batch)
            _settle([future for _, future in batch], outcomes)

    def _score_alone(self, matrix: np.ndarray) -> Any:
        try:
            return self.model.score_matrix(matrix)
        except Exception as exc:  # noqa: BLE001  (handed to the request that sent these rows)
            return exc

    def _score_batch(self, matrices: list[np.ndarray]) -> list[Any]:
        if len(matrices) == 1:
            return [self._score_alone(matrices[0])]
        try:
            result = self.model.score_matrix(np.concatenate(matrices))
        except Exception:  # noqa: BLE001  (find out whose rows failed: score each alone)
            return [self._score_alone(matrix) for matrix in matrices]
        outcomes, start = [], 0
        for matrix in matrices:
            stop = start + len(matrix)
            outcomes.append(ScoreResult(result.scores[start:stop], result.is_anomaly[start:stop], None, result.warnings))
            start = stop
        return outcomes
