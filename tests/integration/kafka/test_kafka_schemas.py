"""Records in Confluent's wire format on a real broker, consumed by ``batchmap run`` with a handler
that decodes them with ``SchemaConfig``: every good record arrives decoded, the undecodable one
ends in the on-failure destination with its offset, nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka_support import committed, produce, run, run_until_idle, source_uri
from schema_samples import Confluent, order, proto_order

from batchmap.config import DestinationConfig, EventSourceMapping, OnFailure

SUPPORT = Path(__file__).resolve().parents[2] / "support"

CONSUMER = """\
import json, os

from batchmap.handler import SchemaConfig, batch_handler, decode_with
from schema_samples import ORDER_AVRO, proto_classes

SCHEMAS = {
    "avro": SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO, value_schema_wire_format="CONFLUENT",
                         key_schema_type="JSON", key_schema={"type": "string"}),
    "protobuf": SchemaConfig(value_schema_type="PROTOBUF", value_schema=proto_classes()[1]),
}[os.environ["FORMAT"]]


@batch_handler(concurrency=4)
@decode_with(SCHEMAS)
def handler(record):
    line = {"partition": record.partition, "offset": record.offset, "key": record.key, "value": record.value,
            "schema_id": record.value_schema_id}
    with open(os.environ["OUT_FILE"], "a") as out:
        out.write(json.dumps(line) + "\\n")
"""


def batchmap_run(tmp_path: Path, broker: str, topic: str, group: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "schema_consumer.py").write_text(CONSUMER)
    path = os.pathsep.join([str(tmp_path), str(SUPPORT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "OUT_FILE": str(tmp_path / "out.jsonl"), "FORMAT": "avro",
           "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "batchmap", "run", "--source", source_uri(broker, topic, group),
         "--function", "schema_consumer:handler", "--function-response-types", "ReportBatchItemFailures",
         "--maximum-retry-attempts", "0", "--destination-config",
         f"OnFailure={{Destination={(tmp_path / 'failures.jsonl').as_uri()}}}", "--invoker", "inprocess",
         "--until-idle", "--log-level", "ERROR"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


def out_lines(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def test_batchmap_run_decodes_confluent_avro_values_and_json_keys_and_routes_the_undecodable_one(
        kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path) -> None:
    confluent = Confluent()
    topic = new_topic(partitions=2)
    poison = b"\x00\x00\x00\x00\x07not avro at all"
    produce(kafka_broker, topic, [(confluent.json(f"o-{i}", topic=topic, key=True, schema={"type": "string"}),
                                   confluent.avro(order(i), topic=topic)) for i in range(3)], partition=0)
    produce(kafka_broker, topic, [(None, poison)], partition=0)  # the last of its partition
    produce(kafka_broker, topic, [(confluent.json(f"o-{i}", topic=topic, key=True, schema={"type": "string"}),
                                   confluent.avro(order(i), topic=topic)) for i in range(3, 6)], partition=1)

    ran = batchmap_run(tmp_path, kafka_broker, topic, group)

    assert ran.returncode == 0, ran.stderr
    lines = out_lines(tmp_path)
    assert sorted((line["key"], line["offset"]) for line in lines) == [
        ("o-0", 0), ("o-1", 1), ("o-2", 2), ("o-3", 0), ("o-4", 1), ("o-5", 2)]  # each exactly once
    assert all(line["value"] == order(int(str(line["key"])[2:])) for line in lines)
    assert len({line["schema_id"] for line in lines}) == 1 and lines[0]["schema_id"] is not None
    [failure] = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text().splitlines()]
    span = failure["KafkaBatchInfo"]["recordsInfo"][f"{topic}-0"]
    assert (span["firstRecordOffset"], span["lastRecordOffset"]) == ("3", "3")
    assert committed(kafka_broker, group, topic, 2) == {0: 4, 1: 3}  # past everything: nothing left behind


@pytest.mark.parametrize("framing", ["confluent", "plain"])
def test_the_engine_delivers_protobuf_that_decodes_with_its_message_index(
        kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path, framing: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    confluent = Confluent()
    topic = new_topic()
    payloads = [confluent.protobuf(proto_order(i), topic=topic) if framing == "confluent"
                else proto_order(i).SerializeToString() for i in range(4)]
    produce(kafka_broker, topic, [(f"k{i}".encode(), payload) for i, payload in enumerate(payloads)])
    (tmp_path / "schema_consumer.py").write_text(CONSUMER)
    monkeypatch.setenv("FORMAT", "protobuf")
    monkeypatch.setenv("OUT_FILE", str(tmp_path / "out.jsonl"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "schema_consumer", raising=False)

    report = run(lambda: run_until_idle(EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="schema_consumer:handler",
        starting_position="TRIM_HORIZON", function_response_types=("ReportBatchItemFailures",),
        destination_config=DestinationConfig(on_failure=OnFailure(destination=(tmp_path / "fail.jsonl").as_uri())))))
    sys.modules.pop("schema_consumer", None)

    lines = out_lines(tmp_path)
    assert report.total("CommittedEventCount") == 4 and not (tmp_path / "fail.jsonl").exists()
    assert [(line["key"], line["value"]) for line in sorted(lines, key=lambda line: int(str(line["offset"])))] == [
        (f"k{i}", {"order_id": f"o-{i}", "quantity": 1 + i, "price_cents": str(250 * (i + 1))}) for i in range(4)]
    assert {line["schema_id"] is None for line in lines} == {framing == "plain"}
