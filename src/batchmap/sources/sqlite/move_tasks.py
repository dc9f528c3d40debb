"""Message move tasks as SQS lists them, kept in a SQLite file so ``list-message-move-tasks`` sees them later.

A task on an embedded queue is kept in the queue's own file; a task on a broker
in a file of the user's (``default_ledger_path``). The process running a task
writes its progress at least every ``HEARTBEAT_S``; a ``RUNNING`` task whose
writer has been silent for ``STALE_MS`` is shown as ``FAILED`` (the process
stopped: what it had moved stays moved, the rest stays in the dead-letter queue).
A ``TaskHandle`` is opaque to users, as SQS's is: base64 of a small JSON object
naming the task and the file that keeps it, so ``cancel-message-move-task``
needs nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

from batchmap.errors import ConfigError
from batchmap.sources.sqlite.database import Database

Status = Literal["RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"]
ACTIVE: tuple[Status, ...] = ("RUNNING", "CANCELLING")
HEARTBEAT_S = 1.0
"""How often a running task writes its progress, at least."""
STALE_MS = 30_000
"""A running task whose progress is older than this has lost its process."""
LEDGER_FILE = "message-move-tasks.db"
_COLUMNS = ("handle, source_arn, destination_arn, max_per_second, status, moved, to_move, failure, started_ms, "
            "updated_ms")


@dataclass(frozen=True, slots=True)
class MoveTask:
    """One message move task, with the fields of SQS's ``ListMessageMoveTasksResultEntry``."""

    handle: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    status: Status
    moved: int
    to_move: int | None
    failure: str | None
    started_ms: int
    updated_ms: int

    def shown(self, now_ms: int) -> MoveTask:
        """The task as a reader sees it: a running task whose process went silent is ``FAILED``."""
        if self.status in ACTIVE and now_ms - self.updated_ms > STALE_MS:
            return replace(self, status="FAILED",
                           failure="the batchmap process running the task stopped before it ended")
        return self

    def to_aws(self) -> dict[str, Any]:
        """SQS's JSON for the task; optional fields only when they have a value, as SQS sends them."""
        out: dict[str, Any] = {"TaskHandle": self.handle, "Status": self.status, "SourceArn": self.source_arn}
        if self.destination_arn is not None:
            out["DestinationArn"] = self.destination_arn
        if self.max_per_second is not None:
            out["MaxNumberOfMessagesPerSecond"] = self.max_per_second
        out["ApproximateNumberOfMessagesMoved"] = self.moved
        if self.to_move is not None:
            out["ApproximateNumberOfMessagesToMove"] = self.to_move
        if self.failure is not None:
            out["FailureReason"] = self.failure
        out["StartedTimestamp"] = self.started_ms
        return out


def default_ledger_path() -> str:
    """Where tasks on broker queues are kept: ``$BATCHMAP_STATE_DIR``, else ``$XDG_STATE_HOME/batchmap``."""
    folder = os.environ.get("BATCHMAP_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "batchmap")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, LEDGER_FILE)


def new_handle(ledger_path: str, source_arn: str) -> str:
    """An opaque handle naming a new task and the file that keeps it."""
    data = {"taskId": str(uuid.uuid4()), "sourceArn": source_arn, "ledger": os.path.abspath(ledger_path)}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def ledger_of(handle: str) -> str:
    """The file that keeps the task ``handle`` names; a handle batchmap did not make is a ``ConfigError``."""
    try:
        data = json.loads(base64.urlsafe_b64decode(handle.encode()))
        path = data["ledger"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ConfigError("--task-handle", handle, "a TaskHandle printed by start-message-move-task") from None
    if not isinstance(path, str) or not os.path.exists(path):
        raise ConfigError("--task-handle", handle, "a task whose file still exists")
    return path


class MoveTaskLedger:
    """The ``move_tasks`` table of one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = Database(path)

    def close(self) -> None:
        self.db.close()

    def start(self, task: MoveTask) -> None:
        """Record a new ``RUNNING`` task; a queue with an active task already is refused, as SQS refuses it."""
        with self.db.write() as conn:
            for row in conn.execute(f"SELECT {_COLUMNS} FROM move_tasks WHERE source_arn = ? AND status IN "
                                    "('RUNNING', 'CANCELLING')", (task.source_arn,)).fetchall():
                if _task(row).shown(task.started_ms).status in ACTIVE:
                    raise ConfigError("--source-arn", task.source_arn,
                                      "a queue with no active message move task (one runs already: "
                                      f"{row[0]}; cancel it with cancel-message-move-task)")
            conn.execute(f"INSERT INTO move_tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (task.handle, task.source_arn, task.destination_arn, task.max_per_second, task.status,
                          task.moved, task.to_move, task.failure, task.started_ms, task.updated_ms))

    def progress(self, handle: str, moved: int, to_move: int | None, now_ms: int) -> Status:
        """Write how far the task got; returns its status (``CANCELLING`` once someone cancelled it)."""
        with self.db.write() as conn:
            row = conn.execute("UPDATE move_tasks SET moved = ?, to_move = ?, updated_ms = ? WHERE handle = ? "
                               "RETURNING status", (moved, to_move, now_ms, handle)).fetchone()
        return "CANCELLED" if row is None else row[0]

    def finish(self, handle: str, status: Status, moved: int, failure: str | None, now_ms: int) -> MoveTask:
        """Record how the task ended."""
        with self.db.write() as conn:
            row = conn.execute(f"UPDATE move_tasks SET status = ?, moved = ?, failure = ?, updated_ms = ? "
                               f"WHERE handle = ? RETURNING {_COLUMNS}",
                               (status, moved, failure, now_ms, handle)).fetchone()
        return _task(row)

    def cancel(self, handle: str, now_ms: int) -> MoveTask:
        """Ask a running task to stop (``CANCELLING``); one whose process is gone is ``CANCELLED`` at once.

        Only a ``RUNNING`` task can be cancelled, as in SQS; anything else is a ``ConfigError``.
        """
        with self.db.write() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM move_tasks WHERE handle = ?", (handle,)).fetchone()
            if row is None:
                raise ConfigError("--task-handle", handle, f"a task kept in {self.path}")
            task = _task(row)
            if task.shown(now_ms).status != "RUNNING":
                raise ConfigError("--task-handle", handle,
                                  f"a RUNNING task (this one is {task.shown(now_ms).status})")
            status: Status = "CANCELLED" if now_ms - task.updated_ms > STALE_MS else "CANCELLING"
            conn.execute("UPDATE move_tasks SET status = ? WHERE handle = ?", (status, handle))
        return replace(task, status=status)

    def list(self, source_arn: str, max_results: int, now_ms: int) -> list[MoveTask]:
        """The most recent tasks on ``source_arn``, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM move_tasks WHERE source_arn = ? "
                                "ORDER BY started_ms DESC LIMIT ?", (source_arn, max_results)).fetchall()
        return [_task(row).shown(now_ms) for row in rows]


def _task(row: Any) -> MoveTask:
    return MoveTask(*row)
