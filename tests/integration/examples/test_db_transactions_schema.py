"""The db-transactions example on a fresh database: several execution environments start at the same moment.

Each environment creates the ledger table on its first connection. Eight of them call the example's
handler at once (a barrier), on a table that does not exist yet, ten times over: every batch must
succeed and every entry be written once. PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe
against a concurrent copy of itself (one of two sessions can fail on ``pg_type``'s unique index).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from services import require_port

from batchmap.records import records_event, sqs_record

SRC = Path(__file__).resolve().parents[3] / "examples" / "db-transactions" / "src"
WORKERS = 8
ROUNDS = 10
SETTINGS = {
    "postgresql": {"DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres", "DB_NAME": "test"},
    "mariadb": {"DB_HOST": "127.0.0.1", "DB_PORT": "3306", "DB_USER": "root", "DB_NAME": "test"},
}


def environment(engine: str, table: str, worker: int, barrier: Any, results: Any) -> None:
    """One execution environment: the example's module, imported fresh, invoked once with one entry."""
    os.environ.update(SETTINGS[engine], DB_ENGINE=engine, TABLE_NAME=table)
    sys.path.insert(0, str(SRC))
    import ledger

    entry = {"entry_id": f"e-{worker}", "account": "acme", "amount_cents": 100 + worker}
    event = records_event([sqs_record(json.dumps(entry), message_id=f"m-{worker}")])
    barrier.wait()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # one JSON line per invocation
        try:
            results.put(ledger.handler(event, None))
        except Exception as exc:
            results.put(f"{type(exc).__name__}: {exc}")


class Database:
    def __init__(self, engine: str) -> None:
        self.engine = engine
        if engine == "postgresql":
            import psycopg

            self.connection: Any = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)
        else:
            import pymysql

            self.connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                                              database="test", autocommit=True)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            cursor.close()


@pytest.fixture(params=["postgresql", "mariadb"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    require_port(request.param, 5432 if request.param == "postgresql" else 3306)
    db = Database(request.param)
    yield db
    db.connection.close()


def test_environments_starting_together_on_a_fresh_database_all_succeed(database: Database) -> None:
    forked = multiprocessing.get_context("fork")
    for _ in range(ROUNDS):
        table = f"ledger_fresh_{uuid.uuid4().hex[:10]}"
        barrier, results = forked.Barrier(WORKERS), forked.Queue()
        workers = [forked.Process(target=environment, args=(database.engine, table, n, barrier, results))
                   for n in range(WORKERS)]
        try:
            for worker in workers:
                worker.start()
            answers = [results.get(timeout=60) for _ in workers]
            for worker in workers:
                worker.join(30)
            assert answers == [{"batchItemFailures": []}] * WORKERS, (database.engine, table, answers)
            rows = database.query(f"SELECT entry_id FROM {table} ORDER BY entry_id")
            assert [row[0] for row in rows] == [f"e-{n}" for n in range(WORKERS)]
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.kill()
            database.query(f"DROP TABLE IF EXISTS {table}")
