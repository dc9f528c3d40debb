"""AWS's on-failure invocation records, exactly (reference §3.5, §4.5, §9.8).

When a stream or Kafka batch is discarded (retries used up, records too old,
payload too large), Lambda sends its on-failure destination a small JSON record
that names the batch instead of carrying it: ``requestContext`` (request id,
function ARN, condition, invoke count), ``responseContext`` (status 200,
``$LATEST``, ``functionError``), ``version``, ``timestamp`` and a batch-info
object: ``KinesisBatchInfo``, ``DDBStreamBatchInfo`` or ``KafkaBatchInfo``.
S3 destinations also get ``payload``, the whole invocation event as an escaped
JSON string; pass ``event`` to get that variant.

Our choices where AWS is silent or inconsistent:

* The age-limit condition is ``MaximumRecordAgeExceeded`` (AWS documents only
  ``RetryAttemptsExhausted`` and, for Kafka, ``MaximumPayloadSizeExceeded``).
* ``responseContext`` is null for ``MaximumPayloadSizeExceeded`` (the function
  was never invoked, as AWS documents for Kafka), and omits ``functionError``
  when the function returned normally (a partial or malformed response), as
  Lambda's asynchronous invocation records do.
* DynamoDB arrival times are whole seconds, as in AWS's example (the stream
  only records seconds); every other timestamp has milliseconds and a ``Z``.
* Kafka offsets in ``recordsInfo`` are strings, as in AWS's example.

SQS has no on-failure destination: its dead-letter queue is the queue's own
redrive policy (``maxReceiveCount``), so there is no SQS record here.

This module is pure: the caller passes the wall time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from batchmap.errors import ConfigError
from batchmap.records.shapes import BY_KIND, KAFKA_BATCH_INFO, topic_partition
from batchmap.sources.base import Delivery

Condition = Literal["RetryAttemptsExhausted", "MaximumRecordAgeExceeded", "MaximumPayloadSizeExceeded"]

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
MAXIMUM_RECORD_AGE_EXCEEDED = "MaximumRecordAgeExceeded"
MAXIMUM_PAYLOAD_SIZE_EXCEEDED = "MaximumPayloadSizeExceeded"
CONDITIONS: tuple[str, ...] = (
    RETRY_ATTEMPTS_EXHAUSTED, MAXIMUM_RECORD_AGE_EXCEEDED, MAXIMUM_PAYLOAD_SIZE_EXCEEDED,
)

LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def local_function_arn(name: str) -> str:
    """``arn:aws:lambda:local:000000000000:function:NAME``; an ARN is returned unchanged."""
    if name.startswith("arn:"):
        return name
    if not _FUNCTION_NAME.fullmatch(name):
        raise ConfigError("FunctionName", name, "1 to 64 letters, digits, hyphens or underscores")
    return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}"


def iso_ms(epoch_ms: int) -> str:
    """``2019-11-14T00:38:06.021Z``: UTC, milliseconds, ``Z``."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def iso_s(epoch_ms: int) -> str:
    """``2019-11-14T00:13:19Z``: UTC, whole seconds (DynamoDB's arrival times)."""
    return datetime.fromtimestamp(int(epoch_ms) // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_failure_record(
    shape: str,
    records: Sequence[Delivery],
    *,
    shard_id: str | None = None,
    source_arn: str | None = None,
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_id: str,
    now_ms: int,
    function_error: str | None = "Unhandled",
    event: Mapping[str, Any] | None = None,
    bootstrap_servers: str | None = None,
    payload_size: int | None = None,
) -> dict[str, Any]:
    """The on-failure record for discarded ``records`` (one batch, in order).

    ``shape`` is ``kinesis``, ``dynamodb`` or ``kafka``. ``shard_id`` and
    ``source_arn`` default to what the records carry. ``event``, when given,
    is the invocation event: it becomes the S3-style ``payload``.
    """
    envelope = _envelope(records, function_arn, condition, approximate_invoke_count, request_id, now_ms,
                         function_error)
    rules = BY_KIND.get(shape)
    if rules is None:
        raise ConfigError("shape", shape, "kinesis, dynamodb or kafka")
    if rules.batch_info is None:
        raise ConfigError("DestinationConfig", shape, "SQS mappings have no on-failure destination; "
                          "failed messages go to the queue's dead-letter queue (RedrivePolicy)")
    if rules.batch_info == KAFKA_BATCH_INFO:
        size = payload_size if payload_size is not None else _payload_size(records, event)
        envelope[rules.batch_info] = _kafka_batch_info(records, source_arn, bootstrap_servers, size)
    else:
        envelope[rules.batch_info] = _stream_batch_info(shape, records, shard_id, source_arn)
    if event is not None:
        envelope["payload"] = json.dumps(event, separators=(",", ":"))
    return envelope


