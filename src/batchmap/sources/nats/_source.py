"""NATS JetStream as an SQS-like queue: a durable pull consumer shared by competing clients.

Mapping (docs/sources-brokers.md has the long form):

* receive = pull requests on the durable pull consumer (``Puller``: a long poll with
  ``expires``); several clients on one durable share the work.
* the visibility timeout is the consumer's ``ack_wait``; ``num_delivered`` is
  ``ApproximateReceiveCount``.
* delete = ``+ACK`` (as a request, so the count returned is what the server
  confirmed); release = ``-NAK`` with a delay.
* dead-letter: with ``dead_letter_subject``, a message delivered for the
  ``max_deliver + 1``-th time is published there (JetStream-acknowledged, with a
  ``Nats-Msg-Id`` derived from its stream sequence) and only then terminated
  (``+TERM``). A crash between the two redelivers it and publishes it again, and
  JetStream's duplicate window drops the second copy: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from batchmap.errors import ConfigError, SourceError
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
    with_option,
)
from batchmap.sources.base import Backlog, Delivery, SourceTraits
from batchmap.sources.registry import SourceOptions

log = logging.getLogger("batchmap.sources.nats")

ACK_TIMEOUT_S = 5.0
PULL_API = "$JS.API.CONSUMER.MSG.NEXT"
"""Where a pull consumer's fetch requests go: ``PULL_API.<stream>.<durable>``, the reply subject our inbox."""
END_OF_REQUEST = frozenset({"404", "408", "409"})
"""Statuses that end a fetch request: no messages (no_wait), request expired, a conflict (consumer deleted,
too many waiting requests, leadership change): the poll returns what it has, as nats-py's ``fetch`` does."""
HEARTBEAT = "100"


class Puller:
    """Fetch requests to a durable pull consumer on an inbox of its own, the messages collected in a list.

    nats-py's ``fetch`` waits for each message with ``asyncio.wait_for``, a task per message: most of
    the engine's time per message. Here the subscription's callback appends each arrival and wakes
    the waiting poll once the batch is complete or the server ends the request with a status.
    Messages of a request that outlived its poll (its reply came after the poll gave up) stay in
    the list for the next poll: they are delivered and held, so they are not dropped. Each request
    has a reply subject of its own under the inbox, which the server's status message is sent to:
    the status that ended an earlier request cannot end the current one.
    """

    def __init__(self, nc: Any, subject: str, api_error: Any) -> None:
        self._nc = nc
        self._subject = subject
        self._api_error = api_error
        self.inbox: str = nc.new_inbox()
        self._sub: Any = None
        self._arrived: list[Any] = []
        self._ended: list[Any] = []  # the status message that ended the current request
        self._reply = ""  # the current request's reply subject
        self._requests = 0
        self._want = 0
        self._wake: asyncio.Event = asyncio.Event()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self.inbox}.*", cb=self._arrive)

    async def stop(self) -> list[Any]:
        """Stop taking deliveries (those already on their way are handled first); the messages held for a
        next poll that will not come, to give back."""
        sub = self._sub
        if sub is not None:
            self._sub = None
            await sub.drain()
        held, self._arrived = self._arrived, []
        return held

    async def _arrive(self, msg: Any) -> None:
        headers = msg.headers
        status = headers.get("Status") if headers else None
        if status is None:
            self._arrived.append(msg)
            if len(self._arrived) >= self._want:
                self._wake.set()
        elif status != HEARTBEAT and msg.subject == self._reply:
            self._ended.append(msg)
            self._wake.set()

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        """Up to ``batch`` messages: those already here, then a no_wait request for the rest.

        Finding none, a request for one message waits (expiring just before ``timeout``, so the
        server's 408 ends it); once it has come, another no_wait request takes what followed it.
        Asking for one while waiting means no request outlives the poll to deliver messages
        nobody is asking for. An error status other than the end of a request raises nats-py's
        ``APIError``.
        """
        deadline = time.monotonic() + timeout
        if len(self._arrived) < batch:
            await self._request(batch - len(self._arrived), deadline)
        if not self._arrived:
            expires_ns = int((deadline - time.monotonic()) * 1e9) - 1_000_000
            if expires_ns > 0:
                await self._request(1, deadline, expires_ns)
                if self._arrived and batch > 1:
                    await self._request(batch - len(self._arrived), deadline)
        taken, self._arrived = self._arrived[:batch], self._arrived[batch:]
        return taken

    async def _request(self, batch: int, deadline: float, expires_ns: int | None = None) -> None:
        ask: dict[str, Any] = {"batch": batch}
        if expires_ns is None:
            ask["no_wait"] = True
        else:
            ask["expires"] = expires_ns
        self._want = len(self._arrived) + batch
        self._requests += 1
        self._reply = f"{self.inbox}.{self._requests}"
        self._ended.clear()
        self._wake.clear()
        await self._nc.publish(self._subject, json.dumps(ask).encode(), reply=self._reply)
        while len(self._arrived) < self._want and not self._ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
            self._wake.clear()
        for msg in self._ended:
            if msg.headers["Status"] not in END_OF_REQUEST:
                self._api_error.from_msg(msg)  # raises
        self._ended.clear()


