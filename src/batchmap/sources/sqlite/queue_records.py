"""The SQS wire shapes of the embedded queue: outgoing messages in, Lambda records out.

A record is exactly what Lambda puts in ``event["Records"]`` for SQS (reference
§9.1/§9.2). ``Delivery.size`` is the record's length as compact JSON
(``separators=(",", ":")``) with ASCII escapes, the largest of the usual
encodings, so a 6 MB payload check built on it is never optimistic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchmap.errors import ConfigError
from batchmap.sources.base import Delivery
from batchmap.sources.sqlite.uri import ACCOUNT, REGION

SENDER_ID = ACCOUNT
SEQUENCE_WIDTH = 20
MAX_DELAY_S = 900
"""SQS's longest per-message and queue ``DelaySeconds`` (15 minutes)."""
"""FIFO ``SequenceNumber`` digits (SQS's own are 20 digits); zero-padded so they sort as strings."""

_INVALID_BODY_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_GROUP_ID = re.compile("[!-~]{1,128}")
"""SQS's MessageGroupId: 1 to 128 letters, digits and ASCII punctuation (every printable ASCII but space)."""
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,200})?")

ReceivedRow = tuple[int, str, str, str, str | None, str | None, str | None, int, int, int]
"""seq, message_id, body, md5, message_attributes, group_id, dedup_id, sent_ms, receive_count,
first_receive_ms: the columns a receive returns."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to send; ``delay_s`` None means the queue's ``DelaySeconds``."""

    body: str
    group_id: str | None = None
    deduplication_id: str | None = None
    delay_s: int | None = None
    message_attributes: str | None = None  # validated wire JSON, see ``message_attributes_json``
    attributes_size: int = 0  # bytes the attributes count toward MaximumMessageSize


@dataclass(frozen=True, slots=True)
class SendResult:
    """What SendMessage answers: the id, the body's MD5, and for FIFO the sequence number."""

    message_id: str
    md5_of_body: str
    sequence_number: str | None = None
    duplicate: bool = False


def check_delay(delay_s: object) -> int:
    """A per-message ``DelaySeconds``: an integer from 0 to 900, as SQS takes it."""
    if isinstance(delay_s, bool) or not isinstance(delay_s, int) or not 0 <= delay_s <= MAX_DELAY_S:
        raise ConfigError("DelaySeconds", delay_s, f"an integer from 0 to {MAX_DELAY_S} seconds")
    return delay_s


def check_group_id(group_id: object) -> None:
    """A ``MessageGroupId`` as SQS takes it (a FIFO queue's group, a fair queue's tenant)."""
    if not isinstance(group_id, str) or not _GROUP_ID.fullmatch(group_id):
        raise ConfigError("MessageGroupId", group_id,
                          "1 to 128 ASCII letters, digits and punctuation (no spaces)")


def check_body(body: object, maximum_size: int) -> int:
    """Validate a message body as SQS does; returns its size in bytes."""
    if not isinstance(body, str):
        raise ConfigError("MessageBody", body, "a string")
    if not body:
        raise ConfigError("MessageBody", body, "at least 1 character")
    bad = _INVALID_BODY_CHAR.search(body)
    if bad:
        raise ConfigError("MessageBody", body[:80], f"characters SQS allows; {bad.group()!r} is not one")
    size = len(body.encode("utf-8"))
    if size > maximum_size:
        raise ConfigError("MessageBody", f"<{size} bytes>",
                          f"at most MaximumMessageSize={maximum_size} bytes")
    return size


