"""The command line's output: JSON log lines, the live progress line, the summary."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from batchmap.cli.output import JsonFormatter, progress_line, show_progress, summary_text, write_summary

SNAPSHOT = {"PolledEventCount": 1200, "InvokedEventCount": 1200, "DeletedEventCount": 1150,
            "FailedInvokeEventCount": 50, "IteratorAge": {"Latest": None, "Maximum": None}}


def test_json_log_lines_merge_a_message_that_is_already_json() -> None:
    record = logging.LogRecord("batchmap.handler", logging.ERROR, __file__, 1,
                               json.dumps({"message": "record failed", "itemIdentifier": "m-1"}), None, None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "record failed" and line["itemIdentifier"] == "m-1" and line["level"] == "ERROR"
    plain = logging.LogRecord("batchmap.engine", logging.INFO, __file__, 1, "batch of %d", (3,), None)
    assert json.loads(JsonFormatter().format(plain))["message"] == "batch of 3"


def test_progress_line_shows_done_rate_backlog_and_failures() -> None:
    line = progress_line(SNAPSHOT, elapsed_s=2.0, backlog=300)
    assert line == "invoked 1,200  done 1,150  backlog 300  rate 600/s  failed 50"


def test_the_summary_uses_aws_names_and_leaves_out_what_does_not_apply() -> None:
    text = summary_text(SNAPSHOT, elapsed_s=2.0)
    assert "DeletedEventCount" in text and "1,150" in text and "IteratorAge" not in text
    out = io.StringIO()
    write_summary(SNAPSHOT, 2.0, out, as_json=True)
    assert json.loads(out.getvalue())["summary"]["DeletedEventCount"] == 1150


def test_the_progress_line_is_rewritten_in_place_until_cancelled() -> None:
    out = io.StringIO()

    async def depth() -> int:
        return 7

    async def run() -> None:
        task = asyncio.create_task(show_progress(lambda: SNAPSHOT, depth, out, interval_s=0.01))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    frames = out.getvalue().split("\r\x1b[2K")
    assert any("backlog 7" in frame for frame in frames) and frames[-1] == ""
