"""A field's list of match values, compiled into one matcher for the value at its path.

Exact values are one set lookup; plain ``prefix`` and ``suffix`` strings are
one ``str.startswith`` / ``str.endswith`` call with a tuple, and plain
``equals-ignore-case`` one set lookup, however many the list holds, so a long
list costs little more per record than a short one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchmap.errors import FilterError
from batchmap.filters.operators import Predicate, compile_expression, folded_in, wildcard_texts
from batchmap.filters.values import MISSING, brief, exact_key, is_number, leaves
from batchmap.filters.wildcard import Wildcard, parse_wildcard

Matcher = Callable[[Any], bool]
"""Whether the value at a path (or ``MISSING``) satisfies the compiled sub-pattern."""


@dataclass(slots=True)
class _Parts:
    exact: set[Any] = field(default_factory=set)
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)
    folded: set[str] = field(default_factory=set)
    predicates: list[Predicate] = field(default_factory=list)
    exists: set[bool] = field(default_factory=set)
    wildcards: list[Wildcard] = field(default_factory=list)


def compile_leaf(values: list[Any], where: str) -> tuple[Matcher, list[Wildcard]]:
    """The matcher for a field's list of match values, and the wildcards it uses (for the complexity rule)."""
    if not values:
        raise FilterError(f"{where}: empty lists are not allowed; list at least one match value")
    parts = _Parts()
    for value in values:
        if type(value) is dict:
            _add_expression(parts, value, where)
        elif value is None or type(value) is str or type(value) is bool or is_number(value):
            parts.exact.add(exact_key(value))
        else:
            raise FilterError(
                f"{where}: match values must be strings, numbers, true, false, null or operator objects "
                f"such as {{\"prefix\": \"a\"}}, got {brief(value)}"
            )
    return _leaf(parts), parts.wildcards


def _add_expression(parts: _Parts, expr: dict[str, Any], where: str) -> None:
    if len(expr) == 1:
        ((name, arg),) = expr.items()
        if name == "exists":
            if type(arg) is not bool:
                raise FilterError(f"{where}: exists: the value must be true or false, got {brief(arg)}")
            parts.exists.add(arg)
            return
        if type(arg) is str and name in ("prefix", "suffix", "equals-ignore-case"):
            if name == "prefix":
                parts.prefixes.append(arg)
            elif name == "suffix":
                parts.suffixes.append(arg)
            else:
                parts.folded.add(arg.casefold())
            return
    parts.predicates.append(compile_expression(expr, where))
    parts.wildcards.extend(parse_wildcard(text, where) for text in wildcard_texts(expr))


def _string_tests(parts: _Parts) -> list[Predicate]:
    tests: list[Predicate] = []
    if parts.prefixes:
        prefixes = tuple(parts.prefixes)
        tests.append(lambda v: type(v) is str and v.startswith(prefixes))
    if parts.suffixes:
        suffixes = tuple(parts.suffixes)
        tests.append(lambda v: type(v) is str and v.endswith(suffixes))
    if parts.folded:
        tests.append(folded_in(frozenset(parts.folded)))
    return tests


def _leaf(parts: _Parts) -> Matcher:
    exact = frozenset(parts.exact)
    predicates = tuple(_string_tests(parts) + parts.predicates)
    if_present, if_absent = True in parts.exists, False in parts.exists

    def test(value: Any) -> bool:
        if exact and (value if type(value) is str else exact_key(value)) in exact:
            return True
        return any(predicate(value) for predicate in predicates)

    def match(value: Any) -> bool:
        kind = type(value)
        if kind is list:
            items = leaves(value)
            if not items:
                return if_absent
            return if_present or any(test(item) for item in items)
        if kind is dict or value is MISSING:
            return if_absent
        return if_present or test(value)

    return match
