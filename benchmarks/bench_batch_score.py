"""Chunked batch scoring (``metaad score``): rows/s and peak memory as the table grows.

Generates Parquet tables of N rows x 20 float columns in a temporary folder (written row group by row
group, never held whole), fits each detector on 2,000 rows, and runs the shipped ``metaad score`` command
in a child process per (detector, N), reading the child's peak resident memory from the kernel
(``wait4``'s ``ru_maxrss``). Memory that does not grow with N is the claim under test.

    PYTHONPATH=. python benchmarks/bench_batch_score.py --rows 1000000,3000000
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import append_row  # noqa: E402

import metaad  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N_COLUMNS = 20
ROW_GROUP = 250_000


def write_table(path: Path, n_rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(N_COLUMNS)]
    schema = pa.schema([(name, pa.float64()) for name in names])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n_rows, ROW_GROUP):
            block = rng.normal(size=(min(ROW_GROUP, n_rows - start), N_COLUMNS))
            writer.write_table(pa.Table.from_arrays([pa.array(block[:, i]) for i in range(N_COLUMNS)], schema=schema))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000000,3000000", help="comma-separated table sizes")
    parser.add_argument("--detectors", default="iforest,autoencoder")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "batch_score.csv")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print("| detector | rows | seconds | rows/s | peak RSS MiB |\n|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train = pd.DataFrame(np.random.default_rng(1).normal(size=(2000, N_COLUMNS)), columns=[f"x{i}" for i in range(N_COLUMNS)])
        for name in args.detectors.split(","):
            model = metaad.save(metaad.AnomalyPipeline(metaad.make_detector(name, random_state=0)).fit(train), root / name)
            for n_rows in (int(n) for n in args.rows.split(",")):
                table = root / f"t{n_rows}.parquet"
                if not table.exists():
                    write_table(table, n_rows)
                command = [sys.executable, "-c", "from metaad.cli import main; main()", "score", str(model), str(table),
                           "--out", str(root / "scores.csv")]
                start = time.perf_counter()
                child = subprocess.Popen(command, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.DEVNULL)
                _, status, usage = os.wait4(child.pid, 0)
                seconds = time.perf_counter() - start
                if status != 0:
                    raise SystemExit(f"metaad score failed with status {status} on {n_rows} rows")
                peak = usage.ru_maxrss / 1024
                row = {"detector": name, "rows": n_rows, "seconds": round(seconds, 1),
                       "rows_per_s": round(n_rows / seconds), "peak_rss_mib": round(peak),
                       "load_average": round(os.getloadavg()[0], 2)}
                append_row(args.out, row)
                print(f"| {name} | {n_rows:,} | {row['seconds']} | {row['rows_per_s']:,} | {row['peak_rss_mib']} |")
                (root / "scores.csv").unlink()


if __name__ == "__main__":
    main()
