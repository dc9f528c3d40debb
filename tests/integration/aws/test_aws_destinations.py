"""On-failure destinations on AWS services through ``batchmap run`` on moto. S3: Kinesis and DynamoDB Streams
batches become objects under AWS's key layout, with the whole event in ``payload``; ``batchmap replay`` reads
them back. SQS: one message per batch, metadata only."""

from __future__ import annotations

import asyncio
import json
import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from outage_proxy import OutageProxy

from batchmap.cli import main
from batchmap.engine.backoff import Backoff
from batchmap.engine.destinations import open_destination
from batchmap.metrics import MetricsRecorder
from batchmap.sources.registry import SourceOptions

from .conftest import Moto

HANDLERS = '''
import json, pathlib

def fail(event, context):
    with open("invoked.jsonl", "a") as out:
        out.write(json.dumps(event) + "\\n")
    raise RuntimeError("boom")
'''
KEY = re.compile(r"(?P<prefix>.*)aws/lambda/(?P<uuid>[^/]+)/(?P<shard>[^/]+)/(?P<date>\d{4}/\d\d/\d\d)/"
                 r"(?P<time>\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d)-(?P<random>[0-9a-f-]{36})")
ENVELOPE = ["requestContext", "responseContext", "version", "timestamp"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "s3_failing.py").write_text(HANDLERS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], moto: Moto, source: str, destination: str, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["run", "--source", source, "--function", "s3_failing:fail", "--starting-position", "TRIM_HORIZON",
                 "--maximum-retry-attempts", "0", "--destination-config",
                 json.dumps({"OnFailure": {"Destination": destination}}), "--endpoint-url", moto.url,
                 "--until-idle", "--invoker", "inprocess", "--uuid", "esm-1", *extra])
    return code, capsys.readouterr().err


