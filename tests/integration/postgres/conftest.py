"""PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test): required under CI=true."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from services import require_port

PORT = 5432
DSN = f"postgresql://postgres@127.0.0.1:{PORT}/test"


@pytest.fixture(scope="session")
def postgres_up() -> None:
    require_port("PostgreSQL", PORT)


@pytest.fixture
def queue(postgres_up: None) -> Iterator[str]:
    """A unique queue (table) name; the queue and dead-letter tables are dropped afterwards."""
    import psycopg

    name = f"bm_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{name}", "{name}_dlq"')
