"""The Typer application and the rules every command follows.

* A user error prints one line on stderr and exits with status 2: metaad's own errors
  (:class:`~metaad.exceptions.MetaADError`), usage errors found by the parser (unknown option, missing
  argument, a value of the wrong type) and :func:`fail`. An interrupt (Ctrl-C, SIGTERM) exits with 130.
* Text the user supplied (file names, column names, values) and error messages are printed as they are:
  the consoles interpret no Rich markup, so ``metaad[ray]`` or ``temp[c]`` keep their brackets.
* Output to a pipe or a file is not wrapped at 80 columns, so a suggested command stays on one line.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import types
import typing
import warnings
import inspect
from pathlib import Path
from typing import Any, NoReturn

import typer
import typer.core
from rich.console import Console
from rich.text import Text
from typer._click import exceptions as click_exceptions  # Typer bundles its own click: its classes, not click's

from metaad._version import __version__
from metaad.exceptions import MetaADError

#: Exit status of a user error (bad option, bad input, refused output folder), as click uses for usage errors.
EXIT_USAGE = 2
#: Exit status after an interrupt (Ctrl-C or SIGTERM): 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130

#: Width of the consoles when stdout/stderr is not a terminal: lines are never wrapped for a pipe or a file.
_PIPE_WIDTH = 10_000


def _make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    # markup=False: brackets in user text and messages are printed, never read as Rich tags.
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False,
                   width=None if terminal else _PIPE_WIDTH, soft_wrap=not terminal)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"metaad {__version__}")
        raise typer.Exit(0)


def examples(*lines: str) -> str:
    """An ``Examples:`` epilog for ``--help``, one command a line, never re-wrapped."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    name="metaad",
    help="Anomaly detection that learns how to detect.",
    epilog=examples(
        "metaad detect shuttle                          # a bundled dataset",
        "metaad detect payments.csv --label-col is_fraud --out runs/payments",
        "metaad detectors iforest                       # a detector's parameters",
        "metaad COMMAND --help                          # more examples per command",
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the metaad version and exit."),
) -> None:
    """Anomaly detection that learns how to detect."""


console = _make_console()
err_console = _make_console(stderr=True)


def error_line(message: object) -> Text:
    """``error: MESSAGE`` with the message taken literally (no markup), for :data:`err_console`."""
    return Text.assemble(("error:", "bold red"), " ", str(message))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code`` (2: a user error)."""
    err_console.print(error_line(message))
    raise typer.Exit(code)


#: The value label ``--help`` shows for a flag, where the type alone says too little (Typer's default labels
#: read ``<str>`` or ``<list[str]>``). Flags not named here are labelled by their type (:data:`_TYPE_LABELS`).
FLAG_LABELS = {
    "--detector": "NAME", "--label-col": "COLUMN", "--contamination": "SHARE", "--threshold": "RULE",
    "--param": "KEY=VALUE", "--missing": "impute|error", "--data": "PATH", "--zoo": "NAME",
    "--detectors": "NAME,NAME,...", "--seeds": "INT,INT,...", "--engine": "local|ray", "--ray-address": "ADDRESS",
    "--time-limit": "SECONDS", "--results": "FILE", "--family": "FAMILY", "--knowledge-dir": "DIR", "--path": "DIR",
    "--sep": "CHAR", "--encoding": "CODEC", "--drop-cols": "COLUMN,...", "--id-col": "COLUMN", "--known-anomalies-col": "COLUMN",
}
_TYPE_LABELS = {int: "INT", float: "NUMBER", str: "TEXT", Path: "PATH"}


if hasattr(typer.core, "TyperArgument"):
    # Typer shows an argument as "INPUT <str>" in --help; its name (a label set by label_flags) says enough.
    typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]


def _label_of(annotation: Any) -> str | None:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (list, tuple, typing.Union, types.UnionType) and args:
        return _label_of(args[0])
    return _TYPE_LABELS.get(annotation)


def label_flags(typer_app: typer.Typer) -> None:
    """Give every option and argument of every command a plain value label in ``--help`` (``--out PATH``,
    ``--param KEY=VALUE``, ``INPUT``) unless the command set one."""
    groups = [typer_app]
    while groups:
        group = groups.pop()
        groups.extend(info.typer_instance for info in group.registered_groups if info.typer_instance)
        for command in group.registered_commands:
            hints = typing.get_type_hints(command.callback) if command.callback else {}
            for name, parameter in inspect.signature(command.callback).parameters.items():
                info = parameter.default
                if isinstance(info, typer.models.ArgumentInfo) and info.metavar is None:
                    info.metavar = name.upper()
                elif isinstance(info, typer.models.OptionInfo) and info.metavar is None and hints.get(name) is not bool:
                    flags = [d for d in info.param_decls or () if d.startswith("--")]
                    label = next((FLAG_LABELS[f] for f in flags if f in FLAG_LABELS), None) or _label_of(hints.get(name))
                    if label is not None:
                        info.metavar = label


def _usage_hint(exc: click_exceptions.UsageError) -> str:
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return " (see `metaad --help`)"
    return f" (see `{ctx.command_path} --help`)"


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
    # Turn SIGTERM into the same unwinding as Ctrl-C: `finally` blocks run, so worker processes are stopped
    # and temporary output folders removed, instead of the process vanishing and leaving them behind.
    raise KeyboardInterrupt


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status: 0, 2 for a user error (one line on stderr), 130 if interrupted.

    Examples
    --------
    >>> run_app(["--version"])
    metaad 0.1.0
    0
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        err_console.print(Text.assemble(("warning:", "yellow"), " ", str(message)))

    previous_showwarning = warnings.showwarning
    warnings.showwarning = show_warning
    previous_sigterm = None
    try:
        previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave the signal alone
        pass
    label_flags(app)
    try:
        result = app(args=argv, standalone_mode=False, prog_name="metaad")
    except MetaADError as exc:
        err_console.print(error_line(exc))
        return EXIT_USAGE
    except click_exceptions.NoArgsIsHelpError as exc:
        typer.echo(exc.format_message(), err=True)  # `metaad` alone: the list of commands, on stderr
        return EXIT_USAGE
    except click_exceptions.ClickException as exc:  # unknown option, missing argument, value of the wrong type
        hint = _usage_hint(exc) if isinstance(exc, click_exceptions.UsageError) else ""
        err_console.print(error_line(exc.format_message() + hint))
        return EXIT_USAGE
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our stdout went away (`metaad detectors | head -1`): stop quietly.
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    finally:
        warnings.showwarning = previous_showwarning
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    if result == EXIT_INTERRUPTED:  # Typer turns a KeyboardInterrupt inside a command into Exit(130)
        err_console.print("interrupted")
    return result if isinstance(result, int) else 0
