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


def _open_regular(folder: Path, name: str, missing: str | None) -> tuple[Any, int]:
    """An open binary handle on the regular file ``folder/name`` (links and special files refused), and its size."""
    path = folder / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ModelFileError(missing or f"{path} is missing: not a complete metaad model directory") from None
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileError(f"{path} is {_kind(info.st_mode)}, not a regular file: not a metaad model file")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:  # swapped for a link after the check, or unreadable
        raise ModelFileError(f"{path} cannot be opened: {exc.strerror}") from None
    handle = os.fdopen(fd, "rb")
    opened = os.fstat(handle.fileno())
    if not stat.S_ISREG(opened.st_mode):
        handle.close()
        raise ModelFileError(f"{path} is {_kind(opened.st_mode)}, not a regular file: not a metaad model file")
    return handle, opened.st_size


def read_bytes(folder: Path, name: str, *, limit: int, missing: str | None = None) -> bytes:
    """The bytes of the regular file ``folder/name``, refusing links, special files and files over ``limit``."""
    handle, size = _open_regular(folder, name, missing)
    with handle:
        if size > limit:
            raise ModelFileError(f"{folder / name} holds {size} bytes, more than the {limit} a model file may hold")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{folder / name} holds more than the {limit} bytes a model file may hold")
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


def _declared_size(header: Any) -> int:
    """Bytes of array data a safetensors header declares (the end of its last array)."""
    if not isinstance(header, dict):
        raise ValueError("the header is not an object")
    ends = [0]
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)):
            raise ValueError(f"array {key!r} has no valid data_offsets")
        ends.append(offsets[1])
    return max(ends)


def read_arrays(folder: Path, name: str) -> dict[str, np.ndarray]:
    """The arrays of the safetensors file ``folder/name`` (parsed from its bytes: no code, no pickle).

    The header is read first and must declare exactly the bytes the file holds, so a file padded or
    replaced by a huge (sparse) one is refused before its contents are read.
    """
    from safetensors.numpy import load

    path = folder / name
    handle, size = _open_regular(folder, name, f"{folder} has no {name}: the model is incomplete")
    with handle:
        try:
            head = handle.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < length <= min(JSON_LIMIT, size - 8):
                raise ValueError(f"its header length ({length}) does not fit in its {size} bytes")
            header = json.loads(handle.read(length).decode("utf-8"))
            declared = 8 + length + _declared_size(header)
            if declared != size:
                raise ValueError(f"its header declares {declared} bytes but the file holds {size}")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ModelFileError(f"{path} is not a safetensors file: {exc}") from None
        handle.seek(0)
        data = handle.read(size)
    try:
        return dict(load(data))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{path} cannot be read: {exc}") from None


__all__ = ["JSON_LIMIT", "read_arrays", "read_bytes", "read_json", "refuse_links"]
