"""A record's envelope: the fields Lambda always sends and batchmap relies on, checked for every record.

The envelope is a record's ``eventSource``, its identifier (what
``itemIdentifier`` echoes), its ordering key and the type of its payload field.
Two checks, each in two steps: first in bulk, with ``map`` passes that run in C
(about 300 machine instructions per record and field on a clean batch); only
when that finds something, record by record, to name the first problem.

* ``problems`` checks the whole envelope (``parse_event``).
* ``unidentified`` checks only the identifier, the one field a batch cannot do
  without: a record that has none could not be reported (``process_batch``,
  ``read_partial_response``). The rest is checked where it is read: the record
  views raise ``RecordError`` naming the field. The payload's content (base64,
  JSON, DynamoDB typed values) is never read here.
"""

from __future__ import annotations

from _operator import itemgetter, methodcaller  # operator.py only re-exports them; importing it costs 0.3 ms

from batchmap.errors import RecordError
from batchmap.records._describe import MISSING, clip, got
from batchmap.records.shapes import BY_KIND

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeGuard


_SOURCE = itemgetter("eventSource")
_MESSAGE_ID = itemgetter("messageId")
_BODY = itemgetter("body")
_ATTRIBUTES = itemgetter("attributes")
_GROUP = itemgetter("MessageGroupId")
_KINESIS = itemgetter("kinesis")
_DYNAMODB = itemgetter("dynamodb")
_SEQUENCE = itemgetter("sequenceNumber")
_PARTITION_KEY = itemgetter("partitionKey")
_DATA = itemgetter("data")
_STREAM_SEQUENCE = itemgetter("SequenceNumber")
_KEYS = itemgetter("Keys")
_SIZE = itemgetter("SizeBytes")
_TOPIC = itemgetter("topic")
_PARTITION = itemgetter("partition")
_OFFSET = itemgetter("offset")
_KEY = methodcaller("get", "key")
_VALUE = methodcaller("get", "value")
_STR = {str}
_INT = {int}
_TEXT_OR_NULL = {str, type(None)}
_BULK_ERRORS = (LookupError, TypeError, AttributeError)


def bad(index: int, field: str, message: str) -> RecordError:
    """The ``RecordError`` for one field of the record at ``index``."""
    return RecordError(f"{field}: {message}", index=index, field=field)


def problems(kind: str, records: list[Any], *, fifo: bool = False,
             partitions: list[str] | None = None) -> dict[int, RecordError]:
    """Each malformed record's position and first problem, in event order; ``{}`` for a clean batch."""
    try:
        clean = _BULK[kind](records, fifo, partitions)
    except _BULK_ERRORS:  # a missing key, a record that is not an object, an unhashable value
        clean = False
    if clean:
        return {}
    check = _ONE[kind]
    found: dict[int, RecordError] = {}
    for index, raw in enumerate(records):
        problem = check(raw, index, fifo, partitions)
        if problem is not None:
            found[index] = problem
    return found


def unidentified(kind: str, records: list[Any], *, fifo: bool = False,
                 partitions: list[str] | None = None) -> RecordError | None:
    """The first record without an identifier, named by its first problem; ``None`` if every record has one."""
    try:
        clean = _IDS_BULK[kind](records)
    except _BULK_ERRORS:
        clean = False
    if clean:
        return None
    identify = _IDS_ONE[kind]
    for index, raw in enumerate(records):
        missing = identify(raw, index)
        if missing is not None:
            problem = _ONE[kind](raw, index, fifo, partitions) or missing
            if problem.field == missing.field:
                return problem
            return RecordError(f"{problem.args[0]}; and it cannot be reported: {missing.args[0]}",
                               index=index, field=problem.field)
    return None


def fifo_groups(records: list[Any]) -> list[str | None]:
    """Each record's ``MessageGroupId``; ``None`` where it is missing or not a non-empty string."""
    try:
        groups: list[Any] = list(map(_GROUP, map(_ATTRIBUTES, records)))
        if set(map(type, groups)) == _STR and "" not in groups:
            return groups
    except _BULK_ERRORS:
        pass
    return [_group(raw) for raw in records]


def _group(raw: Any) -> str | None:
    attributes = raw.get("attributes") if type(raw) is dict else None
    group = attributes.get("MessageGroupId") if type(attributes) is dict else None
    return group if type(group) is str and group else None


# ------------------------------------------------------------------ bulk checks (clean batches)

def _sqs_clean(records: list[Any], fifo: bool, partitions: object) -> bool:
    ids = list(map(_MESSAGE_ID, records))
    clean = (set(map(_SOURCE, records)) == {"aws:sqs"} and set(map(type, ids)) == _STR and "" not in ids
             and set(map(type, map(_BODY, records))) == _STR)
    return clean and (not fifo or None not in fifo_groups(records))


