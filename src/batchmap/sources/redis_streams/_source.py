"""Redis Streams as an SQS-like queue: a consumer group shares the work.

Mapping (docs/sources-brokers.md has the long form):

* receive = ``XAUTOCLAIM`` of entries pending longer than the visibility timeout
  (their consumer died, failed or released them), then ``XREADGROUP >`` for new
  entries (inside a script that returns them as one JSON text), blocking for long
  polls only when none are waiting. The pending-entries list *is* the visibility
  timeout; its delivery counter is ``ApproximateReceiveCount``.
* delete = ``XACK`` (+ ``XDEL`` when no other group reads the stream), only while
  the entry's delivery count still equals the one received: a stale receipt after
  another consumer reclaimed the entry deletes nothing, as with SQS handles.
* release = ``XCLAIM ... TIME ... JUSTID``: back-date the entry's last delivery so
  ``XAUTOCLAIM`` hands it out once ``delay_s`` has passed (at most the timeout).
* dead-letter = inside the claim script: an entry about to be delivered for the
  ``max_receive_count + 1``-th time is ``XADD``-ed to the dead-letter stream and
  acknowledged in one atomic step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from batchmap.errors import ConfigError, SettleError, SourceError
from batchmap.sources._broker import (
    DEFAULT_REGION,
    Reconnecting,
    SqsRecords,
    UriOptions,
    checked_name,
    decode_body,
    default_consumer_name,
    import_client,
    sibling_queue,
    source_id,
    with_option,
)
from batchmap.sources.base import Backlog, Delivery, SourceTraits
from batchmap.sources.redis_streams import _scripts
from batchmap.sources.registry import SourceOptions

BODY_FIELD = b"body"
MAX_CLAIM = 1000
"""Entries one claim script handles: keeps Lua's argument stack and the server's pause small."""
POLL_SLICE_S = 1.0
"""Longest single BLOCK, so entries whose visibility timeout ran out are noticed during a long poll."""
CLAIM_EVERY_S = 0.1
"""How often a busy consumer looks for expired entries: a claim per receive cost 5% of the throughput,
and a message returns at most this late after its visibility timeout."""
BACKLOG_SCAN = 10_000
"""Pending entries inspected to split in-flight from expired; beyond it the split is approximate."""


class RedisStreamsSource:
    """A Redis stream read through a consumer group, with SQS queue semantics."""

    shape = "sqs"
    fifo = False
    traits = SourceTraits(extends_visibility=True, moves_messages=True)

    def __init__(self, client: Any, redis_module: Any, *, uri: str, stream: str, group: str, consumer: str,
                 visibility_timeout_s: float, max_receive_count: int | None, dead_letter_stream: str,
                 region: str) -> None:
        self._r = client
        self._redis = redis_module
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.visibility_timeout_s = visibility_timeout_s
        self.max_receive_count = max_receive_count
        self.dead_letter_stream = dead_letter_stream
        self.region = region
        self.arn = source_id(uri, urlsplit_db(uri), stream)
        self._records = SqsRecords(arn=self.arn, region=region, constant={
            "RedisStream": stream, "RedisConsumerGroup": group, "RedisConsumer": consumer})
        self._read = client.register_script(_scripts.READ)
        self._claim = client.register_script(_scripts.CLAIM)
        self._delete = client.register_script(_scripts.DELETE)
        self._release = client.register_script(_scripts.RELEASE)
        self._extend = client.register_script(_scripts.EXTEND)
        self._move = client.register_script(_scripts.MOVE)
        self.uri = uri
        self._cursor = "0-0"
        self._next_claim = 0.0  # monotonic time of the next look for expired entries
        errors = redis_module.exceptions
        passing = tuple(getattr(errors, name) for name in ("ReadOnlyError", "TryAgainError", "ClusterDownError",
                                                           "MasterDownError") if hasattr(errors, name))
        refused = (errors.AuthenticationError, errors.AuthorizationError)
        self._retry = Reconnecting("redis", (errors.ConnectionError, errors.TimeoutError, OSError, *passing), _nothing,
                                   fatal=lambda exc: isinstance(exc, refused), errors=(errors.RedisError,))

    @property
    def _vis_ms(self) -> int:
        return int(self.visibility_timeout_s * 1000)

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing, reading from the stream's start."""
        try:
            await self._r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except self._redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Expired pending entries first, then new ones; a long poll re-checks expiries every second."""
        if max_records < 1:
            raise ConfigError("max_records", max_records, "at least 1")
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            remaining = deadline - time.monotonic()
            block_ms = int(min(remaining, POLL_SLICE_S) * 1000)
            got = await self._retry.run(partial(self._receive_once, max_records, block_ms), "receive")
            if got or time.monotonic() >= deadline:
                return got

    async def _receive_once(self, max_records: int, block_ms: int) -> list[Delivery]:
        try:
            out: list[Delivery] = []
            if self._cursor != "0-0" or time.monotonic() >= self._next_claim:
                out = await self._claim_expired(min(max_records, MAX_CLAIM))
            if len(out) < max_records:
                out += await self._read_new(max_records - len(out), block_ms if not out else 0)
        except self._redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # the stream or group vanished (e.g. a restart without persistence)
            return []
        return out

    async def _claim_expired(self, count: int) -> list[Delivery]:
        keys = [self.stream, self.dead_letter_stream]
        args = [self.group, self.consumer, self._vis_ms, self._cursor, count, self.max_receive_count or 0]
        cursor, entries, _dead = await self._claim(keys=keys, args=args)
        self._cursor = _text(cursor)
        self._next_claim = time.monotonic() + CLAIM_EVERY_S
        now_ms = time.time_ns() // 1_000_000
        return [self._delivery(_text(eid), fields, int(n), now_ms) for eid, fields, n in entries]

    async def _read_new(self, count: int, block_ms: int) -> list[Delivery]:
        """New entries: the read script first (one JSON reply); a blocking XREADGROUP only when none are there."""
        packed = await self._read(keys=[self.stream], args=[self.group, self.consumer, count])
        now_ms = time.time_ns() // 1_000_000
        if packed is not None:
            return self._from_json(packed, now_ms)
        if block_ms <= 0:  # BLOCK 0 would wait forever
            return []
        reply = await self._r.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms)
        if not reply:
            return []
        # The reply as Redis sent it (see open_source): {stream: entries} in RESP3, [[stream, entries]] in RESP2.
        found = next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
        now_ms = time.time_ns() // 1_000_000
        return [self._delivery(_text(eid), fields, 1, now_ms) for eid, fields in found]

    def _from_json(self, packed: bytes, now_ms: int) -> list[Delivery]:
        """The read script's entries; a body that is not UTF-8 fails as ``decode_body`` says, naming its entry."""
        try:
            entries = json.loads(packed)
        except UnicodeDecodeError:
            entries = json.loads(packed.decode("utf-8", "surrogateescape"))
            return [self._delivery(eid, [f.encode("utf-8", "surrogateescape") for f in fields], 1, now_ms)
                    for eid, fields in entries]
        out: list[Delivery] = []
        for entry_id, fields in entries:
            if len(fields) == 2 and fields[0] == "body":  # the usual entry: a body alone
                out.append(self._record(entry_id, fields[1], None, 1, now_ms))
            else:
                out.append(self._delivery(entry_id, [f.encode() for f in fields], 1, now_ms))
        return out

    def _delivery(self, entry_id: str, fields: list[bytes], count: int, now_ms: int) -> Delivery:
        """One entry (fields as a flat list) as an SQS record: ``body`` is the body, other fields attributes."""
        if len(fields) == 2 and fields[0] == BODY_FIELD:  # the usual entry: a body alone
            body = decode_body(fields[1], self.arn, "entry", entry_id)
            attributes = None
        else:
            pairs = _pairs(fields)
            body = decode_body(pairs.pop(BODY_FIELD, b""), self.arn, "entry", entry_id)
            attributes = {_text(k): decode_body(v, self.arn, "entry", entry_id, "field", _text(k))
                          for k, v in pairs.items()} or None
        return self._record(entry_id, body, attributes, count, now_ms)

    def _record(self, entry_id: str, body: str, attributes: dict[str, str] | None, count: int,
                now_ms: int) -> Delivery:
        return self._records.delivery(
            message_id=entry_id, receipt_handle=f"{entry_id}/{count}", body=body, receive_count=count,
            sent_ms=int(entry_id.partition("-")[0]), first_receive_ms=now_ms,
            native={"RedisStreamEntryId": entry_id}, message_attributes=attributes,
        )

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge (and delete) entries still held under the receipt given; returns how many."""
        if not deliveries:
            return 0
        args: list[Any] = [self.group, *_receipts(deliveries)]
        deleted = await self._settle(self._delete, args, "delete")
        return int(deleted)

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """Make entries claimable again after ``delay_s`` (capped at the visibility timeout)."""
        if not deliveries:
            return
        if delay_s < 0:
            raise ConfigError("delay_s", delay_s, "zero or more seconds")
        hidden_ms = max(0, self._vis_ms - int(delay_s * 1000))
        args: list[Any] = [self.group, self.consumer, hidden_ms, *_receipts(deliveries)]
        await self._settle(self._release, args, "release")
        self._next_claim = min(self._next_claim, time.monotonic() + delay_s)

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """Reset the idle time of entries still held, so no one claims them for ``timeout_s``
        (at most the visibility timeout); ``SettleError`` names the entries no longer held."""
        if not deliveries:
            return
        idle_ms = max(0, self._vis_ms - int(timeout_s * 1000))
        args: list[Any] = [self.group, self.consumer, idle_ms, *_receipts(deliveries)]
        lost = {_text(entry_id) for entry_id in await self._settle(self._extend, args, "extend visibility")}
        if lost:
            failed = {d.id: "no longer pending under this receipt (deleted or claimed again)"
                      for d in deliveries if d.id in lost}
            raise SettleError("ChangeMessageVisibility", failed, len(deliveries) - len(failed))

    async def _settle(self, script: Any, args: list[Any], what: str) -> Any:
        """Run a settle script; a receipt it refuses (not ENTRY_ID/COUNT) is an error naming it."""

        async def settle() -> Any:
            try:
                return await script(keys=[self.stream], args=args)
            except self._redis.exceptions.ResponseError as exc:
                if not str(exc).startswith("BADRECEIPT "):
                    raise
                handle = str(exc).removeprefix("BADRECEIPT ").split(" script:")[0]
                raise ConfigError("receiptHandle", handle, "a Redis Streams receipt: ENTRY_ID/COUNT") from None

        return await self._retry.run(settle, what)

    async def backlog(self) -> Backlog:
        """New (lag) + expired pending = visible; pending not yet expired = in flight."""
        return await self._retry.run(self._backlog_once, "backlog")

    async def _backlog_once(self) -> Backlog:
        groups = await self._r.xinfo_groups(self.stream)
        info = next((g for g in groups if _text(g["name"]) == self.group), None)
        if info is None:
            raise SourceError(f"{self.arn}: consumer group {self.group!r} does not exist")
        pending = int(info["pending"])
        lag = info.get("lag")
        if lag is None:  # Redis cannot tell (deletions after the group's position): estimate
            lag = max(0, int(await self._r.xlen(self.stream)) - pending)
        expired = 0
        if pending:
            expired = len(await self._r.xpending_range(
                self.stream, self.group, min="-", max="+", count=BACKLOG_SCAN, idle=self._vis_ms))
        dead = int(await self._r.xlen(self.dead_letter_stream)) if self.max_receive_count else 0
        return Backlog(visible=int(lag) + expired, in_flight=pending - expired, delayed=0, dead_lettered=dead)

    async def send(self, bodies: Sequence[str], *, partition_key: str | None = None,
                   message_group_id: str | None = None, deduplication_id: str | None = None,
                   delay_s: int = 0, attributes: Mapping[str, str] | None = None) -> list[str]:
        """``XADD`` each body (field ``body``) with ``attributes`` as further fields; returns entry ids."""
        _refuse("partition_key", partition_key)
        _refuse("message_group_id", message_group_id)
        _refuse("deduplication_id", deduplication_id)
        if delay_s:
            raise ConfigError("delay_s", delay_s, "0: Redis streams cannot delay an entry")
        fields: dict[str | bytes, str] = {k: v for k, v in (attributes or {}).items()}
        if "body" in fields:
            raise ConfigError("attributes", "body", "an attribute may not be named 'body'")

        async def add() -> list[str]:
            async with self._r.pipeline(transaction=False) as pipe:
                for body in bodies:
                    pipe.xadd(self.stream, {**fields, BODY_FIELD: body})
                return [_text(i) for i in await pipe.execute()]

        return await self._retry.run(add, "send")

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """The stream each dead-lettered entry came from: its ``dlq.source_stream`` field."""
        names = [d.record["messageAttributes"].get("dlq.source_stream", {}).get("stringValue") for d in deliveries]
        return [None if not name else with_option(self.uri, "stream", name) for name in names]

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Add held entries to the stream ``destination`` names and acknowledge them here, in one script."""
        opts = sibling_queue(self.uri, destination, "stream", ("redis", "rediss"))
        dest = checked_name("--destination-arn (stream)", opts.required("stream"), "-_.:{}")
        if dest == self.stream:
            raise ConfigError("--destination-arn", destination, "a stream other than the source stream")
        if not deliveries:
            return 0

        async def run() -> int:
            return int(await self._move(keys=[self.stream, dest], args=[self.group, *_receipts(deliveries)]))

        return await self._retry.run(run, "move")

    async def close(self) -> None:
        """Leave the group if holding nothing, then drop the connections."""
        self._retry.closed = True
        try:
            consumers = await self._r.xinfo_consumers(self.stream, self.group)
            mine = next((c for c in consumers if _text(c["name"]) == self.consumer), None)
            if mine is not None and int(mine["pending"]) == 0:
                await self._r.xgroup_delconsumer(self.stream, self.group, self.consumer)
        except (self._redis.exceptions.RedisError, OSError):
            pass  # best effort: an unreachable broker keeps the (empty) consumer entry
        finally:
            await self._r.aclose()


