"""EventBridge's comparison operators, each compiled once into a predicate on one leaf value.

A predicate receives a single leaf (string, number, boolean or ``None``; never
an object, an array or ``MISSING``) and answers whether it matches. Arrays and
``exists`` are handled one level up, in ``pattern``; exact values never get here
(they are looked up in a set).

Validation mirrors EventBridge's rule compiler so a pattern AWS would reject is
rejected here too, before anything is consumed; each message names the path.
"""

from __future__ import annotations

import ipaddress
import math
import operator
from collections.abc import Callable
from typing import Any

from batchmap.errors import FilterError
from batchmap.filters.values import brief, comparable, is_number, number_text
from batchmap.filters.wildcard import parse_wildcard

Predicate = Callable[[Any], bool]

OPERATORS: tuple[str, ...] = (
    "prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr",
)
"""Every operator name a match expression may use."""

_LOWER = {">": operator.gt, ">=": operator.ge}
_UPPER = {"<": operator.lt, "<=": operator.le}


def compile_expression(expr: dict[str, Any], where: str) -> Predicate:
    """The predicate for one operator object such as ``{"prefix": "us-"}`` (``exists`` excluded)."""
    if len(expr) != 1:
        raise FilterError(f"{where}: an operator object holds exactly one operator, got keys {sorted(expr)}")
    ((name, arg),) = expr.items()
    builder = _BUILDERS.get(name)
    if builder is None:
        raise FilterError(f"{where}: unknown operator {name!r}; supported: {', '.join(OPERATORS)}")
    return builder(arg, f"{where}: {name}")


def _string(arg: Any, where: str) -> str:
    if type(arg) is not str:
        raise FilterError(f"{where}: the value must be a string, got {brief(arg)}")
    return arg


def _strings(arg: Any, where: str) -> list[str]:
    """A string or a non-empty list of strings."""
    values = arg if type(arg) is list else [arg]
    if not values:
        raise FilterError(f"{where}: the list must not be empty")
    return [_string(value, where) for value in values]


def _case_insensitive(arg: Any, where: str) -> str | None:
    """The folded text of ``{"equals-ignore-case": "x"}``, or ``None`` when ``arg`` is a plain string."""
    if type(arg) is not dict:
        return None
    if set(arg) != {"equals-ignore-case"}:
        raise FilterError(f"{where}: only {{\"equals-ignore-case\": \"...\"}} may be nested here, got {brief(arg)}")
    return _string(arg["equals-ignore-case"], where).casefold()


def _prefix(arg: Any, where: str) -> Predicate:
    """Case folding never shortens text, so only as many characters as the prefix are folded."""
    folded = _case_insensitive(arg, where)
    if folded is not None:
        size = len(folded)
        return lambda v: type(v) is str and v[:size].casefold().startswith(folded)
    text = _string(arg, where)
    return lambda v: type(v) is str and v.startswith(text)


def _suffix(arg: Any, where: str) -> Predicate:
    folded = _case_insensitive(arg, where)
    if folded is not None:
        size = len(folded)
        return lambda v: type(v) is str and (not size or v[-size:].casefold().endswith(folded))
    text = _string(arg, where)
    return lambda v: type(v) is str and v.endswith(text)


def folded_in(values: frozenset[str]) -> Predicate:
    """Whether a string folds to one of ``values`` (already folded); longer strings are not folded at all."""
    longest = max(map(len, values), default=0)
    return lambda v: type(v) is str and len(v) <= longest and v.casefold() in values


def _equals_ignore_case(arg: Any, where: str) -> Predicate:
    return folded_in(frozenset((_string(arg, where).casefold(),)))


def _wildcard(arg: Any, where: str) -> Predicate:
    matches = parse_wildcard(_string(arg, where), where).matches
    return lambda v: type(v) is str and matches(v)


def wildcard_texts(expr: dict[str, Any]) -> list[str]:
    """The wildcards of a valid operator object: ``wildcard``'s, or those inside ``anything-but``."""
    arg = expr.get("wildcard")
    if type(arg) is str:
        return [arg]
    inner = expr.get("anything-but")
    if type(inner) is dict and "wildcard" in inner:
        texts = inner["wildcard"]
        return [texts] if type(texts) is str else list(texts)
    return []


def _number(arg: Any, where: str) -> float:
    """A bound: a JSON number that is exactly a double, as EventBridge requires."""
    if not is_number(arg):
        raise FilterError(f"{where}: expected a number, got {brief(arg)}")
    value = comparable(arg)
    if value is not None:
        return value
    text = number_text(arg)
    try:
        nearest = float(arg)
    except OverflowError:
        nearest = math.inf
    why = f"the nearest double is {nearest!r}" if math.isfinite(nearest) else "it is beyond a double's range (1.8e308)"
    raise FilterError(
        f"{where}: {text} cannot be compared: numbers are compared as doubles, and {why}; "
        "write a number that is exactly a double"
    )


