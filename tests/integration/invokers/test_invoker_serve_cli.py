"""``batchmap serve`` as a user runs it: a process serving a function, invoked over HTTP, stopped by a signal."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from invoker_support import HANDLERS

from batchmap.cli.serve import parse_environment
from batchmap.errors import ConfigError

SERVE = [sys.executable, "-m", "batchmap", "serve"]


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    flags = {
        "--function": "inv_basic.dispatch",
        "--code-uri": HANDLERS,
        "--port": "0",
        "--timeout": "1",
        "--memory-size": "256",
        "--function-name": "orders",
        "--environment": "Variables={BM_SERVE=yes}",
        "--concurrency": "2",
    }
    proc = subprocess.Popen(
        [*SERVE, *(part for pair in flags.items() for part in pair)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/\S+)", line)
    assert match, f"no URL in {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
    yield proc, match.group(1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def post(url: str, event: object) -> tuple[int, dict[str, str], object]:
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), json.loads(response.read())


def test_serve_answers_invocations_and_stops_cleanly_on_sigterm(served: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = served
    assert url.endswith("/2015-03-31/functions/orders/invocations")
    status, headers, body = post(url, {"do": "echo", "n": 1})
    assert status == 200 and "X-Amz-Function-Error" not in headers
    assert isinstance(body, dict) and body["echo"] == {"do": "echo", "n": 1} and body["function_name"] == "orders"
    assert post(url, {"do": "env", "names": ["BM_SERVE"]})[2] == {"BM_SERVE": "yes"}
    status, headers, body = post(url, {"do": "raise", "id": 2})
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    assert isinstance(body, dict) and body["errorType"] == "ProcessingError"
    status, headers, body = post(url, {"do": "sleep", "seconds": 30})
    assert isinstance(body, dict) and body["errorType"] == "Sandbox.Timedout"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert proc.stderr is not None and "stopped" in proc.stderr.read()


def test_serve_refuses_to_start_when_the_function_cannot_load() -> None:
    result = subprocess.run(
        [*SERVE, "--function", "inv_missing_module.handler", "--code-uri", HANDLERS, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "inv_missing_module.handler" in result.stderr and "No module named" in result.stderr
    assert "serving" not in result.stdout


def test_serve_rejects_bad_settings_naming_them() -> None:
    result = subprocess.run(
        [*SERVE, "--function", "inv_basic.echo", "--memory-size", "64"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "memory_mb" in result.stderr and "64" in result.stderr


def test_environment_flag_takes_the_aws_cli_shorthand_and_json() -> None:
    assert parse_environment("Variables={AA=1,BB=two}") == {"AA": "1", "BB": "two"}
    assert parse_environment('{"Variables": {"AA": "1"}}') == {"AA": "1"}
    with pytest.raises(ConfigError, match="--environment"):
        parse_environment("A=1")
    with pytest.raises(ConfigError, match="--environment"):
        parse_environment("Variables={A}")
