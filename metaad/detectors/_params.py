"""Constructors generated from a table of parameters, so that every detector's ``__init__`` only stores.

scikit-learn reads an estimator's parameters from the signature of its ``__init__``; the generated
``__init__`` carries an explicit keyword-only signature, so ``get_params``, ``set_params`` and ``clone``
work as for a hand-written one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any


def make_init(defaults: Mapping[str, Any], owner: str) -> Callable[..., None]:
    """Build an ``__init__`` that accepts exactly ``defaults`` as keyword-only parameters and stores them.

    Examples
    --------
    >>> class Thing:
    ...     __init__ = make_init({"alpha": 1.0, "beta": None}, "Thing")
    >>> Thing(alpha=2.0).alpha, Thing().beta
    (2.0, None)
    """
    names = tuple(defaults)

    def __init__(self: Any, **params: Any) -> None:
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise TypeError(f"{owner}() got unexpected parameter(s) {unknown}; accepted: {', '.join(names)}")
        for name in names:
            setattr(self, name, params.get(name, defaults[name]))

    signature = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    signature += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in defaults.items()]
    __init__.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{owner}.__init__"
    return __init__
