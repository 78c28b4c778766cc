"""Load test of ``metaad serve`` on localhost: throughput, latency, errors and memory, bounded in time.

For each detector (iforest, autoencoder, auto) the script fits a model on a synthetic 2,000 x 20 table,
starts the real ``metaad serve`` command (one worker, 127.0.0.1, a free port) and sends one-row and 100-row
``POST /score`` requests from 1, 8 and 32 concurrent clients for a few seconds each. It reports
requests/s, rows/s, p50/p99 latency, the error count (any answer but 200, or a failed connection) and the
server's resident memory after warm-up, after the run, and at its peak. The whole run stops by itself
within ``--budget`` seconds (default 115): cells that would not fit are skipped and say so.

    PYTHONPATH=. python benchmarks/bench_serve.py            # prints a Markdown table, appends results/serve.csv

The load generator runs in this process, on the same cores as the server: on a 2-core machine the
figures are a floor for the service alone.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the budget counts from here, imports included

import argparse
import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import append_row  # noqa: E402

import metaad  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DETECTORS = {"iforest": {"random_state": 0}, "autoencoder": {"random_state": 0}, "auto": {"random_state": 0}}
ROWS = (1, 100)
CONCURRENCY = (1, 8, 32)


def table(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.RandomState(seed)
    return pd.DataFrame(rng.normal(size=(n_rows, 20)), columns=[f"x{i}" for i in range(20)])


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_server(model_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-c", "from metaad.cli import main; main()", "serve", str(model_dir),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("metaad serve did not start within 60 s")


async def load(url: str, body: dict, concurrency: int, seconds: float) -> tuple[list[float], int]:
    """Send ``body`` from ``concurrency`` clients for ``seconds``; return latencies (s) and the error count."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                start = time.perf_counter()
                try:
                    answer = await client.post("/score", json=body)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of load per cell")
    parser.add_argument("--budget", type=float, default=110.0, help="stop everything after this many seconds")
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serve.csv")
    args = parser.parse_args()
    began = STARTED
    train = table(2000, seed=0)
    requests = {n: {"rows": table(n, seed=n).to_dict("records")} for n in ROWS}
    load_avg = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load_avg:.2f} at start; python {platform.python_version()}, metaad {metaad.__version__}")
    header = ("| detector | rows/request | concurrency | requests/s | rows/s | p50 ms | p99 ms | errors |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|")
    lines, memory = [header], []
    with tempfile.TemporaryDirectory() as tmp:
        folders, fit_seconds = {}, {}
        for name in args.detectors.split(","):  # fit everything first: the load cells then share one clock
            fit_start = time.monotonic()
            pipe = metaad.AnomalyPipeline(metaad.make_detector(name, **DETECTORS[name])).fit(train)
            folders[name] = metaad.save(pipe, Path(tmp) / name)
            fit_seconds[name] = time.monotonic() - fit_start
        for name, folder in folders.items():
            if time.monotonic() - began + 10 + args.seconds > args.budget:  # 10 s: a server's start
                lines.append(f"| {name} | skipped: the {args.budget:g} s budget was spent | | | | | | |")
                continue
            process, url = start_server(folder)
            try:
                for n in ROWS:  # warm-up: first requests build caches and allocate buffers
                    for _ in range(5):
                        httpx.post(f"{url}/score", json=requests[n], timeout=30)
                rss_before, _ = rss_mib(process.pid)
                for n in ROWS:
                    for concurrency in CONCURRENCY:
                        if time.monotonic() - began + args.seconds > args.budget:
                            lines.append(f"| {name} | {n} | {concurrency} | skipped: budget spent | | | | |")
                            continue
                        latencies, errors = asyncio.run(load(url, requests[n], concurrency, args.seconds))
                        done = len(latencies) - errors
                        p50, p99 = (np.percentile(latencies, q) * 1000 for q in (50, 99))
                        row = {"detector": name, "rows_per_request": n, "concurrency": concurrency,
                               "requests_per_s": round(done / args.seconds, 1),
                               "rows_per_s": round(done * n / args.seconds, 1),
                               "p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2), "errors": errors,
                               "seconds": args.seconds, "load_average_start": round(load_avg, 2)}
                        append_row(args.out, row)
                        lines.append(f"| {name} | {n} | {concurrency} | {row['requests_per_s']} | {row['rows_per_s']} "
                                     f"| {row['p50_ms']} | {row['p99_ms']} | {errors} |")
                rss_after, rss_peak = rss_mib(process.pid)
                memory.append(f"| {name} | {fit_seconds[name]:.1f} | {rss_before:.0f} | {rss_after:.0f} | {rss_peak:.0f} |")
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
    print("\n".join(lines))
    print("\n| detector | fit s | RSS after warm-up MiB | RSS after the run MiB | peak RSS MiB |\n|---|---:|---:|---:|---:|")
    print("\n".join(memory))
    print(f"\ntotal {time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
