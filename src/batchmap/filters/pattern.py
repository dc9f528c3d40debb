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
  ``{"exists": false}`` holds for an absent field, an empty array and an object;
* field names are joined by dots (``fields``): ``"a.b"`` is ``a`` then ``b``, in
  the pattern and in the record.

At the top level a source's *data key* (``body``, ``data``, ``dynamodb``,
``value``, ``key``) is special: the document holds a decoded ``Payload`` there,
and the pattern's format for it (an object = JSON, a value list = plain string)
must agree with the payload's format. What a disagreement means depends on the
source (``on_mismatch``): SQS and streams drop the record, Kafka ignores the
data condition and filters on metadata only.

Every step of matching recurses at most as deep as the pattern (whose depth is
bounded), never as deep as the record: nested arrays are walked with a stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from batchmap.errors import FilterError
from batchmap.filters.complexity import MAX_WILDCARD_COMPLEXITY, wildcard_complexity
from batchmap.filters.fields import Node, expand, has_dotted_key, pattern_tree
from batchmap.filters.leaf import Matcher, compile_leaf
from batchmap.filters.values import MISSING
from batchmap.filters.wildcard import Wildcard

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


@dataclass(slots=True)
class _Context:
    """What compiling collects on the way: the data keys' formats and each field's wildcards."""

    data: Mapping[str, bool] | None
    formats: dict[str, set[str]] = field(default_factory=dict)
    wildcards: dict[str, list[Wildcard]] = field(default_factory=dict)


def compile_pattern(pattern: Any, data: Mapping[str, bool] | None = None) -> CompiledPattern:
    """Compile a parsed pattern; ``data`` maps the source's data keys to their ``on_mismatch`` value."""
    context = _Context(data)
    compiled = _compile_object(pattern_tree(pattern), context, top=True)
    _check_complexity(context.wildcards)
    formats = {key: frozenset(found) for key, found in context.formats.items()}
    return CompiledPattern(compiled.on_dict, formats)


def _check_complexity(wildcards: dict[str, list[Wildcard]]) -> None:
    """AWS refuses a rule whose wildcards on one field are too complex (``complexity``)."""
    for where, found in wildcards.items():
        complexity = wildcard_complexity(found)
        if complexity > MAX_WILDCARD_COMPLEXITY:
            raise FilterError(
                f"{where}: the rule is too complex: its wildcards could keep {complexity} partial matches "
                f"alive at once, AWS allows {MAX_WILDCARD_COMPLEXITY}; use fewer '*' characters or fewer "
                "repeated characters after a '*'"
            )


def _compile_object(node: Node, context: _Context, *, top: bool = False, branch: bool = False) -> _Object:
    """``top``: the record itself; ``branch``: an ``$or`` branch, given the object its parent already expanded."""
    fields: list[tuple[str, Matcher]] = []
    missing = True
    alternatives: list[tuple[_Object, ...]] = []
    for _where, branches in node.alternatives:
        compiled = tuple(_compile_object(each, context, top=top, branch=True) for each in branches)
        alternatives.append(compiled)
        missing = missing and any(branch.on_missing for branch in compiled)
    for name, where, value in node.fields:
        matcher, fmt = _compile_field(value, where, context)
        if top and context.data is not None and name in context.data:
            context.formats.setdefault(name, set()).add(fmt)
            matcher = _data_field(matcher, fmt, context.data[name])
        fields.append((name, matcher))
        missing = missing and matcher(MISSING)
    return _Object(_all_of(tuple(fields), tuple(alternatives), dotted=not (top or branch)), missing)


def _compile_field(value: list[Any] | Node, where: str, context: _Context) -> tuple[Matcher, str]:
    if isinstance(value, Node):
        return _object_matcher(_compile_object(value, context)), JSON
    matcher, wildcards = compile_leaf(value, where)
    if wildcards:
        context.wildcards.setdefault(where, []).extend(wildcards)
    return matcher, TEXT


def _all_of(
    fields: tuple[tuple[str, Matcher], ...], alternatives: tuple[tuple[_Object, ...], ...], *, dotted: bool
) -> Callable[[dict[str, Any]], bool]:
    """All fields and one branch of each ``$or`` match; ``dotted``: the object may have dotted keys.

    The top-level document is the record as the source shaped it (AWS's field
    names, never dotted), so only the objects below it are checked.
    """

    def on_dict(document: dict[str, Any]) -> bool:
        if dotted:
            try:
                if "." in "".join(document):  # one C-speed pass; has_dotted_key spelled out on the hot path
                    document = expand(document)
            except TypeError:
                if has_dotted_key(document):
                    document = expand(document)
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
    """An object sub-pattern at a path: the object there, or any object in the (nested) array there."""
    on_dict = compiled.on_dict
    on_missing = compiled.on_missing

    def match(value: Any) -> bool:
        kind = type(value)
        if kind is dict:
            return on_dict(value)
        if kind is not list or not value:
            return on_missing
        stack = [iter(value)]
        while stack:
            for item in stack[-1]:
                kind = type(item)
                if kind is dict:
                    if on_dict(item):
                        return True
                elif kind is list and item:
                    stack.append(iter(item))
                    break
                elif on_missing:
                    return True
            else:
                stack.pop()
        return False

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
