"""One transaction per batch, one savepoint per record, for any DB-API 2 connection.

The batch runs in a single transaction, so its writes commit together, in one
round trip at the end. Each record runs inside ``SAVEPOINT``:

* the record raises: ``ROLLBACK TO SAVEPOINT`` undoes that record alone; it is
  reported and the rest go on (by the source's usual rules);
* it raises a duplicate-key error (PostgreSQL SQLSTATE 23505, MySQL/MariaDB
  error 1062, SQLite's unique and primary-key constraint codes): the record was
  already applied by an earlier delivery, so it is rolled back to its
  savepoint and counted a success (idempotent redelivery);
* the connection breaks (``OperationalError``/``InterfaceError``, or the
  connection reports itself closed): nothing more runs, the transaction is
  rolled back and every record of the batch is reported, since none of its
  work was committed. A failed ``COMMIT`` is treated the same way.

Drivers are recognised by duck typing (``sqlstate``/``pgcode``, the error
number in ``args[0]``, ``sqlite_errorcode``, exception class names), so no
driver is imported here. Drivers that open transactions implicitly (psycopg,
PyMySQL) need nothing more; for ``sqlite3``, which does not open one before a
``SAVEPOINT``, the batch starts with an explicit ``BEGIN``. With SQLite an
``OperationalError`` also covers SQL mistakes, which then abort the batch too.
"""

from __future__ import annotations

from contextlib import suppress

from batchmap.errors import BatchAbortedError, ConfigError
from batchmap.handler.connection import connection_closed
from batchmap.handler.options import DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_MEMORY, make_options
from batchmap.handler.processor import BatchRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from logging import Logger
    from typing import Any

    from batchmap.handler.emf import EmfMetrics
    from batchmap.handler.memory import MemoryBudget
    from batchmap.handler.result import BatchResult
    from batchmap.records.wire import PartialBatchResponse

    TransactionalHandler = Callable[[Any, Any], object]

SAVEPOINT = "batchmap_record"
_CONNECTION_ERRORS = frozenset({"OperationalError", "InterfaceError"})
_SQLITE_UNIQUE = (1555, 2067)  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE


def is_duplicate_key(error: BaseException) -> bool:
    """A unique-constraint violation: PostgreSQL 23505 (psycopg 3 and 2), MySQL/MariaDB 1062, SQLite."""
    if getattr(error, "sqlstate", None) == "23505" or getattr(error, "pgcode", None) == "23505":
        return True
    if getattr(error, "sqlite_errorcode", None) in _SQLITE_UNIQUE:
        return True
    args: tuple[object, ...] = getattr(error, "args", ())
    return bool(args) and args[0] == 1062 and _has_class(error, "IntegrityError")


def is_connection_error(error: BaseException, connection: object) -> bool:
    """The connection, not the record, failed: the transaction cannot go on."""
    return bool(_CONNECTION_ERRORS & {klass.__name__ for klass in type(error).__mro__}) or connection_closed(
        connection)


def _has_class(error: BaseException, name: str) -> bool:
    return any(klass.__name__ == name for klass in type(error).__mro__)


def _autocommit(connection: object) -> bool:
    value = getattr(connection, "autocommit", False)
    if callable(value):  # PyMySQL: autocommit(flag) sets it, get_autocommit() reads it
        getter = getattr(connection, "get_autocommit", None)
        return bool(getter()) if callable(getter) else False
    return bool(value)


class _Savepoints:
    """Wraps a ``(record, cursor)`` handler into a per-record function that runs in a savepoint."""

    def __init__(self, handler: TransactionalHandler, connection: Any) -> None:
        self.handler = handler
        self.connection = connection
        self.cursor: Any = None

    def begin(self) -> None:
        """Open a cursor, and the batch's transaction where the driver would not open it implicitly."""
        try:
            self.cursor = self.connection.cursor()
        except Exception as exc:
            raise BatchAbortedError(f"database connection failed opening a cursor: {exc}") from exc
        if getattr(self.connection, "in_transaction", None) is False:  # sqlite3
            self._control("BEGIN")

    def _control(self, statement: str) -> None:
        try:
            self.cursor.execute(statement)
        except Exception as exc:
            raise BatchAbortedError(f"database connection failed on {statement!r}: {exc}") from exc

    def __call__(self, record: Any) -> None:
        self._control(f"SAVEPOINT {SAVEPOINT}")
        try:
            self.handler(record, self.cursor)
        except Exception as exc:
            if is_connection_error(exc, self.connection):
                raise BatchAbortedError(f"database connection failed: {exc}") from exc
            self._control(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
            if is_duplicate_key(exc):
                return  # applied by an earlier delivery of the same record
            raise
        self._control(f"RELEASE SAVEPOINT {SAVEPOINT}")


def run_batch_in_transaction(event: object, record_handler: TransactionalHandler, connection: Any,
                             context: object = None, *, fifo_strict: bool = False,
                             stream_continue_other_keys: bool = False, raise_on_full_failure: bool = False,
                             deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                             memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
                             logger: Logger | None = None) -> BatchResult:
    """Run ``record_handler(record, cursor)`` over the batch in one transaction on ``connection``.

    Records run one at a time (one connection); the options are those of
    ``process_batch``. The connection must not be in autocommit mode.
    """
    if _autocommit(connection):
        raise ConfigError("connection", connection, "autocommit must be off: the batch is one transaction")
    options = make_options(1, fifo_strict, stream_continue_other_keys, raise_on_full_failure,
                           deadline_margin_ms, memory, metrics, logger)
    savepoints = _Savepoints(record_handler, connection)
    run = BatchRun(event, savepoints, context, options)
    try:
        savepoints.begin()
    except BatchAbortedError as exc:
        run.log.batch_failed("the batch's transaction could not start: every record is reported", exc)
        run.abort()
    else:
        try:
            run.run_sync(savepoints)
        finally:
            _close_quietly(savepoints.cursor)
    if run.was_aborted():
        _rollback_quietly(connection)
    else:
        try:
            connection.commit()
        except Exception as exc:
            run.log.batch_failed("COMMIT failed: every record of the batch is reported", exc)
            _rollback_quietly(connection)
            run.abort()
    return run.finish()


def process_batch_in_transaction(event: object, record_handler: TransactionalHandler, connection: Any,
                                 context: object = None, *, fifo_strict: bool = False,
                                 stream_continue_other_keys: bool = False,
                                 raise_on_full_failure: bool = False,
                                 deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                                 memory: MemoryBudget | None = DEFAULT_MEMORY,
                                 metrics: EmfMetrics | bool = False,
                                 logger: Logger | None = None) -> PartialBatchResponse:
    """``run_batch_in_transaction(...).response``: what the Lambda handler returns."""
    return run_batch_in_transaction(
        event, record_handler, connection, context, fifo_strict=fifo_strict,
        stream_continue_other_keys=stream_continue_other_keys, raise_on_full_failure=raise_on_full_failure,
        deadline_margin_ms=deadline_margin_ms, memory=memory, metrics=metrics, logger=logger).response


def _rollback_quietly(connection: Any) -> None:
    with suppress(Exception):  # the connection is gone; the server rolls back on its side
        connection.rollback()


def _close_quietly(cursor: Any) -> None:
    with suppress(Exception):  # a cursor of a dead connection
        cursor.close()
