"""Running ``batchmap run`` with its endpoints, and asking them over HTTP as a scraper or a browser would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchmap.sources.sqlite import create_queue, create_stream, send

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def queue(folder: Path, count: int, *, bad_every: int = 0, attributes: dict[str, str] | None = None,
          busy_timeout_s: float | None = None, max_receive_count: int = 0) -> str:
    """A fresh embedded queue holding ``count`` orders (every ``bad_every``-th says ``bad``); with
    ``max_receive_count``, a dead-letter queue receives what failed that many times."""
    name = f"orders-{uuid.uuid4().hex[:8]}"
    uri = f"sqlite:///{folder}/ops.db?queue={name}"
    attributes = dict(attributes or {})
    if max_receive_count:
        create_queue(f"sqlite:///{folder}/ops.db?queue={name}-dlq")
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:local:000000000000:{name}-dlq",
                                                  "maxReceiveCount": max_receive_count})
    create_queue(uri, attributes)
    bodies = [json.dumps({"id": i, "bad": bool(bad_every and i % bad_every == 0)}) for i in range(count)]
    for start in range(0, count, 1000):
        send(uri, bodies[start:start + 1000])
    return uri if busy_timeout_s is None else f"{uri}&busy_timeout={busy_timeout_s:g}"


def stream(folder: Path, count: int) -> str:
    uri = f"sqlite:///{folder}/ops.db?stream=events-{uuid.uuid4().hex[:8]}"
    create_stream(uri, shard_count=1)
    send(uri, [json.dumps({"n": i}) for i in range(count)], partition_key="k")
    return uri


def start(*args: str, env: dict[str, str] | None = None, stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "batchmap", "run", *args], env=env or environment(),
                            stdout=subprocess.PIPE, stderr=stderr, text=True)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; an HTTP error status is an answer too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def until(what: str, check: Callable[[], Any], proc: subprocess.Popen[str] | None = None,
          timeout_s: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` (and the engine's stderr if it died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            errors = proc.communicate()[1]
            raise AssertionError(f"the engine exited ({proc.returncode}) before {what}: {errors[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """SIGTERM (a graceful stop), then the exit status and output."""
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def families(exposition: str) -> set[str]:
    """The metric families an exposition declares (its ``# TYPE`` lines)."""
    return {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")}
