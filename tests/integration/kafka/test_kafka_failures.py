"""Kafka's error handling on a real broker: partial responses, retries, bisection, on-failure destinations."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import kafka_handlers
import pytest
from kafka_support import committed, consume_all, produce, record_values, run, run_until_idle, source_uri

from batchmap.config import DestinationConfig, EventSourceMapping, OnFailure
from batchmap.engine.service import Engine
from batchmap.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_handlers() -> Iterator[None]:
    kafka_handlers.reset()
    yield
    kafka_handlers.reset()


def on_failure(destination: str) -> DestinationConfig:
    return DestinationConfig(on_failure=OnFailure(destination=destination))


def test_partial_failures_are_retried_then_discarded_to_the_destination(
    kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path
) -> None:
    topic = new_topic()
    names = ["ok0", "ok1", "ok2", "ok3", "bad4", "ok5", "ok6", "ok7"]
    produce(kafka_broker, topic, [(None, name.encode()) for name in names])
    failures = tmp_path / "failures.jsonl"

    report = run(lambda: run_until_idle(EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:report_bad",
        starting_position="TRIM_HORIZON", batch_size=10, function_response_types=("ReportBatchItemFailures",),
        maximum_retry_attempts=2, destination_config=on_failure(failures.as_uri()))))

    attempts = [record_values([event]) for event in kafka_handlers.EVENTS["report_bad"]]
    assert attempts == [names, names[4:], names[4:]]  # from the lowest failed offset on, twice more
    [line] = failures.read_text().splitlines()
    record = json.loads(line)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    info = record["KafkaBatchInfo"]
    assert list(info) == ["batchSize", "bootstrapServers", "payloadSize", "recordsInfo"]
    assert (info["batchSize"], info["bootstrapServers"]) == (4, kafka_broker)
    assert info["payloadSize"] == len(record["payload"].encode())
    span = info["recordsInfo"][f"{topic}-0"]
    assert (span["firstRecordOffset"], span["lastRecordOffset"]) == ("4", "7")
    assert span["firstRecordTimestamp"].endswith("Z")
    assert json.loads(record["payload"])["records"][f"{topic}-0"][0]["offset"] == 4
    assert report.total("OnFailureDestinationDeliveredEventCount") == 4
    assert committed(kafka_broker, group, topic, 1) == {0: 8}  # past the discarded records, as AWS does


def test_bisection_isolates_the_poison_record_and_sends_it_to_a_kafka_topic(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic()
    dead_letters = new_topic(prefix="dlq")
    produce(kafka_broker, topic, [(b"k0", b"a0"), (b"k1", b"a1"), (b"kp", b"poison"), (None, b"a3")])

    run(lambda: run_until_idle(EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:fail_poison",
        starting_position="TRIM_HORIZON", batch_size=10, bisect_batch_on_function_error=True,
        maximum_retry_attempts=0, destination_config=on_failure(f"kafka://{dead_letters}"))))

    attempts = [record_values([event]) for event in kafka_handlers.EVENTS["fail_poison"]]
    assert attempts == [["a0", "a1", "poison", "a3"], ["a0", "a1"], ["poison", "a3"], ["poison"], ["a3"]]
    [message] = consume_all(kafka_broker, dead_letters, expected=1)
    assert message.key() == b"kp"  # the failed record's own key
    record = json.loads(message.value())
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["KafkaBatchInfo"]
    assert (info["batchSize"], info["bootstrapServers"]) == (1, kafka_broker)
    assert info["recordInfo"]["offset"] == "2"
    payload = record["payload"]
    assert (payload["eventSource"], payload["bootstrapServers"]) == ("SelfManagedKafka", kafka_broker)
    [failed] = payload["records"][f"{topic}-0"]
    assert (failed["offset"], base64.b64decode(failed["value"]), failed["key"]) == (2, b"poison", "a3A=")
    assert info["payloadSize"] == len(json.dumps(payload, separators=(",", ":")).encode())
    assert committed(kafka_broker, group, topic, 1) == {0: 4}


def test_a_kafka_topic_destination_must_not_be_a_source_topic(kafka_broker: str, group: str) -> None:
    mapping = EventSourceMapping(
        source=source_uri(kafka_broker, "orders", group), function="kafka_handlers:record",
        starting_position="TRIM_HORIZON", destination_config=on_failure("kafka://orders"))
    with pytest.raises(ConfigError, match=r"DestinationConfig\.OnFailure\.Destination"):
        run(lambda: Engine([mapping], invoker="inprocess").run(until_idle=True))
