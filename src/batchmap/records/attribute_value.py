"""DynamoDB typed JSON (``{"N": "1"}``, ``{"M": {...}}``) to plain Python values and back.

Numbers become ``int`` when they are integers and ``decimal.Decimal``
otherwise (never ``float``: DynamoDB numbers have 38 digits of precision);
``B`` becomes ``bytes``; ``SS``/``NS``/``BS`` become ``set``s.
"""

from __future__ import annotations

import binascii

from batchmap.errors import RecordError
from batchmap.records._describe import clip, got, key_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from decimal import Decimal
    from typing import Any


def _number(text: str) -> int | Decimal:
    if "." in text or "e" in text or "E" in text:
        from decimal import Decimal

        return Decimal(text)
    return int(text)


def decode_value(value: Mapping[str, Any], *, field: str = "value") -> Any:
    """One typed value to a plain one; ``field`` names it in the error if it is malformed."""
    try:
        return _value(value, field)
    except RecursionError:
        raise RecordError(f"{field}: nested too deeply", field=field) from None


def decode_item(item: Mapping[str, Mapping[str, Any]], *, field: str = "item") -> dict[str, Any]:
    """A typed item (``Keys``, ``NewImage``, ``OldImage``, an ``M`` value) to a plain dict."""
    try:
        return _item(item, field)
    except RecursionError:
        raise RecordError(f"{field}: nested too deeply", field=field) from None


def _value(value: Any, field: str) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        raise RecordError(f"{field}: a DynamoDB attribute value is a one-key object, got {got(value)}",
                          field=field)
    ((tag, inner),) = value.items()
    try:
        return _DECODERS[tag](inner, field)
    except KeyError:
        raise RecordError(f"{field}: unknown DynamoDB attribute type {clip(tag)}", field=field) from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # binascii.Error is a ValueError
        raise RecordError(f"{field}: invalid {tag} value {clip(inner)} ({str(exc)[:80]})", field=field) from exc


def _item(item: Any, field: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise RecordError(f"{field}: expected an object of attribute values, got {got(item)}", field=field)
    return {name: _value(value, f"{field}.{key_name(name)}") for name, value in item.items()}


def _decode_list(inner: Any, field: str) -> list[Any]:
    if not isinstance(inner, list):
        raise TypeError("L needs a list")
    return [_value(v, f"{field}[{i}]") for i, v in enumerate(inner)]


def _decode_bool(inner: Any, field: str) -> bool:
    if not isinstance(inner, bool):
        raise TypeError("BOOL needs true or false")
    return inner


def _decode_string(inner: Any, field: str) -> str:
    if not isinstance(inner, str):
        raise TypeError("S needs a string")
    return inner


def _decode_set(decode: Callable[[Any], Any]) -> Callable[[Any, str], set[Any]]:
    def decode_set(inner: Any, field: str) -> set[Any]:
        if not isinstance(inner, list):
            raise TypeError("a set needs a list")
        return {decode(v) for v in inner}

    return decode_set


def _decode_binary(inner: Any) -> bytes:
    return binascii.a2b_base64(inner, strict_mode=True)


_DECODERS: dict[str, Any] = {
    "S": _decode_string,
    "N": lambda inner, field: _number(inner),
    "B": lambda inner, field: _decode_binary(inner),
    "BOOL": _decode_bool,
    "NULL": lambda inner, field: None,
    "SS": _decode_set(lambda v: _decode_string(v, "")),
    "NS": _decode_set(_number),
    "BS": _decode_set(_decode_binary),
    "L": _decode_list,
    "M": _item,
}


def encode_value(value: Any, *, field: str = "value") -> dict[str, Any]:
    """A plain value to DynamoDB typed JSON (the inverse of ``decode_value``)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": binascii.b2a_base64(bytes(value), newline=False).decode("ascii")}
    if isinstance(value, dict):
        return {"M": encode_item(value, field=field)}
    if isinstance(value, list | tuple):
        return {"L": [encode_value(v, field=f"{field}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, set | frozenset):
        return _encode_set(value, field)
    return {"N": _number_text(value, field)}


def encode_item(item: Mapping[str, Any], *, field: str = "item") -> dict[str, dict[str, Any]]:
    """A plain dict to a typed item."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in item.items():
        if not isinstance(name, str):
            raise RecordError(f"{field}: attribute names are strings, got {got(name)}", field=field)
        out[name] = encode_value(value, field=f"{field}.{key_name(name)}")
    return out


def _number_text(value: Any, field: str) -> str:
    import math
    from decimal import Decimal

    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    raise RecordError(f"{field}: cannot encode {clip(value)} as a DynamoDB value", field=field)


def _encode_set(value: set[Any] | frozenset[Any], field: str) -> dict[str, Any]:
    if not value:
        raise RecordError(f"{field}: DynamoDB has no empty sets", field=field)
    if all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)}
    if all(isinstance(v, bytes) for v in value):
        return {"BS": sorted(binascii.b2a_base64(v, newline=False).decode("ascii") for v in value)}
    if all(not isinstance(v, bool | str | bytes) for v in value):
        return {"NS": sorted(_number_text(v, field) for v in value)}
    raise RecordError(f"{field}: a set must hold only strings, only numbers or only bytes", field=field)
