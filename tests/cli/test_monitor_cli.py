"""`metaad monitor`: files written as it goes, adapted versions saved, standard input, bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.adapt.monitor import monitor
from metaad.cli._app import run_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_and_stream(tmp_path_factory) -> tuple[Path, Path]:
    """A pipeline fitted by `metaad detect` (its model/ folder) and a stream that shifts at row 600."""
    folder = tmp_path_factory.mktemp("monitor")
    rng = np.random.RandomState(0)
    train = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    train["kind"] = rng.choice(["x", "y"], size=400)
    pipeline = metaad.detect(train, detector="ecod").pipeline
    metaad.save(pipeline, folder / "model")
    stream = pd.DataFrame(np.vstack([rng.normal(size=(600, 3)), rng.normal(2.5, 1.0, size=(400, 3))]), columns=["a", "b", "c"])
    stream["kind"] = rng.choice(["x", "y"], size=1000)
    stream.to_csv(folder / "stream.csv", index=False)
    stream.to_parquet(folder / "stream.parquet")
    return folder / "model", folder / "stream.csv"


def test_monitor_writes_scores_windows_events_versions_and_report(model_and_stream, tmp_path, capsys) -> None:
    model, stream = model_and_stream
    code = run_app(["monitor", str(model), str(stream), "--window", "200", "--adapt", "refit", "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0, out
    run = tmp_path / "run"
    scores = pd.read_csv(run / "scores.csv")
    assert scores["row"].tolist() == list(range(1000))
    windows = pd.read_csv(run / "windows.csv")
    assert windows["first_row"].tolist() == [200, 400, 600, 800]  # rows 0-199 are the reference
    assert windows.loc[windows["first_row"] == 600, "drift"].item()
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    adapted = [e for e in events if e["event"] == "adapted"]
    assert adapted and any(e["first_row"] == 600 for e in adapted)
    for event in adapted:  # every version is a complete model that loads and scores
        version = metaad.load(event["model"])
        assert version.decision_function(pd.read_csv(stream).iloc[:5]).shape == (5,)
    # rows after the adaptation were scored by the new version
    assert scores.loc[scores["row"] >= 800, "version"].min() >= 1
    html = (run / "report.html").read_text()
    assert "data:image/png;base64" in html and "Alerts" in html
    assert "drift alerts" in out


@pytest.mark.slow
def test_monitor_reads_parquet_and_standard_input(model_and_stream, tmp_path) -> None:
    model, stream = model_and_stream
    from_parquet = monitor(model, stream.with_suffix(".parquet"), tmp_path / "pq", window=200, chunk_rows=128, report=False)
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "metaad.cli", "monitor", str(model), "-", "--window", "200",
                           "--out", str(tmp_path / "stdin")], input=stream.read_bytes(), capture_output=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr.decode()
    a = pd.read_csv(tmp_path / "pq" / "windows.csv")
    b = pd.read_csv(tmp_path / "stdin" / "windows.csv")
    assert from_parquet.n_rows == 1000 and len(a) == len(b) == 4
    np.testing.assert_allclose(a["mmd2"], b["mmd2"])  # the same rows, whichever the reader and chunking


def test_monitor_errors_are_one_line(model_and_stream, tmp_path, capsys) -> None:
    model, stream = model_and_stream
    assert run_app(["monitor", str(model), str(stream), "--window", "5000", "--out", str(tmp_path / "a")]) == 2
    assert "fewer than one window (5000)" in capsys.readouterr().err
    assert run_app(["monitor", str(model), str(stream), "--adapt", "finetune", "--out", str(tmp_path / "b")]) == 2
    assert "needs a detector with partial_fit" in capsys.readouterr().err
    run_app(["monitor", str(model), str(stream), "--window", "500", "--out", str(tmp_path / "c")])
    capsys.readouterr()
    assert run_app(["monitor", str(model), str(stream), "--window", "500", "--out", str(tmp_path / "c")]) == 2
    assert "earlier run" in capsys.readouterr().err


def _peak(model: Path, path: Path, out: Path) -> int:
    """Peak traced memory while streaming (from the first chunk on: loading the model and imports excluded)."""
    started: list[bool] = []

    def reset_at_first_chunk(*_: int) -> None:
        if not started:
            tracemalloc.reset_peak()
            started.append(True)

    tracemalloc.start()
    try:
        monitor(model, path, out, window=100, chunk_rows=1000, report=False, on_progress=reset_at_first_chunk)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_stays_bounded_whatever_the_stream_length(tmp_path) -> None:
    """Ten times the rows, the same peak: a stream that kept its rows would add 40,000 x 16 x 8 bytes (5 MB)."""
    rng = np.random.RandomState(0)
    det = metaad.make_detector("mmd", max_samples=200, random_state=0).fit(rng.normal(size=(300, 16)))
    metaad.save(det, tmp_path / "model")
    peaks = {}
    for n in (1_000, 4_000, 40_000):  # the first run imports what the stream needs, outside the measured runs
        path = tmp_path / f"s{n}.csv"
        pd.DataFrame(rng.normal(size=(n, 16)), columns=[f"c{i}" for i in range(16)]).to_csv(path, index=False)
        peaks[n] = _peak(tmp_path / "model", path, tmp_path / f"out{n}")
    assert peaks[40_000] < 1.3 * peaks[4_000], peaks
