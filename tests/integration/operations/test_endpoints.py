"""``batchmap run --metrics-address``: /metrics, /healthz, /readyz and the status page, asked during a real run
over HTTP (and the page in headless Chromium), the Grafana dashboard against what /metrics serves."""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ops_support import environment, families, free_port, get, queue, start, stop, stream, until

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "examples" / "monitoring" / "grafana-dashboard.json"
FLAGS = ("--batch-size", "10", "--timeout", "2", "--function-response-types", "ReportBatchItemFailures",
         "--invoker", "inprocess",
         "--scaling-config", "MaximumConcurrency=2", "--log-level", "WARNING")


@dataclass
class Running:
    proc: subprocess.Popen[str]
    url: str
    uri: str


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """An engine working through 6,000 orders (every 50th fails), its endpoints on a free loopback port."""
    folder = tmp_path_factory.mktemp("ops")
    uri = queue(folder, 6000, bad_every=50, attributes={"VisibilityTimeout": "2"})
    port = free_port()
    proc = start("--source", uri, "--function", "ops_handlers:slow_orders", *FLAGS,
                 "--metrics-address", f"127.0.0.1:{port}", env=environment(OPS_SLEEP_S="0.1"))
    url = f"http://127.0.0.1:{port}/"
    until("the endpoints to answer", lambda: get(url + "healthz")[0] == 200, proc)
    yield Running(proc, url, uri)
    code, _, err = stop(proc)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]  # whatever the module's tests sent, no request printed one


def test_clients_that_hang_up_before_the_answer_leave_the_server_answering_and_print_nothing(
    running: Running,
) -> None:
    """``curl -f`` on a 503 resets the connection; so may a scraper that times out. (The fixture's teardown checks
    that the engine printed no traceback for them: the standard library's server prints one per request.)"""
    port = int(running.url.rsplit(":", 1)[1].strip("/"))
    for path in ("/metrics", "/readyz", "/status.json", "/"):
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
                client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert get(running.url + "healthz")[:3] == (200, "text/plain; charset=utf-8", "ok\n")


def status(running: Running) -> dict:  # type: ignore[type-arg]
    code, kind, body = get(running.url + "status.json")
    assert code == 200 and kind == "application/json"
    return json.loads(body)  # type: ignore[no-any-return]


def test_health_readiness_and_metrics_answer_during_the_run(running: Running) -> None:
    assert get(running.url + "healthz")[:3] == (200, "text/plain; charset=utf-8", "ok\n")
    ready = until("readiness", lambda: get(running.url + "readyz")[0] == 200 and get(running.url + "readyz"))
    assert ready[2] == "ready\n"
    until("records to succeed", lambda: status(running)["mappings"][0]["counters"]["SucceededEventCount"] > 50)
    code, kind, text = get(running.url + "metrics")
    assert code == 200 and kind.startswith("text/plain; version=0.0.4")
    served = families(text)
    assert {"batchmap_succeeded_events_total", "batchmap_failed_attempt_events_total", "batchmap_invoked_events_total",
            "batchmap_duration_seconds", "batchmap_backlog_messages", "batchmap_mapping_ready",
            "batchmap_invocations_in_flight", "batchmap_dead_letter_queue_messages"} <= served
    succeeded = re.search(r'^batchmap_succeeded_events_total\{function_name="[^"]+",'
                          r'event_source_mapping_uuid="[^"]+"\} (\d+)$', text, re.M)
    assert succeeded is not None and int(succeeded.group(1)) > 0
    assert re.search(r'^batchmap_duration_seconds_bucket\{.*le="\+Inf"\} [1-9]', text, re.M)
    assert re.search(r'^batchmap_mapping_ready\{.*\} 1$', text, re.M)


def test_the_status_json_counts_records_and_moves(running: Running) -> None:
    first = status(running)
    mapping = first["mappings"][0]
    assert first["ready"] is True and mapping["state"] == "running" and mapping["source"] == running.uri
    assert mapping["backlog"]["total"] > 0 and mapping["rates"]["SucceededEventCount"] is not None
    before = mapping["counters"]["SucceededEventCount"]
    later = until("the counts to move", lambda: (m := status(running)["mappings"][0])["counters"][
        "SucceededEventCount"] > before and m)  # at the sampler's next round, a second at most
    # record level: a failing order fails once per attempt, while AWS counts its whole batch
    counters = later["counters"]
    assert counters["FailedAttemptEventCount"] * 10 == counters["FailedInvokeEventCount"]


