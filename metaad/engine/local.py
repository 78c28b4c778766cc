"""The local engine: long-lived worker processes, one trial each at a time, killed and replaced on timeout.

Workers come from a ``forkserver`` that has imported the detectors once, so starting (or replacing) a worker
is cheap and no worker inherits the parent's thread state. Each worker runs with one BLAS/OpenMP/torch thread:
parallelism comes from the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from metaad.benchmark.protocol import error_row, run_trial
from metaad.exceptions import ParameterError

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _exit_when_parent_goes(conn: Connection, state: dict[str, int | None]) -> None:
    """Watchdog thread of a worker: end the worker when the parent dies or closes the pipe mid-trial.

    While a trial runs the parent sends nothing (it waits for the row, or kills the worker), so the pipe
    becoming readable then means end-of-file: the parent was killed (even with SIGKILL, which no handler
    sees). Without this, orphaned workers ran their trial to the end and then died on a broken pipe.
    """
    while True:
        trial = state["trial"]
        if trial is None:
            time.sleep(0.2)
            continue
        try:
            readable = bool(wait([conn], timeout=0.5))
        except OSError:
            readable = True
        if readable and state["trial"] == trial:
            os._exit(0)


def _worker_main(conn: Connection) -> None:
    """Receive tasks, send back rows, until told to stop (``None``) or the pipe closes.

    The worker leaves interrupts to its parent (Ctrl-C reaches the whole process group: the parent stops its
    workers), and ends quietly, without a traceback, when the parent is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    state: dict[str, int | None] = {"trial": None}
    threading.Thread(target=_exit_when_parent_goes, args=(conn, state), daemon=True).start()
    count = 0
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        count += 1
        state["trial"] = count
        row = run_trial(task)
        state["trial"] = None  # before sending: once the row is sent the parent may send the next task
        try:
            conn.send(row)
        except (BrokenPipeError, EOFError, OSError):
            return


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: dict[str, Any] | None = None
        self.deadline = float("inf")

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                self.process.kill()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class LocalEngine:
    """Run trials in a pool of local worker processes.

    Parameters
    ----------
    workers : int, optional
        Parallel worker processes; default the number of CPUs.

    Examples
    --------
    >>> LocalEngine(workers=2).workers
    2
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ParameterError(f"workers must be a positive integer, got {workers!r}")
        self.workers = workers or os.cpu_count() or 1

    def run(self, tasks: Sequence[dict[str, Any]], time_limit: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield one row per task as each finishes (see :mod:`metaad.engine`)."""
        pending = deque(tasks)
        if not pending:
            return
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["metaad.benchmark.protocol", "metaad.detectors"])
        pool = [_Worker(ctx) for _ in range(min(self.workers, len(pending)))]
        try:
            while pending or any(w.task is not None for w in pool):
                for worker in pool:
                    if worker.task is None and pending:
                        worker.task = pending.popleft()
                        worker.deadline = time.monotonic() + time_limit if time_limit else float("inf")
                        worker.conn.send(worker.task)
                busy = [w for w in pool if w.task is not None]
                timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic()) if time_limit else None
                ready = wait([w.conn for w in busy], timeout=timeout)
                for index, worker in enumerate(pool):
                    if worker.task is None:
                        continue
                    if worker.conn in ready:
                        try:
                            row = worker.conn.recv()
                        except (EOFError, OSError):
                            code = worker.process.exitcode
                            row = error_row(worker.task, "error", f"worker process died (exit code {code})")
                            worker.task = None
                            worker.stop(kill=True)
                            pool[index] = _Worker(ctx)
                            yield row
                            continue
                        worker.task = None
                        yield row
                    elif time.monotonic() >= worker.deadline:
                        row = error_row(worker.task, "timeout", f"stopped after the time limit of {time_limit:g} s")
                        worker.task = None
                        worker.stop(kill=True)
                        pool[index] = _Worker(ctx)
                        yield row
        finally:
            for worker in pool:
                worker.stop(kill=worker.task is not None)
