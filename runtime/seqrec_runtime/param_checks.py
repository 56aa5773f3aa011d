"""Declarative parameter checks: one table of specs per API, checked by one function.

A spec says what a parameter may be (an int or a real number in a range, one of a few
choices, a flag), whether ``None`` or a few literal values (e.g. ``"auto"``) are allowed
too, and the error message follows from it, so every parameter of the estimator, the
runtime and the export is refused with the same kind of sentence::

    PARAMS = {"top_k": Int(low=1), "dropout_rate": Real(0.0, 1.0, high_open=True)}
    check_params({"top_k": 10, "dropout_rate": 0.2}, PARAMS)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidParameterError, InvalidParameterTypeError


@dataclass(frozen=True)
class Spec:
    """What a parameter may be besides its main kind: ``None`` and/or literal values."""

    none: bool = False
    also: tuple[Any, ...] = ()

    def describe(self) -> str:  # pragma: no cover - every spec below overrides it
        raise NotImplementedError

    def accepts_type(self, value: Any) -> bool:  # pragma: no cover
        raise NotImplementedError

    def in_domain(self, value: Any) -> bool:
        return True

    def full_description(self) -> str:
        extras = [repr(v) for v in self.also] + (["None"] if self.none else [])
        return self.describe() + (f" or {', '.join(extras)}" if extras else "")


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f" {'<' if high_open else '<='} {high:g}"
    return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


@dataclass(frozen=True)
class Int(Spec):
    """An integer (``bool`` is not one) in ``[low, high]``."""

    low: int | None = None
    high: int | None = None

    def describe(self) -> str:
        return "an int" + _bounds(self.low, self.high, False, False)

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not _is_bool(value)

    def in_domain(self, value: Any) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class Real(Spec):
    """A finite real number (``bool`` is not one) between ``low`` and ``high``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        return "a finite number" + _bounds(self.low, self.high, self.low_open, self.high_open)

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, numbers.Real) and not _is_bool(value)

    def in_domain(self, value: Any) -> bool:
        number = float(value)
        if not math.isfinite(number):
            return False
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return self.high is None or (number < self.high if self.high_open else number <= self.high)


@dataclass(frozen=True)
class Choice(Spec):
    """One of ``choices`` (compared with ``==``)."""

    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def accepts_type(self, value: Any) -> bool:
        return any(_same(value, c) for c in self.choices)


@dataclass(frozen=True)
class Flag(Spec):
    """``True`` or ``False``."""

    def describe(self) -> str:
        return "True or False"

    def accepts_type(self, value: Any) -> bool:
        return _is_bool(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _same(value: Any, choice: Any) -> bool:
    """``value == choice`` without numbers standing in for flags or text (``1 != True``)."""
    if _is_bool(value) != _is_bool(choice) or isinstance(value, str) != isinstance(choice, str):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):
        return False


def check_param(
    name: str, value: Any, spec: Spec,
    wrong_type: type[Exception] = InvalidParameterError,
) -> Any:
    """Return ``value`` if ``spec`` allows it, else raise a typed error naming it.

    Raises
    ------
    InvalidParameterError
        The value has the right type but lies outside the allowed range (and, by default,
        a value of the wrong type too).
    InvalidParameterTypeError
        A value of the wrong type, when ``wrong_type`` asks for it (the runtime's
        convention for call arguments).
    """
    if value is None and spec.none:
        return value
    if any(_same(value, extra) for extra in spec.also):
        return value
    wanted = spec.full_description()
    if not spec.accepts_type(value):
        raise wrong_type(f"{name} must be {wanted}, got {value!r}")
    if not spec.in_domain(value):
        raise InvalidParameterError(f"{name} must be {wanted}, got {value!r}")
    return value


def check_params(
    values: Mapping[str, Any], table: Mapping[str, Spec],
    wrong_type: type[Exception] = InvalidParameterError,
) -> None:
    """Check every name of ``table`` that ``values`` holds (see :func:`check_param`)."""
    for name, spec in table.items():
        if name in values:
            check_param(name, values[name], spec, wrong_type)


__all__ = ["Choice", "Flag", "Int", "InvalidParameterTypeError", "Real", "Spec", "check_param",
           "check_params"]