def _stream_clean(source: str, member: Callable[[Any], Any], sequence: Callable[[Any], Any],
                  records: list[Any]) -> list[Any] | None:
    """The inner objects when sources and identifiers are clean, else ``None``."""
    inner = list(map(member, records))
    ids = list(map(sequence, inner))
    if set(map(_SOURCE, records)) == {source} and set(map(type, ids)) == _STR and "" not in ids:
        return inner
    return None


def _kinesis_clean(records: list[Any], fifo: bool, partitions: object) -> bool:
    inner = _stream_clean("aws:kinesis", _KINESIS, _SEQUENCE, records)
    return (inner is not None and set(map(type, map(_PARTITION_KEY, inner))) == _STR
            and set(map(type, map(_DATA, inner))) == _STR)


def _dynamodb_clean(records: list[Any], fifo: bool, partitions: object) -> bool:
    inner = _stream_clean("aws:dynamodb", _DYNAMODB, _STREAM_SEQUENCE, records)
    if inner is None or set(map(type, map(_KEYS, inner))) != {dict}:
        return False
    sizes = list(map(_SIZE, inner))
    return set(map(type, sizes)) == _INT and min(sizes) >= 0


def _kafka_clean(records: list[Any], fifo: bool, partitions: list[str] | None) -> bool:
    """Per ``topic-partition`` run of records: one topic and one partition number that make its name."""
    from itertools import groupby

    if partitions is None:
        return False
    start = 0
    for listed, run in groupby(partitions):
        end = start + len(list(run))
        if not _kafka_run_clean(records[start:end], listed):
            return False
        start = end
    return (_offsets(records) and set(map(type, map(_KEY, records))) <= _TEXT_OR_NULL
            and set(map(type, map(_VALUE, records))) <= _TEXT_OR_NULL)


def _kafka_run_clean(run: list[Any], listed: str) -> bool:
    topics, numbers = list(map(_TOPIC, run)), list(map(_PARTITION, run))
    if set(map(type, topics)) != _STR or set(map(type, numbers)) != _INT:  # types first: False == 0
        return False
    distinct_topics, distinct_numbers = set(topics), set(numbers)
    if len(distinct_topics) != 1 or len(distinct_numbers) != 1:
        return False
    (topic,), (number,) = distinct_topics, distinct_numbers
    return topic != "" and f"{topic}-{number}" == listed


def _text_ids(ids: list[Any]) -> bool:
    """Every identifier a non-empty string (``join`` raises ``TypeError`` for anything but a string)."""
    "".join(ids)
    return all(ids)


def is_offset(value: object) -> TypeGuard[int]:
    """A Kafka offset: a whole number >= 0 (not a boolean). The one rule, for events and responses alike."""
    return type(value) is int and value >= 0


def _offsets(records: list[Any]) -> bool:
    offsets = list(map(_OFFSET, records))
    return set(map(type, offsets)) == _INT and min(offsets) >= 0


IDENTIFIER: dict[str, Callable[[Any], Any]] = {
    "sqs": _MESSAGE_ID, "kinesis": lambda raw: _SEQUENCE(_KINESIS(raw)),
    "dynamodb": lambda raw: _STREAM_SEQUENCE(_DYNAMODB(raw)), "kafka": _OFFSET,
}
"""Reads a record's identifier field (``LookupError``/``TypeError`` when it cannot)."""

_IDS_BULK: dict[str, Callable[[list[Any]], bool]] = {
    "sqs": lambda records: _text_ids(list(map(_MESSAGE_ID, records))),
    "kinesis": lambda records: _text_ids(list(map(_SEQUENCE, map(_KINESIS, records)))),
    "dynamodb": lambda records: _text_ids(list(map(_STREAM_SEQUENCE, map(_DYNAMODB, records)))),
    "kafka": _offsets,
}


_BULK: dict[str, Callable[[list[Any], bool, Any], bool]] = {
    "sqs": _sqs_clean, "kinesis": _kinesis_clean, "dynamodb": _dynamodb_clean, "kafka": _kafka_clean,
}


# ------------------------------------------------------------------ record by record (naming the problem)

def _object(raw: object, index: int) -> RecordError | None:
    if type(raw) is not dict:
        return RecordError(f"expected an object, got {got(raw)}", index=index)
    return None


def _text(value: object, index: int, field: str, *, non_empty: bool = False, why: str = "") -> RecordError | None:
    if type(value) is str and (value or not non_empty):
        return None
    expected = "a non-empty string" if non_empty else "a string"
    return bad(index, field, f"expected {expected}, got {got(value)}{why}")


_ID_WHY = "; it is the itemIdentifier"


def _source(raw: dict[str, Any], index: int, source: str) -> RecordError | None:
    value = raw.get("eventSource", MISSING)
    if value != source or type(value) is not str:
        return bad(index, "eventSource", f"{got(value)} in an {source} batch")
    return None


def _sqs_one(raw: Any, index: int, fifo: bool, partitions: object) -> RecordError | None:
    problem = (_object(raw, index) or _source(raw, index, "aws:sqs")
               or _text(raw.get("messageId", MISSING), index, "messageId", non_empty=True, why=_ID_WHY)
               or _text(raw.get("body", MISSING), index, "body"))
    if problem is None and fifo and _group(raw) is None:
        attributes = raw.get("attributes")
        group = attributes.get("MessageGroupId") if type(attributes) is dict else attributes
        problem = bad(index, "attributes.MessageGroupId", f"missing in a FIFO batch ({got(group)})")
    return problem


