"""What ``batchmap run`` says when a run cannot go on: one line, no traceback, a documented exit status."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

from fault_support import command, environment, start, wait_for

from batchmap.sources.sqlite import admin


def test_a_fatal_source_error_mid_run_stops_with_one_line_and_exit_1(tmp_path: Path) -> None:
    """The queue's table vanishes under a running engine: waiting cannot help, so the run stops at once."""
    db = tmp_path / "gone.db"
    uri = f"sqlite:///{db}?queue=q{uuid.uuid4().hex[:8]}"
    admin.send(uri, [json.dumps({"id": f"m{i:03d}"}) for i in range(200)])
    log = tmp_path / "processed.log"
    engine = start(uri, log, "--batch-size", "5", sleep_s=0.05)
    wait_for(log, 10, engine)
    with sqlite3.connect(db, timeout=30) as conn:
        deadline = time.monotonic() + 10  # a batch is deleted a moment after it is processed: wait for one
        while conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 200:
            assert time.monotonic() < deadline, "no batch was deleted"
            time.sleep(0.01)
        conn.execute("DROP TABLE messages")
    dropped = time.monotonic()
    code = engine.wait(10)
    stopped_s = time.monotonic() - dropped
    errors = Path(engine.stderr_path).read_text()  # type: ignore[attr-defined]
    assert code == 1, errors
    assert errors.splitlines() == [f"batchmap: error: {uri}: {db}: no such table: messages"], errors
    assert stopped_s < 5
    summary = Path(engine.stdout_path).read_text()  # type: ignore[attr-defined]
    assert "DeletedEventCount" in summary  # what was done before is still reported


def test_a_timestamp_in_the_future_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    """``AT_TIMESTAMP 1e30`` used to pass validation, then hang the run; AWS refuses a time in the future."""
    uri = f"sqlite:///{tmp_path}/ts.db?stream=s"
    admin.send(uri, [json.dumps({"id": "m000"})])
    log = tmp_path / "processed.log"
    done = subprocess.run([*command(uri), "--starting-position", "AT_TIMESTAMP", "--starting-position-timestamp",
                           "1e30", "--until-idle"], env=environment(log), capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("batchmap: error: StartingPositionTimestamp") and "1e+30" in line, line
    assert "the future" in line
    assert not log.exists()
