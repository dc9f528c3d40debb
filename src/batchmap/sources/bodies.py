"""What producers take as a message: text for queues, bytes for streams, kept exactly as given.

A stream record's data is bytes (Kinesis ``Data``, a Kafka value): it is stored
and delivered byte for byte, base64 in the record, so any bytes may be sent.
A queue message body is text (SQS ``MessageBody``): bytes are accepted only when
they are UTF-8. Either way a body that cannot be taken is a ``ConfigError``
naming it, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from batchmap.errors import ConfigError

Body = str | bytes
"""One message as a producer's ``send`` takes it."""

MAX_PARTITION_KEY = 256
"""Kinesis's longest partition key, in characters."""
_SHOWN: Final = 60


def as_data(body: Body, where: str = "Data") -> bytes:
    """Stream data: bytes as they are, text as UTF-8."""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(where, body[:_SHOWN], f"text UTF-8 can encode ({exc.reason} at "
                                                    f"character {exc.start + 1}), or bytes") from None
    raise ConfigError(where, type(body).__name__, "bytes or text")


def as_text(body: Body, where: str = "MessageBody") -> str:
    """A queue message body: text as it is, bytes only when they are UTF-8."""
    if isinstance(body, str):
        return body
    if isinstance(body, bytes | bytearray):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(where, bytes(body[:_SHOWN]), f"UTF-8 text (byte {exc.start + 1} is not): a queue "
                                                           "carries text; only streams take any bytes") from None
    raise ConfigError(where, type(body).__name__, "text")


def all_data(bodies: Sequence[Body]) -> list[bytes]:
    """Every body as stream data (see ``as_data``)."""
    return [as_data(body, f"Data (message {index})") for index, body in enumerate(bodies, 1)]


def check_partition_key(key: object) -> str:
    """A Kinesis partition key: 1 to 256 characters."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_PARTITION_KEY:
        raise ConfigError("PartitionKey", key, f"1 to {MAX_PARTITION_KEY} characters")
    return key
