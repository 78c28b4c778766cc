"""The search space of ``metaad tune``: every tunable dimension of every unsupervised family, declared once.

A :class:`Dimension` is a constructor parameter with the values the search may give it: a categorical one
lists its choices; a numeric one is discretized on a grid over its range (log-spaced where the scale matters,
as the learning rate), so one categorical head per dimension covers the whole space. The zoo's
configurations (``default-v1`` and ``default-v2``) all lie inside this space (tests/benchmark/test_space.py),
and so does every family's default: the search can reach whatever the knowledge base measured, and more.

A dimension a configuration leaves out takes the family's default; :func:`canonical_params` drops values equal
to the default, so that a sampled configuration and the zoo's configuration with the same detector share one
``config_id``.

Examples
--------
>>> [d.name for d in family_space("knn")]
['n_neighbors', 'method', 'p']
>>> space_size("iforest")
72
>>> canonical_params("knn", {"n_neighbors": 5, "method": "mean"})
{'method': 'mean'}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from metaad.exceptions import ParameterError


@dataclass(frozen=True)
class Dimension:
    """One tunable parameter: its name, its kind, its range and the discrete values the search draws from.

    Parameters
    ----------
    name : str
        The detector's constructor parameter.
    kind : {"categorical", "int", "float"}
        What the values are; numeric ones are discretized on ``choices``.
    choices : tuple
        The values the search may give it, in order (for numeric kinds, ascending, with ``None``/strings such
        as ``"auto"`` first when the parameter takes them).
    log : bool, default False
        Whether the numeric grid is log-spaced (learning rate, weight decay).

    Examples
    --------
    >>> d = Dimension("dropout", "float", (0.0, 0.1, 0.2, 0.3))
    >>> d.range, d.index(0.2)
    ((0.0, 0.3), 2)
    """

    name: str
    kind: str
    choices: tuple[Any, ...]
    log: bool = False

    @property
    def range(self) -> tuple[Any, Any] | None:
        """``(low, high)`` of the numeric choices (None for a categorical dimension)."""
        numbers = [c for c in self.choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        return (min(numbers), max(numbers)) if self.kind != "categorical" and numbers else None

    def index(self, value: Any) -> int:
        """The position of ``value`` among the choices (lists and tuples alike; floats to 1e-9 relative).

        Raises
        ------
        ValueError
            When ``value`` is not a choice.
        """
        value = _as_tuple(value)
        for i, choice in enumerate(self.choices):
            if _same(choice, value):
                return i
        raise ValueError(f"{self.name}={value!r} is not one of {self.choices}")


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or (a == b and type(a) is type(b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return type(a) is type(b) and a == b


#: Architecture, training and options shared by the deep detectors. ``max_steps`` bounds the optimizer steps of
#: one fit whatever the epochs say (the deep detectors' own default is 250): it is the search's cost knob.
DEEP_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("hidden_sizes", "categorical", (None, (32,), (64,), (64, 32), (128, 64), (128, 64, 32), (256, 128))),
    Dimension("latent_size", "int", (None, 2, 4, 8, 16, 32)),
    Dimension("activation", "categorical", ("relu", "leaky_relu", "tanh", "elu", "gelu")),
    Dimension("dropout", "float", (0.0, 0.1, 0.2, 0.3)),
    Dimension("n_epochs", "int", (3, 5, 10, 20)),
    Dimension("max_steps", "int", (50, 100, 250)),
    Dimension("batch_size", "int", (32, 64, 128, 256)),
    Dimension("learning_rate", "float", (2e-4, 1e-3, 3e-3, 1e-2, 3e-2), log=True),
    Dimension("weight_decay", "float", (0.0, 1e-5, 1e-4, 1e-3), log=True),
    Dimension("trim_fraction", "float", ("auto", 0.0, 0.05, 0.1)),
    Dimension("adversarial", "categorical", (None, "pgd")),
    Dimension("epsilon", "float", (0.05, 0.1, 0.2)),
)

#: Each unsupervised family's dimensions (an empty tuple: nothing to tune). DevNet, which needs labels to
#: train, is not searched: with labels the search uses them to judge unsupervised candidates.
SPACE: dict[str, tuple[Dimension, ...]] = {
    "iforest": (
        Dimension("n_estimators", "int", (50, 100, 200, 300)),
        Dimension("max_samples", "categorical", ("auto", 0.25, 0.5, 1.0, 1024, 4096)),
        Dimension("max_features", "float", (0.5, 0.75, 1.0)),
    ),
    "ecod": (),
    "copod": (),
    "hbos": (
        Dimension("n_bins", "int", ("auto", 5, 10, 20, 50)),
        Dimension("alpha", "float", (0.1, 0.3, 0.5)),
        Dimension("tol", "float", (0.1, 0.3, 0.5)),
    ),
    "knn": (
        Dimension("n_neighbors", "int", (1, 3, 5, 10, 20, 50, 100, 200)),
        Dimension("method", "categorical", ("largest", "mean", "median")),
        Dimension("p", "int", (1, 2)),
    ),
    "lof": (
        Dimension("n_neighbors", "int", (5, 10, 15, 20, 35, 50, 75, 100, 200)),
        Dimension("p", "int", (1, 2)),
    ),
    "ocsvm": (
        Dimension("kernel", "categorical", ("rbf", "linear", "poly", "sigmoid")),
        Dimension("nu", "float", (0.05, 0.1, 0.3, 0.5, 0.7)),
        Dimension("gamma", "float", ("auto", "scale", 0.01, 0.1)),
    ),
    "pca": (
        Dimension("n_components", "float", (None, 0.5, 0.7, 0.9, 0.95, 0.99)),
        Dimension("whiten", "categorical", (False, True)),
        Dimension("weighted", "categorical", (True, False)),
    ),
    "loda": (
        Dimension("n_bins", "int", (5, 10, 20, 50)),
        Dimension("n_random_cuts", "int", (50, 100, 200)),
    ),
    "autoencoder": DEEP_DIMENSIONS,
    "vae": DEEP_DIMENSIONS + (Dimension("score_type", "categorical", ("elbo", "reconstruction")),
                              Dimension("beta", "float", (0.5, 1.0, 2.0))),
    "deep_svdd": DEEP_DIMENSIONS,
    "wgan": tuple(d for d in DEEP_DIMENSIONS if d.name not in ("max_steps", "learning_rate"))
    + (Dimension("learning_rate", "float", (1e-4, 2e-4, 1e-3, 3e-3, 1e-2), log=True),
       Dimension("score_type", "categorical", ("izif", "critic"))),
}


def families() -> list[str]:
    """The searched families, in declaration order.

    Examples
    --------
    >>> families()[:3]
    ['iforest', 'ecod', 'copod']
    """
    return list(SPACE)


def family_space(family: str) -> tuple[Dimension, ...]:
    """The dimensions of ``family``.

    Raises
    ------
    ParameterError
        For a family the space does not know.
    """
    if family not in SPACE:
        raise ParameterError(f"the search space has no family {family!r}; known: {', '.join(SPACE)}")
    return SPACE[family]


def space_size(family: str) -> int:
    """How many distinct configurations ``family``'s grid holds."""
    return math.prod(len(d.choices) for d in family_space(family))


