"""Kinesis Data Streams records (reference §9.3)."""

from __future__ import annotations

from batchmap.records.record import AwsRecord, b64decode, b64size, json_loads

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
        inner: dict[str, Any] = self._raw["kinesis"]
        return inner

    @property
    def id(self) -> str:
        sequence_number: str = self._raw["kinesis"]["sequenceNumber"]
        return sequence_number

    @property
    def sequence_number(self) -> str:
        return self.id

    @property
    def key(self) -> str:
        partition_key: str = self._raw["kinesis"]["partitionKey"]
        return partition_key

    @property
    def partition_key(self) -> str:
        return self.key

    @property
    def data(self) -> bytes:
        """The record payload, base64-decoded."""
        return b64decode(self._kinesis["data"])

    @property
    def size(self) -> int:
        return b64size(self._kinesis["data"])

    def _decode(self) -> Any:
        return json_loads(self.data)

    @property
    def approximate_arrival_timestamp(self) -> float:
        """When Kinesis accepted the record, in epoch seconds."""
        return float(self._kinesis.get("approximateArrivalTimestamp", 0.0))

    @property
    def event_id(self) -> str:
        """``<shardId>:<sequenceNumber>``."""
        event_id: str = self._raw.get("eventID", "")
        return event_id

    @property
    def shard_id(self) -> str:
        """The shard the record was read from (the part of ``eventID`` before the colon)."""
        return self.event_id.partition(":")[0]
