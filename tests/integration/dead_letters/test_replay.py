"""``batchmap replay``: the records an on-failure record names, read again from the stream (embedded, Kinesis on
moto), from a file or from the destination queue, and a clear word when the stream no longer holds them."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from batchmap.cli import main
from batchmap.engine.failure_record import build_failure_record
from batchmap.sources.base import Delivery, Position, StreamSource
from batchmap.sources.registry import SourceOptions, open_source
from batchmap.sources.sqlite import SqliteQueueDestination, create_stream, send


def _run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[list[dict[str, Any]], str]:
    capsys.readouterr()
    assert main(["replay", *args]) == code
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()], err


async def _batch(uri: str, options: SourceOptions | None = None, *, first: int, count: int) -> list[Delivery]:
    """``count`` records of the stream's first shard, from the ``first``-th (0-based): a batch that failed."""
    stream = await open_source(uri, options)
    assert isinstance(stream, StreamSource)
    try:
        shard = (await stream.shards())[0].id
        read = await stream.read(shard, Position("TRIM_HORIZON"), 100)
        return read.deliveries[first:first + count]
    finally:
        await stream.close()


def _on_failure(shape: str, batch: list[Delivery], event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The on-failure record of ``batch``; with ``event``, as S3 and file destinations write it (``payload``)."""
    return build_failure_record(shape, batch, function_arn="arn:aws:lambda:local:000000000000:function:f",
                                condition="RetryAttemptsExhausted", approximate_invoke_count=3,
                                request_id="r-1", now_ms=1_700_000_000_000, event=event)


def _clicks(tmp_path: Path, count: int) -> str:
    """An embedded stream holding ``count`` records click-0, click-1, ... under one partition key."""
    stream = f"sqlite:///{tmp_path}/w.db?stream=clicks"
    create_stream(stream)
    send(stream, [f"click-{n}".encode() for n in range(count)], partition_key="user-1")
    return stream


def test_replay_reads_the_named_range_again_from_a_file_and_from_the_destination(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = _clicks(tmp_path, 6)
    batch = asyncio.run(_batch(stream, first=1, count=3))
    record = _on_failure("kinesis", batch)
    path = tmp_path / "failure.json"
    path.write_text(json.dumps(record, indent=2))

    events, err = _run(capsys, "--record", str(path), "--source", stream)
    assert err == "" and len(events) == 1
    assert events[0] == {"Records": [d.record for d in batch]}, "exactly the records the function got"

    destination = f"sqlite:///{tmp_path}/w.db?queue=failures"

    async def deliver() -> None:
        dest = await SqliteQueueDestination.open(destination)
        await dest.send(record)
        await dest.send(_on_failure("kinesis", batch[2:]))

    asyncio.run(deliver())
    events, _ = _run(capsys, "--record", destination, "--source", stream)
    assert [len(e["Records"]) for e in events] == [3, 1]
    events, _ = _run(capsys, "--record", destination, "--source", stream)
    assert len(events) == 2, "the records stay in their destination"


def test_replay_says_what_the_stream_no_longer_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = _clicks(tmp_path, 4)
    batch = asyncio.run(_batch(stream, first=0, count=3))
    path = tmp_path / "failure.jsonl"
    path.write_text(json.dumps(_on_failure("kinesis", batch)) + "\n")
    with sqlite3.connect(tmp_path / "w.db") as conn:  # the oldest record trimmed, as retention trims it
        conn.execute("DELETE FROM records WHERE seq = (SELECT MIN(seq) FROM records)")
    events, err = _run(capsys, "--record", str(path), "--source", stream, code=1)
    assert [r["kinesis"]["sequenceNumber"] for r in events[0]["Records"]] == [d.id for d in batch[1:]]
    assert "no longer holds part of" in err and batch[0].id in err and "retention" in err
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("DELETE FROM records")
    events, err = _run(capsys, "--record", str(path), "--source", stream, code=1)
    assert events == [] and "holds none of" in err and "nothing to replay" in err


def test_a_record_with_its_payload_gives_back_the_whole_batch_the_stream_no_longer_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """File and S3 destinations keep the whole event in ``payload``: replay falls back to it, and exits 0."""
    stream = _clicks(tmp_path, 4)
    batch = asyncio.run(_batch(stream, first=0, count=3))
    event = {"Records": [d.record for d in batch]}
    with_payload = _on_failure("kinesis", batch, event)
    path = tmp_path / "failure.jsonl"
    path.write_text(json.dumps(with_payload) + "\n")
    events, err = _run(capsys, "--record", str(path), "--source", stream)
    assert events == [event] and err == "", "the stream still holds it: read from the stream, nothing said"
    with sqlite3.connect(tmp_path / "w.db") as conn:  # the oldest record trimmed, as retention trims it
        conn.execute("DELETE FROM records WHERE seq = (SELECT MIN(seq) FROM records)")
    events, err = _run(capsys, "--record", str(path), "--source", stream)
    assert events == [event], "the whole batch, from the payload, not the two records still held"
    assert "no longer holds part of" in err and "payload" in err
    path.write_text(json.dumps({**with_payload, "payload": "{not json"}) + "\n")
    _, err = _run(capsys, "--record", str(path), "--source", stream, code=2)
    assert "payload" in err and "JSON" in err


def test_replay_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"KafkaBatchInfo": {"batchSize": 1}}')
    _, err = _run(capsys, "--record", str(path), "--source", f"sqlite:///{tmp_path}/w.db?stream=s", code=2)
    assert "--record (bootstrapServers)" in err and "Kafka cluster" in err
    path.write_text('{"KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "9", '
                    '"endSequenceNumber": "1", "streamArn": "arn:aws:kinesis:local:000000000000:stream/s"}}')
    _, err = _run(capsys, "--record", str(path), "--source", f"sqlite:///{tmp_path}/w.db?stream=s", code=2)
    assert "endSequenceNumber" in err and "'1'" in err
    path.write_text(path.read_text().replace('"9"', '"0"'))
    _, err = _run(capsys, "--record", str(path), code=2)
    assert "--source" in err and "sqlite:///FILE?stream=NAME" in err


def test_replay_reads_a_kinesis_stream_on_moto(capsys: pytest.CaptureFixture[str]) -> None:
    from emulators import moto_server

    with moto_server() as moto:
        kinesis = moto.client("kinesis")
        kinesis.create_stream(StreamName="clicks", ShardCount=1)
        for n in range(4):
            kinesis.put_record(StreamName="clicks", Data=f"click-{n}".encode(), PartitionKey="user-1")
        arn = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
        options = SourceOptions(endpoint_url=moto.url)
        batch = asyncio.run(_batch(arn, options, first=1, count=2))
        record = _on_failure("kinesis", batch)
        assert record["KinesisBatchInfo"]["streamArn"] == arn
        stdin, sys.stdin = sys.stdin, io.StringIO(json.dumps(record))
        try:
            events, err = _run(capsys, "--record", "-", "--endpoint-url", moto.url)
        finally:
            sys.stdin = stdin
    assert err == ""
    assert [r["kinesis"]["data"] for r in events[0]["Records"]] == [d.record["kinesis"]["data"] for d in batch]


def test_replay_never_creates_what_it_reads_and_says_when_there_is_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = _clicks(tmp_path, 1)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _, err = _run(capsys, "--record", str(empty), "--source", stream, code=2)
    assert "--record" in err and "holds none" in err
    _, err = _run(capsys, "--record", f"sqlite:///{tmp_path}/w.db?queue=typo", "--source", stream, code=2)
    assert "--record" in err and "no queue named 'typo'" in err
    record = tmp_path / "record.json"
    batch = asyncio.run(_batch(stream, first=0, count=1))
    record.write_text(json.dumps(_on_failure("kinesis", batch)))
    _, err = _run(capsys, "--record", str(record), "--source", f"sqlite:///{tmp_path}/typo.db?stream=clicks", code=2)
    assert "--source" in err and "no database file" in err and not (tmp_path / "typo.db").exists()
    _, err = _run(capsys, "--record", str(record), "--source", f"sqlite:///{tmp_path}/w.db?stream=typo", code=2)
    assert "no stream named 'typo'" in err
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert [name for (name,) in conn.execute("SELECT name FROM queues")] == []
