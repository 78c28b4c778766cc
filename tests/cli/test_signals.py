"""`metaad benchmark` stopped by SIGTERM or SIGKILL takes its worker processes with it, without tracebacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("slow")
    rng = np.random.RandomState(0)
    for name in ("a", "b"):
        np.savez(root / f"{name}.npz", X=rng.normal(size=(3000, 8)), y=np.r_[np.zeros(2900), np.ones(100)])
    return root


def _start(slow_data: Path, out: Path) -> tuple[subprocess.Popen, set[int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    seeds = ",".join(str(s) for s in range(20))
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaad.cli", "benchmark", "--data", str(slow_data), "--detectors", "ocsvm,knn",
         "--seeds", seeds, "--workers", "2", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 3:  # the forkserver and its two workers
        time.sleep(0.5)
        workers = _alive(_descendants(proc.pid))
    assert len(workers) >= 3, f"the workers did not start: {proc.poll()} {workers}"
    time.sleep(3)  # mid-trial
    return proc, workers


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


@pytest.mark.slow
def test_sigterm_stops_the_workers_and_exits_130(slow_data, tmp_path) -> None:
    proc, workers = _start(slow_data, tmp_path / "r.parquet")
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert _wait_gone(workers, 10) == set(), "worker processes outlived `metaad benchmark`"
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.slow
def test_sigkill_leaves_no_workers_running_and_no_tracebacks(slow_data, tmp_path) -> None:
    proc, workers = _start(slow_data, tmp_path / "r.parquet")
    proc.kill()
    proc.wait(timeout=30)
    left = _wait_gone(workers, 15)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == set(), "worker processes kept running after their parent was killed"
    err = proc.stderr.read()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
