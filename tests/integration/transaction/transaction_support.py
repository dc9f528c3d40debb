"""PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) for the transaction tests.

Each test gets a ``Database``: how to connect with the real driver (psycopg 3,
PyMySQL), a unique table, and a second connection to inspect rows and to kill
the first one. A missing server fails the test under CI=true and skips it otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services import require_port


def _require(port: int, name: str) -> None:
    require_port(name, port)


class Database:
    """One server, one unique table ``(id INTEGER PRIMARY KEY, body TEXT)``, one admin connection."""

    def __init__(self, name: str, connect: Callable[[], Any], backend_id: Callable[[Any], int],
                 kill_sql: str) -> None:
        self.name = name
        self.connect = connect
        self.backend_id = backend_id
        self.kill_sql = kill_sql
        self.table = f"bm_tx_{uuid.uuid4().hex[:12]}"
        self.admin = connect()
        if callable(getattr(self.admin, "autocommit", None)):  # PyMySQL
            self.admin.autocommit(True)
        else:  # psycopg
            self.admin.autocommit = True
        self.execute(f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.admin.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def rows(self) -> list[tuple[int, str]]:
        return [(int(i), str(b)) for i, b in self.execute(f"SELECT id, body FROM {self.table} ORDER BY id")]

    def kill(self, connection: Any) -> None:
        """Terminate ``connection``'s server session from the admin connection."""
        self.execute(self.kill_sql % self.backend_id(connection))

    def close(self) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.admin.close()


def postgres_database() -> Database:
    _require(5432, "PostgreSQL")
    import psycopg

    return Database("postgres", lambda: psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test"),
                    lambda conn: int(conn.info.backend_pid), "SELECT pg_terminate_backend(%d)")


def mariadb() -> Database:
    _require(3306, "MariaDB")
    import pymysql

    return Database("mariadb", lambda: pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                                                       database="test"),
                    lambda conn: int(conn.thread_id()), "KILL %d")
