"""Atomic file and directory writes: a crash mid-write never leaves a half-written output behind.

An output folder (``metaad detect --out``, :func:`metaad.save`, a knowledge base) is built in a hidden
sibling ``.NAME.PID-XXXXXXXX.partial`` and put in place in one step:

* where the operating system can exchange two names atomically (Linux ``renameat2(RENAME_EXCHANGE)``),
  the new folder and the old one swap names, so ``NAME`` always holds a complete result, old or new,
  whatever moment the process is killed at;
* elsewhere the old folder is first renamed to ``.NAME.PID-XXXXXXXX.old``; a kill in the short gap before
  the new folder is renamed into place leaves no ``NAME``, and the next write to ``NAME`` puts the old
  folder back before anything else (:func:`recover_directory`).

Either way, hidden ``.partial``/``.old`` leftovers of killed runs are removed by the next write to the same
target. A lock file ``.NAME.lock`` (``flock``) held while writing makes a second concurrent write to the same
target fail at once with a clear error instead of both runs colliding.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any
from pathlib import Path

from metaad.exceptions import MetaADError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking
    fcntl = None  # type: ignore[assignment]


class OutputError(MetaADError):
    """An output path cannot be written: it is a file, the current folder, a folder metaad did not write,
    or another run is writing it now."""


def _umask() -> int:
    # /proc avoids os.umask(0), which briefly gives files created by other threads the mode 0666.
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask (0o644 under umask 022)."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None,
                newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` in one atomic rename.

    The file gets the mode ``open()`` would give it under the umask, is fsynced before the rename, and is removed
    if the block raises, so ``path`` holds the old content or the whole new one, never a part.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> with atomic_file(p, "w", encoding="utf-8", newline="") as handle:
    ...     _ = handle.write("a,b\\n")
    >>> p.read_text()
    'a,b\\n'
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give the path of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"cannot write {path}: a part of {path.parent} is a file, not a folder") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = atomic_write_bytes(p, b"hello")
    >>> p.read_bytes()
    b'hello'
    """
    with atomic_file(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


# ----------------------------------------------------------------------------------------------------------
# Exchanging two names atomically

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
        _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        _renameat2.restype = ctypes.c_int


def exchange(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Swap the names ``a`` and ``b`` (both must exist) in one atomic step; False where the OS cannot.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a").write_text("A"); _ = (root / "b").write_text("B")
    >>> if exchange(root / "a", root / "b"):
    ...     assert (root / "a").read_text() == "B"
    """
    if _renameat2 is None:
        return False
    result = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False  # no renameat2 in this kernel, or a file system without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(a), None, str(b))


# ----------------------------------------------------------------------------------------------------------
# Locking a target, and the leftovers of killed runs

def _leftover_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"\." + re.escape(name) + r"\.\d+-[0-9a-f]{8}\.(partial|old)")


def _hidden_sibling(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def recover_directory(path: str | os.PathLike[str]) -> None:
    """Put back an old folder a killed swap left aside, then remove the leftovers of killed writes to ``path``.

    Only call it while holding the target's lock (:func:`atomic_directory` does): a ``.partial`` folder of a
    run still writing would otherwise be removed under it.
    """
    path = Path(path)
    pattern = _leftover_pattern(path.name)
    try:
        leftovers = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except FileNotFoundError:
        return
    if not os.path.lexists(path):
        olds = sorted((p for p in leftovers if p.name.endswith(".old")), key=lambda p: p.stat().st_mtime)
        if olds:  # the previous complete result, set aside by a swap that was killed before its second rename
            os.rename(olds[-1], path)
            leftovers.remove(olds[-1])
    for leftover in leftovers:
        _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` next to ``path`` (``flock``); fail at once if another process holds it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock_path = path.parent / f".{path.name}.lock"
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"another metaad process is writing {path} right now (it holds {lock_path}); "
                f"wait for it to finish or write somewhere else"
            ) from None
        # The holder before us unlinks the lock file when it is done: if we locked that unlinked file,
        # retry on the new one, so two processes can never both hold "the" lock.
        try:
            current = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Give every file the mode ``open()`` gives under the umask and flush it to disk."""
    mode = file_mode()
    for folder, _, files in os.walk(root):
        for name in files:
            file = os.path.join(folder, name)
            if os.path.islink(file):
                continue
            os.chmod(file, mode)  # safetensors writes 0600; every file of an output gets one mode
            fd = os.open(file, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(root)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_target(path: str | os.PathLike[str]) -> Path:
    """Refuse a folder target that cannot be replaced as a whole: an existing file, the current folder or one
    of its parents. Returns the path to write (a symlink to a folder is followed).

    Examples
    --------
    >>> check_target(".")
    Traceback (most recent call last):
    ...
    metaad._io.OutputError: . is the current folder; metaad writes its output as a whole new folder, so give a new subfolder (for example ./metaad-out)
    """
    path = Path(path)
    if path.is_symlink() and path.is_dir():
        path = Path(os.path.realpath(path))
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        which = "the current folder" if resolved == cwd else "a parent of the current folder"
        raise OutputError(f"{path} is {which}; metaad writes its output as a whole new folder, "
                          f"so give a new subfolder (for example {os.path.join(str(path), 'metaad-out')})")
    if os.path.lexists(path) and not path.is_dir():
        raise OutputError(f"{path} exists and is a file, not a folder; give the path of a folder to write")
    return path


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike[str],
    *,
    check: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Build a directory in a temporary sibling and put it in place only when the block succeeds.

    While the block runs, ``path`` keeps its previous contents; after it, ``path`` holds the new ones. A
    kill at any moment leaves the old or the new complete folder (see the module docstring). If the block
    raises, nothing is left behind, not even the parent folders this call created.

    Parameters
    ----------
    path : path-like
        The folder to write. A file, the current folder or a parent of it is refused (:class:`OutputError`).
    check : callable, optional
        Called with ``path`` when it exists as a non-empty folder, while holding the lock and before the
        block runs; it raises (an :class:`OutputError`) to refuse replacing that folder. Default: replace it.

    Raises
    ------
    OutputError
        When ``path`` cannot be written (see above), ``check`` refuses it, or another process is writing it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with atomic_directory(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("1")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    >>> sorted(p.name for p in target.parent.iterdir())  # no lock file, no hidden leftovers
    ['out']
    """
    path = check_target(path)
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"cannot write {path}: a part of {path.parent} is a file, not a folder") from None
    try:
        with _locked(path):
            recover_directory(path)
            if check is not None and path.is_dir() and any(path.iterdir()):
                check(path)
            tmp = _hidden_sibling(path, "partial")
            os.mkdir(tmp)  # mode 0777 less the umask, as any new folder
            try:
                yield tmp
            except BaseException:
                _remove(tmp)
                raise
            _fsync_tree(tmp)
            if not os.path.lexists(path):
                os.rename(tmp, path)
            elif exchange(tmp, path):  # one atomic step: tmp now holds the previous result
                _remove(tmp)
            else:
                old = _hidden_sibling(path, "old")
                os.rename(path, old)  # a kill before the next rename is undone by the next write's recovery
                os.rename(tmp, path)
                _remove(old)
            _fsync_dir(path.parent)
    except BaseException:
        for folder in created:  # the parents this call made, innermost first, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def owned_folder_check(*markers: str, what: str, hint: str) -> Callable[[Path], None]:
    """A ``check`` for :func:`atomic_directory` that replaces a folder only when it holds one of ``markers``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> owned_folder_check("manifest.json", what="a metaad model", hint="choose another path")(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    metaad._io.OutputError: ... exists and is not a metaad model (it has no manifest.json): choose another path
    """
    def check(path: Path) -> None:
        if not any((path / marker).exists() for marker in markers):
            raise OutputError(f"{path} exists and is not {what} (it has no {' or '.join(markers)}): {hint}")

    return check
