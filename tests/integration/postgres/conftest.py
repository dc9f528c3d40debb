"""PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test): required under CI=true."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

PORT = 5432
DSN = f"postgresql://postgres@127.0.0.1:{PORT}/test"


@pytest.fixture(scope="session")
def postgres_up() -> None:
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
    except OSError as exc:
        message = f"PostgreSQL is not running on 127.0.0.1:{PORT} ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI=true makes a missing service a failure")
        pytest.skip(message)


@pytest.fixture
def queue(postgres_up: None) -> Iterator[str]:
    """A unique queue (table) name; the queue and dead-letter tables are dropped afterwards."""
    import psycopg

    name = f"bm_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{name}", "{name}_dlq"')
