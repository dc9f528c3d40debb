"""``batchmap tune --from-metrics``: the arrival rate and D(n) read from a real ``batchmap run --metrics-address``.

An engine drains 1,500 queued orders in full batches of 10, then keeps up with
a producer sending one order every 25 ms (40 records/s) in smaller batches.
Its handler sleeps 20 ms + 2 ms per record. The tuner scrapes /metrics twice:
the rate is what entered the backlog or left it deleted; the first scrape's
totals (mostly full batches) and the interval's (smaller batches) are two
points of D against n, so t0 and t1 come out of the line through them. Bounds
are loose: sleeps overshoot on a loaded machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchmap.sources.sqlite import create_queue, send

HANDLER = """
import time

def handler(event, context):
    time.sleep(0.020 + 0.002 * len(event["Records"]))
    return {"batchItemFailures": []}
"""
RATE = 40.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[str]:
    """The /metrics URL of an engine whose queue gets RATE records/s for as long as the test runs."""
    (tmp_path / "live_app.py").write_text(HANDLER)
    uri = f"sqlite:///{tmp_path}/live.db?queue=orders"
    create_queue(uri)
    send(uri, [json.dumps({"id": i}) for i in range(1500)])
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchmap", "run", "--source", uri, "--function", "live_app:handler",
         "--batch-size", "10", "--invoker", "inprocess", "--log-level", "WARNING",
         "--metrics-address", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stop = threading.Event()
    failures: list[BaseException] = []

    def produce() -> None:
        n, started = 0, time.monotonic()
        try:
            while not stop.is_set():
                send(uri, [json.dumps({"id": f"live-{n}"})])
                n += 1
                stop.wait(max(0.0, started + n / RATE - time.monotonic()))
        except BaseException as exc:
            failures.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the engine's /metrics never answered"
            time.sleep(0.1)
        producer.start()
        yield url
    finally:
        stop.set()
        if producer.is_alive():
            producer.join(timeout=5)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        assert failures == []


def test_tune_reads_rate_and_duration_from_a_running_engine(engine: str, tmp_path: Path) -> None:
    time.sleep(3.0)  # the backlog drains in full batches; the producer's records follow in smaller ones
    done = subprocess.run(
        [sys.executable, "-m", "batchmap", "tune", "--from-metrics", engine, "--metrics-interval", "4",
         "--latency-p99", "2", "--memory-size", "512", "--json", "--no-simulate", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["rate"] == pytest.approx(RATE, rel=0.3)
    assert summary["chosen"] is not None
    note = next(line for line in done.stderr.splitlines() if line.startswith("mapping "))
    t0_ms = float(note.split("--t0-ms ")[1].split()[0])
    t1_ms = float(note.split("--t1-ms ")[1].split()[0])
    assert 10 <= t0_ms <= 60 and 0.5 <= t1_ms <= 6, note
    assert f"at {summary['rate']:g} records/s from sqs, D(n) = " in summary["reasoning"][0]


def test_a_stated_t1_splits_the_mean_and_a_wrong_url_is_named(engine: str, tmp_path: Path) -> None:
    time.sleep(3.0)  # past the drain: the backlog gauge is sampled once a second, the counters are live
    done = subprocess.run(
        [sys.executable, "-m", "batchmap", "tune", "--from-metrics", engine, "--metrics-interval", "3",
         "--t1-ms", "2", "--no-simulate", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    note = next(line for line in done.stdout.splitlines() if line.startswith("mapping "))
    assert note.endswith("--t1-ms 2") and "records/s arriving" in note
    assert 10 <= float(note.split("--t0-ms ")[1].split()[0]) <= 60, note
    wrong = subprocess.run(
        [sys.executable, "-m", "batchmap", "tune", "--from-metrics", f"http://127.0.0.1:{_free_port()}/metrics",
         "--metrics-interval", "0.1", "--out", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert wrong.returncode == 2 and "--from-metrics" in wrong.stderr and "Traceback" not in wrong.stderr
