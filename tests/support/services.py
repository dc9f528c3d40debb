"""One rule for tests that need something outside Python: fail under ``CI=true``, skip otherwise."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

HOST = "127.0.0.1"


def missing(message: str) -> NoReturn:
    """What the test needs is not there: a failure under ``CI=true`` (CI starts it), a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true makes a missing service a failure", pytrace=False)
    pytest.skip(message)


def require_port(name: str, port: int) -> None:
    """``name`` must be listening on 127.0.0.1:``port``."""
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError as exc:
        missing(f"{name} is not running on {HOST}:{port} ({exc})")
