"""The Ray engine: the same trials on a Ray cluster (a local one by default, or ``address``).

Ray is an optional extra (``pip install "metaad[ray]"``); it is imported only when this engine runs. Each
trial is a Ray task with one CPU and no retries; at most ``workers`` run at once, and one that passes the time
limit is cancelled with ``force=True`` (its worker process is killed) and recorded as ``timeout``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from metaad.benchmark.protocol import error_row, run_trial
from metaad.exceptions import MetaADError, ParameterError


def import_ray() -> Any:
    """Import Ray, or fail with how to install it.

    Raises
    ------
    MetaADError
        When Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise MetaADError('the Ray engine needs Ray: pip install "metaad[ray]" (or pip install "ray[default]")') from exc
    return ray


def _ray_trial(task: dict[str, Any]) -> dict[str, Any]:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    return run_trial(task)


class RayEngine:
    """Run trials as Ray tasks.

    Parameters
    ----------
    workers : int, optional
        Trials in flight at once; default the cluster's CPUs. When a local cluster is started, it gets this
        many CPUs.
    address : str, optional
        A running cluster's address (``ray://host:10001`` or ``host:6379``); default starts a local cluster.
    """

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ParameterError(f"workers must be a positive integer, got {workers!r}")
        self.workers = workers
        self.address = address

    def run(self, tasks: Sequence[dict[str, Any]], time_limit: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield one row per task as each finishes (see :mod:`metaad.engine`)."""
        pending = deque(tasks)
        if not pending:
            return
        ray = import_ray()
        started = False
        if not ray.is_initialized():
            env = {"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}}
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "runtime_env": env}
            if self.address is None:
                kwargs["num_cpus"] = self.workers or os.cpu_count() or 1
            ray.init(address=self.address, **kwargs)
            started = True
        try:
            limit = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            remote = ray.remote(num_cpus=1, max_retries=0)(_ray_trial)
            in_flight: dict[Any, tuple[dict[str, Any], float]] = {}
            while pending or in_flight:
                while pending and len(in_flight) < limit:
                    task = pending.popleft()
                    in_flight[remote.remote(task)] = (task, time.monotonic() + time_limit if time_limit else float("inf"))
                timeout = max(0.0, min(d for _, d in in_flight.values()) - time.monotonic()) if time_limit else None
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
                for ref in ready:
                    task, _ = in_flight.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as exc:  # the worker died or the task failed outside run_trial
                        yield error_row(task, "error", f"ray task failed: {type(exc).__name__}: {exc}")
                now = time.monotonic()
                for ref in [r for r, (_, d) in in_flight.items() if now >= d]:
                    task, _ = in_flight.pop(ref)
                    ray.cancel(ref, force=True)
                    yield error_row(task, "timeout", f"stopped after the time limit of {time_limit:g} s")
        finally:
            if started:
                ray.shutdown()
