"""ConnectionCache with ``validate``: a connection the server dropped is replaced before it costs a batch."""

from __future__ import annotations

import sqlite3

import pytest

from batchmap.errors import ConfigError
from batchmap.handler import ConnectionCache


def test_a_connection_that_fails_validation_is_replaced() -> None:
    dead: set[int] = set()

    def validate(connection: sqlite3.Connection) -> None:
        if id(connection) in dead:
            raise ConnectionError("server closed the connection")

    cache = ConnectionCache(lambda: sqlite3.connect(":memory:"), validate=validate)
    first = cache.get()
    assert cache.get() is first and cache.connects == 1
    dead.add(id(first))
    second = cache.get()
    assert second is not first and cache.connects == 2
    assert second.execute("SELECT 1").fetchone() == (1,)


def test_validate_returning_false_reconnects_and_none_keeps_the_connection() -> None:
    answers = iter([None, False, None])
    cache = ConnectionCache(lambda: sqlite3.connect(":memory:"), validate=lambda c: next(answers))
    first = cache.get()  # new connection: not validated
    assert cache.get() is first  # None: alive
    assert cache.get() is not first and cache.connects == 2  # False: replaced


def test_validate_must_be_callable() -> None:
    with pytest.raises(ConfigError, match="validate"):
        ConnectionCache(lambda: sqlite3.connect(":memory:"), validate="ping")  # type: ignore[arg-type]
