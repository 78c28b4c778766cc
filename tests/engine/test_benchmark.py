"""Running benchmarks: the local engine, resuming after an interruption, time limits, the report."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaad.engine import get_engine
from metaad.benchmark.datasets import discover_datasets
from metaad.benchmark.protocol import Trial, run_trial
from metaad.benchmark.store import RESULT_COLUMNS, ResultStore, load_results
from metaad.engine.run import run_benchmark
from metaad.exceptions import DataError, ParameterError
from metaad.benchmark.zoo import Configuration


def test_trial_follows_the_protocol(trials: list) -> None:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from metaad.detectors.registry import make_detector

    trial = next(t for t in trials if t.config.family == "iforest" and t.seed == 1 and t.dataset == "hard")
    row = run_trial(trial.to_task())
    data = np.load(trial.path)
    X_train, X_test, _, y_test = train_test_split(data["X"], data["y"].astype(int), test_size=0.3, stratify=data["y"], random_state=1)
    scaler = StandardScaler().fit(X_train)
    det = make_detector("iforest", n_estimators=20, random_state=1).fit(scaler.transform(X_train))
    assert row["status"] == "ok"
    assert row["auroc"] == pytest.approx(roc_auc_score(y_test, det.decision_function(scaler.transform(X_test))))
    assert set(row) == set(RESULT_COLUMNS)


def test_local_engine_records_every_trial_once(local_results: pd.DataFrame, trials: list) -> None:
    assert list(local_results.columns) == list(RESULT_COLUMNS)
    assert len(local_results) == len(trials)
    assert not local_results.duplicated(["dataset", "config_id", "seed"]).any()
    assert (local_results["n_rows"] == 100).all()
    failed = local_results[local_results["config_id"] == Configuration("knn", {"n_neighbors": 500}).config_id]
    assert (failed["status"] == "error").all() and failed["message"].str.contains("n_neighbors").all()
    ok = local_results[local_results["status"] == "ok"]
    assert len(ok) == len(trials) - len(failed)
    assert ok["auroc"].between(0, 1).all() and (ok["fit_seconds"] > 0).all()
    easy = ok[(ok["dataset"] == "easy") & (ok["family"] == "iforest")]
    assert (easy["auroc"] > 0.95).all()


def test_resume_after_interruption_loses_and_repeats_nothing(trials: list, tmp_path: Path, local_results: pd.DataFrame) -> None:
    out = tmp_path / "results.parquet"
    seen: list[tuple] = []

    def interrupt_after_seven(done: int, total: int, row: dict | None) -> None:
        if row is not None:
            seen.append((row["dataset"], row["config_id"], row["seed"], row["n_rows"]))
            if len(seen) == 7:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(trials, out, workers=1, progress=interrupt_after_seven)
    assert len(load_results(out)) == 7  # every finished trial was kept
    first_seven = set(seen)
    rerun: list[tuple] = []
    frame = run_benchmark(trials, out, workers=2,
                          progress=lambda d, t, r: r is not None and rerun.append((r["dataset"], r["config_id"], r["seed"], r["n_rows"])))
    assert len(frame) == len(trials)
    assert not frame.duplicated(["dataset", "config_id", "seed"]).any()
    assert first_seven.isdisjoint(rerun) and len(rerun) == len(trials) - 7
    key = ["dataset", "config_id", "seed", "n_rows"]
    merged = frame.merge(local_results, on=key, suffixes=("", "_ref"))
    ok = merged["status"] == "ok"
    np.testing.assert_allclose(merged.loc[ok, "auroc"], merged.loc[ok, "auroc_ref"])
    assert not ResultStore(out).journal.exists()


def test_time_limit_stops_a_stuck_trial(tmp_path: Path) -> None:
    fifo = tmp_path / "stuck.npz"
    os.mkfifo(fifo)  # reading it blocks forever: a stuck trial
    trial = Trial("stuck", str(fifo), Configuration("ecod", {}), 0, 100)
    rows = list(get_engine("local", workers=1).run([trial.to_task()], time_limit=2))
    assert [r["status"] for r in rows] == ["timeout"]
    assert "time limit" in rows[0]["message"]


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="unknown engine"):
        get_engine("spark")
    with pytest.raises(ParameterError, match="workers"):
        get_engine("local", workers=0)
    with pytest.raises(DataError, match="no such"):
        discover_datasets([tmp_path / "missing"])
    with pytest.raises(DataError, match="no such results"):
        load_results(tmp_path / "missing.parquet")
    with pytest.raises(ParameterError, match="time_limit"):
        run_benchmark([], tmp_path / "r.parquet", time_limit=0)


def test_report(local_results: pd.DataFrame, tmp_path: Path) -> None:
    from metaad.benchmark.report import summarize, write_benchmark_report

    summary = summarize(local_results)
    assert set(summary["families"].index) == {"iforest", "ecod", "knn", "autoencoder"}
    assert summary["configurations"]["mean_rank"].is_monotonic_increasing
    page = write_benchmark_report(local_results, tmp_path)
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 2 and "Per dataset" in text
