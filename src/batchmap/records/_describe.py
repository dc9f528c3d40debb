"""Short, safe descriptions of JSON values for error messages.

An error names the field and shows the value, but a malformed event may hold a
megabyte string or a value nested ten thousand deep: ``clip`` never shows more
than a line of it, and neither function can fail on any value.
"""

from __future__ import annotations

CLIP = 80
"""Characters of a value's ``repr`` an error message shows at most."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: object = _Missing()
"""A key that is not there: ``got(MISSING)`` says so (``raw.get(name, MISSING)``)."""


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type (``null``, ``boolean``, ``number``, ``string``, ``array``, ``object``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def clip(value: object, limit: int = CLIP) -> str:
    """``repr(value)`` cut to ``limit`` characters (a huge or deeply nested value is shown by its type)."""
    if isinstance(value, str | bytes | bytearray) and len(value) > limit:
        value = value[:limit]
    elif isinstance(value, list | dict) and len(value) > 8:
        return f"<{json_type(value)} of {len(value)} items>"
    try:
        text = repr(value)
    except RecursionError:
        return f"<deeply nested {json_type(value)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_name(name: object, limit: int = 60) -> str:
    """An object key as it goes into a field path (``dynamodb.NewImage.<name>``), cut to ``limit``."""
    text = name if isinstance(name, str) else repr(name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def got(value: object) -> str:
    """``"string 'abc'"``, ``"null"``: the type and value for an "expected ..., got ..." message."""
    if value is MISSING:
        return "nothing (the key is missing)"
    return "null" if value is None else f"{json_type(value)} {clip(value)}"
