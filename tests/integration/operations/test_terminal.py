"""``batchmap run`` on a terminal: the progress line, log lines above it, retry waits, the summary; bad
``--metrics-address`` values refused before anything is consumed; the demo's output."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ops_support import environment, queue

from batchmap.sources.sqlite import admin

REPO = Path(__file__).resolve().parents[3]
CLEAR = "\r\x1b[2K"


def on_terminal(*args: str, timeout_s: float = 60) -> tuple[int, str, str]:
    """Run ``batchmap run`` with its stderr on a pseudo-terminal; (exit status, stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "batchmap", "run", *args], env=environment(),
                            stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: the process is gone
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out, screen.decode(errors="replace")


def test_log_lines_print_above_the_progress_line_and_the_summary_leads_with_records(tmp_path: Path) -> None:
    uri = queue(tmp_path, 400, bad_every=40, attributes={"VisibilityTimeout": "2"}, max_receive_count=2)
    code, out, screen = on_terminal("--source", uri, "--function", "ops_handlers:logs_failures", "--batch-size", "10",
                                    "--timeout", "2", "--function-response-types", "ReportBatchItemFailures",
                                    "--until-idle", "--invoker", "inprocess", timeout_s=60)
    assert code == 0, screen[-2000:]
    frames = [frame for frame in screen.split(CLEAR) if frame]
    shape = re.compile(r"\d+:\d\d  succeeded [\d,]+  failed [\d,]+  dead-lettered \d+  rate ")
    assert any(shape.match(frame) for frame in frames), screen[-2000:]
    logged = [f for f in frames if "records failed" in f]  # the toolkit's one line per batch with failures
    failed = 0
    for frame in logged:  # each log line begins a line of its own and ends before the progress line is redrawn
        assert frame.startswith("ERROR batchmap.handler: "), frame[:200]
        line, _, redrawn = frame.partition("\n")
        assert "succeeded" not in line and shape.match(redrawn), frame[:300]
        failed += json.loads(line.removeprefix("ERROR batchmap.handler: "))["failed"]
    assert failed == 20, screen[-2000:]  # 10 bad orders, each failing twice before the dead-letter queue
    lines = out.splitlines()
    assert lines[1] == "records"
    assert [line.split()[:3] for line in lines[2:5]] == [
        ["succeeded", "390", "processed"], ["failed", "attempts", "20"], ["dead-lettered", "10", "moved"]]


def test_a_drain_that_waits_for_failed_messages_says_so(tmp_path: Path) -> None:
    uri = queue(tmp_path, 3, attributes={"VisibilityTimeout": "3"})  # no dead-letter queue: they come back forever
    errors = tmp_path / "stderr.txt"
    with open(errors, "w", encoding="utf-8") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "batchmap", "run", "--source", uri, "--function",
                                 "ops_handlers:always_fails", "--timeout", "1", "--until-idle", "--progress",
                                 "--invoker", "inprocess", "--log-level", "ERROR"],
                                env=environment(), stdout=subprocess.PIPE, stderr=stderr, text=True)
    said = re.compile(r"waiting for a retry: 3 failed message\(s\) hidden, next visible in (\d+\.\d) s")
    deadline = time.monotonic() + 30
    while len(said.findall(errors.read_text())) < 2:  # two redraws of the line (every 0.5 s) while it waits
        assert proc.poll() is None and time.monotonic() < deadline, errors.read_text()[-2000:]
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    err = errors.read_text()
    assert proc.returncode == 0, err[-2000:]
    waiting = said.findall(err)
    assert waiting, err[-2000:]
    assert max(float(s) for s in waiting) <= 3.0
    assert "failed attempts" in out and "AWS metrics" in out


@pytest.mark.parametrize(("flags", "named"), [
    (("--metrics-address", "0.0.0.0:9100"), "--metrics-public"),
    (("--metrics-address", "example.com:9100"), "HOST:PORT"),
    (("--metrics-address", "127.0.0.1"), "HOST:PORT"),
    (("--metrics-address", "127.0.0.1:9100", "--metrics-allowed-host", "bad name"), "--metrics-allowed-host"),
    (("--metrics-public",), "--metrics-address"),
])
def test_a_bad_metrics_address_is_refused_before_anything_is_consumed(
        tmp_path: Path, flags: tuple[str, ...], named: str) -> None:
    uri = queue(tmp_path, 3)
    done = subprocess.run([sys.executable, "-m", "batchmap", "run", "--source", uri, "--function",
                           "ops_handlers:slow_orders", "--until-idle", *flags],
                          env=environment(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and named in done.stderr and "Traceback" not in done.stderr
    backlog = admin.inspect(uri)
    assert backlog.visible == 3 and backlog.in_flight == 0  # type: ignore[union-attr]


def test_a_port_in_use_is_refused_before_anything_is_consumed(tmp_path: Path) -> None:
    uri = queue(tmp_path, 3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "batchmap", "run", "--source", uri, "--function",
                               "ops_handlers:slow_orders", "--until-idle", "--metrics-address", f"127.0.0.1:{port}"],
                              env=environment(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and f"127.0.0.1:{port}" in done.stderr and "--metrics-address" in done.stderr
    assert admin.inspect(uri).visible == 3  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_demo_shows_records_the_dead_letter_queue_and_a_whole_log_line(tmp_path: Path) -> None:
    env = dict(os.environ, DEMO_DIR=str(tmp_path / "demo"), BATCHMAP=str(Path(sys.executable).parent / "batchmap"),
               PYTHON=sys.executable)
    demo = subprocess.Popen(["bash", str(REPO / "scripts" / "demo.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = demo.communicate(timeout=180)
    except subprocess.TimeoutExpired:  # the script and every command it started, not bash alone
        os.killpg(demo.pid, signal.SIGKILL)
        out, err = demo.communicate()
        raise AssertionError(f"the demo did not finish in 180 s:\n{out[-3000:]}\n{err[-3000:]}") from None
    assert demo.returncode == 0, err[-3000:]
    rows = dict(re.findall(r"^  (succeeded|failed attempts|dead-lettered) +([\d,]+) ", out, re.M))
    assert rows == {"succeeded": "1,981", "failed attempts": "38", "dead-lettered": "19"}, out
    assert "FailedInvokeEventCount" in out and "orders-dlq: 19 messages" in out
    sample = out[out.index("the first one:\n") + len("the first one:\n"):out.index("== what is left")]
    line = json.loads(sample)
    assert line["message"] == "records failed" and line["errors"][0]["errorType"] == "ValueError"
