"""The command line's output: JSON log lines, the terminal that logs print above, the progress line, the summary."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from types import MappingProxyType

from batchmap.cli.output import JsonFormatter, TerminalHandler
from batchmap.cli.progress import clock_text, progress_line, show_progress
from batchmap.cli.summary import summary_text, write_summary
from batchmap.metrics import COUNTERS, Depth, MappingView, MetricsSnapshot, RetryWait, RunView

CLEAR = "\r\x1b[2K"


def snapshot(**counts: int) -> MetricsSnapshot:
    values = dict.fromkeys(COUNTERS, 0)
    values.update(counts)
    return MetricsSnapshot("orders", "uuid-1", MappingProxyType(values))


def view(depth: Depth | None = None, wait: RetryWait | None = None, dead: int = 0, **counts: int) -> RunView:
    rates = {"InvokedEventCount": 900.0, "SucceededEventCount": 800.0, "FailedAttemptEventCount": 4.0,
             "FilteredOutEventCount": 200.0}
    mapping = MappingView("uuid-1", "orders", "sqlite:///q.db?queue=orders", "queue", "running", snapshot(**counts),
                          depth=depth, dead_lettered=dead, rates=rates, retry_wait=wait)
    return RunView(12.0, (mapping,))


def test_json_log_lines_merge_a_message_that_is_already_json() -> None:
    record = logging.LogRecord("batchmap.handler", logging.ERROR, __file__, 1,
                               json.dumps({"message": "record failed", "itemIdentifier": "m-1"}), None, None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "record failed" and line["itemIdentifier"] == "m-1" and line["level"] == "ERROR"
    plain = logging.LogRecord("batchmap.engine", logging.INFO, __file__, 1, "batch of %d", (3,), None)
    assert json.loads(JsonFormatter().format(plain))["message"] == "batch of 3"


def test_a_log_line_prints_above_the_progress_line_never_into_it() -> None:
    out = io.StringIO()
    terminal = TerminalHandler(out)
    terminal.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    terminal.show("0:01  succeeded 10")
    terminal.emit(logging.LogRecord("batchmap", logging.ERROR, __file__, 1, "record failed", None, None))
    terminal.show("0:02  succeeded 20")
    terminal.clear()
    assert out.getvalue() == (f"{CLEAR}0:01  succeeded 10{CLEAR}ERROR record failed\n0:01  succeeded 10"
                              f"{CLEAR}0:02  succeeded 20{CLEAR}")
    screen = out.getvalue().replace(CLEAR, "\n").splitlines()
    assert "ERROR record failed" in screen  # a line of its own


def test_without_a_progress_line_logs_are_plain_lines() -> None:
    out = io.StringIO()
    terminal = TerminalHandler(out)
    terminal.emit(logging.LogRecord("batchmap", logging.WARNING, __file__, 1, "slow", None, None))
    assert out.getvalue() == "slow\n"


def test_progress_line_counts_records_and_shows_the_current_rate_backlog_and_eta() -> None:
    line = progress_line(view(Depth(9_000, 0, 0), dead=3, SucceededEventCount=11_000, FailedAttemptEventCount=38,
                              FailedInvokeEventCount=18_400), elapsed_s=75)
    # ETA: 9,000 left at 1,000/s leaving (800 succeeded + 200 filtered out)
    assert line == "1:15  succeeded 11,000  failed 38  dead-lettered 3  rate 800/s  backlog 9,000  ETA 0:09"


def test_progress_line_says_it_waits_for_a_retry_and_for_how_long() -> None:
    exact = progress_line(view(Depth(0, 19, 0), RetryWait(19, 1.44, exact=True)), elapsed_s=3)
    assert exact.endswith("backlog 19  waiting for a retry: 19 failed message(s) hidden, next visible in 1.4 s")
    bound = progress_line(view(Depth(0, 2, 0), RetryWait(2, 25.0, exact=False)), elapsed_s=3)
    assert "next visible within 25.0 s (visibility timeout)" in bound and "ETA" not in bound


def test_progress_line_of_a_stream_has_no_backlog_and_elapsed_reads_as_a_clock() -> None:
    line = progress_line(view(None, SucceededEventCount=5), elapsed_s=3_725)
    assert line.startswith("1:02:05  succeeded 5") and "backlog" not in line and "ETA" not in line
    assert clock_text(None) == "–" and clock_text(59.6) == "1:00"


def test_the_summary_leads_with_records_and_keeps_aws_names_with_their_meanings() -> None:
    done = view(Depth(0, 0, 0), dead=19, SucceededEventCount=1_981, FailedAttemptEventCount=38,
                PolledEventCount=2_019, InvokedEventCount=2_019, FailedInvokeEventCount=1_919,
                DeletedEventCount=1_981, Invocations=21)
    text = summary_text(done, elapsed_s=5.0, retry_wait_s=3.0)
    lines = text.splitlines()
    assert lines[1] == "records" and lines[2].split()[:2] == ["succeeded", "1,981"]
    assert lines[3].split()[:3] == ["failed", "attempts", "38"] and lines[4].split()[:2] == ["dead-lettered", "19"]
    aws = lines.index("AWS metrics (CloudWatch names)")
    assert aws > 4 and any(line.split()[:2] == ["FailedInvokeEventCount", "1,919"] for line in lines[aws:])
    assert all(len(line.split("   ")) >= 2 for line in lines[aws + 1:])  # each with its meaning
    assert "396.2" in text and "990.5/s leaving out 3.0 s spent waiting for retries" in text
    assert "DroppedEventCount" not in text  # a zero that rarely moves is left out


def test_the_json_summary_carries_the_counters_and_the_record_counts() -> None:
    out = io.StringIO()
    write_summary(view(dead=2, DeletedEventCount=1150, SucceededEventCount=1150), 2.0, out, as_json=True)
    document = json.loads(out.getvalue())
    assert document["summary"]["DeletedEventCount"] == 1150
    assert document["records"] == {"succeeded": 1150, "failed_attempts": 0, "dead_lettered": 2, "filtered_out": 0,
                                   "dropped": 0}


def test_the_progress_line_is_redrawn_until_cancelled_then_removed() -> None:
    out = io.StringIO()
    terminal = TerminalHandler(out)

    async def run() -> None:
        task = asyncio.create_task(show_progress(lambda: view(Depth(7, 0, 0)), terminal, 0.0, interval_s=0.01))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    frames = out.getvalue().split(CLEAR)
    assert any("backlog 7" in frame for frame in frames) and frames[-1] == "" and terminal.status == ""
