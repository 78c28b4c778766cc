"""The results store: journal, consolidation, one writer at a time, torn journal tails."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from metaad.benchmark.store import ResultStore, load_results
from metaad.exceptions import DataError


def _row(config: str, seed: int = 0, auroc: float = 0.7) -> dict:
    return {"dataset": "d", "config_id": config, "seed": seed, "n_rows": 100, "status": "ok", "auroc": auroc}


def test_append_and_consolidate_keep_every_trial_once(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.parquet")
    with store.writing():
        store.append(_row("a"))
        store.append(_row("a"))  # a duplicate key keeps its first result
        store.append(_row("b", auroc=0.9))
        frame = store.consolidate()
    assert sorted(frame["config_id"]) == ["a", "b"] and not store.journal.exists()
    assert store.completed_keys() == {("d", "a", 0, 100), ("d", "b", 0, 100)}


def test_torn_last_line_does_not_swallow_the_next_result(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.parquet")
    with store.writing():
        store.append(_row("a"))
    with store.journal.open("a") as handle:
        handle.write('{"dataset": "d", "config_id": "b", "se')  # killed mid-write
    assert store.completed_keys() == {("d", "a", 0, 100)}
    with store.writing():  # a resumed run repairs the tail before appending
        store.append(_row("c"))
    assert store.completed_keys() == {("d", "a", 0, 100), ("d", "c", 0, 100)}


def _hold_lock(path: str, ready, release) -> None:  # noqa: ANN001
    with ResultStore(path).writing():
        ready.set()
        release.wait(10)


def test_a_second_writer_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(DataError, match="another process is writing"):
            with ResultStore(path).writing():
                pass
    finally:
        release.set()
        holder.join(10)
    with ResultStore(path).writing():  # free again once the other writer is done
        pass


def test_writes_need_the_lock(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.parquet")
    with pytest.raises(RuntimeError, match="write lock"):
        store.append(_row("a"))


def test_old_results_without_sizes_load_with_n_rows_minus_one(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame([{"dataset": "d", "config_id": "a", "seed": 0, "status": "ok", "auroc": 0.5}]).to_parquet(tmp_path / "old.parquet")
    assert load_results(tmp_path / "old.parquet")["n_rows"].tolist() == [-1]
