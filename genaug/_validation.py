"""One small mechanism to check constructor parameters, in the spirit of scikit-learn's
``_parameter_constraints``: each estimator declares a constraint per parameter, and
``validate_params`` checks them all at the start of ``fit`` (never in ``__init__``)."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from genaug.exceptions import InvalidParameterError


@dataclass(frozen=True)
class Interval:
    """A real or integer number in ``[low, high]`` (``None`` for an open end).

    NaN and infinities never pass: an open end means "unbounded", not "infinity allowed", and
    a NaN would slip through every comparison (a NaN learning rate reaches the optimizer).
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def check(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real):
            return False
        # Integers are always finite (and math.isfinite overflows on huge ones).
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        return f"{'an integer' if self.kind is int else 'a number'} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def check(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Satisfies:
    """Any value for which ``predicate`` is true."""

    predicate: Callable[[Any], bool]
    description: str

    def check(self, value: Any) -> bool:
        return bool(self.predicate(value))

    def describe(self) -> str:
        return self.description


def is_callable_or_none(value: Any) -> bool:
    """True for ``None`` or a callable (a transform, a scorer)."""
    return value is None or callable(value)


def is_path_like(value: Any) -> bool:
    """True for a ``str`` or ``os.PathLike`` (a file or folder name)."""
    return isinstance(value, (str, os.PathLike))


def is_int_tuple(value: Any) -> bool:
    """True for a non-empty list or tuple of positive integers."""
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value
        )
    )


def validate_params(params: dict[str, Any], constraints: dict[str, Iterable], owner: str) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter that meets no constraint.

    ``None`` in a parameter's list of constraints allows ``None``.
    """
    for name, allowed in constraints.items():
        value = params[name]
        options = list(allowed)
        if value is None and None in options:
            continue
        checks = [c for c in options if c is not None]
        if not any(c.check(value) for c in checks):
            wanted = " or ".join(c.describe() for c in checks)
            if None in options:
                wanted += " or None"
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {wanted}; got {value!r}."
            )
