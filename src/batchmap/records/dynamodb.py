"""DynamoDB Streams records (reference §9.4)."""

from __future__ import annotations

from batchmap.records.attribute_value import decode_item
from batchmap.records.record import AwsRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class DynamoDBRecord(AwsRecord):
    """One DynamoDB Streams change. ``.id`` is the ``SequenceNumber``; ``.key`` the item's keys.

    ``.json()`` is the item as plain Python values: ``NewImage``, else ``OldImage``
    (a ``REMOVE``), else ``Keys`` (a ``KEYS_ONLY`` stream).
    """

    __slots__ = ()
    kind = "dynamodb"
    event_source = "aws:dynamodb"

    @property
    def _stream(self) -> dict[str, Any]:
        inner: dict[str, Any] = self._raw["dynamodb"]
        return inner

    @property
    def id(self) -> str:
        sequence_number: str = self._raw["dynamodb"]["SequenceNumber"]
        return sequence_number

    @property
    def sequence_number(self) -> str:
        return self.id

    @property
    def key(self) -> str:
        """The item's ``Keys`` as canonical JSON (sorted, compact): one string per item."""
        import json

        return json.dumps(self._stream.get("Keys", {}), sort_keys=True, separators=(",", ":"))

    @property
    def keys(self) -> dict[str, Any]:
        """The item's primary key as plain values."""
        return decode_item(self._stream.get("Keys", {}), field="dynamodb.Keys")

    @property
    def new_image(self) -> dict[str, Any] | None:
        """The item after the change (``NEW_IMAGE``/``NEW_AND_OLD_IMAGES`` streams), plain values."""
        image = self._stream.get("NewImage")
        return None if image is None else decode_item(image, field="dynamodb.NewImage")

    @property
    def old_image(self) -> dict[str, Any] | None:
        """The item before the change (``OLD_IMAGE``/``NEW_AND_OLD_IMAGES`` streams), plain values."""
        image = self._stream.get("OldImage")
        return None if image is None else decode_item(image, field="dynamodb.OldImage")

    def _decode(self) -> Any:
        stream = self._stream
        for name in ("NewImage", "OldImage", "Keys"):
            image = stream.get(name)
            if image is not None:
                return decode_item(image, field=f"dynamodb.{name}")
        return None

    @property
    def size(self) -> int:
        """``SizeBytes`` as DynamoDB reports it."""
        return int(self._stream.get("SizeBytes", 0))

    @property
    def event_name(self) -> str:
        """``INSERT``, ``MODIFY`` or ``REMOVE``."""
        name: str = self._raw.get("eventName", "")
        return name

    @property
    def event_id(self) -> str:
        event_id: str = self._raw.get("eventID", "")
        return event_id

    @property
    def stream_view_type(self) -> str | None:
        view: str | None = self._stream.get("StreamViewType")
        return view

    @property
    def approximate_creation_time(self) -> float | None:
        """When the change happened, in epoch seconds."""
        created = self._stream.get("ApproximateCreationDateTime")
        return None if created is None else float(created)

    @property
    def is_ttl_delete(self) -> bool:
        """Whether DynamoDB's TTL process (not a user) removed the item."""
        identity = self._raw.get("userIdentity") or {}
        return identity.get("type") == "Service" and identity.get("principalId") == "dynamodb.amazonaws.com"
