"""A detector's parameters for ``metaad detectors NAME``: names and defaults from the constructor, meaning
from the numpydoc ``Parameters`` section of the class (and of its base classes for shared parameters)."""

from __future__ import annotations

import inspect
import re
from typing import Any

_SECTION_END = re.compile(r"^\s*(Attributes|Examples|Notes|References|See Also|Returns|Raises|Methods)\s*$")


def parameter_docs(cls: type) -> dict[str, str]:
    """``{parameter: description}`` from the numpydoc ``Parameters`` sections of ``cls`` and its bases.

    A line ``a, b : type`` documents several parameters; a description that only points elsewhere
    ("See :class:`...`") is replaced by a base class's own description.

    Examples
    --------
    >>> class Base:
    ...     '''Parameters
    ...     ----------
    ...     seed : int
    ...         Random seed.
    ...     '''
    >>> class Child(Base):
    ...     '''Parameters
    ...     ----------
    ...     size : int, default=3
    ...         How many.
    ...     seed
    ...         See :class:`Base`.
    ...     '''
    >>> parameter_docs(Child)
    {'size': 'How many.', 'seed': 'Random seed.'}
    """
    docs: dict[str, str] = {}
    for klass in cls.__mro__:
        for name, text in _parse(inspect.getdoc(klass) or "").items():
            if name not in docs or (docs[name].startswith("See ") and text and not text.startswith("See ")):
                docs[name] = text
    return docs


def _parse(doc: str) -> dict[str, str]:
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines[:-1])
                     if line.strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"})
    except StopIteration:
        return {}
    result: dict[str, str] = {}
    names: list[str] = []
    base_indent: int | None = None
    for line in lines[start + 2:]:
        if _SECTION_END.match(line):
            break
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if base_indent is None:
            base_indent = indent
        if indent <= base_indent:  # a "name : type" line
            names = [n.strip() for n in line.split(" : ")[0].split(",") if n.strip()]
            for name in names:
                result.setdefault(name, "")
        else:
            for name in names:
                result[name] = (result[name] + " " + line.strip()).strip()
    return result


def parameter_rows(cls: type) -> list[tuple[str, str, str]]:
    """``(name, default, description)`` for every constructor parameter of ``cls``, in signature order."""
    docs = parameter_docs(cls)
    rows = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default: Any = parameter.default
        shown = "(required)" if default is inspect.Parameter.empty else repr(default)
        rows.append((parameter.name, shown, docs.get(parameter.name, "")))
    return rows
