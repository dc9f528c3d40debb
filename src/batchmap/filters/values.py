"""How JSON values compare in a pattern: numbers, exact-match keys, leaves, and safe parsing.

Numbers compare as EventBridge compares them in practice (outcomes recorded
against AWS, and the rule compiler of Event Ruler, EventBridge's matching
library): a number whose decimal value is exactly a double (``300``, ``300.0``,
``3.0e2``, ``0.1``) is matched by that value, so the three spellings of 300 are
equal; any other number (``1e400``, ``0.10000000000000001``, a 30-digit
integer) is matched by its JSON text only, and never by ``numeric``. Python's
``json`` forgets how a float was written, so payloads and patterns are parsed
with ``RawFloat``, which remembers its source text.

Parsing never raises anything but ``ValueError``: a document nested past
Python's stack is ``NestingError``, and integers longer than Python's
``int`` conversion limit are kept as text.
"""

from __future__ import annotations

import json
import reprlib
from decimal import Decimal
from typing import Any, Final, cast


class _Missing:
    """The value of a field the document does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Sentinel for an absent field (distinct from JSON ``null``)."""


class RawFloat(float):
    """A JSON number that keeps the text it was written with (``3.0e2`` stays ``3.0e2``)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> RawFloat:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


class NestingError(ValueError):
    """A JSON document nested deeper than the parser's stack allows."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _int_or_text(text: str) -> int | RawFloat:
    """An integer, or a ``RawFloat`` keeping the text when it is too long for ``int()``."""
    try:
        return int(text)
    except ValueError:
        return RawFloat(text)


_DECODER: Final = json.JSONDecoder(parse_float=RawFloat, parse_constant=_reject_constant)
_LONG_INT_DECODER: Final = json.JSONDecoder(
    parse_float=RawFloat, parse_int=_int_or_text, parse_constant=_reject_constant
)
"""Built once: ``json.loads`` with any hook builds a new decoder per call, which costs more than
parsing a small document."""


def loads(text: str) -> Any:
    """Parse JSON keeping each float's source text; ``NaN``/``Infinity`` are rejected.

    The common case runs at the C parser's speed; only a document holding an
    integer past ``int()``'s digit limit is parsed a second time.
    """
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise NestingError("nested too deeply to parse") from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
    try:
        return _LONG_INT_DECODER.decode(text)
    except RecursionError:
        raise NestingError("nested too deeply to parse") from None


_EXACT_INT: Final = 2**53
"""Every integer up to this magnitude is a double, and its shortest form is its own digits."""


def number_text(value: int | float) -> str:
    """The JSON text of a number: as written when known, else Python's shortest form."""
    if type(value) is RawFloat:
        return value.text
    return str(value) if isinstance(value, int) else repr(value)


def comparable(value: Any) -> float | None:
    """The double a JSON number stands for exactly, or ``None`` (not a number, or not exactly a double).

    A number is comparable when the shortest decimal form of its nearest double
    has the same value as the number as written: ``300.0`` and ``3.0e2`` are,
    ``1e400`` (not finite) and ``0.10000000000000001`` (rounded) are not.
    """
    kind = type(value)
    if kind is RawFloat:
        if len(value.text) <= _SURE_DIGITS and _SMALLEST_NORMAL <= abs(value) <= _LARGEST:
            return cast(float, value)
        return cast(float, value) if value.text == _shortest(value) or _exact(value) else None
    if kind is int:
        if -_EXACT_INT <= value <= _EXACT_INT:
            return cast(float, value)  # an int compares and hashes as the equal double
        return _exact_int(value)
    if kind is float:
        return cast(float, value) if value - value == 0.0 else None
    return None


_shortest = float.__repr__
_SURE_DIGITS: Final = 15
"""A normal double keeps every decimal of at most 15 significant digits (C's ``DBL_DIG``): text that short
is exactly its double's shortest form, so the common case needs no ``repr``."""
_SMALLEST_NORMAL: Final = 2.2250738585072014e-308
_LARGEST: Final = 1.7976931348623157e308


def _exact(value: RawFloat) -> bool:
    """Whether a float written other than in its shortest form still has exactly its double's value."""
    if value - value != 0.0:  # infinite (1e400)
        return False
    try:
        return Decimal(value.text) == Decimal(_shortest(value))
    except ArithmeticError:
        return False


def _exact_int(value: int) -> float | None:
    try:
        double = float(value)
    except OverflowError:
        return None
    return double if Decimal(_shortest(double)) == value else None


_NULL_KEY: Final = ("null",)
_UNMATCHABLE: Final = ("unmatchable",)


def exact_key(value: Any) -> Any:
    """A hashable key such that two leaf values are equal exactly when EventBridge says so.

    Strings are their own key (the common case stays cheap); every other type
    is tagged so ``"1"``, ``1`` and ``true`` never collide. Comparable numbers
    are keyed by value (``300`` and ``300.0`` share a key), others by text.
    """
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return ("bool", value)
    if value is None:
        return _NULL_KEY
    if kind is int or kind is float or kind is RawFloat:
        double = comparable(value)
        return ("number", double) if double is not None else ("number-text", number_text(value))
    return _UNMATCHABLE


def is_number(value: Any) -> bool:
    """A JSON number (booleans are ints in Python, but never numbers in JSON)."""
    kind = type(value)
    return kind is int or kind is float or kind is RawFloat


def leaves(value: list[Any]) -> list[Any]:
    """The leaf values of an array, flattening nested arrays and skipping objects.

    EventBridge treats an array as the set of its elements; objects inside it
    are not leaves (``exists`` works on leaves only). Iterative, so an array
    nested as deep as the parser allows costs no stack.
    """
    out: list[Any] = []
    stack = [iter(value)]
    while stack:
        for item in stack[-1]:
            kind = type(item)
            if kind is list:
                stack.append(iter(item))
                break
            if kind is not dict:
                out.append(item)
        else:
            stack.pop()
    return out


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = 80
_SHORT.maxother = 80
_SHORT.maxlist = 8
_SHORT.maxdict = 8


def brief(value: Any) -> str:
    """``repr`` for an error message, cut short so a huge or deeply nested value cannot break it."""
    return _SHORT.repr(value)
