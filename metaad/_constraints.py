"""Declarative parameter constraints, checked in one place (as scikit-learn's ``_parameter_constraints``).

A class declares, for each parameter, the list of what it accepts; a value is valid when it satisfies any
entry of its list::

    _parameter_constraints = {
        "n_epochs": [Interval(Integral, 1, None)],
        "latent_size": [None, Interval(Integral, 1, None)],
        "adversarial": [None, Options("pgd")],
        "trim_fraction": [Options("auto"), Interval(Real, 0, 1, closed="left")],
    }

An entry is ``None`` (the value None), a type (``bool`` also takes ``numpy.bool_``; ``int`` never takes a
bool), an :class:`Interval`, :class:`Options`, or a :class:`Check` (a predicate with a description, for what
a table cannot say in a word). :func:`check_params` raises one :class:`~metaad.exceptions.ParameterError`
naming the owner, the parameter, what it accepts and the value given.

This is our own small table rather than ``sklearn.utils._param_validation``: that module is private (its
``Interval`` signature and constraint names changed in scikit-learn 1.2 and 1.3), raises its own
``InvalidParameterError`` with its own wording, and its custom constraints are private classes; ours keeps
metaad's messages ("autoencoder: n_epochs must be a positive integer, got 0"), lets a :class:`Check` reuse a
parser's specific error (``threshold``, ``device``), and sits at the bottom layer so that the score functions
can use it as well as the detectors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np

from metaad.exceptions import ParameterError

__all__ = ["Check", "Integral", "Interval", "Options", "Real", "check_params", "describe", "is_satisfied"]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _number(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Interval:
    """An integer (``Integral``) or a number (``Real``) between ``left`` and ``right`` (None: unbounded).

    ``closed`` says which ends belong to the interval: "both", "left", "right" or "neither".

    Examples
    --------
    >>> Interval(Real, 0, 0.5, closed="right").is_satisfied_by(0.5), str(Interval(Real, 0, 0.5, closed="right"))
    (True, 'a number in (0, 0.5]')
    >>> str(Interval(Integral, 1, None)), Interval(Integral, 1, None).is_satisfied_by(True)
    ('a positive integer', False)
    """

    kind: type
    left: float | None
    right: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if not (_is_int(value) if self.kind is Integral else _is_number(value)):
            return False
        if self.left is not None and not (value >= self.left if self.closed in ("both", "left") else value > self.left):
            return False
        if self.right is not None and not (value <= self.right if self.closed in ("both", "right") else value < self.right):
            return False
        return True  # NaN fails every comparison above when a bound is given

    def __str__(self) -> str:
        integer = self.kind is Integral
        what = "an integer" if integer else "a number"
        left_closed, right_closed = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.right is None:
            if self.left is None:
                return what
            if integer and self.left == 1 and left_closed:
                return "a positive integer"
            return f"{what} {'>=' if left_closed else '>'} {_number(self.left)}"
        if self.left is None:
            return f"{what} {'<=' if right_closed else '<'} {_number(self.right)}"
        bounds = f"{_number(self.left)}, {_number(self.right)}"
        return f"{what} in {'[' if left_closed else '('}{bounds}{']' if right_closed else ')'}"


class Options:
    """One of a few values, compared with ``==`` and of the same type (``Options("pgd")`` refuses ``1``).

    Examples
    --------
    >>> str(Options("elbo", "reconstruction")), Options("elbo", "reconstruction").is_satisfied_by("elbo")
    ("one of 'elbo', 'reconstruction'", True)
    """

    def __init__(self, *values: Any) -> None:
        self.values = values

    def is_satisfied_by(self, value: Any) -> bool:
        return any(isinstance(value, type(v)) and isinstance(value, bool) == isinstance(v, bool) and value == v
                   for v in self.values)

    def __str__(self) -> str:
        return f"{self.values[0]!r}" if len(self.values) == 1 else "one of " + ", ".join(map(repr, self.values))

    def __repr__(self) -> str:
        return f"Options({', '.join(map(repr, self.values))})"


@dataclass(frozen=True)
class Check:
    """What a table cannot say in a word: ``predicate(value)`` returns True for a valid value.

    A predicate may also raise :class:`~metaad.exceptions.ParameterError` itself when it knows better what is
    wrong (a parser such as :func:`~metaad.detectors.thresholding.parse_threshold`); its message is kept.

    Examples
    --------
    >>> sizes = Check("a tuple of positive integers", lambda v: all(s >= 1 for s in v))
    >>> sizes.is_satisfied_by((16, 8)), str(sizes)
    (True, 'a tuple of positive integers')
    """

    description: str
    predicate: Callable[[Any], bool]

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except ParameterError:
            raise
        except (TypeError, ValueError):  # a value of the wrong type (a number where a tuple belongs)
            return False

    def __str__(self) -> str:
        return self.description


def is_satisfied(constraint: Any, value: Any) -> bool:
    """Whether ``value`` satisfies one entry of a constraint list (a :class:`Check` may raise instead)."""
    if constraint is None:
        return value is None
    if constraint is bool:
        return isinstance(value, (bool, np.bool_))
    if constraint is int:
        return _is_int(value)
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return constraint.is_satisfied_by(value)


def describe(constraints: Sequence[Any]) -> str:
    """What a constraint list accepts, in words.

    Examples
    --------
    >>> describe([None, Interval(Integral, 0, None)])
    'None or an integer >= 0'
    >>> describe([Options("auto"), Interval(Real, 0, 1, closed="left")])
    "'auto' or a number in [0, 1)"
    """
    words = []
    for c in constraints:
        if c is None:
            words.append("None")
        elif c is bool:
            words.append("True or False")
        elif isinstance(c, type):
            words.append("a numpy.random.RandomState" if c is np.random.RandomState else f"a {c.__qualname__}")
        else:
            words.append(str(c))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def check_params(constraints: Mapping[str, Sequence[Any] | str], params: Mapping[str, Any], owner: str = "") -> None:
    """Check each of ``params`` that has an entry in ``constraints``; ``"no_validation"`` skips one.

    Raises
    ------
    ParameterError
        For the first parameter that satisfies none of its constraints:
        ``"<owner>: <name> must be <what it accepts>, got <value>"``.

    Examples
    --------
    >>> check_params({"n_epochs": [Interval(Integral, 1, None)]}, {"n_epochs": 0}, "autoencoder")
    Traceback (most recent call last):
    ...
    metaad.exceptions.ParameterError: autoencoder: n_epochs must be a positive integer, got 0
    """
    prefix = f"{owner}: " if owner else ""
    for name, allowed in constraints.items():
        if allowed == "no_validation" or name not in params:
            continue
        value = params[name]
        try:
            if any(is_satisfied(c, value) for c in allowed):
                continue
        except ParameterError as exc:  # a Check's own, more specific message
            message = str(exc)
            raise ParameterError(message if message.startswith(prefix) else prefix + message) from None
        raise ParameterError(f"{prefix}{name} must be {describe(allowed)}, got {value!r}")
