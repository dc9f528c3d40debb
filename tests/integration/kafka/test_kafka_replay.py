"""Kafka on-failure records through the command line on a real broker: ``batchmap run`` writes them to S3 (moto)
or a file, and ``batchmap replay`` reads the named offsets again, outside the mapping's consumer group."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kafka_handlers
import pytest
from emulators import Moto, moto_server
from kafka_support import committed, produce, source_uri

from batchmap.cli import main

KEY = re.compile(r"aws/lambda/esm-k/(?P<shard>[^/]+)/\d{4}/\d\d/\d\d/\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}")


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_handlers() -> Iterator[None]:
    kafka_handlers.reset()
    yield
    kafka_handlers.reset()


def run(capsys: pytest.CaptureFixture[str], source: str, destination: str, *extra: str) -> None:
    capsys.readouterr()
    code = main(["run", "--source", source, "--function", "kafka_handlers:fail_all", "--starting-position",
                 "TRIM_HORIZON", "--maximum-retry-attempts", "0", "--uuid", "esm-k", "--destination-config",
                 json.dumps({"OnFailure": {"Destination": destination}}), "--until-idle", "--invoker", "inprocess",
                 *extra])
    assert code == 0, capsys.readouterr().err


def replay(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[list[dict[str, Any]], str]:
    capsys.readouterr()
    assert main(["replay", *args]) == code
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()], err


def test_a_kafka_batch_goes_to_s3_and_replay_reads_it_back_without_touching_the_group(
    kafka_broker: str, new_topic: Callable[..., str], group: str, moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = new_topic()
    produce(kafka_broker, topic, [(b"k0", b"m0"), (None, b"m1"), (b"k2", b"m2")], headers=[("h", b"v")])
    moto.client("s3").create_bucket(Bucket="kafka-failures")

    run(capsys, source_uri(kafka_broker, topic, group), "s3://kafka-failures/", "--endpoint-url", moto.url)

    s3 = moto.client("s3")
    [item] = s3.list_objects_v2(Bucket="kafka-failures")["Contents"]
    match = KEY.fullmatch(item["Key"])
    assert match and match["shard"] == f"{topic}-0", item["Key"]
    stored = s3.get_object(Bucket="kafka-failures", Key=item["Key"])
    assert stored["ContentType"] == "application/json"
    record = json.loads(stored["Body"].read())
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp", "KafkaBatchInfo", "payload"]
    info = record["KafkaBatchInfo"]
    assert (info["batchSize"], info["bootstrapServers"]) == (3, kafka_broker)
    assert info["payloadSize"] == len(record["payload"].encode())
    span = info["recordsInfo"][f"{topic}-0"]
    assert (span["firstRecordOffset"], span["lastRecordOffset"]) == ("0", "2")
    [invoked] = kafka_handlers.EVENTS["fail_all"]
    assert json.loads(record["payload"]) == invoked
    assert committed(kafka_broker, group, topic, 1) == {0: 3}

    events, err = replay(capsys, "--record", "s3://kafka-failures/aws/lambda/esm-k", "--endpoint-url", moto.url)
    assert err == "" and events == [invoked], "exactly the event the function got"
    assert committed(kafka_broker, group, topic, 1) == {0: 3}, "replay joins no group and commits nothing"


def test_replay_of_kafka_records_from_a_file_and_what_the_topic_does_not_hold(
    kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = new_topic(partitions=2)
    for partition in (0, 1):
        produce(kafka_broker, topic, [(None, f"p{partition}-{n}".encode()) for n in range(3)], partition=partition)
    failures = tmp_path / "failures.jsonl"
    run(capsys, source_uri(kafka_broker, topic, group), failures.as_uri())

    records = [json.loads(line) for line in failures.read_text().splitlines()]
    assert sorted(next(iter(r["KafkaBatchInfo"]["recordsInfo"])) for r in records) == [f"{topic}-0", f"{topic}-1"]
    events, err = replay(capsys, "--record", str(failures))
    assert err == ""
    assert events == [json.loads(r["payload"]) for r in records]
    assert sorted(events, key=str) == sorted(kafka_handlers.EVENTS["fail_all"], key=str)

    wider = records[0]
    key = next(iter(wider["KafkaBatchInfo"]["recordsInfo"]))
    wider["KafkaBatchInfo"]["recordsInfo"][key]["lastRecordOffset"] = "9"
    (tmp_path / "wider.json").write_text(json.dumps(wider))
    events, err = replay(capsys, "--record", str(tmp_path / "wider.json"),
                         "--source", f"kafka://{kafka_broker}/{topic}")
    assert events == [json.loads(wider["payload"])], "the record's own payload, since the topic lacks a part"
    assert f"no longer holds part of {key}: offsets 3 to 9" in err and "from the on-failure record's payload" in err
    payload = json.loads(wider.pop("payload"))  # a destination that keeps no payload (a queue, a topic)
    (tmp_path / "wider.json").write_text(json.dumps(wider))
    events, err = replay(capsys, "--record", str(tmp_path / "wider.json"),
                         "--source", f"kafka://{kafka_broker}/{topic}", code=1)
    assert events == [payload], "what is there is printed"
    assert f"no longer holds part of {key}: offsets 3 to 9 (the partition ends at 2)" in err

    wider["KafkaBatchInfo"]["recordsInfo"][key].update(firstRecordOffset="5")
    (tmp_path / "gone.json").write_text(json.dumps(wider))
    events, err = replay(capsys, "--record", str(tmp_path / "gone.json"), code=1)
    assert events == [] and f"holds none of offsets 5 to 9 of {key}" in err and "nothing to replay" in err


def test_replay_refuses_kafka_records_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    base = {"KafkaBatchInfo": {"batchSize": 1, "bootstrapServers": "127.0.0.1:9", "payloadSize": 1,
                               "recordsInfo": {"orders-0": {"firstRecordOffset": "4", "lastRecordOffset": "2"}}}}
    path.write_text(json.dumps(base))
    _, err = replay(capsys, "--record", str(path), code=2)
    assert "orders-0.lastRecordOffset" in err and "'2'" in err and "at least firstRecordOffset 4" in err
    base["KafkaBatchInfo"]["recordsInfo"] = {"orders": {"firstRecordOffset": "1", "lastRecordOffset": "2"}}
    path.write_text(json.dumps(base))
    _, err = replay(capsys, "--record", str(path), code=2)
    assert "'<topic>-<partition>' keys" in err
    stream = {"KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "1",
                                   "endSequenceNumber": "2", "streamArn": "arn:aws:kinesis:local:0:stream/s"}}
    path.write_text(json.dumps([base, stream]))
    _, err = replay(capsys, "--record", str(path), code=2)
    assert "of one kind" in err
    base["KafkaBatchInfo"]["recordsInfo"] = {"orders-0": {"firstRecordOffset": "1", "lastRecordOffset": "2"}}
    path.write_text(json.dumps(base))
    _, err = replay(capsys, "--record", str(path), "--source", f"sqlite:///{tmp_path}/x.db?stream=s", code=2)
    assert "--source" in err and "a Kafka source" in err
