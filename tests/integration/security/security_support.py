"""Helpers for the security tests: the ``batchmap`` command as a user runs it, free ports, secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

BATCHMAP = [str(Path(sys.executable).parent / "batchmap")]
"""The console script, as users run it (``python -m batchmap`` would put the current folder on ``sys.path``)."""


def secret() -> str:
    """A password no output could contain by chance."""
    return f"Pw{uuid.uuid4().hex}"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batchmap(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``batchmap ARGS`` in ``cwd``; stdout and stderr are captured as text."""
    return subprocess.run(
        [*BATCHMAP, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