class NatsSource:
    """A JetStream stream read through one durable pull consumer."""

    shape = "sqs"
    fifo = False
    traits = SourceTraits(extends_visibility=True, moves_messages=True)

    def __init__(self, nats: Any, nc: Any, *, uri: str, stream: str, subject: str, durable: str,
                 ack_wait_s: float, max_deliver: int | None, dead_letter_subject: str | None,
                 region: str) -> None:
        self._nats = nats
        self._nc = nc
        self._js = nc.jetstream()
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.visibility_timeout_s = ack_wait_s
        self.max_deliver = max_deliver
        self.dead_letter_subject = dead_letter_subject
        self.dead_letter_stream: str | None = None
        self.region = region
        self.uri = uri
        self.arn = source_id(uri, stream, durable)
        self._records = SqsRecords(arn=self.arn, region=region,
                                   constant={"NatsStream": stream, "NatsConsumer": durable})
        self._puller = Puller(nc, f"{PULL_API}.{stream}.{durable}", nats.js.errors.APIError)
        self._fetching = asyncio.Lock()  # one fetch at a time per subscription inbox
        errors = nats.errors
        retryable = (errors.ConnectionClosedError, errors.ConnectionReconnectingError, errors.TimeoutError,
                     errors.NoRespondersError, errors.StaleConnectionError, errors.NoServersError,
                     nats.js.errors.ServiceUnavailableError, TimeoutError, OSError)
        self._retry = Reconnecting("nats", retryable, _nothing,
                                   fatal=lambda exc: isinstance(exc, errors.AuthorizationError), errors=(errors.Error,))

    async def ensure(self) -> None:
        """Create the stream (work-queue retention), the durable consumer and the dead-letter stream if missing."""
        api = self._nats.js.api
        not_found = self._nats.js.errors.NotFoundError
        try:
            await self._js.stream_info(self.stream)
        except not_found:
            await self._js.add_stream(api.StreamConfig(
                name=self.stream, subjects=[self.subject], retention=api.RetentionPolicy.WORK_QUEUE))
        if self.dead_letter_subject is not None:
            await self._ensure_dead_letter_stream()
        server_max = -1 if self.max_deliver is None else self.max_deliver + (1 if self.dead_letter_subject else 0)
        try:
            info = await self._js.consumer_info(self.stream, self.durable)
        except not_found:
            info = await self._js.add_consumer(self.stream, api.ConsumerConfig(
                durable_name=self.durable, ack_policy=api.AckPolicy.EXPLICIT, ack_wait=self.visibility_timeout_s,
                max_deliver=server_max, filter_subject=self.subject))
        self._check_consumer(info.config, server_max)
        await self._puller.start()

    async def _ensure_dead_letter_stream(self) -> None:
        assert self.dead_letter_subject is not None
        try:
            self.dead_letter_stream = await self._js.find_stream_name_by_subject(self.dead_letter_subject)
        except self._nats.js.errors.NotFoundError:
            self.dead_letter_stream = f"{self.stream}_DLQ"
            await self._js.add_stream(name=self.dead_letter_stream, subjects=[self.dead_letter_subject])
        if self.dead_letter_stream == self.stream:
            raise ConfigError("nats URI option dead_letter_subject", self.dead_letter_subject,
                              f"a subject outside stream {self.stream!r} (it would be read again)")

    def _check_consumer(self, config: Any, server_max: int) -> None:
        """An existing durable must match what the URI asks, or the settings would silently differ."""
        found = {"ack_wait": config.ack_wait, "max_deliver": config.max_deliver or -1}
        wanted = {"ack_wait": self.visibility_timeout_s, "max_deliver": server_max}
        for name, value in wanted.items():
            if found[name] is not None and abs(float(found[name]) - float(value)) > 1e-6:
                raise ConfigError(f"nats URI option {name}", value,
                                  f"durable consumer {self.durable!r} already exists with {name}={found[name]}")

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Fetch up to ``max_records``; exhausted messages go to the dead-letter subject instead."""
        if max_records < 1:
            raise ConfigError("max_records", max_records, "at least 1")
        self._check_connected("receive")
        deadline = time.monotonic() + max(wait_s, 0.0)
        try:  # one fetch at a time; waiting for another's counts against our own wait (a batching window)
            async with asyncio.timeout(max(wait_s, 0.01)):
                await self._fetching.acquire()
        except TimeoutError:
            return []
        try:
            msgs = await self._puller.fetch(max_records, max(deadline - time.monotonic(), 0.05))
        except self._retry.retryable as exc:  # disconnected: nats-py reconnects by itself; the engine waits
            raise self._retry.error("receive", exc, transient=True) from exc
        except self._nats.errors.Error as exc:  # the consumer or stream is gone, access refused
            raise self._retry.error("receive", exc, transient=False) from exc
        finally:
            self._fetching.release()
        if not msgs:
            self._check_connected("receive")  # while reconnecting a fetch just times out: not an empty poll
            return []
        now_ms = time.time_ns() // 1_000_000
        if self.dead_letter_subject is None:
            return [self._delivery(msg, now_ms) for msg in msgs]
        out: list[Delivery] = []
        for msg in msgs:
            if self._exhausted(msg):
                await self._dead_letter(msg)
            else:
                out.append(self._delivery(msg, now_ms))
        return out

    def _check_connected(self, what: str) -> None:
        """While nats-py reconnects, a fetch just times out: say the broker is away (transient) instead."""
        if not self._nc.is_connected and not self._nc.is_closed:
            raise self._retry.error(what, ConnectionError("not connected to the NATS server; reconnecting"),
                                    transient=True)

    def _exhausted(self, msg: Any) -> bool:
        return (self.dead_letter_subject is not None and self.max_deliver is not None
                and ack_reply_fields(msg)[0] > self.max_deliver)

    async def _dead_letter(self, msg: Any) -> None:
        """Publish (JetStream-acknowledged, de-duplicated) first, terminate second: never lose it."""
        assert self.dead_letter_subject is not None
        seq = msg.metadata.sequence.stream
        headers = dict(msg.headers or {})
        headers.update({"Nats-Msg-Id": f"dlq-{self.stream}-{seq}", "Batchmap-Source-Stream": self.stream,
                        "Batchmap-Source-Sequence": str(seq), "Batchmap-Source-Subject": msg.subject,
                        "Batchmap-Receive-Count": str(msg.metadata.num_delivered - 1)})
        try:
            await self._js.publish(self.dead_letter_subject, msg.data, headers=headers)
        except self._nats.errors.Error as exc:
            self._retry.log.error("nats: could not dead-letter %s seq %s (%s); it stays and comes back",
                                  self.stream, seq, exc)
            return
        await msg.term()

    def _delivery(self, msg: Any, now_ms: int) -> Delivery:
        delivered, stream_seq, consumer_seq, sent_ns = ack_reply_fields(msg)
        seq = str(stream_seq)
        headers = msg.headers
        return self._records.delivery(
            message_id=seq, receipt_handle=msg.reply, body=decode_body(msg.data, self.arn, "sequence", seq),
            receive_count=delivered, sent_ms=sent_ns // 1_000_000, first_receive_ms=now_ms,
            native={"NatsSubject": msg.subject, "NatsStreamSequence": seq, "NatsConsumerSequence": str(consumer_seq)},
            message_attributes=dict(headers) if headers else None,
        )

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """``+ACK`` each message, the last one as a request: its reply confirms the whole batch.

        The server handles one connection's acks in the order they were sent, so
        the reply to the last (one round trip per batch, not per message) comes
        after every ack before it was applied.
        """
        if not deliveries:
            return 0

        async def ack_all() -> int:
            for d in deliveries[:-1]:
                await self._nc.publish(d.handle, b"+ACK")
            await self._nc.request(deliveries[-1].handle, b"+ACK", timeout=ACK_TIMEOUT_S)
            return len(deliveries)

        return await self._retry.run(ack_all, "delete")

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """``-NAK`` each message, redelivered after ``delay_s``."""
        if delay_s < 0:
            raise ConfigError("delay_s", delay_s, "zero or more seconds")
        payload = b"-NAK" if delay_s == 0 else b"-NAK " + json.dumps({"delay": int(delay_s * 1e9)}).encode()

        async def nak() -> None:
            for d in deliveries:
                await self._nc.publish(d.handle, payload)
            await self._nc.flush(timeout=ACK_TIMEOUT_S)

        await self._retry.run(nak, "release")

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """``+WPI`` (work in progress) each message: its ack wait starts again, whatever ``timeout_s``.

        The last is sent as a request, so its reply says the server has applied them all. JetStream
        cannot tell a stale receipt (it extends the message's current delivery), so nothing is refused.
        """
        if not deliveries:
            return

        async def in_progress() -> None:
            for d in deliveries[:-1]:
                await self._nc.publish(d.handle, b"+WPI")
            await self._nc.request(deliveries[-1].handle, b"+WPI", timeout=ACK_TIMEOUT_S)

        await self._retry.run(in_progress, "extend visibility")

    async def backlog(self) -> Backlog:
        """Undelivered (visible) and unacknowledged (in flight: also expired and nak-delayed) from the server."""

        async def counts() -> Backlog:
            info = await self._js.consumer_info(self.stream, self.durable)
            dead = 0
            if self.dead_letter_stream is not None:
                dead = (await self._js.stream_info(self.dead_letter_stream)).state.messages
            return Backlog(visible=int(info.num_pending or 0), in_flight=int(info.num_ack_pending or 0),
                           delayed=0, dead_lettered=int(dead))

        return await self._retry.run(counts, "backlog")

    async def send(self, bodies: Sequence[str], *, partition_key: str | None = None,
                   message_group_id: str | None = None, deduplication_id: str | None = None,
                   delay_s: int = 0, attributes: Mapping[str, str] | None = None) -> list[str]:
        """JetStream-publish each body to the subject; ``deduplication_id`` becomes ``Nats-Msg-Id``.

        Returns the stream sequences, which are the records' ``messageId``.
        """
        for name, value in (("partition_key", partition_key), ("message_group_id", message_group_id)):
            if value is not None:
                raise ConfigError(name, value, "not supported by NATS sources (leave it unset)")
        if delay_s:
            raise ConfigError("delay_s", delay_s, "0: JetStream cannot delay a message")
        if deduplication_id is not None and len(bodies) > 1:
            raise ConfigError("deduplication_id", deduplication_id, "one id per message: send one body")
        if "*" in self.subject or ">" in self.subject:
            raise ConfigError("nats URI option subject", self.subject, "a concrete subject to publish to")
        ids: list[str] = []
        for body in bodies:
            headers = dict(attributes or {})
            if deduplication_id is not None:
                headers["Nats-Msg-Id"] = deduplication_id

            async def publish(body: str = body, headers: dict[str, str] = headers) -> Any:
                return await self._js.publish(self.subject, body.encode("utf-8"), headers=headers or None)

            ack = await self._retry.run(publish, "send")
            ids.append(str(ack.seq))
        return ids

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """The stream and subject each dead-lettered message came from (``Batchmap-Source-*`` headers)."""
        return [source_of(self.uri, d) for d in deliveries]

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Publish each message to ``destination``'s subject (JetStream-acknowledged), then remove it here.

        The copy's ``Nats-Msg-Id`` is ``redrive-STREAM-SEQUENCE``: a copy published again after a
        crash, within JetStream's duplicate window, is dropped as a duplicate.
        """
        subject = await self._retry.run(partial(self._destination_subject, destination), "move")
        moved = 0
        for d in deliveries:
            seq = int(d.record["attributes"]["NatsStreamSequence"])
            headers = copy_headers(d, f"redrive-{self.stream}-{seq}")
            body = d.record["body"].encode("utf-8")
            await self._retry.run(partial(self._js.publish, subject, body, headers=headers), "move")
            if await self.delete([d]):
                await self._retry.run(partial(self._forget, seq), "move")
                moved += 1
        return moved

    async def _destination_subject(self, destination: str) -> str:
        opts = sibling_queue(self.uri, destination, "stream", ("nats",))
        stream = checked_name("--destination-arn (stream)", opts.required("stream"), "-_")
        subject = opts.text("subject", stream) or stream
        if stream == self.stream:
            raise ConfigError("--destination-arn", destination, "a stream other than the source stream")
        try:
            found = await self._js.find_stream_name_by_subject(subject)
        except self._nats.js.errors.NotFoundError:
            found = None
        if found != stream:
            raise ConfigError("--destination-arn", destination, f"an existing stream {stream!r} capturing {subject!r}")
        return subject

    async def _forget(self, seq: int) -> None:
        """Remove a moved message from this stream, which may keep acknowledged messages (limits retention)."""
        with contextlib.suppress(self._nats.js.errors.NotFoundError):
            await self._js.delete_msg(self.stream, seq)

    async def close(self) -> None:
        """Give back what a poll fetched but no receive returned, then close.

        Under load a pull request's reply can come after its poll gave up: those
        messages wait in the puller for the next poll. At a stop there is none,
        so they are ``-NAK``ed (visible again at once, as the engine's own
        leftovers are) instead of staying in flight until ``ack_wait`` runs out.
        Messages a receive returned are the engine's to settle.
        """
        self._retry.closed = True
        if self._nc.is_closed:
            return
        try:
            held = await self._puller.stop()
            for msg in held:
                await self._nc.publish(msg.reply, b"-NAK")
            if held:
                await self._nc.flush(timeout=ACK_TIMEOUT_S)
        except Exception as exc:  # the broker is away: they come back after ack_wait, as before
            log.warning("NATS stream %s: messages fetched but not yet received could not be given back at "
                        "close; they come back after the consumer's ack wait: %s", self.stream, exc)
        finally:
            await self._nc.close()


def source_of(uri: str, delivery: Delivery) -> str | None:
    """The URI of the stream and subject a dead-lettered message came from, if its headers say."""
    attributes = delivery.record["messageAttributes"]
    stream = attributes.get("Batchmap-Source-Stream", {}).get("stringValue")
    subject = attributes.get("Batchmap-Source-Subject", {}).get("stringValue")
    if not stream or not subject:
        return None
    return with_option(with_option(uri, "stream", stream), "subject", subject)


def copy_headers(delivery: Delivery, message_id: str) -> dict[str, str]:
    """The message's headers without the dead-letter bookkeeping, under a new ``Nats-Msg-Id``."""
    headers = {name: value["stringValue"] for name, value in delivery.record["messageAttributes"].items()
               if not name.startswith("Batchmap-") and name != "Nats-Msg-Id"}
    headers["Nats-Msg-Id"] = message_id
    return headers


def ack_reply_fields(msg: Any) -> tuple[int, int, int, int]:
    """Delivery count, stream and consumer sequence, and publish time (ns) from a JetStream ack subject.

    The subject is ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>``, or with
    ``<domain>.<account>`` before the stream and a random token after. Reading it here is five times
    cheaper than nats-py's ``Msg.metadata`` (dataclasses and a datetime per message); a subject of
    another shape goes through ``Msg.metadata``, which raises for a message that is not JetStream's.
    """
    tokens: list[str] = msg.reply.split(".") if msg.reply else []
    if len(tokens) >= 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        at = 4 if len(tokens) == 9 else 6
        if len(tokens) == 9 or len(tokens) >= 11:
            return int(tokens[at]), int(tokens[at + 1]), int(tokens[at + 2]), int(tokens[at + 3])
    meta = msg.metadata
    sent_ns = int(meta.timestamp.timestamp() * 1_000_000) * 1000
    return int(meta.num_delivered), int(meta.sequence.stream), int(meta.sequence.consumer), sent_ns


async def _nothing() -> None:
    """nats-py reconnects by itself."""


async def open_source(uri: str, options: SourceOptions) -> NatsSource:
    """Open ``nats://HOST:PORT?stream=NAME[&subject=S&durable=D&ack_wait=30&max_deliver=N...]``."""
    nats = import_client("nats", "nats")
    import_client("nats.js.api", "nats")
    opts = UriOptions(uri)
    stream = checked_name("nats URI option stream", opts.required("stream"), "-_")
    subject = opts.text("subject", stream) or stream
    durable = checked_name("nats URI option durable", opts.text("durable", "batchmap") or "", "-_")
    ack_wait = opts.number("ack_wait", opts.number("visibility_timeout", 30.0, 1.0, 43_200.0), 1.0, 43_200.0)
    max_deliver = opts.integer("max_deliver", opts.integer("max_receive_count", None, 1, 1000), 1, 1000)
    dead_letter_subject = opts.text("dead_letter_subject")
    region = opts.text("region", options.region or DEFAULT_REGION) or DEFAULT_REGION
    opts.check_all_used()
    if dead_letter_subject is not None and max_deliver is None:
        raise ConfigError("nats URI option dead_letter_subject", dead_letter_subject, "needs max_deliver=N too")
    parts = urlsplit(uri)
    server = parts._replace(query="", path="").geturl()
    try:
        nc = await nats.connect(servers=[server], name=f"batchmap-{stream}-{durable}",
                                max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5,
                                allow_reconnect=True)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise SourceError(f"{source_id(uri, stream, durable)}: cannot connect to NATS: {exc}") from exc
    source = NatsSource(nats, nc, uri=uri, stream=stream, subject=subject, durable=durable, ack_wait_s=ack_wait,
                        max_deliver=max_deliver, dead_letter_subject=dead_letter_subject, region=region)
    try:
        await source.ensure()
    except BaseException:
        await nc.close()
        raise
    return source
