"""Running the dead-letter commands in this process, as a user types them, and reading their JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchmap.cli import main


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    """Run ``batchmap ARGS``; check the exit code; the parsed JSON printed (``None`` if nothing was)."""
    capsys.readouterr()
    got = main(list(args))
    out, err = capsys.readouterr()
    assert got == code, err
    return json.loads(out) if out.strip() else None


def error_of(capsys: pytest.CaptureFixture[str], *args: str, code: int = 2) -> str:
    """Run a command that must fail; its one error line."""
    capsys.readouterr()
    assert main(list(args)) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def redrive_and_check(capsys: pytest.CaptureFixture[str], dlq: str, count: int, *extra: str) -> dict[str, Any]:
    """``start-message-move-task`` then ``list-message-move-tasks``: the task completed, every message moved."""
    handle = cli(capsys, "start-message-move-task", "--source-arn", dlq, *extra)["TaskHandle"]
    results = cli(capsys, "list-message-move-tasks", "--source-arn", dlq, *extra_connection(extra))["Results"]
    assert len(results) == 1
    task: dict[str, Any] = results[0]
    assert task["TaskHandle"] == handle and task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == count == task["ApproximateNumberOfMessagesToMove"]
    assert isinstance(task["StartedTimestamp"], int) and "FailureReason" not in task
    return task


def extra_connection(extra: tuple[str, ...]) -> list[str]:
    """The connection flags among ``extra`` (``--endpoint-url X``, ``--region X``), for list-message-move-tasks."""
    out: list[str] = []
    for flag in ("--endpoint-url", "--region"):
        if flag in extra:
            out += [flag, extra[extra.index(flag) + 1]]
    return out


def received(capsys: pytest.CaptureFixture[str], uri: str, *extra: str, n: int = 10) -> list[dict[str, Any]]:
    """Every message ``receive-message`` prints from ``uri`` (up to ``n``), with all attributes."""
    out = cli(capsys, "receive-message", "--source", uri, "--max-number-of-messages", str(n),
              "--attribute-names", "All", "--message-attribute-names", "All", *extra)
    return [] if out is None else list(out["Messages"])
