"""One EventBridge pattern compiled into nested closures, so matching a record parses nothing.

Semantics (EventBridge's, as Lambda documents them):

* every field named in the pattern must match (AND); the values listed for one
  field are alternatives (OR); ``$or`` lists alternative sub-patterns;
* a pattern object is matched against the object at the same path; when the
  document holds an array there, the pattern matches if any element matches
  (element by element, so two fields of one sub-pattern must match in the same
  element: EventBridge's "array consistency");
* a value list is matched against the leaf values at its path: an array of
  leaves matches if any element does; objects are never leaves, so
  ``{"exists": false}`` holds for an absent field, an empty array and an object.

At the top level a source's *data key* (``body``, ``data``, ``dynamodb``,
``value``, ``key``) is special: the document holds a decoded ``Payload`` there,
and the pattern's format for it (an object = JSON, a value list = plain string)
must agree with the payload's format. What a disagreement means depends on the
source (``on_mismatch``): SQS and streams drop the record, Kafka ignores the
data condition and filters on metadata only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from batchmap.errors import FilterError
from batchmap.filters.operators import OPERATORS, Predicate, compile_expression
from batchmap.filters.values import MISSING, exact_key, is_number, leaves

Matcher = Callable[[Any], bool]
"""Whether the value at a path (or ``MISSING``) satisfies the compiled sub-pattern."""

JSON: Final = "json"
TEXT: Final = "text"
ABSENT: Final = "absent"
UNDECODABLE: Final = "undecodable"


@dataclass(frozen=True, slots=True)
class Payload:
    """A source's data field, decoded once per record: ``kind`` is json, text, absent or undecodable."""

    kind: str
    value: Any = MISSING


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """A pattern ready to match documents; ``data_formats`` maps each data key used to its formats."""

    match: Callable[[dict[str, Any]], bool]
    data_formats: Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Object:
    on_dict: Callable[[dict[str, Any]], bool]
    on_missing: bool


def compile_pattern(pattern: Any, data: Mapping[str, bool] | None = None) -> CompiledPattern:
    """Compile a parsed pattern; ``data`` maps the source's data keys to their ``on_mismatch`` value."""
    if type(pattern) is not dict:
        raise FilterError(f"a pattern must be a JSON object, got {pattern!r}")
    formats: dict[str, set[str]] = {}
    compiled = _compile_object(pattern, "", data, formats)
    return CompiledPattern(compiled.on_dict, {key: frozenset(found) for key, found in formats.items()})


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compile_object(
    obj: dict[str, Any], path: str, data: Mapping[str, bool] | None, formats: dict[str, set[str]]
) -> _Object:
    if not obj:
        raise FilterError(f"{path or 'pattern'}: empty objects are not allowed")
    fields: list[tuple[str, Matcher]] = []
    missing = True
    alternatives: list[tuple[_Object, ...]] = []
    for key, value in obj.items():
        where = _where(path, key)
        if key == "$or":
            branches = _compile_or(value, where, path, data, formats)
            alternatives.append(branches)
            missing = missing and any(branch.on_missing for branch in branches)
            continue
        matcher, fmt = _compile_field(key, value, where, path)
        if data is not None and key in data:
            formats.setdefault(key, set()).add(fmt)
            matcher = _data_field(matcher, fmt, data[key])
        fields.append((key, matcher))
        missing = missing and matcher(MISSING)
    return _Object(_all_of(tuple(fields), tuple(alternatives)), missing)


def _compile_field(key: str, value: Any, where: str, path: str) -> tuple[Matcher, str]:
    if key in OPERATORS:
        parent = path.rsplit(".", 1)[-1] if path else "field"
        raise FilterError(
            f"{where}: {key!r} is an operator, so it must sit in the field's list of match values, "
            f"e.g. {{\"{parent}\": [{{\"{key}\": ...}}]}}"
        )
    if type(value) is dict:
        return _object_matcher(_compile_object(value, where, None, {})), JSON
    if type(value) is list:
        return compile_leaf(value, where), TEXT
    raise FilterError(f"{where}: must be an object or a list of match values, got {value!r}")


def _compile_or(
    value: Any, where: str, path: str, data: Mapping[str, bool] | None, formats: dict[str, set[str]]
) -> tuple[_Object, ...]:
    if type(value) is not list or len(value) < 2 or any(type(branch) is not dict for branch in value):
        raise FilterError(f"{where}: $or takes a list of at least two pattern objects, got {value!r}")
    return tuple(_compile_object(branch, path, data, formats) for branch in value)


def _all_of(
    fields: tuple[tuple[str, Matcher], ...], alternatives: tuple[tuple[_Object, ...], ...]
) -> Callable[[dict[str, Any]], bool]:
    def on_dict(document: dict[str, Any]) -> bool:
        get = document.get
        for key, matcher in fields:
            if not matcher(get(key, MISSING)):
                return False
        for branches in alternatives:
            for branch in branches:
                if branch.on_dict(document):
                    break
            else:
                return False
        return True

    return on_dict


def _object_matcher(compiled: _Object) -> Matcher:
    on_dict = compiled.on_dict
    on_missing = compiled.on_missing

    def match(value: Any) -> bool:
        kind = type(value)
        if kind is dict:
            return on_dict(value)
        if kind is list:
            if not value:
                return on_missing
            return any(match(item) for item in value)
        return on_missing

    return match


def _data_field(inner: Matcher, fmt: str, on_mismatch: bool) -> Matcher:
    def match(payload: Any) -> bool:
        if type(payload) is not Payload:
            return inner(payload)
        if payload.kind == fmt:
            return inner(payload.value)
        if payload.kind == ABSENT:
            return inner(MISSING)
        return on_mismatch

    return match


def compile_leaf(values: list[Any], where: str) -> Matcher:
    """The matcher for a field's list of match values."""
    if not values:
        raise FilterError(f"{where}: empty lists are not allowed; list at least one match value")
    exact: set[Any] = set()
    predicates: list[Predicate] = []
    exists: set[bool] = set()
    for value in values:
        if type(value) is dict:
            if len(value) == 1 and "exists" in value:
                exists.add(_exists_flag(value["exists"], where))
            else:
                predicates.append(compile_expression(value, where))
        elif value is None or type(value) is str or type(value) is bool or is_number(value):
            exact.add(exact_key(value))
        else:
            raise FilterError(
                f"{where}: match values must be strings, numbers, true, false, null or operator objects "
                f"such as {{\"prefix\": \"a\"}}, got {value!r}"
            )
    return _leaf(frozenset(exact), tuple(predicates), if_present=True in exists, if_absent=False in exists)


def _exists_flag(flag: Any, where: str) -> bool:
    if type(flag) is not bool:
        raise FilterError(f"{where}: exists: the value must be true or false, got {flag!r}")
    return flag


def _leaf(exact: frozenset[Any], predicates: tuple[Predicate, ...], if_present: bool, if_absent: bool) -> Matcher:
    def test(value: Any) -> bool:
        if (value if type(value) is str else exact_key(value)) in exact:
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
