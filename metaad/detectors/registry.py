"""The one registry of detectors: the CLI, the service, the benchmark and the search all build from it."""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from metaad.exceptions import ParameterError

if TYPE_CHECKING:
    from metaad.detectors.base import BaseDetector

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class DetectorInfo:
    """What the registry knows about a detector: its name, class, family and a one-line description."""

    name: str
    cls: type
    family: str
    description: str

    @property
    def parameters(self) -> dict[str, Any]:
        """The constructor parameters and their defaults."""
        return {
            p.name: p.default
            for p in inspect.signature(self.cls.__init__).parameters.values()
            if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
        }


_REGISTRY: dict[str, DetectorInfo] = {}


def register(name: str, *, family: str, description: str):
    """Class decorator that registers a detector under ``name``."""

    def decorator(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"detector name {name!r} is already registered to {_REGISTRY[name].cls.__name__}")
        _REGISTRY[name] = DetectorInfo(name=name, cls=cls, family=family, description=description)
        cls._registry_name = name
        return cls

    return decorator


def _ensure_loaded() -> None:
    import metaad.detectors  # noqa: F401  (registers the built-in detectors)


def get_detector_info(name: str) -> DetectorInfo:
    """Look up a detector by name, with a suggestion when the name is misspelt."""
    _ensure_loaded()
    if not isinstance(name, str) or name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"unknown detector {name!r}.{hint} Known detectors: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_detectors(*, details: bool = False) -> list[str] | list[DetectorInfo]:
    """Names of every registered detector (or their :class:`DetectorInfo` with ``details=True``).

    Examples
    --------
    >>> "iforest" in list_detectors()
    True
    """
    _ensure_loaded()
    names = sorted(_REGISTRY)
    return [_REGISTRY[n] for n in names] if details else names


def make_detector(name: str, **params: Any) -> BaseDetector:
    """Build a detector by its registered name, checking its parameters.

    Raises
    ------
    ParameterError
        For an unknown name, an unknown parameter or an invalid value.

    Examples
    --------
    >>> det = make_detector("iforest", n_estimators=50, random_state=0)
    >>> det.get_params()["n_estimators"]
    50
    """
    info = get_detector_info(name)
    accepted = info.parameters
    unknown = sorted(set(params) - set(accepted))
    renamed = [f"the parameter {old!r} was renamed {new!r}" for old, new in getattr(info.cls, "_renamed_params", {}).items()
               if old in unknown]
    if renamed:
        raise ParameterError(f"detector {name!r}: {'; '.join(renamed)}")
    if unknown:
        raise ParameterError(
            f"detector {name!r} has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(sorted(accepted))}"
        )
    detector = info.cls(**params)
    detector._validate_params()
    return detector
