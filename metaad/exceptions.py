"""The exceptions metaad raises.

Every error a user can cause is a subclass of :class:`MetaADError`, so callers can catch one type, and the
command line turns each into one clear line on stderr. Each message names what was wrong: the column, the
row, the value, and what was expected.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class MetaADError(Exception):
    """Base class of every error metaad raises because of its input."""


class DataError(MetaADError, ValueError):
    """The data cannot be used: unreadable file, empty table, NaN/inf, text in a numeric column, ..."""


class SchemaError(DataError):
    """Columns at scoring time differ from those the model was fitted on (missing, extra, mistyped)."""


class ParameterError(MetaADError, ValueError):
    """A parameter value is invalid (unknown detector name, contamination out of range, ...)."""


class ModelFileError(MetaADError):
    """A saved model cannot be read or written (missing file, wrong format, incompatible version)."""


class NotFittedError(MetaADError, _SklearnNotFittedError):
    """A detector was used before ``fit``."""


__all__ = [
    "DataError",
    "MetaADError",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "SchemaError",
]


class EpochsCutWarning(UserWarning):
    """An explicit ``n_epochs`` was cut short by the deep trainer's step budget (``max_steps``).

    ``auto`` silences it for the zoo configurations it fits: the user did not ask for those epochs.
    """