def _inner(raw: dict[str, Any], index: int, member: str) -> tuple[dict[str, Any], RecordError | None]:
    inner = raw.get(member, MISSING)
    if type(inner) is not dict:
        return {}, bad(index, member, f"expected an object, got {got(inner)}")
    return inner, None


def _kinesis_one(raw: Any, index: int, fifo: bool, partitions: object) -> RecordError | None:
    problem = _object(raw, index) or _source(raw, index, "aws:kinesis")
    if problem is not None:
        return problem
    inner, problem = _inner(raw, index, "kinesis")
    return (problem
            or _text(inner.get("sequenceNumber", MISSING), index, "kinesis.sequenceNumber", non_empty=True, why=_ID_WHY)
            or _text(inner.get("partitionKey", MISSING), index, "kinesis.partitionKey", why="; it is the ordering key")
            or _text(inner.get("data", MISSING), index, "kinesis.data"))


def _dynamodb_one(raw: Any, index: int, fifo: bool, partitions: object) -> RecordError | None:
    problem = _object(raw, index) or _source(raw, index, "aws:dynamodb")
    if problem is not None:
        return problem
    inner, problem = _inner(raw, index, "dynamodb")
    problem = problem or _text(inner.get("SequenceNumber", MISSING), index, "dynamodb.SequenceNumber", non_empty=True,
                               why=_ID_WHY)
    if problem is None and type(inner.get("Keys")) is not dict:
        problem = bad(index, "dynamodb.Keys", f"expected an object, got {got(inner.get('Keys', MISSING))}; "
                                              "it is the ordering key")
    size = inner.get("SizeBytes", MISSING)
    if problem is None and (type(size) is not int or size < 0):
        problem = bad(index, "dynamodb.SizeBytes", f"expected a whole number of bytes, got {got(size)}")
    return problem


def _kafka_one(raw: Any, index: int, fifo: bool, partitions: list[str] | None) -> RecordError | None:
    problem = _object(raw, index)
    if problem is not None:
        return problem
    topic, partition, offset = raw.get("topic", MISSING), raw.get("partition", MISSING), raw.get("offset", MISSING)
    if not is_offset(offset):
        return bad(index, "offset", f"expected a whole number >= 0, got {got(offset)}{_ID_WHY}")
    problem = _text(topic, index, "topic", non_empty=True)
    if problem is None and type(partition) is not int:
        problem = bad(index, "partition", f"expected an integer, got {got(partition)}")
    listed = partitions[index] if partitions is not None else None
    if problem is None and f"{topic}-{partition}" != listed:
        problem = bad(index, "partition", f"record of {clip(f'{topic}-{partition}')} listed under {got(listed)}")
    for name in ("key", "value"):
        if problem is None and type(raw.get(name)) not in _TEXT_OR_NULL:
            problem = bad(index, name, f"expected base64 text or null, got {got(raw.get(name))}")
    return problem


def _sqs_id(raw: Any, index: int) -> RecordError | None:
    return _object(raw, index) or _text(raw.get("messageId", MISSING), index, "messageId", non_empty=True,
                                        why=_ID_WHY)


def _stream_id(member: str, name: str) -> Callable[[Any, int], RecordError | None]:
    def identify(raw: Any, index: int) -> RecordError | None:
        problem = _object(raw, index)
        if problem is not None:
            return problem
        inner, problem = _inner(raw, index, member)
        return problem or _text(inner.get(name, MISSING), index, f"{member}.{name}", non_empty=True, why=_ID_WHY)

    return identify


def _kafka_id(raw: Any, index: int) -> RecordError | None:
    problem = _object(raw, index)
    offset = raw.get("offset", MISSING) if problem is None else None
    if problem is None and not is_offset(offset):
        problem = bad(index, "offset", f"expected a whole number >= 0, got {got(offset)}{_ID_WHY}")
    return problem


def identifier_problem(kind: str, raw: Any, index: int) -> RecordError:
    """Why the record at ``index`` has no identifier (call it only for one that has none)."""
    problem = _IDS_ONE[kind](raw, index)
    return problem or bad(index, BY_KIND[kind].id_field, f"unreadable{_ID_WHY}")


_IDS_ONE: dict[str, Callable[[Any, int], RecordError | None]] = {
    "sqs": _sqs_id, "kinesis": _stream_id("kinesis", "sequenceNumber"),
    "dynamodb": _stream_id("dynamodb", "SequenceNumber"), "kafka": _kafka_id,
}


_ONE: dict[str, Callable[[Any, int, bool, Any], RecordError | None]] = {
    "sqs": _sqs_one, "kinesis": _kinesis_one, "dynamodb": _dynamodb_one, "kafka": _kafka_one,
}
