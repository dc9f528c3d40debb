"""One rule for tests that need something outside Python: fail under ``CI=true``, skip otherwise."""

from __future__ import annotations

import os
import socket
import time
from typing import NoReturn

import pytest

HOST = "127.0.0.1"


def missing(message: str) -> NoReturn:
    """What the test needs is not there: a failure under ``CI=true`` (CI starts it), a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true makes a missing service a failure", pytrace=False)
    pytest.skip(message)


def require_port(name: str, port: int, patience_s: float = 20.0) -> None:
    """``name`` must be listening on 127.0.0.1:``port``.

    A broker another test is restarting comes back within seconds, so a refused
    connection is tried again for ``patience_s``; a port found dead once is not
    waited for again in this process.
    """
    deadline = time.monotonic() + (0 if port in _dead else patience_s)
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            _dead.discard(port)
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                _dead.add(port)
                missing(f"{name} is not running on {HOST}:{port} ({exc})")
            time.sleep(0.25)


_dead: set[int] = set()
