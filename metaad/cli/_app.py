"""The Typer application and the rule that user errors print one clear line, never a traceback."""

from __future__ import annotations

import logging
import warnings

import typer
from rich.console import Console

from metaad.exceptions import MetaADError

app = typer.Typer(
    name="metaad",
    help="Anomaly detection that learns how to detect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI, turning metaad's errors into one line on stderr and a non-zero exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)

    warnings.showwarning = show_warning
    try:
        app(args=argv, standalone_mode=False)
    except MetaADError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0
