"""RabbitMQ as an SQS-like queue: a quorum queue shared by competing consumers.

Mapping (docs/sources-brokers.md has the long form):

* receive = messages pushed to a prefetch-bounded consumer (``basic.qos``); the
  broker hands each message to one consumer until it is acked or returned.
* delete = ``basic.ack``; release = ``basic.nack(requeue=True)`` (after ``delay_s``,
  held by this source meanwhile).
* visibility timeout: AMQP has none; an unacked message returns when its channel
  closes. This source adds SQS's rule on top: a message handed out and not
  settled within ``visibility_timeout`` is nacked back to the queue, and a late
  ack for it deletes nothing.
* receive count = the quorum queue's ``x-delivery-count`` + 1; dead-lettering is
  the broker's own: ``x-delivery-limit`` = maxReceiveCount - 1 and an
  at-least-once dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

from batchmap.errors import ConfigError, SettleError, SourceError
from batchmap.sources._broker import (
    DEFAULT_REGION,
    Reconnecting,
    SqsRecords,
    UriOptions,
    checked_name,
    decode_body,
    import_client,
    sibling_queue,
    source_id,
)
from batchmap.sources.base import Backlog, Delivery, SourceTraits
from batchmap.sources.rabbitmq._moves import copy_of, death_queue
from batchmap.sources.registry import SourceOptions

POLL_SLICE_S = 0.5
"""Longest wait between checks that the channel is still open during a long poll."""
RETURN_GRACE_S = 1.0
"""How long a message given back by a timer still counts as in flight (its redelivery is on its way)."""
MAX_CONSUMERS = 100
"""Consumers one source opens at most on its channel, each with its own prefetch window."""

_PROPERTIES = tuple(
    (name, "Amqp" + "".join(part.title() for part in name.split("_")))
    for name in ("content_type", "content_encoding", "correlation_id", "reply_to", "type", "app_id", "user_id",
                 "priority", "expiration")
)
"""AMQP message properties kept in ``attributes``, each with its attribute name (``AmqpContentType``)."""


class RabbitMQSource:
    """A durable quorum queue consumed with manual acknowledgements."""

    shape = "sqs"
    fifo = False
    traits = SourceTraits(extends_visibility=True, moves_messages=True)

    def __init__(self, aio_pika: Any, url: str, *, uri: str, queue: str, dead_letter_queue: str | None,
                 prefetch: int | None, visibility_timeout_s: float, max_receive_count: int | None,
                 region: str) -> None:
        self._pika = aio_pika
        self._url = url
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue
        self.prefetch = prefetch
        self.visibility_timeout_s = visibility_timeout_s
        self.max_receive_count = max_receive_count
        self.region = region
        self.uri = uri
        vhost = unquote(urlsplit(uri).path.lstrip("/")) or "/"
        self.arn = source_id(uri, vhost.replace("/", "%2F"), queue)
        self._records = SqsRecords(arn=self.arn, region=region, constant={"RabbitMQQueue": queue})
        self._connection: Any = None
        self._channel: Any = None
        self._generation = 0
        self._consuming = -1  # generation whose channel has our consumers
        self._consumers = 0  # consumers on that channel, each with a window of _window messages
        self._window = 0
        self._wanted = 0  # messages the receives waiting right now ask for
        self._buffer: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self._held: dict[str, tuple[Any, asyncio.TimerHandle]] = {}
        self._delayed: dict[str, asyncio.TimerHandle] = {}
        self._returning = 0  # messages given back whose nack has not been sent yet: still in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._connecting = asyncio.Lock()
        self._starting = asyncio.Lock()
        errors = import_client("aiormq.exceptions", "rabbitmq")
        retryable = (ConnectionError, OSError, TimeoutError, errors.ChannelInvalidStateError,
                     errors.ChannelClosed)
        refused = (errors.ProbableAuthenticationError, errors.AuthenticationError, errors.IncompatibleProtocolError,
                   errors.ChannelAccessRefused, errors.ChannelNotFoundEntity, errors.ChannelPreconditionFailed)
        self._retry = Reconnecting("rabbitmq", retryable, self._drop_connection,
                                   fatal=lambda exc: isinstance(exc, refused), errors=(errors.AMQPError,))

    # -- connection -------------------------------------------------------------------------

    async def _ready_channel(self) -> Any:
        """The open channel, connecting (and declaring the queues) first if needed."""
        if self._channel is not None and not self._channel.is_closed:
            return self._channel
        async with self._connecting:  # concurrent callers must not open two connections
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            await self._drop_connection()
            self._connection = await self._pika.connect(self._url)
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._generation += 1
            await self._declare()
            return self._channel

    async def _declare(self) -> None:
        """Declare the quorum queue (and its dead-letter queue) unless the queue exists and no limit is asked."""
        errors = import_client("aiormq.exceptions", "rabbitmq")
        if self.max_receive_count is None:
            try:
                await self._channel.declare_queue(self.queue, passive=True)
                return
            except errors.ChannelNotFoundEntity:
                self._channel = await self._connection.channel(publisher_confirms=True)
        arguments: dict[str, Any] = {"x-queue-type": "quorum"}
        if self.max_receive_count is not None and self.dead_letter_queue is not None:
            await self._channel.declare_queue(self.dead_letter_queue, durable=True,
                                              arguments={"x-queue-type": "quorum"})
            arguments |= {
                "x-delivery-limit": self.max_receive_count - 1,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.dead_letter_queue,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
        try:
            await self._channel.declare_queue(self.queue, durable=True, arguments=arguments)
        except errors.ChannelPreconditionFailed as exc:
            raise ConfigError("amqp URI option queue", self.queue,
                              f"the queue exists with other arguments than {arguments} ({exc})") from exc

    async def _drop_connection(self) -> None:
        """Forget a broken connection; the broker has already returned what its channel held."""
        connection, self._connection, self._channel = self._connection, None, None
        for _, timer in self._held.values():
            timer.cancel()
        self._held.clear()
        while not self._buffer.empty():
            self._buffer.get_nowait()
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):  # closing a broken connection may fail in many ways
                await connection.close()
            await asyncio.sleep(0)  # let the client run its close callbacks

    # -- receive ----------------------------------------------------------------------------

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Up to ``max_records`` messages from the consumer's prefetch, waiting at most ``wait_s``."""
        if max_records < 1:
            raise ConfigError("max_records", max_records, "at least 1")
        deadline = time.monotonic() + max(0.0, wait_s)
        first: tuple[int, Any] | None = None
        self._wanted += max_records
        try:
            while True:
                await self._retry.run(partial(self._ensure_consumer, max_records), "receive")
                got = self._take(max_records, first)
                remaining = deadline - time.monotonic()
                if got or remaining <= 0:
                    return got
                try:
                    async with asyncio.timeout(min(remaining, POLL_SLICE_S)):
                        first = await self._buffer.get()
                    await asyncio.sleep(0)  # deliveries read with it reach the buffer too: one receive takes them
                except TimeoutError:
                    first = None
        finally:
            self._wanted -= max_records

    async def _ensure_consumer(self, max_records: int) -> None:
        """Consume; without a ``prefetch`` option, add consumers while the engine wants more than they admit.

        A consumer's prefetch cannot change once it consumes, and with fewer messages
        admitted than concurrent batches ask for, each batch would hold a part and
        wait out its window. So the window grows by whole consumers, to what the
        engine holds plus what its receives ask for, and never further (an engine
        does not hoard messages another engine on the queue could take).
        """
        channel = await self._ready_channel()
        async with self._starting:
            if self._consuming != self._generation:
                self._consuming, self._consumers = self._generation, 0
                self._window = self.prefetch or max(100, max_records)
                await channel.set_qos(prefetch_count=self._window)
            demand = len(self._held) + self._wanted
            while self._consumers == 0 or (self.prefetch is None and self._consumers < MAX_CONSUMERS
                                           and demand > self._consumers * self._window):
                queue = await channel.get_queue(self.queue, ensure=False)
                await queue.consume(partial(self._on_message, self._generation), no_ack=False)
                self._consumers += 1

    async def _on_message(self, generation: int, message: Any) -> None:
        self._buffer.put_nowait((generation, message))

    def _take(self, max_records: int, first: tuple[int, Any] | None) -> list[Delivery]:
        out: list[Delivery] = []
        loop = asyncio.get_running_loop()
        now_ms = time.time_ns() // 1_000_000
        while len(out) < max_records and (first is not None or not self._buffer.empty()):
            generation, message = first if first is not None else self._buffer.get_nowait()
            first = None
            if generation != self._generation:
                continue  # its channel is gone; the broker requeued it
            d = self._delivery(generation, message, now_ms)
            timer = loop.call_later(self.visibility_timeout_s, self._expire, d.handle)
            self._held[d.handle] = (message, timer)
            out.append(d)
        return out

    def _delivery(self, generation: int, message: Any, now_ms: int) -> Delivery:
        headers = message.headers
        count = int(headers.get("x-delivery-count") or 0) + 1 if headers else 1
        sent_ms = int(message.timestamp.timestamp() * 1000) if message.timestamp else now_ms
        native = {
            "RabbitMQRedelivered": "true" if message.redelivered else "false",
            "RabbitMQDeliveryCount": str(count - 1),
            "RabbitMQExchange": message.exchange or "",
            "RabbitMQRoutingKey": message.routing_key or "",
        }
        for name, attribute in _PROPERTIES:
            value = getattr(message, name, None)
            if value is not None and value != "":
                native[attribute] = str(value)
        return self._records.delivery(
            message_id=message.message_id or str(uuid.uuid4()),
            receipt_handle=f"{generation}.{message.delivery_tag}",
            body=decode_body(message.body, self.arn, "message", message.message_id),
            receive_count=count, sent_ms=sent_ms, first_receive_ms=now_ms,
            sender_id=str(message.user_id or message.app_id or ""), native=native,
            message_attributes={k: _header_text(v) for k, v in headers.items()} if headers else None,
        )

    def _expire(self, handle: str) -> None:
        """The visibility timeout ran out: give the message back, so a late ack deletes nothing."""
        held = self._held.pop(handle, None)
        if held is not None:
            self._spawn(self._give_back(held[0]))

    # -- settle -----------------------------------------------------------------------------

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Ack messages still held; one whose channel closed or timed out was returned and is not deleted.

        An ack is a frame with no answer: written just before the connection dies, it
        is lost and the broker requeues the message. So the acks end with one round
        trip on their channel; the broker handles a channel's frames in order, so its
        answer means every ack before it was applied. Without it, they count as not deleted.
        """
        acked: list[Any] = []
        for d in deliveries:
            held = self._held.pop(d.handle, None)
            if held is None:
                continue
            held[1].cancel()
            try:
                await held[0].ack()
            except self._retry.retryable:
                continue  # the channel is gone, so the broker requeued the message
            acked.append(held[0])
        if acked and not await self._acks_applied(acked[-1]):
            return 0
        return len(acked)

    async def _acks_applied(self, last: Any) -> bool:
        """A passive declare on the channel the acks went to: answered only after them."""
        try:
            await last.channel.queue_declare(self.queue, passive=True)
        except self._retry.retryable as exc:
            self._retry.log.info("rabbitmq: acks unconfirmed, the channel died (%s); the broker requeued "
                                 "those messages and they are processed again", exc)
            return False
        return True

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """Nack with requeue now, or after ``delay_s`` (the message stays held by this consumer meanwhile)."""
        if delay_s < 0:
            raise ConfigError("delay_s", delay_s, "zero or more seconds")
        loop = asyncio.get_running_loop()
        for d in deliveries:
            held = self._held.pop(d.handle, None)
            if held is None:
                continue
            held[1].cancel()
            if delay_s == 0:
                await self._give_back(held[0])
            else:
                self._delayed[d.handle] = loop.call_later(delay_s, self._end_delay, d.handle, held[0])

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """Restart this source's visibility timer of held messages (the broker itself needs nothing:
        it keeps an unacked message as long as the channel lives); ``SettleError`` names those
        already given back (their timer ran out, or their channel closed)."""
        loop = asyncio.get_running_loop()
        failed: dict[str, str] = {}
        for d in deliveries:
            held = self._held.get(d.handle)
            if held is None:
                failed[d.id] = "no longer held (given back after its visibility timeout, or its channel closed)"
                continue
            held[1].cancel()
            self._held[d.handle] = (held[0], loop.call_later(timeout_s, self._expire, d.handle))
        if failed:
            raise SettleError("ChangeMessageVisibility", failed, len(deliveries) - len(failed))

    def _end_delay(self, handle: str, message: Any) -> None:
        self._delayed.pop(handle, None)
        self._spawn(self._give_back(message))

    async def _give_back(self, message: Any) -> None:
        """Nack a message (released, or from a timer); it counts as in flight until ``RETURN_GRACE_S`` after.

        Between the nack and the moment the redelivery reaches a consumer's buffer the message is
        in no count a client can read (the broker's ready count leaves out a message it has pushed
        to a consumer), so a drain (``--until-idle``) checking the backlog then would see an empty
        queue and end with the message still to be processed.
        """
        self._returning += 1
        try:
            await self._nack(message)
        finally:
            asyncio.get_running_loop().call_later(RETURN_GRACE_S, self._returned)

    def _returned(self) -> None:
        self._returning -= 1

    async def _nack(self, message: Any) -> None:
        with contextlib.suppress(*self._retry.retryable):  # a closed channel returned the message anyway
            await message.nack(requeue=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the rest ---------------------------------------------------------------------------

    async def backlog(self) -> Backlog:
        """Ready messages from the broker; in flight and delayed as held by this source only."""

        async def counts() -> tuple[int, int]:
            channel = await self._ready_channel()
            ready = (await channel.declare_queue(self.queue, passive=True)).declaration_result.message_count
            dead = 0
            if self.dead_letter_queue is not None and self.max_receive_count is not None:
                dlq = await channel.declare_queue(self.dead_letter_queue, passive=True)
                dead = dlq.declaration_result.message_count
            return int(ready), int(dead)

        ready, dead = await self._retry.run(counts, "backlog")
        return Backlog(visible=ready, in_flight=len(self._held) + self._buffer.qsize() + self._returning,
                       delayed=len(self._delayed), dead_lettered=dead)

    async def send(self, bodies: Sequence[str], *, partition_key: str | None = None,
                   message_group_id: str | None = None, deduplication_id: str | None = None,
                   delay_s: int = 0, attributes: Mapping[str, str] | None = None) -> list[str]:
        """Publish persistent messages (publisher-confirmed) to the queue; returns their message ids."""
        for name, value in (("partition_key", partition_key), ("message_group_id", message_group_id),
                            ("deduplication_id", deduplication_id)):
            if value is not None:
                raise ConfigError(name, value, "not supported by RabbitMQ sources (leave it unset)")
        if delay_s:
            raise ConfigError("delay_s", delay_s, "0: a RabbitMQ queue cannot delay a message")
        ids = [str(uuid.uuid4()) for _ in bodies]

        async def publish() -> list[str]:
            channel = await self._ready_channel()
            now = datetime.now(UTC)
            await asyncio.gather(*(
                channel.default_exchange.publish(
                    self._pika.Message(body.encode("utf-8"), message_id=mid, timestamp=now,
                                       headers=dict(attributes or {}), content_type="text/plain",
                                       delivery_mode=self._pika.DeliveryMode.PERSISTENT),
                    routing_key=self.queue)
                for body, mid in zip(bodies, ids, strict=True)))
            return ids

        return await self._retry.run(publish, "send")

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """The queue each message was dead-lettered from: the first entry of RabbitMQ's ``x-death`` header."""
        return [death_queue(self.uri, d) for d in deliveries]

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Publish a copy of each held message to ``destination`` (confirmed), then ack the original.

        The copy keeps the body, ``message_id``, timestamp, properties and headers (without the
        broker's ``x-death`` bookkeeping); a crash between the two leaves the original here to be
        moved again, so a repeat carries the same ``messageId``.
        """
        opts = sibling_queue(self.uri, destination, "queue", ("amqp", "amqps"))
        dest = checked_name("--destination-arn (queue)", opts.required("queue"), "-_.:")
        if dest == self.queue:
            raise ConfigError("--destination-arn", destination, "a queue other than the source queue")
        await self._retry.run(partial(self._exists, dest, destination), "move")
        held = [(d, self._held[d.handle][0]) for d in deliveries if d.handle in self._held]
        if not held:
            return 0

        async def publish() -> None:
            channel = await self._ready_channel()
            await asyncio.gather(*(channel.default_exchange.publish(copy_of(self._pika, message), routing_key=dest)
                                   for _, message in held))

        await self._retry.run(publish, "move")
        return await self.delete([d for d, _ in held])

    async def _exists(self, name: str, destination: str) -> None:
        errors = import_client("aiormq.exceptions", "rabbitmq")
        await self._ready_channel()
        channel = await self._connection.channel()  # a refused passive declare closes its channel: not ours
        try:
            await channel.declare_queue(name, passive=True)
        except errors.ChannelNotFoundEntity:
            raise ConfigError("--destination-arn", destination, f"an existing queue (no queue {name!r})") from None
        finally:
            if not channel.is_closed:
                await channel.close()

    async def close(self) -> None:
        """Close the connection: the broker returns every message this consumer still held."""
        self._retry.closed = True
        for timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()
        await self._drop_connection()
        for task in list(self._tasks):
            task.cancel()


def _header_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


async def open_source(uri: str, options: SourceOptions) -> RabbitMQSource:
    """Open ``amqp://USER:PASS@HOST:PORT/VHOST?queue=NAME[&prefetch=N&max_receive_count=N...]``."""
    aio_pika = import_client("aio_pika", "rabbitmq")
    opts = UriOptions(uri, passthrough=frozenset({"heartbeat", "connection_timeout", "channel_max",
                                                  "frame_max", "name", "cafile", "keyfile", "certfile",
                                                  "no_verify_ssl"}))
    queue = checked_name("amqp URI option queue", opts.required("queue"), "-_.:")
    prefetch = opts.integer("prefetch", None, 1, 65_535)
    visibility = opts.number("visibility_timeout", 30.0, 1.0, 43_200.0)
    max_rc = opts.integer("max_receive_count", None, 1, 1000)
    dlq = opts.text("dead_letter_queue", f"{queue}.dlq")
    region = opts.text("region", options.region or DEFAULT_REGION) or DEFAULT_REGION
    opts.check_all_used()
    if dlq == queue:
        raise ConfigError("amqp URI option dead_letter_queue", dlq, "a queue other than the source queue")
    source = RabbitMQSource(aio_pika, opts.client_uri(), uri=uri, queue=queue, dead_letter_queue=dlq,
                            prefetch=prefetch, visibility_timeout_s=visibility, max_receive_count=max_rc,
                            region=region)
    try:
        await source._ready_channel()
    except BaseException as exc:
        await source.close()
        if isinstance(exc, TimeoutError | ConnectionError | OSError):
            raise SourceError(f"{source.arn}: cannot connect to RabbitMQ: {exc}") from exc
        raise
    return source
