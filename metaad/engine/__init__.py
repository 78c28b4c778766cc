"""Where work runs: a local process pool by default, a Ray cluster when asked.

An engine has one method, ``run(tasks, time_limit=None)``, that yields one results row per task as each
finishes (in completion order), stopping a task that runs past ``time_limit`` seconds and yielding a
``timeout`` row for it. The trial itself is :func:`metaad.benchmark.protocol.run_trial`; what to run and where results go is :func:`metaad.engine.run.run_benchmark`.

Examples
--------
>>> get_engine("local", workers=1).workers
1
"""

from __future__ import annotations

from typing import Any

from metaad.exceptions import ParameterError

#: The engine names :func:`get_engine` knows.
ENGINES: tuple[str, ...] = ("local", "ray")


def get_engine(name: str = "local", *, workers: int | None = None, ray_address: str | None = None) -> Any:
    """Build an engine by name (``local`` or ``ray``).

    Raises
    ------
    ParameterError
        For an unknown name, or ``ray_address`` with the local engine.
    """
    if name == "local":
        if ray_address is not None:
            raise ParameterError("ray_address is only used by engine='ray'")
        from metaad.engine.local import LocalEngine

        return LocalEngine(workers=workers)
    if name == "ray":
        from metaad.engine.ray_engine import RayEngine

        return RayEngine(workers=workers, address=ray_address)
    raise ParameterError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "get_engine"]
