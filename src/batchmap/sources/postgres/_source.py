"""PostgreSQL as an SQS-like queue: a table consumed with ``FOR UPDATE SKIP LOCKED`` leases.

Mapping (docs/sources-brokers.md has the long form):

* receive = one statement that leases up to N visible rows: ``visible_at`` moves
  to now + visibility timeout, ``receive_count`` + 1, a fresh ``lease`` token.
  ``SKIP LOCKED`` lets any number of consumers (processes, machines) share a queue.
* long polls sleep until a ``NOTIFY`` (a statement trigger on INSERT, and release)
  or the next ``visible_at`` (expired leases, delayed messages), whichever is first.
* delete = ``DELETE`` by id *and* lease, so a consumer whose lease ran out cannot
  delete a message someone else has leased since; release = ``visible_at`` moved,
  lease cleared.
* dead-letter = in the claim statement: rows received ``max_receive_count`` times
  that become visible again move to the dead-letter table (itself a queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from batchmap.errors import ConfigError, SettleError, SourceError
from batchmap.sources._broker import (
    DEFAULT_REGION,
    Reconnecting,
    SqsRecords,
    UriOptions,
    checked_name,
    import_client,
    sibling_queue,
    source_id,
    with_option,
)
from batchmap.sources.base import Backlog, Delivery, SourceTraits
from batchmap.sources.postgres import _sql
from batchmap.sources.postgres._errors import fatal_postgres
from batchmap.sources.registry import SourceOptions

NO_LIMIT = 2**31 - 1
LIBPQ_OPTIONS = frozenset({
    "application_name", "connect_timeout", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword",
    "options", "target_session_attrs", "passfile", "gssencmode", "channel_binding", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
})
log = logging.getLogger("batchmap.sources.postgres")


class PostgresSource:
    """One queue table (and its dead-letter table) in a PostgreSQL database."""

    shape = "sqs"
    fifo = False
    traits = SourceTraits(extends_visibility=True, moves_messages=True)

    def __init__(self, psycopg: Any, conninfo: str, *, uri: str, schema: str, queue: str,
                 dead_letter_queue: str, visibility_timeout_s: float, max_receive_count: int | None,
                 region: str) -> None:
        self._pg = psycopg
        self._conninfo = conninfo
        self.queue = queue
        self.schema = schema
        self.dead_letter_queue = dead_letter_queue
        self.visibility_timeout_s = visibility_timeout_s
        self.max_receive_count = max_receive_count
        self.region = region
        self.channel = f"batchmap.{schema}.{queue}"[:63]
        self.uri = uri
        self.arn = source_id(uri, uri.split("?")[0].rsplit("/", 1)[-1], queue)
        self._records = SqsRecords(arn=self.arn, region=region, constant={"PostgresTable": f"{schema}.{queue}"})
        ident = psycopg.sql.Identifier
        self._q = ident(schema, queue)
        self._dlq = ident(schema, dead_letter_queue)
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        retryable = (psycopg.OperationalError, psycopg.InterfaceError, OSError)
        self._retry = Reconnecting("postgres", retryable, self._drop_connection, fatal=fatal_postgres,
                                   errors=(psycopg.Error,))

    def _sql(self, text: str) -> Any:
        return self._pg.sql.SQL(text).format(q=self._q, dlq=self._dlq)

    # -- connections ------------------------------------------------------------------------

    async def _connect(self) -> Any:
        return await self._pg.AsyncConnection.connect(self._conninfo, autocommit=True)

    async def _execute(self, query: Any, params: Any = None, *, fetch: bool = True) -> tuple[list[Any], int]:
        """Run one autocommitted statement on the work connection (opened on demand)."""
        async with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = await self._connect()
            async with self._conn.cursor() as cur:
                await cur.execute(query, params)
                rows = await cur.fetchall() if fetch and cur.description is not None else []
                return rows, cur.rowcount

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()

    async def ensure_tables(self) -> None:
        """Create the queue table (and, with max_receive_count, the dead-letter table), index, trigger if missing."""
        sql = self._pg.sql
        conn = await self._connect()
        try:
            async with conn.transaction():
                await conn.execute(_sql.DDL_LOCK)
                schema = sql.Identifier(self.schema)
                await conn.execute(sql.SQL(_sql.NOTIFY_FUNCTION).format(schema=schema))
                tables = [self.queue] + ([self.dead_letter_queue] if self.max_receive_count else [])
                for table in tables:
                    await conn.execute(sql.SQL(_sql.TABLE).format(q=sql.Identifier(self.schema, table)))
                    await conn.execute(sql.SQL(_sql.INDEX).format(
                        q=sql.Identifier(self.schema, table), index=sql.Identifier(f"{table}_visible")))
                await conn.execute(sql.SQL(_sql.TRIGGER).format(
                    trigger=sql.Identifier(f"{self.queue}_notify"), q=self._q, schema=schema,
                    channel=sql.Literal(self.channel)))
        finally:
            await conn.close()

    async def _listen(self) -> None:
        """Wake long polls on NOTIFY; after a lost connection, reconnect and wake them to re-check."""
        delay = 0.05
        while not self._retry.closed:
            try:
                conn = await self._connect()
                async with conn:
                    await conn.execute(self._pg.sql.SQL("LISTEN {}").format(self._pg.sql.Identifier(self.channel)))
                    delay = 0.05
                    self._wake()
                    async for _ in conn.notifies():
                        self._wake()
            except (self._pg.Error, OSError) as exc:
                log.debug("postgres: listener connection lost (%s); reconnecting in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    def _wake(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    # -- receive ----------------------------------------------------------------------------

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Lease up to ``max_records``; a long poll wakes on NOTIFY or when the next lease/delay ends."""
        if max_records < 1:
            raise ConfigError("max_records", max_records, "at least 1")
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            changed = self._changed
            rows = await self._retry.run(lambda: self._claim(max_records), "receive")
            remaining = deadline - time.monotonic()
            if rows or remaining <= 0:
                return [self._delivery(row) for row in sorted(rows, key=lambda r: r[0])]
            next_visible = await self._retry.run(self._next_visible_s, "receive")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, next_visible)):
                    await changed.wait()

    async def _claim(self, n: int) -> list[Any]:
        params = {"n": n, "vis": self.visibility_timeout_s, "max": self.max_receive_count or NO_LIMIT,
                  "queue": self.queue}
        text = _sql.CLAIM_WITH_DEAD_LETTER if self.max_receive_count else _sql.CLAIM
        rows, _ = await self._execute(self._sql(text), params)
        return rows

    async def _next_visible_s(self) -> float:
        rows, _ = await self._execute(self._sql(_sql.NEXT_VISIBLE))
        seconds = rows[0][0] if rows else None
        return 60.0 if seconds is None else max(0.01, float(seconds))

    def _delivery(self, row: Any) -> Delivery:
        row_id, message_id, body, attributes, sent_at, count, first_received_at, lease = row
        return self._records.delivery(
            message_id=str(message_id), receipt_handle=f"{row_id}:{lease}", body=body,
            receive_count=int(count), sent_ms=int(sent_at.timestamp() * 1000),
            first_receive_ms=int(first_received_at.timestamp() * 1000),
            native={"PostgresRowId": str(row_id)},
            message_attributes={str(k): v if isinstance(v, str) else json.dumps(v) for k, v in attributes.items()},
        )

    # -- settle -----------------------------------------------------------------------------

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Delete rows still held under the lease received; returns how many."""
        if not deliveries:
            return 0
        ids, leases = _handles(deliveries)
        _, count = await self._retry.run(
            lambda: self._execute(self._sql(_sql.DELETE), (ids, leases), fetch=False), "delete")
        return max(0, count)

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """Make rows visible after ``delay_s`` and end their lease (a late delete then deletes nothing)."""
        if delay_s < 0:
            raise ConfigError("delay_s", delay_s, "zero or more seconds")
        if not deliveries:
            return
        ids, leases = _handles(deliveries)
        await self._retry.run(
            lambda: self._execute(self._sql(_sql.RELEASE), (delay_s, ids, leases), fetch=False), "release")
        if delay_s == 0:
            await self._retry.run(lambda: self._execute(_sql.NOTIFY, (self.channel,)), "release")

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """Move ``visible_at`` to ``timeout_s`` from now for rows still held under their lease.

        A row whose lease changed (received again after its lease ran out) or that is gone is named
        in a ``SettleError``.
        """
        if not deliveries:
            return
        ids, leases = _handles(deliveries)
        rows, _ = await self._retry.run(
            lambda: self._execute(self._sql(_sql.EXTEND), (timeout_s, ids, leases)), "extend visibility")
        held = {row[0] for row in rows}
        failed = {d.id: "the lease is no longer held (deleted or received again)"
                  for d, row_id in zip(deliveries, ids, strict=True) if row_id not in held}
        if failed:
            raise SettleError("ChangeMessageVisibility", failed, len(deliveries) - len(failed))

    async def backlog(self) -> Backlog:
        """Exact counts at one instant: visible, leased (in flight), delayed, dead-lettered."""

        async def counts() -> Backlog:
            rows, _ = await self._execute(self._sql(_sql.BACKLOG))
            dead = 0
            if self.max_receive_count:
                counted, _ = await self._execute(self._pg.sql.SQL(_sql.COUNT).format(q=self._dlq))
                dead = counted[0][0]
            visible, in_flight, delayed = rows[0]
            return Backlog(visible=visible, in_flight=in_flight, delayed=delayed, dead_lettered=dead)

        return await self._retry.run(counts, "backlog")

    async def send(self, bodies: Sequence[str], *, partition_key: str | None = None,
                   message_group_id: str | None = None, deduplication_id: str | None = None,
                   delay_s: int = 0, attributes: Mapping[str, str] | None = None) -> list[str]:
        """INSERT the bodies (the trigger NOTIFYs waiting consumers); returns their message ids."""
        for name, value in (("partition_key", partition_key), ("message_group_id", message_group_id),
                            ("deduplication_id", deduplication_id)):
            if value is not None:
                raise ConfigError(name, value, "not supported by PostgreSQL sources (leave it unset)")
        if not 0 <= delay_s <= 900:
            raise ConfigError("delay_s", delay_s, "0 to 900 seconds, as SQS allows")
        ids = [str(uuid.uuid4()) for _ in bodies]
        attrs = [json.dumps(dict(attributes or {}))] * len(bodies)
        await self._retry.run(
            lambda: self._execute(self._sql(_sql.SEND), (delay_s, ids, list(bodies), attrs), fetch=False), "send")
        return ids

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """The queue each dead-lettered row came from: its ``dlq.source_queue`` attribute, in this schema."""
        out: list[str | None] = []
        for d in deliveries:
            name = d.record["messageAttributes"].get("dlq.source_queue", {}).get("stringValue")
            out.append(None if not name else with_option(self.uri, "queue", name))
        return out

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Move held rows to the table ``destination`` names in one statement (``MessageMover``)."""
        opts = sibling_queue(self.uri, destination, "queue", ("postgresql", "postgres"))
        name = checked_name("--destination-arn (queue)", opts.required("queue"), "_")
        schema = checked_name("--destination-arn (schema)", opts.text("schema", self.schema) or "", "_")
        if (schema, name) == (self.schema, self.queue):
            raise ConfigError("--destination-arn", destination, "a queue other than the source queue")
        exists, _ = await self._retry.run(
            lambda: self._execute(_sql.TABLE_EXISTS, (f'"{schema}"."{name}"',)), "move")
        if not exists[0][0]:
            raise ConfigError("--destination-arn", destination, f"an existing queue table ({schema}.{name})")
        if not deliveries:
            return 0
        ids, leases = _handles(deliveries)
        query = self._pg.sql.SQL(_sql.MOVE).format(q=self._q, dest=self._pg.sql.Identifier(schema, name))
        _, count = await self._retry.run(lambda: self._execute(query, (ids, leases), fetch=False), "move")
        return max(0, count)

    async def close(self) -> None:
        """Stop listening and close both connections; leased rows come back when their lease ends."""
        self._retry.closed = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._drop_connection()