def md5_of(body: str) -> str:
    """``md5OfBody``: the hex MD5 of the UTF-8 body."""
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def content_deduplication_id(body: str) -> str:
    """ContentBasedDeduplication's id: SHA-256 of the body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def message_attributes_json(attributes: dict[str, dict[str, Any]] | None) -> tuple[str | None, int]:
    """Validate user message attributes (SendMessage's shape); returns (record JSON, size in bytes).

    Accepts either casing SQS tools use (``DataType``/``StringValue``/``BinaryValue``
    or ``dataType``/``stringValue``/``binaryValue``); binary values may be bytes or base64.
    """
    if not attributes:
        return None, 0
    if len(attributes) > 10:
        raise ConfigError("MessageAttributes", len(attributes), "at most 10 attributes")
    out: dict[str, dict[str, Any]] = {}
    size = 0
    for name, spec in attributes.items():
        if not _ATTRIBUTE_NAME.fullmatch(name) or name.lower().startswith(("aws.", "amazon.")):
            raise ConfigError("MessageAttributes", name,
                              "a name of letters, digits, '_', '-', '.' not starting aws. or amazon.")
        data_type = spec.get("DataType", spec.get("dataType"))
        if not isinstance(data_type, str) or not _DATA_TYPE.fullmatch(data_type):
            raise ConfigError(f"MessageAttributes.{name}.DataType", data_type,
                              "String, Number or Binary (optionally .label)")
        value, value_size = _attribute_value(name, data_type, spec)
        out[name] = {"stringValue" if not data_type.startswith("Binary") else "binaryValue": value,
                     "stringListValues": [], "binaryListValues": [], "dataType": data_type}
        size += len(name.encode()) + len(data_type.encode()) + value_size
    return json.dumps(out, separators=(",", ":")), size


def _attribute_value(name: str, data_type: str, spec: dict[str, Any]) -> tuple[str, int]:
    if data_type.startswith("Binary"):
        raw = spec.get("BinaryValue", spec.get("binaryValue"))
        if isinstance(raw, bytes | bytearray):
            return base64.b64encode(raw).decode("ascii"), len(raw)
        try:
            decoded = base64.b64decode(str(raw), validate=True)
        except ValueError:
            raise ConfigError(f"MessageAttributes.{name}.BinaryValue", raw, "bytes or base64 text") from None
        return str(raw), len(decoded)
    value = spec.get("StringValue", spec.get("stringValue"))
    if not isinstance(value, str) or not value:
        raise ConfigError(f"MessageAttributes.{name}.StringValue", value, "a non-empty string")
    if data_type.startswith("Number"):
        try:
            float(value)
        except ValueError:
            raise ConfigError(f"MessageAttributes.{name}.StringValue", value, "a number") from None
    return value, len(value.encode("utf-8"))


def sequence_number(seq: int) -> str:
    """A FIFO ``SequenceNumber``: the message's row sequence, zero-padded to 20 digits."""
    return f"{seq:0{SEQUENCE_WIDTH}d}"


def deliveries(rows: list[ReceivedRow], token: str, arn: str, fifo: bool) -> list[Delivery]:
    """Turn received rows into Deliveries carrying SQS-shaped records, in queue order.

    The hottest loop of the embedded queue (once per message): sizes are summed
    rather than serialised, numbers formatted by f-strings rather than ``str``
    calls, each record copied from a template holding its keys and constant
    values, and each Delivery made by ``tuple.__new__``, without the named
    tuple's Python-level constructor.
    """
    rows.sort()  # row sequences are unique, so the rows order by their first column alone
    suffix = f".{token}"
    # Every record's fixed bytes, its receipt handle's token included.
    fixed = _FIFO_KEYS_SIZE if fifo else 0
    fixed += _FIXED_SIZE + len(_quote(arn)) + _SENDER_SIZE + len(suffix)
    new = _new_tuple
    template: dict[str, Any] = {
        "messageId": "", "receiptHandle": "", "body": "", "attributes": None, "messageAttributes": None,
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION,
    }  # every record's keys, in Lambda's order, and its constant values
    out = []
    for seq, message_id, body, md5, attrs, group_id, dedup_id, sent_ms, count, first_ms in rows:
        seq_text, count_text, sent_text, first_text = f"{seq}", f"{count}", f"{sent_ms}", f"{first_ms}"
        handle = seq_text + suffix
        # Numbers need no JSON escaping; only the body, and the group and deduplication ids, may.
        size = fixed + len(f"{seq_text}{count_text}{sent_text}{first_text}{message_id}{md5}") + len(_quote(body))
        if fifo:
            sequence = sequence_number(seq)
            group, dedup = group_id or "", dedup_id or ""
            attributes = {"ApproximateReceiveCount": count_text, "SentTimestamp": sent_text,
                          "SequenceNumber": sequence, "MessageGroupId": group, "SenderId": SENDER_ID,
                          "MessageDeduplicationId": dedup, "ApproximateFirstReceiveTimestamp": first_text}
            size += len(sequence) + len(_quote(group)) + len(_quote(dedup))
        elif group_id is not None:
            attributes = {"ApproximateReceiveCount": count_text, "SentTimestamp": sent_text,
                          "MessageGroupId": group_id, "SenderId": SENDER_ID,
                          "ApproximateFirstReceiveTimestamp": first_text}
            size += _GROUP_KEY_SIZE + len(_quote(group_id))
        else:
            attributes = {"ApproximateReceiveCount": count_text, "SentTimestamp": sent_text,
                          "SenderId": SENDER_ID, "ApproximateFirstReceiveTimestamp": first_text}
        if attrs:
            message_attributes = json.loads(attrs)
            size += len(attrs)
        else:
            message_attributes = {}
            size += 2
        record = template.copy()  # copying a dict's keys is cheaper than inserting them one by one
        record["messageId"] = message_id
        record["receiptHandle"] = handle
        record["body"] = body
        record["attributes"] = attributes
        record["messageAttributes"] = message_attributes
        record["md5OfBody"] = md5
        out.append(new(Delivery, (record, message_id, group_id if fifo else None, "", size, sent_ms, count, handle)))
    return out


def record_size(record: dict[str, Any]) -> int:
    """The size ``Delivery.size`` reports: compact JSON with ASCII escapes."""
    return len(json.dumps(record, separators=(",", ":")))


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
_new_tuple: Callable[[type[Delivery], tuple[Any, ...]], Delivery] = tuple.__new__
"""Makes a Delivery from a tuple of its fields in one C call (the named tuple's ``__new__`` is Python)."""
_FIXED_SIZE = len(
    '{"messageId":"","receiptHandle":"","body":,"attributes":{"ApproximateReceiveCount":"",'
    '"SentTimestamp":"","SenderId":,"ApproximateFirstReceiveTimestamp":""},"messageAttributes":,'
    '"md5OfBody":"","eventSource":"aws:sqs","eventSourceARN":,"awsRegion":"local"}'
)
"""Bytes of a standard-queue record without its variable parts; sizes are summed, not serialised."""
_SENDER_SIZE = len(_quote(SENDER_ID))
_FIFO_KEYS_SIZE = len(',"SequenceNumber":"","MessageGroupId":,"MessageDeduplicationId":')
_GROUP_KEY_SIZE = len(',"MessageGroupId":')


def parse_handle(handle: str) -> tuple[int, str]:
    """Split a receipt handle into (row sequence, receive token)."""
    seq, _, token = handle.partition(".")
    if not seq.isdigit() or not token:
        raise ConfigError("ReceiptHandle", handle, "a receipt handle returned by receive on this queue")
    return int(seq), token
