"""Taking the local RabbitMQ away and bringing it back, for the tests that ride out a broker restart.

``start_app`` returns before every listener takes connections again; ``back``
waits until the broker has finished starting and its AMQP port answers, so the
next test never meets a broker still on its way up.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from services import HOST, missing

AMQP_PORT = 5672


def require() -> None:
    """Call first: without ``rabbitmqctl`` the broker cannot be restarted (a failure under ``CI=true``)."""
    if shutil.which("rabbitmqctl") is None:
        missing("rabbitmqctl is not installed: the broker cannot be restarted")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def away() -> None:
    """Stop the broker's application: every connection drops, nothing listens on the AMQP port."""
    rabbitmqctl("stop_app")


def back(timeout_s: float = 60.0) -> None:
    """Start it again and wait until it takes AMQP connections."""
    rabbitmqctl("start_app")
    rabbitmqctl("await_startup")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((HOST, AMQP_PORT), timeout=1).close()
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