def _handles(deliveries: Sequence[Delivery]) -> tuple[list[int], list[str]]:
    ids: list[int] = []
    leases: list[str] = []
    for d in deliveries:
        row_id, sep, lease = d.handle.partition(":")
        if not sep or not row_id.isdigit():
            raise ConfigError("receiptHandle", d.handle, "a PostgreSQL receipt: ROW_ID:LEASE")
        ids.append(int(row_id))
        leases.append(lease)
    return ids, leases


async def open_source(uri: str, options: SourceOptions) -> PostgresSource:
    """Open ``postgresql://USER@HOST:PORT/DB?queue=NAME[&visibility_timeout=30&max_receive_count=N...]``."""
    psycopg = import_client("psycopg", "postgres")
    import_client("psycopg.sql", "postgres")
    opts = UriOptions(uri, passthrough=LIBPQ_OPTIONS)
    queue = checked_name("postgresql URI option queue", opts.required("queue"), "_")
    if len(queue) > 50:
        raise ConfigError("postgresql URI option queue", queue, "at most 50 characters (a table name)")
    schema = checked_name("postgresql URI option schema", opts.text("schema", "public") or "", "_")
    dlq = checked_name("postgresql URI option dead_letter_queue",
                       opts.text("dead_letter_queue", f"{queue}_dlq") or "", "_")
    visibility = opts.number("visibility_timeout", 30.0, 1.0, 43_200.0)
    max_rc = opts.integer("max_receive_count", None, 1, 1000)
    region = opts.text("region", options.region or DEFAULT_REGION) or DEFAULT_REGION
    opts.check_all_used()
    if dlq == queue:
        raise ConfigError("postgresql URI option dead_letter_queue", dlq, "a table other than the queue")
    source = PostgresSource(psycopg, opts.client_uri(), uri=uri, schema=schema, queue=queue,
                            dead_letter_queue=dlq, visibility_timeout_s=visibility, max_receive_count=max_rc,
                            region=region)
    try:
        await source.ensure_tables()
    except (psycopg.Error, OSError) as exc:
        raise SourceError(f"{source.arn}: cannot open the queue table: {exc}") from exc
    return source
