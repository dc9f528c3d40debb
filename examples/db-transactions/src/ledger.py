"""Pattern 5: one connection per execution environment, one transaction per batch, a savepoint per record.

``ConnectionCache`` keeps the connection at module level, so every warm
invocation of this environment reuses it; it reconnects only after the
connection was lost. ``run_batch_in_transaction`` runs the batch in one
transaction on it:

* a record that raises (here: an entry with a bad amount) is rolled back to its
  savepoint and reported alone; the rest commit;
* a duplicate key (an entry applied by an earlier delivery) counts as done;
* a lost connection rolls the whole batch back and reports every record, so
  Lambda delivers them all again.

Works with PostgreSQL (psycopg 3) and MariaDB/MySQL (PyMySQL); the toolkit
imports neither. Each row records the server session that wrote it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from batchmap.handler import ConnectionCache, run_batch_in_transaction
from batchmap.records import SQSRecord


def emit(document: dict[str, object]) -> None:
    """Print one JSON line in a single write, so lines from several threads never interleave."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


ENGINE = os.environ["DB_ENGINE"]
TABLE = os.environ["TABLE_NAME"]
SESSION_ID = "pg_backend_pid()" if ENGINE == "postgresql" else "CONNECTION_ID()"


def connect() -> Any:
    """A new connection, autocommit off (the batch is the transaction), with the ledger table in place."""
    host, port, user, name = (os.environ[key] for key in ("DB_HOST", "DB_PORT", "DB_USER", "DB_NAME"))
    if ENGINE == "postgresql":
        import psycopg

        connection = psycopg.connect(host=host, port=int(port), user=user, dbname=name, autocommit=False)
    else:
        import pymysql

        password = os.environ.get("DB_PASSWORD", "")
        connection = pymysql.connect(host=host, port=int(port), user=user, password=password, database=name,
                                     autocommit=False)
    create_table(connection)
    return connection


def create_table(connection: Any) -> None:
    """The ledger table, if it is missing; safe when several environments start at the same moment.

    On PostgreSQL two sessions running ``CREATE TABLE IF NOT EXISTS`` at once can both find the table
    missing, and the second then fails on the catalog's unique index (``pg_type_typname_nsp_index``).
    A transaction-level advisory lock on the table's name makes them take turns (the commit releases
    it). MariaDB holds a metadata lock on the name while it creates the table, so it needs none.
    """
    with connection.cursor() as cursor:
        if ENGINE == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"batchmap-example:{TABLE}",))
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (entry_id VARCHAR(64) PRIMARY KEY, "
                       "account VARCHAR(64) NOT NULL, amount_cents BIGINT NOT NULL, "
                       "session_id BIGINT NOT NULL)")
    connection.commit()


def alive(connection: Any) -> object:
    """PyMySQL notices a connection the server dropped only on its next call: ping it (psycopg knows)."""
    return None if ENGINE == "postgresql" else connection.ping(reconnect=False)


connections: ConnectionCache[Any] = ConnectionCache(connect, validate=alive)


def live_connection() -> Any:
    """The cached connection, replaced first if the server dropped it."""
    return connections.get()


def session_id(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {SESSION_ID}")
        return int(cursor.fetchone()[0])


def apply(record: SQSRecord, cursor: Any) -> None:
    """Write one ledger entry; runs inside the record's savepoint."""
    entry = record.json()
    amount = entry.get("amount_cents")
    if not isinstance(amount, int) or amount == 0:
        raise ValueError(f"entry {entry.get('entry_id')}: amount_cents must be a non-zero integer, "
                         f"got {amount!r}")
    if entry.get("simulate") == "connection-lost" and record.attributes["ApproximateReceiveCount"] == "1":
        lose_connection(cursor)
    cursor.execute(f"INSERT INTO {TABLE} (entry_id, account, amount_cents, session_id) "
                   f"VALUES (%s, %s, %s, {SESSION_ID})", (entry["entry_id"], entry["account"], amount))


def lose_connection(cursor: Any) -> None:
    """The server ends this session, as a failover or a network cut would."""
    if ENGINE == "postgresql":
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    else:
        cursor.execute("SELECT CONNECTION_ID()")
        cursor.execute(f"KILL {int(cursor.fetchone()[0])}")


def handler(event: dict[str, Any], context: Any) -> Any:
    connection = live_connection()
    session = session_id(connection)
    connection.commit()  # end the read above: the batch starts a transaction of its own
    result = run_batch_in_transaction(event, apply, connection, context)
    emit({"environment": os.getpid(), "session": session, "connects": connections.connects,
                      "records": len(result), "reported": len(result.response["batchItemFailures"]),
                      "failed": result.failed})
    return result.response