def _numeric(arg: Any, where: str) -> Predicate:
    """``["=", n]``, ``[">"|">=", n]``, ``["<"|"<=", n]`` or ``[">"|">=", n, "<"|"<=", m]`` with n < m."""
    if type(arg) is not list or len(arg) not in (2, 4):
        raise FilterError(f"{where}: expected a list such as [\">\", 0, \"<=\", 5], got {brief(arg)}")
    op = arg[0] if type(arg[0]) is str else None
    if op == "=" and len(arg) == 2:
        target = _number(arg[1], where)
        return lambda v: comparable(v) == target
    checks: list[tuple[Callable[[Any, Any], bool], float]] = []
    if op in _LOWER:
        checks.append((_LOWER[op], _number(arg[1], where)))
        if len(arg) == 4:
            upper = _UPPER.get(arg[2]) if type(arg[2]) is str else None
            if upper is None:
                raise FilterError(f"{where}: the second operator must be '<' or '<=', got {brief(arg[2])}")
            checks.append((upper, _number(arg[3], where)))
            if checks[0][1] >= checks[1][1]:
                raise FilterError(f"{where}: the lower bound must be below the upper bound in {brief(arg)}")
    elif op in _UPPER and len(arg) == 2:
        checks.append((_UPPER[op], _number(arg[1], where)))
    else:
        raise FilterError(
            f"{where}: {brief(arg)} is not a numeric expression; use '=', '<', '<=', '>', '>=' "
            "with a number, or a range ['>' or '>=', low, '<' or '<=', high]"
        )
    bounds = tuple(checks)

    def in_range(v: Any) -> bool:
        value = comparable(v)
        if value is None:
            return False
        return all(compare(value, bound) for compare, bound in bounds)

    return in_range


def _texts(arg: Any, where: str, *, allow_empty: bool) -> list[str]:
    """A string or a non-empty list of strings (empty strings refused unless ``allow_empty``)."""
    values = _strings(arg, where)
    if not allow_empty and not all(values):
        raise FilterError(f"{where}: the value must not be empty")
    return values


def _anything_but_object(arg: dict[str, Any], where: str) -> Predicate:
    """``anything-but`` with ``prefix``, ``suffix``, ``equals-ignore-case`` or ``wildcard``: a string or a list."""
    if len(arg) != 1:
        raise FilterError(f"{where}: expected one nested operator, got keys {sorted(arg)}")
    ((name, inner),) = arg.items()
    nested = f"{where}: {name}"
    if name == "prefix":
        prefixes = tuple(_texts(inner, nested, allow_empty=False))
        return lambda v: not (type(v) is str and v.startswith(prefixes))
    if name == "suffix":
        suffixes = tuple(_texts(inner, nested, allow_empty=False))
        return lambda v: not (type(v) is str and v.endswith(suffixes))
    if name == "equals-ignore-case":
        folded = folded_in(frozenset(text.casefold() for text in _texts(inner, nested, allow_empty=True)))
        return lambda v: not folded(v)
    if name == "wildcard":
        wildcards = tuple(parse_wildcard(text, nested).matches for text in _texts(inner, nested, allow_empty=True))
        return lambda v: not (type(v) is str and any(matches(v) for matches in wildcards))
    raise FilterError(
        f"{where}: only prefix, suffix, equals-ignore-case or wildcard may be nested, got {name!r}"
    )


def _anything_but(arg: Any, where: str) -> Predicate:
    """Matches a present leaf that is not one of the values (or does not fit the nested operator)."""
    if type(arg) is dict:
        return _anything_but_object(arg, where)
    values = arg if type(arg) is list else [arg]
    if values and all(type(value) is str for value in values):
        excluded = frozenset(values)
        return lambda v: not (type(v) is str and v in excluded)
    if values and all(is_number(value) for value in values):
        excluded_numbers = frozenset(_number(value, where) for value in values)
        return lambda v: not (is_number(v) and comparable(v) in excluded_numbers)
    raise FilterError(
        f"{where}: expected a string, a number, or a non-empty list of only strings or only numbers, "
        f"got {brief(arg)}"
    )


_LONGEST_ADDRESS = 45
"""Characters in the longest textual IPv6 address (with an embedded IPv4 part)."""


def _cidr(arg: Any, where: str) -> Predicate:
    text = _string(arg, where)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise FilterError(f"{where}: {brief(text)} is not an IPv4 or IPv6 network ({exc})") from None

    def in_network(v: Any) -> bool:
        if type(v) is not str or len(v) > _LONGEST_ADDRESS:
            return False
        try:
            address = ipaddress.ip_address(v)
        except ValueError:
            return False
        return address.version == network.version and address in network

    return in_network


_BUILDERS: dict[str, Callable[[Any, str], Predicate]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "cidr": _cidr,
}
"""Builders for every operator but ``exists``, which ``pattern`` handles with the field's value list."""
