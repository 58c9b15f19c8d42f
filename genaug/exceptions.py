"""The exceptions genaug raises.

Every error a user can cause derives from :class:`GenaugError` and also from the
built-in exception that scikit-learn and ordinary Python code expect
(``ValueError`` for bad values, ``TypeError`` for wrong types), so that
``except ValueError`` keeps working.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = [
    "GenaugError",
    "InvalidDataError",
    "InvalidParameterError",
    "ModelFileError",
    "NotFittedError",
    "TrainingDivergedError",
]


class GenaugError(Exception):
    """Base class of every error raised on purpose by genaug."""


class InvalidDataError(GenaugError, ValueError):
    """The data passed to ``fit``, ``sample`` or a metric cannot be used as it is."""


class InvalidParameterError(GenaugError, ValueError):
    """A constructor or method argument has a value outside its allowed range."""


class ModelFileError(GenaugError, ValueError):
    """A saved model folder is missing, truncated, edited or of an unknown kind."""


class TrainingDivergedError(GenaugError, RuntimeError):
    """The training loss became NaN or infinite."""