def test_a_foreign_host_or_origin_is_refused(running: Running) -> None:
    rebound = get(running.url + "metrics", {"Host": "attacker.example:80"})
    assert rebound[0] == 403 and "attacker.example" in rebound[2] and "--metrics-allowed-host" in rebound[2]
    cross = get(running.url + "status.json", {"Origin": "http://evil.example"})
    assert cross[0] == 403 and "cross-origin" in cross[2]
    assert get(running.url + "nothing-here")[0] == 404


def test_the_status_page_refreshes_live_in_a_browser(running: Running) -> None:
    from tuning_browser import open_page

    # the page's own refreshes (every second) change what it shows: wait for a count, then for it to grow
    probe = """(async () => {
        const read = () => document.querySelector('[data-field="succeeded"]').textContent;
        const count = () => Number(read().replace(/,/g, "")) || 0;
        const until = async (done) => {
            for (let waited = 0; waited < 5000 && !done(); waited += 100) {
                await new Promise((later) => setTimeout(later, 100));
            }
        };
        await until(() => count() > 0);
        const first = read();
        await until(() => count() > Number(first.replace(/,/g, "")));
        return {first, later: read(), ready: document.getElementById('ready').textContent,
                backlog: document.querySelector('[data-field="backlog"]').textContent,
                source: document.querySelector('[data-field="source"]').textContent};
    })()"""
    report = open_page(running.url, probe=probe, settle_s=0.2)
    assert report.errors == []
    seen = report.probe
    assert seen["ready"] == "ready" and seen["source"] == running.uri
    first, later = (int(seen[k].replace(",", "")) for k in ("first", "later"))
    assert 0 < first < later, seen
    assert re.fullmatch(r"[\d,]+ / [\d,]+ / [\d,]+", seen["backlog"]), seen


def test_every_grafana_expression_names_a_metric_the_endpoint_serves(running: Running, tmp_path: Path) -> None:
    served = families(get(running.url + "metrics")[2])
    served |= stream_families(tmp_path)  # the iterator-age series are a stream's
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["panels"] and dashboard["schemaVersion"] >= 30
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    expressions += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    named = {name for expr in expressions for name in re.findall(r"\bbatchmap_[a-z_]+", expr)}
    assert len(named) >= 10
    for name in named:
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in served else name
        assert family in served, f"the dashboard queries {name}, which /metrics does not serve"


def stream_families(folder: Path) -> set[str]:
    uri = stream(folder, 20)
    port = free_port()
    proc = start("--source", uri, "--function", "ops_handlers:stream_reader", "--starting-position", "TRIM_HORIZON",
                 "--invoker", "inprocess", "--log-level", "WARNING", "--metrics-address", f"127.0.0.1:{port}")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        text = until("a stream batch", lambda: (t := get(url)[2]) and "_iterator_age_histogram" in t and t, proc)
        return families(text)
    finally:
        code, _, err = stop(proc)
        assert code == 0, err[-3000:]


def test_readyz_says_503_with_the_reason_while_the_source_is_in_backoff(tmp_path: Path) -> None:
    uri = queue(tmp_path, 5, busy_timeout_s=0.2)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start("--source", uri, "--function", "ops_handlers:slow_orders", "--invoker", "inprocess",
                 "--log-level", "ERROR", "--metrics-address", f"127.0.0.1:{port}", env=environment(OPS_SLEEP_S="0"))
    try:
        until("readiness", lambda: get(url + "readyz")[0] == 200, proc)
        db = uri.split("///", 1)[1].split("?", 1)[0]
        locker = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db], stdin=subprocess.PIPE)
        try:
            code, _, reason = until("the outage to show", lambda: (r := get(url + "readyz"))[0] == 503 and r, proc)
            assert "unavailable for" in reason and "failed calls" in reason and "queue=orders-" in reason
            assert get(url + "healthz")[0] == 200  # alive all the same
            metrics = get(url + "metrics")[2]
            assert re.search(r"^batchmap_source_in_backoff\{.*\} 1$", metrics, re.M)
        finally:
            assert locker.stdin is not None
            locker.stdin.close()  # the outage ends once it has been seen, not after a fixed time
            locker.wait(30)
        until("readiness after the outage", lambda: get(url + "readyz")[0] == 200, proc)
    finally:
        code, _, err = stop(proc)
    assert code == 0, err[-3000:]


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
sys.stdin.read()  # until the test closes our stdin
conn.execute("ROLLBACK")
"""
"""Locks the database (every call of the engine fails after its busy timeout) until the test closes stdin."""
