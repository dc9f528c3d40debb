"""A base for immutable slotted value classes that costs nothing to import.

The standard-library-only toolkit runs inside Lambda cold starts, where
``dataclasses`` (which pulls in ``inspect``, ``re`` and ``typing``) costs more
than the whole toolkit. ``Value`` gives the same contract as a frozen slotted
dataclass: fields are the ``__slots__`` of the class and its bases, set once in
``__init__`` through ``set_field`` and read-only afterwards, with field-wise
``repr``, equality and hashing. The records and the handler toolkit both build
their values on it (a public module, so the handler needs nothing private).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

set_field = object.__setattr__
"""``set_field(self, name, value)``: how a ``Value``'s ``__init__`` sets a field (once)."""
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name in klass.__dict__.get("__slots__", ()):
                if not name.startswith("_"):
                    names.append(name)
        fields = _FIELDS[cls] = tuple(names)
    return fields


class Value:
    """Immutable, slotted, compared and hashed field by field."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def _items(self) -> Iterator[tuple[str, object]]:
        for name in _fields_of(type(self)):
            yield name, getattr(self, name)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self._items())
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(other, name) == value for name, value in self._items())

    def __hash__(self) -> int:
        return hash((type(self), *(value for _, value in self._items())))

