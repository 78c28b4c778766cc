"""Chunked batch scoring (``metaad score``): rows/s and peak memory as the table grows.

Generates Parquet tables of N rows x 20 float columns in a temporary folder (written row group by row
group, never held whole; deleted once both detectors have scored it), fits each detector on 2,000 rows,
and runs the shipped ``metaad score`` command in a child process per (N, detector), reading the child's
peak resident memory from the kernel (``wait4``'s ``ru_maxrss``). Memory that does not grow with N is
the claim under test. Each result is appended to ``results/batch_score.csv`` as soon as it is measured
(with the date, machine, load and command), and ``results/batch_score.md`` is rewritten from the CSV, so a
long run can be stopped and resumed with ``--skip-done``.

    PYTHONPATH=. nice -n 10 python benchmarks/bench_batch_score.py --rows 1000000,10000000,50000000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import append_row, cpu_model  # noqa: E402

import metaad  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N_COLUMNS = 20
ROW_GROUP = 250_000
FIELDS = ("date_utc", "detector", "rows", "seconds", "rows_per_s", "peak_rss_mib", "chunk_rows",
          "load_average_start", "load_average_end", "machine", "command")


def machine() -> str:
    """CPU model, cores and memory of this machine, in one line."""
    cpu = cpu_model()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, python {platform.python_version()}, metaad {metaad.__version__}"


def write_table(path: Path, n_rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(N_COLUMNS)]
    schema = pa.schema([(name, pa.float64()) for name in names])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n_rows, ROW_GROUP):
            block = rng.normal(size=(min(ROW_GROUP, n_rows - start), N_COLUMNS))
            writer.write_table(pa.Table.from_arrays([pa.array(block[:, i]) for i in range(N_COLUMNS)], schema=schema))


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_markdown(csv_path: Path, md_path: Path) -> None:
    """Rewrite the Markdown table from every dated row of the CSV (rows of older runs lack the date)."""
    rows = [r for r in read_rows(csv_path) if r.get("date_utc")]
    lines = ["# Batch scoring: `metaad score` on N rows x 20 float columns (Parquet), chunked", "",
             "Written by `benchmarks/bench_batch_score.py` from `batch_score.csv`; peak RSS is the child process's "
             "`ru_maxrss`. Memory flat in N is the claim under test.", "",
             "| date (UTC) | detector | rows | seconds | rows/s | peak RSS MiB | chunk rows | load avg start/end |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['date_utc']} | {r['detector']} | {int(r['rows']):,} | {r['seconds']} | "
                     f"{int(float(r['rows_per_s'])):,} | {r['peak_rss_mib']} | {r['chunk_rows']} | "
                     f"{r['load_average_start']} / {r['load_average_end']} |")
    machines = sorted({r["machine"] for r in rows})
    commands = sorted({r["command"] for r in rows})
    lines += ["", "Machine: " + "; ".join(machines), "", "Commands:", ""] + [f"    {c}" for c in commands]
    tmp = md_path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(md_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated table sizes")
    parser.add_argument("--detectors", default="iforest,autoencoder")
    parser.add_argument("--chunk-rows", type=int, default=65_536)
    parser.add_argument("--skip-done", action="store_true", help="skip (detector, rows) already in the CSV")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the generated tables (default: system temp)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "batch_score.csv")
    args = parser.parse_args()
    prefix = "".join(f"{k}={os.environ[k]} " for k in ("OMP_NUM_THREADS",) if k in os.environ)
    niceness = os.nice(0)
    command = (f"{prefix}PYTHONPATH=. {f'nice -n {niceness} ' if niceness else ''}python benchmarks/bench_batch_score.py "
               + shlex.join(sys.argv[1:]))
    where = machine()
    print(f"machine: {where}; load average {os.getloadavg()[0]:.2f} at start")
    done = {(r["detector"], r["rows"]) for r in read_rows(args.out) if r.get("date_utc")} if args.skip_done else set()
    print("| detector | rows | seconds | rows/s | peak RSS MiB |\n|---|---:|---:|---:|---:|", flush=True)
    detectors = args.detectors.split(",")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        root = Path(tmp)
        train = pd.DataFrame(np.random.default_rng(1).normal(size=(2000, N_COLUMNS)), columns=[f"x{i}" for i in range(N_COLUMNS)])
        models = {name: metaad.save(metaad.AnomalyPipeline(metaad.make_detector(name, random_state=0)).fit(train), root / name)
                  for name in detectors}
        for n_rows in (int(n) for n in args.rows.split(",")):
            todo = [name for name in detectors if (name, str(n_rows)) not in done]
            if not todo:
                continue
            table = root / f"t{n_rows}.parquet"
            write_table(table, n_rows)
            for name in todo:
                cmd = [sys.executable, "-c", "from metaad.cli import main; main()", "score", str(models[name]), str(table),
                       "--out", str(root / "scores.csv"), "--chunk-rows", str(args.chunk_rows)]
                load_start = os.getloadavg()[0]
                start = time.perf_counter()
                child = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO, stdout=subprocess.DEVNULL)
                _, status, usage = os.wait4(child.pid, 0)
                seconds = time.perf_counter() - start
                if status != 0:
                    raise SystemExit(f"metaad score failed with status {status} on {n_rows} rows")
                peak = usage.ru_maxrss / 1024
                row = {"date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), "detector": name,
                       "rows": n_rows, "seconds": round(seconds, 1), "rows_per_s": round(n_rows / seconds),
                       "peak_rss_mib": round(peak), "chunk_rows": args.chunk_rows,
                       "load_average_start": round(load_start, 2), "load_average_end": round(os.getloadavg()[0], 2),
                       "machine": where, "command": command}
                append_row(args.out, row, FIELDS)
                write_markdown(args.out, args.out.with_suffix(".md"))
                print(f"| {name} | {n_rows:,} | {row['seconds']} | {row['rows_per_s']:,} | {row['peak_rss_mib']} |", flush=True)
                (root / "scores.csv").unlink()
            table.unlink()


if __name__ == "__main__":
    main()