def _envelope(
    records: Sequence[Delivery], function_arn: str, condition: str, invoke_count: int, request_id: str,
    now_ms: int, function_error: str | None,
) -> dict[str, Any]:
    if not records:
        raise ConfigError("records", [], "at least one discarded record")
    if condition not in CONDITIONS:
        raise ConfigError("condition", condition, f"one of {', '.join(CONDITIONS)}")
    if isinstance(invoke_count, bool) or not isinstance(invoke_count, int) or invoke_count < 0:
        raise ConfigError("approximateInvokeCount", invoke_count, "a whole number >= 0")
    response: dict[str, Any] | None = None
    if condition != MAXIMUM_PAYLOAD_SIZE_EXCEEDED:
        response = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_ms(now_ms),
    }


def _stream_batch_info(
    shape: str, records: Sequence[Delivery], shard_id: str | None, stream_arn: str | None
) -> dict[str, Any]:
    first, last = records[0], records[-1]
    arn = stream_arn or first.record.get("eventSourceARN")
    if not arn:
        raise ConfigError("streamArn", arn, "the stream ARN (pass source_arn or records with eventSourceARN)")
    arrival = iso_s if BY_KIND[shape].second_arrivals else iso_ms
    return {
        "shardId": shard_id or first.shard,
        "startSequenceNumber": first.id,
        "endSequenceNumber": last.id,
        "approximateArrivalOfFirstRecord": arrival(first.arrival_ms),
        "approximateArrivalOfLastRecord": arrival(last.arrival_ms),
        "batchSize": len(records),
        "streamArn": arn,
    }


def _kafka_batch_info(
    records: Sequence[Delivery], event_source_arn: str | None, bootstrap_servers: str | None, size: int
) -> dict[str, Any]:
    info: dict[str, Any] = {"batchSize": len(records)}
    if event_source_arn:
        info["eventSourceArn"] = event_source_arn
    info["bootstrapServers"] = bootstrap_servers or ""
    info["payloadSize"] = size
    info["recordsInfo"] = _records_info(records)
    return info


def _records_info(records: Sequence[Delivery]) -> dict[str, dict[str, str]]:
    """First and last offset and timestamp of each topic-partition, keyed ``<topic>-<partition>``."""
    spans: dict[str, list[Mapping[str, Any]]] = {}
    for delivery in records:
        spans.setdefault(_topic_partition(delivery), []).append(delivery.record)
    info: dict[str, dict[str, str]] = {}
    for key, recs in spans.items():
        ordered = sorted(recs, key=lambda r: int(r["offset"]))
        info[key] = {
            "firstRecordOffset": str(ordered[0]["offset"]),
            "lastRecordOffset": str(ordered[-1]["offset"]),
            "firstRecordTimestamp": iso_ms(int(ordered[0]["timestamp"])),
            "lastRecordTimestamp": iso_ms(int(ordered[-1]["timestamp"])),
        }
    return info


def _topic_partition(delivery: Delivery) -> str:
    record = delivery.record
    missing = [k for k in ("topic", "partition", "offset", "timestamp") if k not in record]
    if missing:
        raise ConfigError(f"Kafka record {delivery.id}", record, f"a Kafka record with {', '.join(missing)}")
    return topic_partition(record["topic"], record["partition"])


def _payload_size(records: Sequence[Delivery], event: Mapping[str, Any] | None) -> int:
    """Bytes of the invocation payload: the event when known, else the records plus the envelope."""
    if event is not None:
        return len(json.dumps(event, separators=(",", ":")).encode())
    return sum(d.size for d in records) + len(records) + len('{"records":{}}')


def kafka_topic_failure_records(
    records: Sequence[Delivery],
    *,
    event_meta: Mapping[str, Any],
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_id: str,
    now_ms: int,
    function_error: str | None = "Unhandled",
) -> list[dict[str, Any]]:
    """Kafka-topic destination: one record per failed record, each carrying that record in ``payload``.

    ``event_meta`` holds the event's top-level ``eventSource``, ``eventSourceArn``
    and ``bootstrapServers``.
    """
    out: list[dict[str, Any]] = []
    for delivery in records:
        key = _topic_partition(delivery)
        payload = {**event_meta, "records": {key: [delivery.record]}}
        envelope = _envelope([delivery], function_arn, condition, approximate_invoke_count, request_id,
                             now_ms, function_error)
        info: dict[str, Any] = {"batchSize": 1}
        if event_meta.get("eventSourceArn"):
            info["eventSourceArn"] = event_meta["eventSourceArn"]
        info["bootstrapServers"] = event_meta.get("bootstrapServers", "")
        info["payloadSize"] = len(json.dumps(payload, separators=(",", ":")).encode())
        info["recordInfo"] = {"offset": str(delivery.record["offset"]),
                              "timestamp": iso_ms(int(delivery.record["timestamp"]))}
        envelope[KAFKA_BATCH_INFO] = info
        envelope["payload"] = payload
        out.append(envelope)
    return out
