"""Field names as EventBridge sees them: joined by dots, in patterns and in records alike.

EventBridge flattens a pattern to dotted paths before matching, so
``{"state.status": ["running"]}`` and ``{"state": {"status": ["running"]}}`` are
one rule, and a record holding ``{"state.status": "running"}`` matches both
(recorded outcomes; Event Ruler documents it as its joining character).

``pattern_tree`` turns a parsed pattern into ``Node``\\ s whose field names
hold no dots, checking its shape and depth on the way so every later step
recurses a bounded number of times. ``expand`` does the same for one object
of a record, lazily, only when the object has a dotted key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from batchmap.errors import FilterError
from batchmap.filters.operators import OPERATORS
from batchmap.filters.values import brief

MAX_PATTERN_DEPTH: Final = 64
"""Levels of nested fields (each name of a dotted key counts) and ``$or`` in one pattern."""

OR: Final = "$or"


@dataclass(frozen=True, slots=True)
class Node:
    """One object of a pattern: ``fields`` hold match-value lists or sub-``Node``\\ s; ``alternatives`` ``$or``\\ s.

    A name may appear twice, once with values and once with an object (from
    ``{"a": [...], "a.b": [...]}``): both must match.
    """

    where: str
    fields: tuple[tuple[str, str, list[Any] | Node], ...]
    alternatives: tuple[tuple[str, tuple[Node, ...]], ...]


class _Builder:
    """A ``Node`` being assembled: values at one path are replaced (the last wins), objects merge."""

    __slots__ = ("alternatives", "depth", "fields", "where")

    def __init__(self, where: str, depth: int) -> None:
        _check_depth(depth, where)
        self.where = where
        self.depth = depth
        self.fields: dict[tuple[str, bool], tuple[str, list[Any] | _Builder]] = {}
        self.alternatives: list[tuple[str, tuple[Node, ...]]] = []

    def child(self, name: str, where: str) -> _Builder:
        found = self.fields.get((name, True))
        if found is None:
            built = _Builder(where, self.depth + 1)
            self.fields[(name, True)] = (where, built)
            return built
        child = found[1]
        assert isinstance(child, _Builder)
        return child

    def build(self) -> Node:
        fields = tuple(
            (name, where, value.build() if isinstance(value, _Builder) else value)
            for (name, _), (where, value) in self.fields.items()
        )
        return Node(self.where, fields, tuple(self.alternatives))


def _check_depth(depth: int, where: str) -> None:
    if depth > MAX_PATTERN_DEPTH:
        raise FilterError(
            f"{where}: the pattern is nested deeper than {MAX_PATTERN_DEPTH} levels "
            "(fields, the names of a dotted key, and $or each count one)"
        )


def pattern_tree(pattern: Any) -> Node:
    """The pattern with dotted keys split into nested fields; a ``FilterError`` names a bad place."""
    if type(pattern) is not dict:
        raise FilterError(f"a pattern must be a JSON object, got {brief(pattern)}")
    root = _Builder("", 0)
    _fill(root, pattern)
    return root.build()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fill(builder: _Builder, obj: dict[str, Any]) -> None:
    if not obj:
        raise FilterError(f"{builder.where or 'pattern'}: empty objects are not allowed")
    for key, value in obj.items():
        where = _join(builder.where, key)
        if key == OR:
            builder.alternatives.append((where, _branches(value, where, builder)))
            continue
        if key in OPERATORS:
            parent = builder.where.rsplit(".", 1)[-1] or "field"
            raise FilterError(
                f"{where}: {key!r} is an operator, so it must sit in the field's list of match values, "
                f"e.g. {{\"{parent}\": [{{\"{key}\": ...}}]}}"
            )
        *parents, name = key.split(".")
        target = builder
        path = builder.where
        for parent_name in parents:
            path = _join(path, parent_name)
            target = target.child(parent_name, path)
        if type(value) is dict:
            _fill(target.child(name, where), value)
        elif type(value) is list:
            _check_depth(target.depth + 1, where)
            target.fields.pop((name, False), None)
            target.fields[(name, False)] = (where, value)
        else:
            raise FilterError(f"{where}: must be an object or a list of match values, got {brief(value)}")


def _branches(value: Any, where: str, parent: _Builder) -> tuple[Node, ...]:
    if type(value) is not list or len(value) < 2 or any(type(branch) is not dict for branch in value):
        raise FilterError(f"{where}: $or takes a list of at least two pattern objects, got {brief(value)}")
    branches: list[Node] = []
    for branch in value:
        builder = _Builder(parent.where, parent.depth + 1)
        _fill(builder, branch)
        branches.append(builder.build())
    return tuple(branches)


def has_dotted_key(document: dict[Any, Any]) -> bool:
    """Whether an object of a record has a key with a dot (one C-speed pass over its keys)."""
    try:
        return "." in "".join(document)
    except TypeError:
        return any(type(key) is str and "." in key for key in document)


def expand(document: dict[Any, Any]) -> dict[Any, Any]:
    """The object with each dotted key split once: ``{"a.b": 1}`` reads as ``{"a": {"b": 1}}``.

    Deeper dots are split when the matcher reaches them. Where a split key meets
    a key already there, two objects merge; anything else becomes an array of
    both, as EventBridge sees several values at one path.
    """
    out: dict[Any, Any] = {}
    for key, value in document.items():
        if type(key) is str and "." in key:
            key, rest = key.split(".", 1)
            value = {rest: value}
        out[key] = _combine(out[key], value, MAX_PATTERN_DEPTH) if key in out else value
    return out


def _combine(first: Any, second: Any, budget: int) -> Any:
    if type(first) is dict and type(second) is dict and budget > 0:
        merged = dict(first)
        for key, value in second.items():
            merged[key] = _combine(merged[key], value, budget - 1) if key in merged else value
        return merged
    return (first if type(first) is list else [first]) + (second if type(second) is list else [second])
