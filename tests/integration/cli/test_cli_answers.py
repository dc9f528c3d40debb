"""What the command line answers: a missing queue named, a typo's nearest flag, readable help, quiet pipes,
an inspect that only reads, and stream data sent as the exact bytes given (embedded, Kinesis, Kafka)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_workspace import batchmap
from emulators import AWS_ENV, AWS_REGION, Moto, moto_server, tansu_broker

from batchmap.cli import build_parser, main
from batchmap.sources.base import Position
from batchmap.sources.sqlite import SqliteQueue, SqliteStream, create_queue, inspect, send

RAW = b"\x00\xff\xfe binary \x80"


def run_ok(*args: str, cwd: Path, stdin: bytes = b"") -> dict[str, object]:
    done = batchmap(*args, cwd=cwd, stdin=stdin)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_run_names_a_queue_that_does_not_exist_while_send_and_create_still_create(tmp_path: Path) -> None:
    run_ok("send", "--source", "sqlite:///q.db?queue=orders", "one", cwd=tmp_path)
    run_ok("create-stream", "--source", "sqlite:///q.db?stream=clicks", cwd=tmp_path)
    run_ok("create-queue", "--source", "sqlite:///q.db?queue=empty", cwd=tmp_path)
    typo = batchmap("run", "--source", "sqlite:///q.db?queue=ordres", "--function", "app:handler", "--until-idle",
                    cwd=tmp_path, timeout=30)
    line = typo.stderr.decode()
    assert typo.returncode == 2 and line.count("\n") == 1
    assert "no queue named 'ordres'" in line and "queues empty, orders and streams clicks" in line
    info = run_ok("inspect", "--source", "sqlite:///q.db?queue=orders", cwd=tmp_path)
    assert info["visible"] == 1 and info["in_flight"] == 0
    assert batchmap("inspect", "--source", "sqlite:///q.db?queue=ordres", cwd=tmp_path).returncode == 2


def test_a_flag_typo_gets_the_subcommands_usage_and_the_nearest_flag(tmp_path: Path) -> None:
    done = batchmap("run", "--source", "sqlite:///q.db?queue=q", "--function", "app:handler", "--batch-szie", "3",
                    cwd=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.startswith("usage: batchmap run ")
    assert err.splitlines()[-1].startswith("batchmap run: error: unrecognized arguments: --batch-szie")
    assert err.splitlines()[-1].endswith("(did you mean --batch-size?)")
    choice = batchmap("serve", "--function", "app:handler", "--invoker", "subproces", cwd=tmp_path)
    assert "(did you mean 'subprocess'?)" in choice.stderr.decode().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_a_bare_function_name_without_a_region_says_what_the_local_form_is(tmp_path: Path) -> None:
    create_queue(f"sqlite:///{tmp_path}/q.db?queue=q")
    done = batchmap("run", "--source", "sqlite:///q.db?queue=q", "--function", "slow", cwd=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith("batchmap: error: FunctionName (--function): invalid value 'slow'")
    assert "module:callable, such as slow:handler" in err and "--region" in err


def test_help_texts_read_as_text_and_every_subcommand_has_a_description() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == {"run", "create-queue", "create-stream", "send", "inspect", "purge", "serve", "tune",
                             "receive-message", "start-message-move-task", "list-message-move-tasks",
                             "cancel-message-move-task", "replay"}
    for name, command in commands.items():
        text = command.format_help()
        assert command.description and len(command.description) > 40, name
        assert "``" not in text and "::" not in text, name
        assert "['" not in text and "default: [" not in text, name
    assert "default: 1,2,5,10,20,50,100" in commands["tune"].format_help().replace("\n", " ").replace("  ", " ")


@pytest.mark.parametrize("command", [["inspect"], ["send", "more"]])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path, command: list[str]) -> None:
    send(f"sqlite:///{tmp_path}/q.db?queue=q", ["a"])
    read_end, write_end = os.pipe()
    os.close(read_end)  # like head that has already stopped reading
    try:
        done = subprocess.run([sys.executable, "-m", "batchmap", command[0], "--source", "sqlite:///q.db?queue=q",
                               *command[1:]], cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE, timeout=60,
                              check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 1 and done.stderr == b""


def test_inspect_reads_without_writing_even_beside_a_live_writer(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=q"
    create_queue(uri, {"VisibilityTimeout": "60"})
    send(uri, ["a", "b", "c"])
    send(uri, ["later"], delay_s=600)
    db = tmp_path / "q.db"
    before = (db.read_bytes(), db.stat().st_mtime_ns, sorted(os.listdir(tmp_path)))
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["inspect", "--source", uri]) == 0
    info = json.loads(out.getvalue())
    assert (info["visible"], info["in_flight"], info["delayed"]) == (3, 0, 1)
    assert (db.read_bytes(), db.stat().st_mtime_ns, sorted(os.listdir(tmp_path))) == before

    async def with_a_writer() -> None:
        queue = await SqliteQueue.open(uri)  # holds the file open: its commits sit in the -wal file
        try:
            await queue.send(["d"])
            assert len(await queue.receive(1, 0)) == 1
            seen = inspect(uri)
            assert (seen.visible, seen.in_flight, seen.delayed) == (3, 1, 1)  # type: ignore[union-attr]
        finally:
            await queue.close()

    asyncio.run(with_a_writer())


def test_stream_data_is_stored_and_delivered_as_the_exact_bytes_sent(tmp_path: Path) -> None:
    uri = "sqlite:///s.db?stream=raw"
    lines = RAW + b"\r\n" + b"caf\xc3\xa9\n" + b"\xff\n"
    run_ok("send", "--source", uri, "--partition-key", "k", cwd=tmp_path, stdin=lines)
    done = subprocess.run([sys.executable, "-m", "batchmap", "send", "--source", uri, "--partition-key", "k",
                           b"\xfe\xff arg"], cwd=tmp_path, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr

    async def read() -> list[bytes]:
        stream = await SqliteStream.open(f"sqlite:///{tmp_path}/s.db?stream=raw")
        try:
            (shard,) = await stream.shards()
            got = await stream.read(shard.id, Position("TRIM_HORIZON"), 10)
            return [base64.b64decode(d.record["kinesis"]["data"]) for d in got.deliveries]
        finally:
            await stream.close()

    assert asyncio.run(read()) == [RAW, "café".encode(), b"\xff", b"\xfe\xff arg"]


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


def test_kinesis_gets_the_exact_bytes_from_send(tmp_path: Path, moto: Moto) -> None:
    name = f"raw-{uuid.uuid4().hex[:8]}"
    kinesis = moto.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = f"arn:aws:kinesis:{AWS_REGION}:123456789012:stream/{name}"
    env = {**os.environ, **AWS_ENV}
    done = subprocess.run([sys.executable, "-m", "batchmap", "send", "--source", arn, "--endpoint-url", moto.url,
                           "--partition-key", "k"], input=RAW + b"\n", cwd=tmp_path, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [(r["Data"], r["PartitionKey"]) for r in records] == [(RAW, "k")]
    refused = subprocess.run([sys.executable, "-m", "batchmap", "send", "--source", arn, "--endpoint-url", moto.url,
                              "--partition-key", "", "x"], cwd=tmp_path, env=env, capture_output=True, timeout=60,
                             check=False)
    assert refused.returncode == 2 and b"--partition-key (PartitionKey): invalid value ''" in refused.stderr


def test_kafka_gets_the_exact_bytes_from_send(tmp_path: Path) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    with tansu_broker(tmp_path / "tansu.log") as broker:
        topic = f"raw-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": broker, "logger": logging.getLogger("tests.kafka.admin")})
        for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            future.result(10)
        run_ok("send", "--source", f"kafka://{broker}/{topic}", "--partition-key", "k", cwd=tmp_path,
               stdin=RAW + b"\n")
        consumer = Consumer({"bootstrap.servers": broker, "group.id": "reader", "enable.auto.commit": False,
                             "logger": logging.getLogger("tests.kafka.reader")})
        try:
            consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            message = None
            for _ in range(100):
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    break
            assert message is not None and (message.key(), message.value()) == (b"k", RAW)
        finally:
            consumer.close()
