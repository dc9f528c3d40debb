"""SQS messages, standard and FIFO (reference §9.1, §9.2)."""

from __future__ import annotations

from batchmap.records.record import AwsRecord, json_loads, number, optional, text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class SQSRecord(AwsRecord):
    """One SQS message. ``.id`` is the ``messageId``; ``.key`` the FIFO ``MessageGroupId``.

    ``.json()`` decodes the body as JSON; ``.body`` is the body as sent.
    """

    __slots__ = ()
    kind = "sqs"
    event_source = "aws:sqs"

    @property
    def id(self) -> str:
        """The ``messageId`` (also ``.message_id``)."""
        raw = self._raw
        if type(raw) is dict:  # the common case inline: this is read for every record
            value = raw.get("messageId")
            if type(value) is str and value:
                return value
        return text(raw, "messageId", "messageId", non_empty=True)

    message_id = id

    @property
    def key(self) -> str | None:
        """``MessageGroupId`` for FIFO queues, ``None`` for standard queues (no order)."""
        return self._attribute("MessageGroupId")

    @property
    def body(self) -> str:
        """The message body, undecoded."""
        raw = self._raw
        if type(raw) is dict:
            value = raw.get("body")
            if type(value) is str:
                return value
        return text(raw, "body", "body")

    @property
    def size(self) -> int:
        """The body's length in UTF-8 bytes (a lone surrogate, which SQS never sends, counts 3)."""
        body = self.body
        return len(body) if body.isascii() else len(body.encode("utf-8", "surrogatepass"))

    def _decode(self) -> Any:
        return json_loads(self.body, "body")

    @property
    def receipt_handle(self) -> str:
        handle: str = optional(self._raw, "receiptHandle", "receiptHandle", str, "")
        return handle

    @property
    def attributes(self) -> dict[str, str]:
        """System attributes (``ApproximateReceiveCount``, ``SentTimestamp``, FIFO fields): strings."""
        attributes: dict[str, str] = optional(self._raw, "attributes", "attributes", dict, {})
        return attributes

    @property
    def message_attributes(self) -> dict[str, dict[str, Any]]:
        """User message attributes in Lambda's shape (``stringValue``/``binaryValue``, ``dataType``)."""
        attributes: dict[str, dict[str, Any]] = optional(self._raw, "messageAttributes", "messageAttributes",
                                                         dict, {})
        return attributes

    def _attribute(self, name: str) -> str | None:
        value: str | None = optional(self.attributes, name, f"attributes.{name}", str)
        return value

    @property
    def message_group_id(self) -> str | None:
        return self.key

    @property
    def message_deduplication_id(self) -> str | None:
        return self._attribute("MessageDeduplicationId")

    @property
    def sequence_number(self) -> str | None:
        """The FIFO sequence number (``None`` on standard queues)."""
        return self._attribute("SequenceNumber")

    @property
    def is_fifo(self) -> bool:
        return "MessageGroupId" in self.attributes

    @property
    def approximate_receive_count(self) -> int:
        """How many times SQS has handed this message out, this time included."""
        count = self.attributes.get("ApproximateReceiveCount", "1")
        return int(number(count, "attributes.ApproximateReceiveCount", int))

    @property
    def sent_timestamp_ms(self) -> int | None:
        sent = self.attributes.get("SentTimestamp")
        return None if sent is None else int(number(sent, "attributes.SentTimestamp", int))