def family_defaults(family: str) -> dict[str, Any]:
    """The registered detector's default value of each of ``family``'s dimensions."""
    from metaad.detectors.registry import get_detector_info

    accepted = get_detector_info(family).parameters
    return {d.name: _as_tuple(accepted[d.name]) for d in family_space(family)}


def canonical_params(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the values equal to the family's defaults (sizes as tuples), keys sorted."""
    defaults = family_defaults(family)
    return {k: _as_tuple(v) for k, v in sorted(params.items())
            if not (k in defaults and _same(_as_tuple(v), defaults[k]))}


def contains(family: str, params: dict[str, Any]) -> bool:
    """Whether ``params`` (absent dimensions at their defaults) is a point of the space.

    Examples
    --------
    >>> contains("knn", {"n_neighbors": 20}), contains("knn", {"n_neighbors": 7}), contains("knn", {"metric": "l1"})
    (True, False, False)
    """
    if family not in SPACE:
        return False
    dims = {d.name: d for d in SPACE[family]}
    for name, value in params.items():
        if name not in dims:
            return False
        try:
            dims[name].index(value)
        except ValueError:
            return False
    return True


def value_indices(family: str, params: dict[str, Any]) -> list[int]:
    """The choice index of each of ``family``'s dimensions for ``params`` (absent ones at the default).

    Raises
    ------
    ValueError
        When a value is not a choice of its dimension.
    """
    values = family_defaults(family) | {k: _as_tuple(v) for k, v in params.items()}
    return [d.index(values[d.name]) for d in family_space(family)]


__all__ = ["DEEP_DIMENSIONS", "SPACE", "Dimension", "canonical_params", "contains", "families", "family_defaults",
           "family_space", "space_size", "value_indices"]
