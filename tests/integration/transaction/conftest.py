"""Fixtures for the transaction tests: a ``Database`` per server (see ``transaction_support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transaction_support import Database, mariadb, postgres_database


@pytest.fixture(params=["postgres", "mariadb"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    database = postgres_database() if request.param == "postgres" else mariadb()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def postgres() -> Iterator[Database]:
    database = postgres_database()
    try:
        yield database
    finally:
        database.close()