async def _nothing() -> None:
    """redis-py's pool replaces a broken connection by itself."""


def _refuse(name: str, value: object) -> None:
    if value is not None:
        raise ConfigError(name, value, "not supported by Redis Streams sources (leave it unset)")


def _receipts(deliveries: Sequence[Delivery]) -> list[bytes]:
    """Receipt handles as bytes: the settle scripts split and check them, and redis-py sends bytes as they are."""
    return [d.handle.encode() for d in deliveries]


def _as_sent(response: Any, **options: Any) -> Any:
    return response


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(flat: list[Any]) -> dict[bytes, bytes]:
    """Entry fields, a flat list of names and values as Redis sends them, as a dict."""
    return {_bytes(flat[i]): _bytes(flat[i + 1]) for i in range(0, len(flat), 2)}


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def urlsplit_db(uri: str) -> str:
    """The database number of a redis URI path (``/0`` by default)."""
    path = urlsplit(uri).path.strip("/")
    return path or "0"


async def open_source(uri: str, options: SourceOptions) -> RedisStreamsSource:
    """Open ``redis://HOST:PORT/DB?stream=NAME&group=GROUP[&consumer=...&visibility_timeout=30...]``."""
    redis_asyncio = import_client("redis.asyncio", "redis")
    redis_module = import_client("redis", "redis")
    opts = UriOptions(uri)
    stream = checked_name("redis URI option stream", opts.required("stream"), "-_.:{}")
    group = checked_name("redis URI option group", opts.text("group", "batchmap") or "", "-_.:")
    consumer = opts.text("consumer", options.consumer_name) or default_consumer_name()
    visibility = opts.number("visibility_timeout", 30.0, 1.0, 43_200.0)
    max_rc = opts.integer("max_receive_count", None, 1, 1000)
    dlq = opts.text("dead_letter_stream", f"{stream}:dlq") or ""
    region = opts.text("region", options.region or DEFAULT_REGION) or DEFAULT_REGION
    opts.check_all_used()
    if dlq == stream:
        raise ConfigError("redis URI option dead_letter_stream", dlq, "a stream other than the source stream")
    client = redis_asyncio.Redis.from_url(opts.client_uri(), client_name=f"batchmap-{consumer}"[:100])
    # XREADGROUP's reply as Redis sends it: redis-py's conversion makes a dict per entry that the records
    # do not need (a tenth of the engine's time per message at batch size 100).
    client.set_response_callback("XREADGROUP", _as_sent)
    source = RedisStreamsSource(
        client, redis_module, uri=uri, stream=stream, group=group, consumer=consumer,
        visibility_timeout_s=visibility, max_receive_count=max_rc, dead_letter_stream=dlq, region=region,
    )
    try:
        await source.ensure_group()
    except (redis_module.exceptions.RedisError, OSError) as exc:
        await client.aclose()
        raise SourceError(f"{source.arn}: cannot open the stream's consumer group: {exc}") from exc
    return source
