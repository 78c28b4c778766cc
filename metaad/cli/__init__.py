"""The command line, thin: it parses, calls the library, prints.

Each group of commands lives in its own module and adds itself to :data:`app`.
"""

from __future__ import annotations

import sys

import typer

from metaad.cli._app import app, run_app
from metaad.cli import detect as _detect  # noqa: F401  (detect, score, detectors, datasets)

from metaad.cli import benchmark as _benchmark  # noqa: F401,E402  (benchmark, benchmark-report, knowledge)
from metaad.cli import select as _select  # noqa: F401,E402  (select, knowledge add)
from metaad.cli import serve as _serve  # noqa: F401,E402  (serve)
from metaad.cli import export as _export  # noqa: F401,E402  (export)
from metaad.cli import monitor as _monitor  # noqa: F401,E402  (monitor)
from metaad.cli import tune as _tune  # noqa: F401,E402  (tune)


def main() -> None:
    """Console-script entry point: ``metaad``."""
    sys.exit(run_app())


__all__ = ["app", "main", "typer"]
