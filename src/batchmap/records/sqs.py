"""SQS messages, standard and FIFO (reference §9.1, §9.2)."""

from __future__ import annotations

from batchmap.records.record import AwsRecord, json_loads

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
        message_id: str = self._raw["messageId"]
        return message_id

    @property
    def message_id(self) -> str:
        """The SQS message id (same as ``.id``)."""
        return self.id

    @property
    def key(self) -> str | None:
        """``MessageGroupId`` for FIFO queues, ``None`` for standard queues (no order)."""
        group: str | None = self.attributes.get("MessageGroupId")
        return group

    @property
    def body(self) -> str:
        """The message body, undecoded."""
        body: str = self._raw["body"]
        return body

    @property
    def size(self) -> int:
        body = self.body
        return len(body) if body.isascii() else len(body.encode("utf-8"))

    def _decode(self) -> Any:
        return json_loads(self.body)

    @property
    def receipt_handle(self) -> str:
        handle: str = self._raw.get("receiptHandle", "")
        return handle

    @property
    def attributes(self) -> dict[str, str]:
        """System attributes (``ApproximateReceiveCount``, ``SentTimestamp``, FIFO fields): strings."""
        attributes: dict[str, str] = self._raw.get("attributes") or {}
        return attributes

    @property
    def message_attributes(self) -> dict[str, dict[str, Any]]:
        """User message attributes in Lambda's shape (``stringValue``/``binaryValue``, ``dataType``)."""
        attributes: dict[str, dict[str, Any]] = self._raw.get("messageAttributes") or {}
        return attributes

    @property
    def message_group_id(self) -> str | None:
        return self.key

    @property
    def message_deduplication_id(self) -> str | None:
        return self.attributes.get("MessageDeduplicationId")

    @property
    def sequence_number(self) -> str | None:
        """The FIFO sequence number (``None`` on standard queues)."""
        return self.attributes.get("SequenceNumber")

    @property
    def is_fifo(self) -> bool:
        return "MessageGroupId" in self.attributes

    @property
    def approximate_receive_count(self) -> int:
        """How many times SQS has handed this message out, this time included."""
        return int(self.attributes.get("ApproximateReceiveCount", "1"))

    @property
    def sent_timestamp_ms(self) -> int | None:
        sent = self.attributes.get("SentTimestamp")
        return int(sent) if sent is not None else None
