"""What a filter sees of a record: the AWS-shaped record with its data field decoded, per source.

* ``sqs``: the record; ``body`` parsed as JSON when it holds a JSON object or
  array, else kept as a plain string. Metadata (``attributes``,
  ``messageAttributes``, ``messageId``, ...) as in the record.
* ``kinesis``: the fields of ``record["kinesis"]`` (``partitionKey``,
  ``sequenceNumber``, ...) lifted to the top level beside the record's own
  (``eventName``, ``awsRegion``, ...), as Lambda's examples write patterns;
  ``data`` base64-decoded, UTF-8 decoded and parsed as JSON.
* ``dynamodb``: the record as it is; ``dynamodb`` already is DynamoDB-typed JSON.
* ``kafka``: the record; ``value`` and ``key`` base64-decoded, UTF-8 decoded,
  then JSON (object or array) or plain string like an SQS body.

Only the data keys some filter uses are decoded, once per record.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Final

from batchmap.filters.pattern import ABSENT, JSON, TEXT, UNDECODABLE, Payload
from batchmap.filters.values import NestingError, loads
from batchmap.records import SourceKind

DATA_KEYS: Final[dict[SourceKind, tuple[str, ...]]] = {
    "sqs": ("body",),
    "kinesis": ("data",),
    "dynamodb": ("dynamodb",),
    "kafka": ("value", "key"),
}
"""The keys under which each source's payload is matched."""

ON_MISMATCH: Final[dict[SourceKind, bool]] = {"sqs": False, "kinesis": False, "dynamodb": False, "kafka": True}
"""What a data condition counts as when the payload's format differs from the pattern's.

False drops the record (SQS: deleted; streams: skipped). True removes the
condition, so Kafka records are filtered on their metadata only.
"""

JSON_ONLY: Final[frozenset[SourceKind]] = frozenset({"kinesis", "dynamodb"})
"""Sources whose data pattern must be a JSON object (Lambda rejects the mapping otherwise)."""

_ABSENT: Final = Payload(ABSENT)
_UNDECODABLE: Final = Payload(UNDECODABLE)
_JSON_START: Final = frozenset("{[")
_BLANK: Final = " \t\n\r"


def text_payload(text: str) -> Payload:
    """JSON when the text holds a JSON object or array; a plain string otherwise."""
    first = text[:1]
    if first in _BLANK:
        first = text.lstrip(_BLANK)[:1]
    if first in _JSON_START:
        try:
            value = loads(text)
        except NestingError:
            return _UNDECODABLE
        except ValueError:
            pass
        else:
            return Payload(JSON, value)
    return Payload(TEXT, text)


def base64_payload(data: Any) -> Payload:
    """A base64 field decoded to text, then to JSON when it is; undecodable if not base64 or UTF-8."""
    if data is None:
        return _ABSENT
    if type(data) is not str:
        return _UNDECODABLE
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return _UNDECODABLE
    return text_payload(text)


def _body_payload(body: Any) -> Payload:
    if body is None:
        return _ABSENT
    if type(body) is str:
        return text_payload(body)
    return Payload(JSON, body) if type(body) in (dict, list) else _UNDECODABLE


def _sqs(record: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    if not used:
        return record
    document = dict(record)
    document["body"] = _body_payload(record.get("body"))
    return document


def _kinesis(record: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    document = {key: value for key, value in record.items() if key != "kinesis"}
    inner = record.get("kinesis")
    if type(inner) is dict:
        document.update(inner)
    if used:
        document["data"] = base64_payload(document.get("data"))
    return document


def _dynamodb(record: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    if not used:
        return record
    document = dict(record)
    image = record.get("dynamodb")
    document["dynamodb"] = Payload(JSON, image) if type(image) is dict else (
        _ABSENT if image is None else _UNDECODABLE
    )
    return document


def _kafka(record: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    if not used:
        return record
    document = dict(record)
    for key in used:
        document[key] = base64_payload(record.get(key))
    return document


DOCUMENTS: Final[dict[SourceKind, Callable[[dict[str, Any], frozenset[str]], dict[str, Any]]]] = {
    "sqs": _sqs,
    "kinesis": _kinesis,
    "dynamodb": _dynamodb,
    "kafka": _kafka,
}
"""Per source: ``(record, data keys in use) -> the document patterns are matched against``."""


def describe(kind: str) -> str:
    """How a payload kind reads in a log line."""
    return {
        JSON: "JSON",
        TEXT: "a plain string",
        ABSENT: "absent",
        UNDECODABLE: "not decodable (not base64, not UTF-8, JSON nested too deeply to parse, or not an object)",
    }[kind]
