"""The dead-letter commands on the embedded queue, through the command line: look, move back, list, cancel."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from dead_letter_cli import cli, error_of, received, redrive_and_check

from batchmap.sources.sqlite import SqliteQueue, create_queue, inspect, send
from batchmap.sources.sqlite.move_tasks import MoveTask, MoveTaskLedger, new_handle


def _queues(tmp_path: Path, *sources: str, receives: int = 1) -> tuple[str, dict[str, str]]:
    """A dead-letter queue and source queues that dead-letter into it after ``receives`` receives."""
    db = tmp_path / "w.db"
    dlq = f"sqlite:///{db}?queue=dlq"
    create_queue(dlq)
    policy = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:dlq", "maxReceiveCount": receives})
    uris = {name: f"sqlite:///{db}?queue={name}" for name in sources}
    for uri in uris.values():
        create_queue(uri, {"RedrivePolicy": policy, "VisibilityTimeout": "0"})
    return dlq, uris


async def _fail_everything(uri: str, bodies: list[str], attributes: dict[str, str] | None = None) -> None:
    """Send ``bodies`` and receive them without deleting until the queue dead-letters them all."""
    queue = await SqliteQueue.open(uri)
    try:
        for body in bodies:
            await queue.send_message(body, message_attributes={
                k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()})
        while (await queue.receive(100, 0)) or (await queue.backlog()).total:
            pass
    finally:
        await queue.close()


def test_receive_message_prints_what_aws_sqs_receive_message_prints(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    dlq, uris = _queues(tmp_path, "orders")
    assert cli(capsys, "receive-message", "--source", dlq) is None, "an empty queue prints nothing"
    asyncio.run(_fail_everything(uris["orders"], ["poison"], {"tenant": "acme"}))
    plain = cli(capsys, "receive-message", "--source", dlq, "--visibility-timeout", "0")["Messages"]
    assert list(plain[0]) == ["MessageId", "ReceiptHandle", "MD5OfBody", "Body"], "attributes only when asked"
    assert plain[0]["Body"] == "poison" and plain[0]["MD5OfBody"] == hashlib.md5(b"poison").hexdigest()
    full = received(capsys, dlq)
    assert len(full) == 1
    message = full[0]
    assert message["MessageId"] == plain[0]["MessageId"] and message["Body"] == "poison"
    assert set(message["Attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                          "ApproximateFirstReceiveTimestamp"}
    assert message["MessageAttributes"] == {"tenant": {"StringValue": "acme", "DataType": "String"}}
    assert cli(capsys, "receive-message", "--source", dlq) is None, "hidden for the visibility timeout"


def test_receive_message_refuses_what_aws_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dlq, _ = _queues(tmp_path, "orders")
    with pytest.raises(SystemExit):
        cli(capsys, "receive-message", "--source", dlq, "--max-number-of-messages", "11")
    assert "--max-number-of-messages" in capsys.readouterr().err
    missing = error_of(capsys, "receive-message", "--source", f"sqlite:///{tmp_path}/w.db?queue=dql")
    assert "no queue named 'dql'" in missing, "a typo must not create a queue"
    assert "--endpoint-url" in error_of(capsys, "receive-message", "--source", dlq, "--endpoint-url", "http://x")


def test_a_redrive_moves_each_message_back_to_the_queue_it_failed_in(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    dlq, uris = _queues(tmp_path, "orders", "refunds")
    asyncio.run(_fail_everything(uris["orders"], ["o1", "o2", "o3"], {"tenant": "acme"}))
    asyncio.run(_fail_everything(uris["refunds"], ["r1", "r2"]))
    before = {m["Body"]: m for m in received(capsys, dlq, "--visibility-timeout", "0")}
    assert set(before) == {"o1", "o2", "o3", "r1", "r2"}

    task = redrive_and_check(capsys, dlq, 5)
    assert task["SourceArn"] == "arn:aws:sqs:local:000000000000:dlq" and "DestinationArn" not in task
    assert inspect(dlq).visible == 0  # type: ignore[union-attr]
    orders = {m["Body"]: m for m in received(capsys, uris["orders"])}
    refunds = {m["Body"]: m for m in received(capsys, uris["refunds"])}
    assert set(orders) == {"o1", "o2", "o3"} and set(refunds) == {"r1", "r2"}
    for body, message in {**orders, **refunds}.items():
        assert message["MessageId"] == before[body]["MessageId"], "the message keeps its id"
        assert message["Attributes"]["ApproximateReceiveCount"] == "1", "the receive count starts again"
        assert message["Attributes"]["SentTimestamp"] == before[body]["Attributes"]["SentTimestamp"]
    assert orders["o1"]["MessageAttributes"] == {"tenant": {"StringValue": "acme", "DataType": "String"}}


def test_a_destination_arn_takes_every_message_and_a_bad_one_moves_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dlq, uris = _queues(tmp_path, "orders")
    retry = f"sqlite:///{tmp_path}/w.db?queue=retry"
    create_queue(retry)
    asyncio.run(_fail_everything(uris["orders"], ["a", "b"]))
    other_file = f"sqlite:///{tmp_path}/other.db?queue=retry"
    create_queue(other_file)
    for bad, says in ((other_file, "a queue in the same database file"),
                      (f"sqlite:///{tmp_path}/w.db?queue=nope", "an existing queue"),
                      (dlq, "a queue other than the source queue")):
        line = error_of(capsys, "start-message-move-task", "--source-arn", dlq, "--destination-arn", bad)
        assert "--destination-arn" in line and says in line
    assert cli(capsys, "list-message-move-tasks", "--source-arn", dlq) == {"Results": []}, "refused before starting"
    assert inspect(dlq).visible == 2  # type: ignore[union-attr]

    task = redrive_and_check(capsys, dlq, 2, "--destination-arn", retry, "--max-number-of-messages-per-second", "500")
    assert task["DestinationArn"] == retry and task["MaxNumberOfMessagesPerSecond"] == 500
    assert sorted(m["Body"] for m in received(capsys, retry)) == ["a", "b"]
    assert inspect(uris["orders"]).total == 0  # type: ignore[union-attr]


def test_a_message_with_no_known_source_fails_the_task_and_stays(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    dlq, _ = _queues(tmp_path, "orders", "refunds")  # two queues dead-letter here: a sent message is anyone's
    [message_id] = send(dlq, ["orphan"])
    out = cli(capsys, "start-message-move-task", "--source-arn", dlq, code=1)
    err = capsys.readouterr().err
    assert out is None or "TaskHandle" in out
    [task] = cli(capsys, "list-message-move-tasks", "--source-arn", dlq)["Results"]
    assert task["Status"] == "FAILED" and message_id in task["FailureReason"]
    assert "--destination-arn" in task["FailureReason"] and err == ""
    assert [m["Body"] for m in received(capsys, dlq)] == ["orphan"], "given back at once, not lost"


def test_the_task_record_persists_and_only_one_runs_at_a_time(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    dlq, uris = _queues(tmp_path, "orders")
    asyncio.run(_fail_everything(uris["orders"], ["a"]))
    ledger = MoveTaskLedger(str(tmp_path / "w.db"))
    now = int(time.time() * 1000)
    arn = "arn:aws:sqs:local:000000000000:dlq"
    busy = MoveTask(new_handle(ledger.path, arn), arn, None, None, "RUNNING", 0, 1, None, now, now)
    ledger.start(busy)
    line = error_of(capsys, "start-message-move-task", "--source-arn", dlq)
    assert "one runs already" in line and "cancel-message-move-task" in line
    assert cli(capsys, "cancel-message-move-task", "--task-handle", busy.handle) == {
        "ApproximateNumberOfMessagesMoved": 0}
    with ledger.db.write() as conn:  # the process that ran it went away: its writes stopped long ago
        conn.execute("UPDATE move_tasks SET status = 'RUNNING', updated_ms = ? WHERE handle = ?",
                     (now - 60_000, busy.handle))
    ledger.close()
    [shown] = cli(capsys, "list-message-move-tasks", "--source-arn", dlq)["Results"]
    assert shown["Status"] == "FAILED" and "stopped" in shown["FailureReason"]
    redrive_first = cli(capsys, "start-message-move-task", "--source-arn", dlq)
    listed = cli(capsys, "list-message-move-tasks", "--source-arn", dlq, "--max-results", "10")["Results"]
    assert [t["TaskHandle"] for t in listed] == [redrive_first["TaskHandle"], busy.handle], "newest first"
    assert listed[0]["Status"] == "COMPLETED"
    with sqlite3.connect(tmp_path / "w.db") as conn:  # kept in the queue's own file
        assert conn.execute("SELECT COUNT(*) FROM move_tasks").fetchone()[0] == 2
    assert "TaskHandle" in error_of(capsys, "cancel-message-move-task", "--task-handle", "not-a-handle")


def test_cancelling_a_slow_task_stops_it_and_loses_nothing(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from batchmap.cli import main

    dlq, uris = _queues(tmp_path, "orders")
    asyncio.run(_fail_everything(uris["orders"], [f"m{i}" for i in range(6)]))
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(main(
        ["start-message-move-task", "--source-arn", dlq, "--max-number-of-messages-per-second", "2"])))
    worker.start()
    ledger = MoveTaskLedger(str(tmp_path / "w.db"))
    deadline = time.monotonic() + 20
    while not ledger.list("arn:aws:sqs:local:000000000000:dlq", 1, int(time.time() * 1000)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    [task] = ledger.list("arn:aws:sqs:local:000000000000:dlq", 1, int(time.time() * 1000))
    ledger.close()
    cli(capsys, "cancel-message-move-task", "--task-handle", task.handle)
    worker.join(30)
    assert done == [0]
    [ended] = cli(capsys, "list-message-move-tasks", "--source-arn", dlq)["Results"]
    assert ended["Status"] == "CANCELLED"
    moved = ended["ApproximateNumberOfMessagesMoved"]
    assert moved < 6
    assert inspect(uris["orders"]).visible == moved  # type: ignore[union-attr]
    assert inspect(dlq).total == 6 - moved, "what was not moved is still in the dead-letter queue"  # type: ignore[union-attr]


def test_a_file_from_before_the_source_was_recorded_is_traced_through_the_redrive_policy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dlq, uris = _queues(tmp_path, "orders")
    asyncio.run(_fail_everything(uris["orders"], ["old"]))
    with sqlite3.connect(tmp_path / "w.db") as conn:  # as an older batchmap left it: no record, schema 1
        conn.execute("ALTER TABLE messages DROP COLUMN dead_letter_source")
        conn.execute("DROP TABLE move_tasks")
        conn.execute("PRAGMA user_version = 1")
    redrive_and_check(capsys, dlq, 1)
    assert [m["Body"] for m in received(capsys, uris["orders"])] == ["old"]
