"""The consumer group member: confluent-kafka's consumer, driven by one dedicated thread.

confluent-kafka is a blocking client, so its poll loop runs in a thread of its
own and every call on the consumer happens there: the event loop asks for a
seek, a commit or a committed offset by queuing a command that the thread runs
between polls. Fetched messages go to a bounded buffer per partition; a
partition whose buffer is full is paused (never blocked on, never dropped) and
resumed once the engine has taken half of it.

Rebalances follow Kafka's rules: a newly assigned partition stays paused until
the engine's first read says where to start (its checkpoint, which is the
group's committed offset, or the mapping's StartingPosition); a revoked one
stops handing out records at once, and the revocation waits (at most
``revoke_wait_s``) for the records already handed to the function to be
committed, so the next owner does not process them again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

from batchmap.errors import BrokerError, ConfigError, SourceError
from batchmap.records.shapes import topic_partition
from batchmap.sources.kafka._errors import kafka_error, transient_kafka
from batchmap.sources.kafka._partition import Partition
from batchmap.sources.kafka._settings import KafkaSettings

T = TypeVar("T")
log = logging.getLogger("batchmap.sources.kafka")
CLIENT_LOG = logging.getLogger("batchmap.sources.kafka.client")


class _ConnectionFailures(logging.Filter):
    """librdkafka logs each failed connection attempt (``FAIL``) as an error; the engine already says once
    when a broker goes away and once when it is back, so those lines go to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and record.getMessage().startswith("FAIL"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return CLIENT_LOG.isEnabledFor(logging.DEBUG)
        return True


CLIENT_LOG.addFilter(_ConnectionFailures())

POLL_S = 0.05
CONSUME_BATCH = 500
METADATA_TIMEOUT_S = 10.0
STATS_INTERVAL_MS = 1000
"""How often librdkafka reports its brokers' states, which tell when an outage is over."""
_Future = concurrent.futures.Future[Any]
_Command = tuple[Callable[[Any], Any], _Future]


class GroupConsumer:
    """One member of the mapping's consumer group, with its assigned partitions."""

    def __init__(self, settings: KafkaSettings, client: ModuleType) -> None:
        self.settings = settings
        self._ck = client
        self._lock = threading.Lock()
        self._partitions: dict[str, Partition] = {}
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._assigned = asyncio.Event()
        self.changed = asyncio.Event()
        """Set whenever partitions are assigned or revoked (the engine rediscovers shards at once)."""
        self._last_error: tuple[int, float] = (0, 0.0)
        self.error: BaseException | None = None
        self.passing_error: Any = None
        """A transient error librdkafka reported since the last read (it reconnects by itself meanwhile)."""
        self._brokers_up: bool | None = None
        """Whether a broker is connected, from librdkafka's errors and statistics (``None``: statistics are off)."""

    # -- event loop side -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the consumer and start its thread (once); a bad client property is a ConfigError."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        config = {"statistics.interval.ms": STATS_INTERVAL_MS, **self.settings.consumer_config(),
                  "logger": CLIENT_LOG, "error_cb": self._client_error, "stats_cb": self._statistics}
        with contextlib.suppress(TypeError, ValueError):
            if int(config["statistics.interval.ms"]) > 0:
                self._brokers_up = True  # until an error says otherwise; the statistics then tell when it is over
        try:
            consumer = self._ck.Consumer(config)
        except self._ck.KafkaException as exc:
            raise ConfigError("Kafka client settings", self.settings.client_config, str(exc)) from exc
        self._thread = threading.Thread(
            target=self._run, args=(consumer,), name=f"batchmap-kafka-{self.settings.group_id}", daemon=True
        )
        self._thread.start()

    async def wait_assigned(self, timeout_s: float) -> bool:
        """Wait until the group has handed this member its partitions (possibly none).

        True at once between rebalances; during one (partitions revoked, the
        new assignment not in yet) and before the first join it waits.
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self._assigned.wait()
        except TimeoutError:
            return False
        self.check()
        return True

    def check(self) -> None:
        """Raise if the consumer thread died (a fatal broker error, a missing topic)."""
        if self.error is not None:
            if isinstance(self.error, SourceError):
                raise self.error
            message = f"{self.settings.arn}: the Kafka consumer stopped: {self.error}"
            raise SourceError(message) from self.error

    def check_passing(self) -> None:
        """Raise the transient error librdkafka reported, so the engine counts the outage and backs off instead
        of taking a partition of a broker that is away for one that is caught up.

        While librdkafka's statistics show no broker connected, every read raises it: between two of its
        reconnect attempts a read finds nothing wrong, and the outage would seem to end and begin again.
        Otherwise (a coordinator moving; no statistics) it is raised once.
        """
        error = self.passing_error
        if error is None:
            return
        if self._brokers_up is not False:
            self.passing_error = None
        raise BrokerError("Fetch", error.name(), f"{self.settings.arn}: {error.str()}", transient=True)

    def owned(self) -> list[Partition]:
        """The partitions this member owns now, by topic and number."""
        with self._lock:
            live = [p for p in self._partitions.values() if not p.revoked]
        return sorted(live, key=lambda p: (p.topic, p.partition))

    def get(self, key: str) -> Partition | None:
        """The partition ``topic-N`` if this member owns it now."""
        with self._lock:
            found = self._partitions.get(key)
        return None if found is None or found.revoked else found

    async def call(self, command: Callable[[Any], T]) -> T:
        """Run ``command(consumer)`` in the consumer thread and return its result."""
        self.check()
        if self._closing.is_set():
            raise SourceError(f"{self.settings.arn}: the Kafka consumer is closed")
        self.start()
        assert self._thread is not None
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._commands.put((command, future))
        if not self._thread.is_alive():
            self._fail_commands()
        try:
            return await asyncio.wrap_future(future)
        except self._ck.KafkaException as exc:
            raise kafka_error("Consumer", exc, self.settings.arn) from exc

    async def close(self) -> None:
        """Leave the group and stop the thread (commands already queued run first)."""
        self._closing.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 60)

    # -- commands (run in the consumer thread) ---------------------------------------------------------------

    def committed_offset(self, consumer: Any, key: str) -> int | None:
        """The group's committed offset of a partition (the next one to read), or ``None``."""
        topic, partition = _split(key)
        [found] = consumer.committed([self._ck.TopicPartition(topic, partition)], timeout=METADATA_TIMEOUT_S)
        if found.error is not None:
            raise self._ck.KafkaException(found.error)
        offset: int | None = found.offset if found.offset >= 0 else None
        owned = self.get(key)
        if owned is not None:
            owned.learned_committed(offset)
        return offset

    def commit(self, consumer: Any, key: str, next_offset: int) -> bool:
        """Commit ``next_offset`` for a partition this member still owns (or is giving away); False if not."""
        with self._lock:
            owned = self._partitions.get(key)
        if owned is None:
            return False
        tp = self._ck.TopicPartition(owned.topic, owned.partition, next_offset)
        consumer.commit(offsets=[tp], asynchronous=False)
        owned.committed_next = max(owned.committed_next, next_offset)
        return True

    def seek(self, consumer: Any, key: str, offset: int, timestamp_ms: int | None) -> str:
        """Start a partition at ``offset`` (or the first offset at ``timestamp_ms``) and resume fetching.

        Returns ``ok``, ``revoked`` or ``not_ready`` (librdkafka refuses a seek
        until the new assignment is fully set up: the caller tries again).
        """
        owned = self.get(key)
        if owned is None:
            return "revoked"
        if timestamp_ms is not None:
            query = self._ck.TopicPartition(owned.topic, owned.partition, timestamp_ms)
            [found] = consumer.offsets_for_times([query], timeout=METADATA_TIMEOUT_S)
            offset = found.offset if found.offset >= 0 else self._ck.OFFSET_END
        tp = self._ck.TopicPartition(owned.topic, owned.partition, offset)
        try:
            consumer.seek(tp)
        except self._ck.KafkaException as exc:
            if exc.args and exc.args[0].code() == self._ck.KafkaError._STATE:
                return "not_ready"
            raise
        owned.moved_to(offset)
        owned.paused_full = False
        consumer.resume([tp])
        return "ok"

    # -- the consumer thread ---------------------------------------------------------------------------------

    def _run(self, consumer: Any) -> None:
        try:
            self._check_topics(consumer)
            consumer.subscribe(list(self.settings.topics), on_assign=self._on_assign,
                               on_revoke=self._on_revoke, on_lost=self._on_lost)
            while not self._closing.is_set():
                self._run_commands(consumer)
                self._dispatch(consumer.consume(num_messages=CONSUME_BATCH, timeout=POLL_S))
                self._flow_control(consumer)
            self._run_commands(consumer)
        except BaseException as exc:  # the thread must never die silently
            self.error = exc
            log.error("%s: Kafka consumer stopped: %s", self.settings.arn, exc)
        finally:
            self._closing.set()
            self._leave(consumer)

    def _leave(self, consumer: Any) -> None:
        try:
            consumer.close()
        except Exception as exc:  # closing is best effort: the group times the member out anyway
            log.warning("%s: closing the Kafka consumer: %s", self.settings.arn, exc)
        self._fail_commands()
        with self._lock:
            left = list(self._partitions.values())
        for owned in left:
            owned.revoke()
        self._signal(self._assigned.set)

    def _check_topics(self, consumer: Any) -> None:
        try:
            metadata = consumer.list_topics(timeout=METADATA_TIMEOUT_S)
        except self._ck.KafkaException as exc:
            raise kafka_error("Metadata", exc, self.settings.bootstrap_servers) from exc
        for topic in self.settings.topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise BrokerError("Subscribe", "UNKNOWN_TOPIC_OR_PART",
                                  f"topic {topic!r} does not exist on {self.settings.bootstrap_servers}")

    def _run_commands(self, consumer: Any) -> None:
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                return
            self._run_one(consumer, command, future)

    @staticmethod
    def _run_one(consumer: Any, command: Callable[[Any], Any], future: _Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(command(consumer))
        except BaseException as exc:
            future.set_exception(exc)

    def _fail_commands(self) -> None:
        while True:
            try:
                _, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(SourceError(f"{self.settings.arn}: the Kafka consumer is closed"))

    def _dispatch(self, messages: Sequence[Any]) -> None:
        touched: set[Partition] = set()
        with self._lock:
            for message in messages:
                owned = self._partitions.get(topic_partition(message.topic() or "", message.partition() or 0))
                error = message.error()
                if error is None:
                    if owned is not None and owned.add(message):
                        touched.add(owned)
                elif error.code() == self._ck.KafkaError._PARTITION_EOF:
                    if owned is not None and owned.reached_end(message.offset()):
                        touched.add(owned)
                else:
                    self._client_error(error)
        for owned in touched:
            owned.notify()

    def _client_error(self, error: Any) -> None:
        if error.fatal():
            raise self._ck.KafkaException(error)
        if transient_kafka(error):  # brokers down, a coordinator moving: the next read reports it to the engine
            self.passing_error = error
            if error.code() in self._down_codes and self._brokers_up is not None:
                self._brokers_up = False  # until the statistics show a broker connected again
            return
        code, logged_at = self._last_error
        now = time.monotonic()
        if error.code() != code or now - logged_at > 30:
            log.warning("%s: Kafka: %s", self.settings.arn, error)
            self._last_error = (error.code(), now)

    @property
    def _down_codes(self) -> frozenset[int]:
        errors = self._ck.KafkaError
        return frozenset((errors._TRANSPORT, errors._ALL_BROKERS_DOWN, errors._RESOLVE))

    def _statistics(self, text: str) -> None:
        """librdkafka's statistics (on the consumer thread): is any broker connected?"""
        try:
            brokers = json.loads(text).get("brokers", {})
        except (ValueError, AttributeError):
            return
        if self._brokers_up is not None:
            self._brokers_up = any(isinstance(b, dict) and b.get("state") == "UP" for b in brokers.values())

    def _flow_control(self, consumer: Any) -> None:
        cap = self.settings.buffer
        pause: list[Partition] = []
        resume: list[Partition] = []
        with self._lock:
            for owned in self._partitions.values():
                if owned.revoked:
                    continue
                if not owned.paused_full and len(owned.buffer) >= cap:
                    owned.paused_full = True
                    pause.append(owned)
                elif owned.paused_full and len(owned.buffer) <= cap // 2:
                    owned.paused_full = False
                    resume.append(owned)
        if pause:
            consumer.pause([self._ck.TopicPartition(p.topic, p.partition) for p in pause])
        if resume:
            consumer.resume([self._ck.TopicPartition(p.topic, p.partition) for p in resume])

    # -- rebalance callbacks (called by librdkafka inside consume, in the consumer thread) -------------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        if self.settings.cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        assert self._loop is not None
        fresh = [Partition(tp.topic, tp.partition, self._lock, self._loop) for tp in partitions]
        with self._lock:
            stale = [self._partitions[p.key] for p in fresh if p.key in self._partitions]
            self._partitions.update((p.key, p) for p in fresh)
        for old in stale:
            old.revoke()
        if fresh:
            log.info("%s: group %s assigned %s", self.settings.arn, self.settings.group_id,
                     ", ".join(p.key for p in fresh))
        self._signal(self._assigned.set)

    def _signal(self, *calls: Callable[[], None]) -> None:
        """Run ``calls`` on the event loop, then say the assignment changed."""
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the event loop may be gone already
            for call in (*calls, self.changed.set):
                self._loop.call_soon_threadsafe(call)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        gone = self._revoke(partitions)
        if not self._closing.is_set():
            self._drain(consumer, gone)
        self._forget(gone)
        self._unassign(consumer, partitions)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        gone = self._revoke(partitions)
        log.warning("%s: group %s lost %s (session timed out): records in flight there will be read again",
                    self.settings.arn, self.settings.group_id, ", ".join(p.key for p in gone))
        self._forget(gone)
        self._unassign(consumer, partitions)

    def _unassign(self, consumer: Any, partitions: list[Any]) -> None:
        if self.settings.cooperative:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()

    def _revoke(self, partitions: list[Any]) -> list[Partition]:
        with self._lock:
            keys = [topic_partition(tp.topic, tp.partition) for tp in partitions]
            gone = [self._partitions[k] for k in keys if k in self._partitions]
        for owned in gone:
            owned.revoke()
        if gone:
            log.info("%s: group %s revoked %s", self.settings.arn, self.settings.group_id,
                     ", ".join(p.key for p in gone))
        if not self._closing.is_set():
            self._signal(self._assigned.clear)  # until the rebalance hands out the new assignment
        return gone

    def _forget(self, gone: list[Partition]) -> None:
        with self._lock:
            for owned in gone:
                if self._partitions.get(owned.key) is owned:
                    del self._partitions[owned.key]

    def _drain(self, consumer: Any, gone: list[Partition]) -> None:
        """Let commits for records already handed out land before the partitions change hands."""
        deadline = time.monotonic() + self.settings.revoke_wait_s
        pending = [p for p in gone if not p.settled()]
        while pending and time.monotonic() < deadline and not self._closing.is_set():
            try:
                command, future = self._commands.get(timeout=0.02)
            except queue.Empty:
                pass
            else:
                self._run_one(consumer, command, future)
            pending = [p for p in pending if not p.settled()]
        if pending:
            log.warning("%s: gave up %s with records still in flight: the next owner reads them again",
                        self.settings.arn, ", ".join(p.key for p in pending))


def _split(key: str) -> tuple[str, int]:
    topic, _, number = key.rpartition("-")
    if not topic or not number.isdigit():
        raise ConfigError("Kafka partition", key, "'<topic>-<partition>'")
    return topic, int(number)
