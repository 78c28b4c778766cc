"""Reading a saved model folder safely: regular files inside the folder only, bounded, parsed without code.

:mod:`metaad.persistence` reads every file of a model folder through these helpers before it checks them
(:mod:`metaad._model_schema`) and builds anything. A model folder holds its own files: a symbolic link (to
``/dev/zero``, to a file elsewhere) is refused, as is anything that is not a regular file (a directory, a
device, a FIFO), so loading never reads outside the folder nor blocks on a special file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from metaad.exceptions import ModelFileError

#: Largest JSON file of a model folder read (the biggest written, an ``auto`` model's explanation, is ~100 kB).
JSON_LIMIT = 64 * 1024 * 1024


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def refuse_links(folder: Path) -> None:
    """Raise :class:`ModelFileError` when an entry of ``folder`` is a symbolic link.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "manifest.json").symlink_to("/dev/zero")
    >>> refuse_links(folder)
    Traceback (most recent call last):
    ...
    metaad.exceptions.ModelFileError: .../manifest.json is a symbolic link (to /dev/zero); ...
    """
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            raise ModelFileError(
                f"{folder / entry.name} is a symbolic link (to {os.readlink(entry.path)}); a model folder must hold "
                "its files itself: links are refused so that loading never reads outside the folder"
            )


def read_bytes(folder: Path, name: str, *, limit: int | None = None, missing: str | None = None) -> bytes:
    """The bytes of the regular file ``folder/name``, refusing links, special files and files over ``limit``."""
    path = folder / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ModelFileError(missing or f"{path} is missing: not a complete metaad model directory") from None
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileError(f"{path} is {_kind(info.st_mode)}, not a regular file: not a metaad model file")
    if limit is not None and info.st_size > limit:
        raise ModelFileError(f"{path} holds {info.st_size} bytes, more than the {limit} a model file may hold")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:  # swapped for a link after the check, or unreadable
        raise ModelFileError(f"{path} cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode):
            raise ModelFileError(f"{path} is {_kind(opened.st_mode)}, not a regular file: not a metaad model file")
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ModelFileError(f"{path} holds more than the {limit} bytes a model file may hold")
    return data


def read_json(folder: Path, name: str) -> Any:
    """Parse the JSON file ``folder/name`` (read with :func:`read_bytes`); any problem is a ModelFileError.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.json").write_text('{"x": [1, 2]}')
    >>> read_json(folder, "a.json")
    {'x': [1, 2]}
    >>> _ = (folder / "b.json").write_text("[" * 100_000)
    >>> read_json(folder, "b.json")
    Traceback (most recent call last):
    ...
    metaad.exceptions.ModelFileError: .../b.json is not valid JSON: nested too deeply
    """
    path = folder / name
    data = read_bytes(folder, name, limit=JSON_LIMIT)
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ModelFileError(f"{path} is not valid JSON: nested too deeply") from None


def read_arrays(folder: Path, name: str) -> dict[str, np.ndarray]:
    """The arrays of the safetensors file ``folder/name`` (parsed from its bytes: no code, no pickle)."""
    from safetensors.numpy import load

    data = read_bytes(folder, name, missing=f"{folder} has no {name}: the model is incomplete")
    try:
        return dict(load(data))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{folder / name} cannot be read: {exc}") from None


__all__ = ["JSON_LIMIT", "read_arrays", "read_bytes", "read_json", "refuse_links"]
