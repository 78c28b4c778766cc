"""Shared by the benchmark scripts: append one result row to a CSV file (a run can be stopped and resumed), and
name the machine's CPU."""

from __future__ import annotations

import csv
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def append_row(path: Path, row: dict[str, Any], fieldnames: Sequence[str] | None = None) -> None:
    """Append ``row`` to the CSV at ``path``, writing the header first when the file is new.

    ``fieldnames`` fixes the columns (default: the row's keys); keys the row lacks are left empty.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    write_header = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames or row))
        if write_header:
            writer.writeheader()
        writer.writerow(row)


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's processor or machine name elsewhere)."""
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
