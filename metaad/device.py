"""The one device helper: ``device="auto"`` picks CUDA when present, else the CPU; torch threads sized on purpose."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from metaad.exceptions import ParameterError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn a user's device request into a ``torch.device``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device or None
        ``"auto"`` (or None) selects the first CUDA device when one exists, else the CPU.

    Raises
    ------
    ParameterError
        When the requested device does not exist on this machine.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"device={device!r} is not a device name; expected 'auto', 'cpu' or 'cuda[:N]'") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"device={device!r} was requested but no CUDA device is available; use device='auto' or 'cpu'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ParameterError(
                f"device={device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ParameterError(f"device={device!r} was requested but MPS is not available")
    return resolved


def default_num_threads(n_params: int, batch_size: int, cores: int | None = None) -> int:
    """How many CPU threads a training step of this size should use (on ``cores`` cores; default: this machine's).

    Small networks lose time to thread synchronisation (a small MLP step measured 0.3 ms on one thread but
    176 ms on two while another process used the cores; a 166-feature autoencoder took 23 s to fit on two
    contended threads and 0.8 s on one), so one thread is used unless a step carries enough arithmetic
    (roughly ``6 * n_params * batch_size`` flops, above 1 GFLOP) to amortise it.

    Examples
    --------
    >>> default_num_threads(60_000, 256)
    1
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    flops = 6 * n_params * batch_size
    if flops < 1e9:
        return 1
    return max(1, min(cores, 4))


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n_threads)`` and restore the previous value afterwards."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