def stored(moto: Moto, bucket: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every object of the bucket: key, content type, parsed body."""
    s3 = moto.client("s3")
    out = []
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        out.append((item["Key"], got["ContentType"], json.loads(got["Body"].read())))
    return out


def check_key(key: str, record: dict[str, Any], shard: str, prefix: str) -> None:
    match = KEY.fullmatch(key)
    assert match, key
    assert (match["prefix"], match["uuid"], match["shard"]) == (prefix, "esm-1", shard)
    stamp = record["timestamp"]  # 2026-12-05T01:23:12.684Z: the key's date and time are the record's
    assert match["date"] == stamp[:10].replace("-", "/") and match["time"] == stamp[:19].replace(":", ".")


def test_a_kinesis_batch_becomes_an_object_that_replay_reads_back(
        moto: Moto, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kinesis = moto.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    moto.client("s3").create_bucket(Bucket="failures")
    for n in range(3):
        kinesis.put_record(StreamName="clicks", Data=f"click-{n}".encode(), PartitionKey="user-1")
    arn = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]

    code, err = run(capsys, moto, arn, "s3://failures/dead/letters")
    assert code == 0, err
    [(key, content_type, record)] = stored(moto, "failures")
    check_key(key, record, "shardId-000000000000", "dead/letters/")
    assert content_type == "application/json"
    assert list(record) == [*ENVELOPE, "KinesisBatchInfo", "payload"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = record["KinesisBatchInfo"]
    assert (info["shardId"], info["batchSize"], info["streamArn"]) == ("shardId-000000000000", 3, arn)
    [invoked] = [json.loads(line) for line in (workdir / "invoked.jsonl").read_text().splitlines()]
    assert json.loads(record["payload"]) == invoked, "the payload is the event the function got"

    capsys.readouterr()
    assert main(["replay", "--record", "s3://failures/dead/", "--endpoint-url", moto.url]) == 0
    out, err = capsys.readouterr()
    assert err == "" and [json.loads(line) for line in out.splitlines()] == [invoked]


def test_a_dynamodb_streams_batch_becomes_an_object_named_after_its_shard(
        moto: Moto, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dynamodb = moto.client("dynamodb")
    table = dynamodb.create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream_arn = table["TableDescription"]["LatestStreamArn"]
    moto.client("s3").create_bucket(Bucket="ddb-failures")
    for n in range(2):
        dynamodb.put_item(TableName="orders", Item={"id": {"S": f"order-{n}"}})

    code, err = run(capsys, moto, stream_arn, "arn:aws:s3:::ddb-failures")
    assert code == 0, err
    [(key, content_type, record)] = stored(moto, "ddb-failures")
    info = record["DDBStreamBatchInfo"]
    check_key(key, record, info["shardId"], "")
    assert content_type == "application/json"
    assert list(record) == [*ENVELOPE, "DDBStreamBatchInfo", "payload"]
    assert (info["batchSize"], info["streamArn"]) == (2, stream_arn)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfFirstRecord"])
    events = [json.loads(line) for line in (workdir / "invoked.jsonl").read_text().splitlines()]
    assert json.loads(record["payload"]) == events[0]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in events[0]["Records"]] == ["order-0", "order-1"]


def test_a_missing_bucket_stops_the_run_before_anything_is_consumed(
        moto: Moto, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kinesis = moto.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    kinesis.put_record(StreamName="clicks", Data=b"click", PartitionKey="user-1")
    arn = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    code, err = run(capsys, moto, arn, "s3://no-such-bucket/prefix")
    assert code == 2
    assert err.strip().splitlines() == ["batchmap: error: DestinationConfig.OnFailure.Destination: invalid value "
                                        "'s3://no-such-bucket/prefix' (an existing bucket (no-such-bucket does not "
                                        "exist))"]
    assert not (workdir / "invoked.jsonl").exists()
    code, err = run(capsys, moto, arn, "arn:aws:s3:us-east-1::failures")
    assert code == 2 and "an S3 bucket: arn:aws:s3:::my-failures" in err


def test_an_sqs_mapping_takes_no_s3_destination(moto: Moto, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = moto.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
    moto.client("s3").create_bucket(Bucket="failures")
    arn = moto.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    capsys.readouterr()
    code = main(["run", "--source", arn, "--function", "s3_failing:fail", "--destination-config",
                 '{"OnFailure":{"Destination":"arn:aws:s3:::failures"}}', "--endpoint-url", moto.url, "--until-idle"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "DestinationConfig" in err and "dead-letter queue" in err


def test_an_unreachable_s3_is_waited_out_with_backoff(moto: Moto) -> None:
    """The engine's destination backoff keeps trying a send S3 did not answer, until it answers again."""
    moto.client("s3").create_bucket(Bucket="failures")
    port = int(moto.url.rsplit(":", 1)[1])
    record = {"requestContext": {}, "responseContext": None, "version": "1.0", "timestamp": "2026-01-02T03:04:05.678Z",
              "KinesisBatchInfo": {"shardId": "shardId-000000000001"}, "payload": "{}"}
    recorder = MetricsRecorder("f", "esm-1")

    async def scenario() -> None:
        proxy = OutageProxy(port)
        await proxy.up()
        options = SourceOptions(endpoint_url=f"http://127.0.0.1:{proxy.port}", mapping_uuid="esm-1")
        destination = await open_destination("s3://failures", options)
        await proxy.down()
        backoff = Backoff("on-failure destination", recorder, asyncio.Event(), initial_s=0.05, max_s=0.2)
        sending = asyncio.create_task(backoff.call(partial(destination.send, record), "on-failure delivery"))
        for _ in range(1200):  # until a send has failed (after botocore's own retries)
            if recorder.snapshot().counters.get("PollingErrorCount", 0) or sending.done():
                break
            await asyncio.sleep(0.05)
        assert not sending.done(), "nothing is stored while S3 cannot be reached"
        await proxy.up()
        await asyncio.wait_for(sending, 60)
        await proxy.down()

    asyncio.run(scenario())
    assert recorder.snapshot().counters["PollingErrorCount"] >= 1
    [(key, _, body)] = stored(moto, "failures")
    assert key.startswith("aws/lambda/esm-1/shardId-000000000001/2026/01/02/2026-01-02T03.04.05-")
    assert body == record


def test_a_kinesis_batch_goes_to_an_sqs_queue_and_replay_reads_it_from_there(
        moto: Moto, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kinesis, sqs = moto.client("kinesis"), moto.client("sqs")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    for n in range(2):
        kinesis.put_record(StreamName="clicks", Data=f"click-{n}".encode(), PartitionKey="user-1")
    arn = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    url = sqs.create_queue(QueueName="clicks-failures")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    code, err = run(capsys, moto, arn, queue)
    assert code == 0, err
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    record = json.loads(message["Body"])
    assert list(record) == [*ENVELOPE, "KinesisBatchInfo"], "metadata only, as AWS's SQS destinations"
    assert (record["KinesisBatchInfo"]["batchSize"], record["KinesisBatchInfo"]["streamArn"]) == (2, arn)

    [invoked] = [json.loads(line) for line in (workdir / "invoked.jsonl").read_text().splitlines()]
    capsys.readouterr()
    assert main(["replay", "--record", queue, "--endpoint-url", moto.url]) == 0
    out, err = capsys.readouterr()
    assert err == "" and [json.loads(line) for line in out.splitlines()] == [invoked]

    fifo = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo_arn = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    code, err = run(capsys, moto, arn, fifo_arn)
    assert code == 2 and "a standard queue" in err and err.count("\n") == 1
