"""Kinesis Data Streams records (reference §9.3)."""

from __future__ import annotations

from batchmap.records.record import AwsRecord, b64decode, b64size, json_loads, member, number, optional, text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class KinesisRecord(AwsRecord):
    """One Kinesis record. ``.id`` is the sequence number; ``.key`` the partition key.

    ``.data`` is the base64-decoded payload; ``.json()`` decodes it as JSON.
    """

    __slots__ = ()
    kind = "kinesis"
    event_source = "aws:kinesis"

    @property
    def _kinesis(self) -> dict[str, Any]:
        raw = self._raw
        if type(raw) is dict:
            inner = raw.get("kinesis")
            if type(inner) is dict:
                return inner
        return member(raw, "kinesis", "kinesis")

    @property
    def id(self) -> str:
        return text(self._kinesis, "sequenceNumber", "kinesis.sequenceNumber", non_empty=True)

    sequence_number = id

    @property
    def key(self) -> str:
        return text(self._kinesis, "partitionKey", "kinesis.partitionKey")

    partition_key = key

    @property
    def data(self) -> bytes:
        """The record payload, base64-decoded."""
        return b64decode(text(self._kinesis, "data", "kinesis.data"), "kinesis.data")

    @property
    def size(self) -> int:
        return b64size(text(self._kinesis, "data", "kinesis.data"))

    def _decode(self) -> Any:
        return json_loads(self.data, "kinesis.data")

    @property
    def approximate_arrival_timestamp(self) -> float:
        """When Kinesis accepted the record, in epoch seconds."""
        field = "kinesis.approximateArrivalTimestamp"
        return float(number(self._kinesis.get("approximateArrivalTimestamp", 0.0), field, float))

    @property
    def event_id(self) -> str:
        """``<shardId>:<sequenceNumber>``."""
        event_id: str = optional(self._raw, "eventID", "eventID", str, "")
        return event_id

    @property
    def shard_id(self) -> str:
        """The shard the record was read from (the part of ``eventID`` before the colon)."""
        return self.event_id.partition(":")[0]
