"""One SQLite connection to a database file, set up for many processes at once.

WAL mode lets readers run beside the single writer; every write is a short
``BEGIN IMMEDIATE`` transaction, so the writer lock is taken up front and
``busy_timeout`` (not an error) absorbs contention. Async callers run the
blocking calls on one dedicated thread per ``Database``, which also serialises
use of the connection.

Message bodies live in these files, so a file batchmap creates is readable by
its owner only (0600), whatever the umask: ``create_private`` makes it before
SQLite opens it, and SQLite gives the ``-wal``, ``-shm`` and ``-journal``
files it creates beside a database the database file's own mode. A file that
already exists keeps the mode it has.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from batchmap.errors import SourceError
from batchmap.sources.sqlite.doorbell import doorbell
from batchmap.sources.sqlite.schema import DDL, MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")

FILE_MODE = 0o600
"""Mode of every database file batchmap creates: its owner only."""

BUSY_TIMEOUT_S = 30.0
"""How long a statement waits for another process's write lock before failing."""

_TRANSIENT = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_PROTOCOL,
})
"""SQLite's primary result codes that waiting may cure: another process's lock past the busy timeout,
an I/O error, a full disk, memory, a WAL locking race. Everything else (permission, read-only file,
corruption, not a database, a missing table) stays wrong however long one waits."""


def transient_sqlite(exc: sqlite3.Error) -> bool:
    """Whether an SQLite error is worth waiting out (its primary result code is one of ``_TRANSIENT``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _TRANSIENT


def create_private(path: str) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an empty file is a valid new database)."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


class Database:
    """A connection to one database file, with the schema in place."""

    def __init__(self, path: str, synchronous: str = "FULL", busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        try:
            create_private(path)
            self.conn = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.OperationalError, OSError) as exc:
            raise SourceError(f"cannot open the database file {path!r}: {exc}") from exc
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        self.bell = doorbell(path)
        """Rung after every commit of this connection: long polls on the file in this process wake at once."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self._setup(synchronous)

    def _setup(self, synchronous: str) -> None:
        try:
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SourceError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
            self.conn.execute(f"PRAGMA synchronous = {synchronous}")
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                self._create_schema()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise SourceError(f"{self.path}: not a usable SQLite database: {exc}") from exc

    def _create_schema(self) -> None:
        # IF NOT EXISTS everywhere: two processes opening a fresh file at once both succeed.
        try:
            self.conn.executescript(f"BEGIN IMMEDIATE;{DDL}")
            for table, column, statement in MIGRATIONS:  # a file made by an older version lacks them
                if column not in {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}:
                    self.conn.execute(statement)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error."""
        with self._lock, self._as_source_errors():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        self.bell.ring()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for several statements."""
        with self._lock, self._as_source_errors():
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")

    @contextmanager
    def _as_source_errors(self) -> Iterator[None]:
        # "database is locked" past busy_timeout, a full disk, an I/O error: transient, the engine waits;
        # a read-only or corrupt file, a missing table: fatal. Both name the file; batchmap's own errors
        # and misuse of sqlite3 (ProgrammingError, IntegrityError: bugs) pass through as they are.
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"{self.path}: {exc}", transient=transient_sqlite(exc)) from exc

    def change_counter(self) -> int:
        """Changes whenever anyone, this connection included, commits a change to the file.

        ``PRAGMA data_version`` on a second connection of its own, which sees every
        other connection's commits: reading it never waits for a transaction on the
        main connection, so the event loop can poll it between sleeps. A commit that
        changed nothing leaves it as it was.
        """
        with self._watch_lock, self._as_source_errors():
            if self._closed:  # else a second connection would open again, and stay open
                raise RuntimeError(f"{self.path}: the database is closed")
            if self._watch is None:
                self._watch = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            version: int = self._watch.execute("PRAGMA data_version").fetchone()[0]
        return version

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking call on this database's own thread."""
        import asyncio  # not at the top: the embedded source's commands (send, inspect, ...) run no event loop

        return await asyncio.get_running_loop().run_in_executor(self._thread(), partial(fn, *args))

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        """Queue a call on this database's own thread without an event-loop future.

        For callers that hand their results back to the loop themselves (one
        wake-up per call instead of two); raises ``RuntimeError`` once closed.
        """
        return self._thread().submit(fn)

    def _thread(self) -> ThreadPoolExecutor:
        if self._closed:  # a new thread would only meet a closed connection, and outlive the database
            raise RuntimeError(f"{self.path}: the database is closed")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchmap-sqlite")
        return self._executor

    def close(self) -> None:
        """Close the connection and stop the thread; later calls raise ``RuntimeError``."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._lock:
            self.conn.close()
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
