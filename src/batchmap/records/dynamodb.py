"""DynamoDB Streams records (reference §9.4)."""

from __future__ import annotations

from batchmap.records._describe import MISSING
from batchmap.records.attribute_value import decode_item
from batchmap.records.record import AwsRecord, member, number, optional, text, wrong

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
        raw = self._raw
        if type(raw) is dict:
            inner = raw.get("dynamodb")
            if type(inner) is dict:
                return inner
        return member(raw, "dynamodb", "dynamodb")

    @property
    def id(self) -> str:
        return text(self._stream, "SequenceNumber", "dynamodb.SequenceNumber", non_empty=True)

    sequence_number = id

    @property
    def key(self) -> str:
        """The item's ``Keys`` as canonical JSON (sorted, compact): one string per item."""
        import json

        keys = member(self._stream, "Keys", "dynamodb.Keys")
        try:
            return json.dumps(keys, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError) as exc:
            raise wrong("dynamodb.Keys", "DynamoDB typed JSON", keys) from exc

    @property
    def keys(self) -> dict[str, Any]:
        """The item's primary key as plain values."""
        return decode_item(member(self._stream, "Keys", "dynamodb.Keys"), field="dynamodb.Keys")

    @property
    def new_image(self) -> dict[str, Any] | None:
        """The item after the change (``NEW_IMAGE``/``NEW_AND_OLD_IMAGES`` streams), plain values."""
        return self._image("NewImage")

    @property
    def old_image(self) -> dict[str, Any] | None:
        """The item before the change (``OLD_IMAGE``/``NEW_AND_OLD_IMAGES`` streams), plain values."""
        return self._image("OldImage")

    def _image(self, name: str) -> dict[str, Any] | None:
        image = self._stream.get(name)
        return None if image is None else decode_item(image, field=f"dynamodb.{name}")

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
        size = self._stream.get("SizeBytes", MISSING)
        if type(size) is not int or size < 0:
            raise wrong("dynamodb.SizeBytes", "a whole number of bytes", size)
        return size

    @property
    def event_name(self) -> str:
        """``INSERT``, ``MODIFY`` or ``REMOVE``."""
        name: str = optional(self._raw, "eventName", "eventName", str, "")
        return name

    @property
    def event_id(self) -> str:
        event_id: str = optional(self._raw, "eventID", "eventID", str, "")
        return event_id

    @property
    def stream_view_type(self) -> str | None:
        view: str | None = optional(self._stream, "StreamViewType", "dynamodb.StreamViewType", str)
        return view

    @property
    def approximate_creation_time(self) -> float | None:
        """When the change happened, in epoch seconds."""
        created = self._stream.get("ApproximateCreationDateTime")
        return None if created is None else float(number(created, "dynamodb.ApproximateCreationDateTime", float))

    @property
    def is_ttl_delete(self) -> bool:
        """Whether DynamoDB's TTL process (not a user) removed the item."""
        identity: dict[str, Any] = optional(self._raw, "userIdentity", "userIdentity", dict, {})
        return identity.get("type") == "Service" and identity.get("principalId") == "dynamodb.amazonaws.com"
