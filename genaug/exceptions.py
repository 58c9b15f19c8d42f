"""The exceptions genaug raises.

Every error a user can cause derives from :class:`GenaugError` and also from the
built-in exception that scikit-learn and ordinary Python code expect
(``ValueError`` for bad values, ``TypeError`` for wrong types), so that
``except ValueError`` keeps working.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "CopyProtectionError",
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


class NotFittedError(GenaugError, _SklearnNotFittedError):
    """A method that needs a fitted estimator was called before ``fit``.

    It derives from scikit-learn's ``NotFittedError`` (itself a ``ValueError`` and an
    ``AttributeError``), so ``except sklearn.exceptions.NotFittedError`` and scikit-learn's
    estimator checks keep working, and from :class:`GenaugError` like every other genaug error.
    """


class TrainingDivergedError(GenaugError, RuntimeError):
    """The training loss became NaN or infinite."""


class CopyProtectionError(GenaugError, RuntimeError):
    """Sampling with ``reject_copies=True`` could not replace every row too close to the data.

    The model keeps generating rows within the copy threshold of a reference row (it has
    memorised them, or the threshold is too strict for the data); the message says how many.
    """
