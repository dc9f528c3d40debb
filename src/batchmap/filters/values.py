"""How JSON values compare in a pattern: the keys used for exact matching.

EventBridge (and so Lambda) matches plain values by their JSON text: the string
``"100"`` never equals the number ``100``, and the numbers ``300``, ``300.0``
and ``3.0e2`` are three different values. Python's ``json`` module forgets how
a float was written, so payloads and patterns are parsed with ``RawFloat``,
which remembers its source text.
"""

from __future__ import annotations

import json
from typing import Any, Final


class _Missing:
    """The value of a field the document does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Sentinel for an absent field (distinct from JSON ``null``)."""


class RawFloat(float):
    """A JSON float that keeps the text it was written with (``3.0e2`` stays ``3.0e2``)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> RawFloat:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping each float's source text; ``NaN``/``Infinity`` are rejected."""
    return json.loads(text, parse_float=RawFloat, parse_constant=_reject_constant)


def number_text(value: int | float) -> str:
    """The JSON text of a number: as written when known, else Python's shortest form."""
    if type(value) is RawFloat:
        return value.text
    return str(value) if isinstance(value, int) else repr(value)


_NULL_KEY: Final = ("null",)
_UNMATCHABLE: Final = ("unmatchable",)


def exact_key(value: Any) -> Any:
    """A hashable key such that two leaf values are equal exactly when EventBridge says so.

    Strings are their own key (the common case stays cheap); every other type
    is tagged so ``"1"``, ``1`` and ``true`` never collide.
    """
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return ("bool", value)
    if value is None:
        return _NULL_KEY
    if kind is int or kind is float or kind is RawFloat:
        return ("number", number_text(value))
    return _UNMATCHABLE


def is_number(value: Any) -> bool:
    """A JSON number (booleans are ints in Python, but never numbers in JSON)."""
    kind = type(value)
    return kind is int or kind is float or kind is RawFloat


def leaves(value: list[Any]) -> list[Any]:
    """The leaf values of an array, flattening nested arrays and skipping objects.

    EventBridge treats an array as the set of its elements; objects inside it
    are not leaves (``exists`` works on leaves only).
    """
    out: list[Any] = []
    for item in value:
        kind = type(item)
        if kind is list:
            out.extend(leaves(item))
        elif kind is not dict:
            out.append(item)
    return out
