"""What one running service holds: its settings, and the model it serves, swapped whole on reload."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from metaad.exceptions import ParameterError
from metaad.serving.model import ServedModel


@dataclass(frozen=True)
class ServeSettings:
    """Limits and options of one service.

    Attributes
    ----------
    max_rows : int
        Rows per ``/score`` request; more is a 413.
    max_body_bytes : int
        Bytes per request body (``/score/file`` excepted); more is a 413.
    max_file_bytes : int
        Bytes per ``/score/file`` upload; more is a 413. The upload is spooled to a temporary file (in
        memory up to 8 MiB) and scored in chunks, so this bounds disk, not memory.
    timeout : float
        Seconds a request may spend scoring; beyond that it is answered 503.
    token : str or None
        The bearer token every endpoint but ``/health`` requires; None leaves them open (and disables
        ``/admin/reload``: use SIGHUP).
    reload_on_sighup : bool
        Install a SIGHUP handler that reloads the model (only where the server runs in the main thread).
    batch_rows : int
        Rows of concurrent ``/score`` requests scored together in one detector call (at most this many;
        0 scores each request alone); see :mod:`metaad.serving.batching`.
    supervised : bool
        The app runs in one of several uvicorn worker processes: ``/admin/reload`` then sends SIGHUP to the
        supervising process, which starts fresh workers on the current model folder and retires the old
        ones once the new ones are ready.
    """

    max_rows: int = 10_000
    max_body_bytes: int = 10 * 2**20
    max_file_bytes: int = 2**30
    timeout: float = 30.0
    token: str | None = None
    reload_on_sighup: bool = False
    batch_rows: int = 1024
    supervised: bool = False

    def check(self) -> None:
        """Raise :class:`ParameterError` naming the first limit that is not positive."""
        for name in ("max_rows", "max_body_bytes", "max_file_bytes", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ParameterError(f"{name}={value!r} must be a positive number")
        if isinstance(self.batch_rows, bool) or not isinstance(self.batch_rows, int) or self.batch_rows < 0:
            raise ParameterError(f"batch_rows={self.batch_rows!r} must be an integer >= 0 (0: no batching)")


class ModelHolder:
    """The model being served, swapped whole by :meth:`reload` (a reference assignment, atomic in Python).

    A request reads :attr:`current` once and keeps that object, so it finishes on the version it started
    with while later requests get the new one.
    """

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        self.current = ServedModel.load(self.model_dir)
        self._lock = threading.Lock()

    def reload(self, model_dir: str | Path | None = None) -> tuple[ServedModel, ServedModel]:
        """Load ``model_dir`` (default: the current folder, re-read) and swap it in; return (old, new).

        On any error the current model stays in service and the error propagates.
        """
        with self._lock:
            folder = Path(model_dir) if model_dir is not None else self.model_dir
            new = ServedModel.load(folder)
            old, self.current, self.model_dir = self.current, new, folder
            return old, new
