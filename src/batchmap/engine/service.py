"""The engine: turns mappings into running pollers, and stops them cleanly.

``Engine.prepare()`` does everything that can fail on bad input (settings for
the source kind, the function import, the destination, the queue's visibility
timeout) before a single message is received, so a bad config fails fast and
consumes nothing. ``Engine.run()`` then drives one runner per mapping until
``stop()`` (or, with ``until_idle``, until every source is drained).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from batchmap.clock import Clock, SystemClock
from batchmap.config import EventSourceMapping, ResolvedMapping
from batchmap.engine.adaptive import AdaptiveConfig
from batchmap.engine.backoff import source_name
from batchmap.engine.destinations import open_destination
from batchmap.engine.invocation import Invoker
from batchmap.engine.invokers import make_invoker
from batchmap.engine.invokers.environment import in_region
from batchmap.engine.leases import DEFAULT_LEASE_TTL_S, MAX_LEASE_S, MIN_LEASE_S
from batchmap.engine.queue_runner import QueueRunner
from batchmap.engine.retry import RetryPolicy
from batchmap.engine.runtime import RecordFilter, RunSettings, Runtime, accept_all
from batchmap.engine.scaling import DEFAULT_MAXIMUM_CONCURRENCY, ScalingPolicy
from batchmap.engine.status import MappingState, MappingStatus, outages
from batchmap.engine.stream_runner import StreamRunner
from batchmap.engine.visibility import short_visibility_warning
from batchmap.errors import BatchmapError, ConfigError, MappingFailedError
from batchmap.filters import Verdict
from batchmap.metrics import HookChain, MetricsHook, MetricsRecorder
from batchmap.metrics.recorder import hidden_metrics
from batchmap.records.shapes import shape_of
from batchmap.sources.base import (
    CheckpointStore,
    Delivery,
    Destination,
    Position,
    QueueSource,
    Source,
    StreamSource,
    checkpoint_owner,
    close_destination,
    destination_owner,
)
from batchmap.sources.checkpoints.leases import LeaseStore
from batchmap.sources.registry import SourceOptions, open_source, scheme_of

log = logging.getLogger("batchmap.engine")

DEFAULT_CHECKPOINTS = ".batchmap/checkpoints.db"
"""Where stream positions of non-embedded streams are kept when no store is given (relative to the cwd)."""

TIMEOUT_SHARE = 0.8
"""Adaptive batching plans batches to run within this share of the function's timeout."""

STREAM_INVOKER_CONCURRENCY = 64
"""Invocations a stream mapping may have at once (shards x ParallelizationFactor, bounded)."""


@dataclass(slots=True)
class Prepared:
    """One mapping, ready to run: resolved settings, open source, started invoker."""

    resolved: ResolvedMapping
    source: Source
    invoker: Invoker
    runtime: Runtime
    recorder: MetricsRecorder
    checkpoints: CheckpointStore | None = None

    adaptive: AdaptiveConfig | None = None

    @property
    def settings(self) -> RunSettings:
        return run_settings(self.resolved, self.adaptive)


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a run did: counters per mapping (AWS metric names) and how long it took."""

    metrics: dict[str, dict[str, Any]]
    elapsed_s: float

    def total(self, name: str) -> int:
        """A counter summed over every mapping."""
        return sum(int(m.get(name, 0)) for m in self.metrics.values())


@dataclass
class Engine:
    """Runs event source mappings: ``await Engine([...]).run(until_idle=True)``."""

    mappings: Sequence[EventSourceMapping]
    invoker: str = "auto"
    source_options: SourceOptions = field(default_factory=SourceOptions)
    checkpoint_store: CheckpointStore | None = None
    checkpoint_store_uri: str | None = None
    adaptive: AdaptiveConfig | None = None
    shard_lease_s: float = DEFAULT_LEASE_TTL_S
    """Streams shared by several engines: how long a shard stays with an engine that stopped renewing."""
    clock: Clock = field(default_factory=SystemClock)
    hooks: Sequence[MetricsHook] = ()
    prepared: list[Prepared] = field(default_factory=list)
    _stopping: bool = False
    _opened_store: LeaseStore | None = None
    _states: dict[str, tuple[MappingState, str]] = field(default_factory=dict)

    async def prepare(self) -> list[Prepared]:
        """Validate, open and load everything; nothing is received yet. Idempotent."""
        if not self.prepared:
            if not self.mappings:
                raise ConfigError("mappings", [], "at least one event source mapping")
            lease = self.shard_lease_s
            if isinstance(lease, bool) or not isinstance(lease, int | float) or not MIN_LEASE_S <= lease <= MAX_LEASE_S:
                raise ConfigError("shard_lease_s", lease, f"seconds from {MIN_LEASE_S:g} to {MAX_LEASE_S:g}")
            if self.checkpoint_store is None and self.checkpoint_store_uri:
                self.checkpoint_store = await open_checkpoint_store(self.checkpoint_store_uri)
                self._opened_store = self.checkpoint_store if isinstance(self.checkpoint_store, LeaseStore) else None
            for mapping in self.mappings:
                self.prepared.append(await self._prepare_one(mapping))
        return self.prepared

    async def _prepare_one(self, mapping: EventSourceMapping) -> Prepared:
        source = await open_source(mapping.source, self.source_options)
        destination: Destination | None = None
        try:
            fifo = source.fifo if isinstance(source, QueueSource) else False
            resolved = mapping.resolve(source.shape, fifo=fifo)
            if isinstance(source, QueueSource):
                resolved.check_visibility_timeout(source.visibility_timeout_s)
            if resolved.on_failure_destination:
                options = replace(self.source_options, mapping_uuid=resolved.uuid)
                destination = await _open_on_failure(resolved.on_failure_destination, source, options)
            function = in_region(resolved.function, self.source_options.region, mapping.source)
            invoker = make_invoker(function, self.invoker, _invoker_concurrency(resolved, source))
            await invoker.start()
        except BaseException:
            if destination is not None:
                await close_destination(destination)
            await source.close()
            raise
        if isinstance(source, QueueSource) and (warning := short_visibility_warning(source, resolved)):
            log.warning("%s", warning)
        offered = shape_of(resolved.kind, resolved.fifo).metric_groups
        recorder = MetricsRecorder(resolved.function.name, resolved.uuid,
                                   hidden_metrics(resolved.metric_groups, offered))
        runtime = Runtime(
            invoker=invoker, hooks=HookChain(recorder, *self.hooks), clock=self.clock,
            accept=_acceptor(resolved), destination=destination,
            stop=asyncio.Event(),  # per mapping: one draining mapping must not stop the others
        )
        checkpoints = None if isinstance(source, QueueSource) else self._checkpoints_for(source, mapping.source)
        adaptive = self._adaptive_for(resolved) if isinstance(source, QueueSource) else None
        return Prepared(resolved, source, invoker, runtime, recorder, checkpoints, adaptive)

    def _adaptive_for(self, resolved: ResolvedMapping) -> AdaptiveConfig | None:
        """The adaptive-batching bounds for a queue mapping: never past the source's own limits,
        nor past the lane count the mapping allows (``MaximumConcurrency``; the scaler clamps again),
        and no batch planned to run longer than 80 % of the function's timeout."""
        if self.adaptive is None:
            return None
        shape = shape_of(resolved.kind, resolved.fifo)
        scaling = run_settings(resolved).scaling
        max_lanes = max(scaling.minimum, min(self.adaptive.max_lanes, scaling.maximum))
        return replace(self.adaptive, max_batch_size=min(self.adaptive.max_batch_size, shape.max_batch_size),
                       max_window_s=self.adaptive.max_window_s if shape.window_allowed else 0.0,
                       min_lanes=min(max_lanes, max(self.adaptive.min_lanes, scaling.minimum)),
                       max_lanes=max_lanes,
                       max_duration_s=self.adaptive.max_duration_s or TIMEOUT_SHARE * resolved.function.timeout_s)

    def _checkpoints_for(self, source: Source, uri: str) -> CheckpointStore:
        """Explicit store > the source's own (Kafka commits offsets) > the embedded file > ``DEFAULT_CHECKPOINTS``.

        A source whose positions live in the broker (``native_checkpoints``: Kafka's group offsets) keeps them
        even when a store is given, so other members of the group and the group's tools see the same offsets.
        """
        owner = checkpoint_owner(source)
        if owner is not None:
            return owner.checkpoint_store()
        if self.checkpoint_store is not None:
            return self.checkpoint_store
        from batchmap.sources.sqlite.checkpoints import SqliteCheckpointStore

        if scheme_of(uri) == "sqlite":
            return SqliteCheckpointStore(uri)
        os.makedirs(os.path.dirname(DEFAULT_CHECKPOINTS), mode=0o700, exist_ok=True)  # its owner only
        return SqliteCheckpointStore(DEFAULT_CHECKPOINTS)

    async def run(
        self, until_idle: bool = False, *, before_close: Callable[[], Awaitable[Any]] | None = None
    ) -> RunReport:
        """Run every enabled mapping until ``stop()``; with ``until_idle``, until all are drained.

        Transient source errors are waited out. An error waiting cannot fix, in any
        task of any mapping, stops the whole engine at once (one engine, one fate)
        and is raised as ``MappingFailedError`` naming the mapping, its source and the cause.
        ``before_close`` is awaited once every mapping has stopped and before the sources
        close (the last look at the queues, for a summary); an error in it is logged.
        """
        started = time.monotonic()
        prepared = await self.prepare()
        try:
            async with asyncio.TaskGroup() as mappings:
                for p in prepared:
                    if p.resolved.enabled:
                        mappings.create_task(self._run_one(p, until_idle), name=f"mapping-{p.resolved.uuid}")
        except BaseExceptionGroup as failed:
            error = root_cause(failed)  # the first mapping's MappingFailedError
            raise error from error.__cause__
        finally:
            if before_close is not None:
                try:
                    await before_close()
                except Exception as exc:
                    log.warning("the last look before closing the sources failed: %s", exc)
            await self.close()
        return RunReport(
            {p.resolved.uuid: p.recorder.snapshot().as_dict() for p in prepared}, time.monotonic() - started
        )

    async def _run_one(self, p: Prepared, until_idle: bool) -> None:
        """Run one mapping; an error that ends it becomes a ``MappingFailedError`` naming the mapping."""
        if self._stopping:
            p.runtime.stop.set()
        self._states[p.resolved.uuid] = ("running", "")
        try:
            await self._runner(p, until_idle)
            self._states[p.resolved.uuid] = ("stopped", "")
        except asyncio.CancelledError:  # another mapping failed: the engine stops them all
            self._states[p.resolved.uuid] = ("stopped", "the engine stopped")
            raise
        except Exception as exc:
            cause = root_cause(exc)
            self._states[p.resolved.uuid] = ("failed", f"{type(cause).__name__}: {cause}")
            if not isinstance(cause, BatchmapError):  # a bug: the traceback is what fixes it
                log.error("mapping %s: unexpected %s (a bug in batchmap or the source client)",
                          p.resolved.uuid, type(cause).__name__, exc_info=cause)
            raise MappingFailedError(p.resolved.uuid, source_name(p.source), cause) from cause

    async def _runner(self, p: Prepared, until_idle: bool) -> None:
        if isinstance(p.source, QueueSource):
            await QueueRunner(p.settings, p.source, p.runtime).run(until_idle)
        else:
            assert isinstance(p.source, StreamSource) and p.checkpoints is not None
            runner = StreamRunner(p.settings, p.source, p.checkpoints, p.runtime, lease_ttl_s=self.shard_lease_s)
            await runner.run(until_idle)

    def status(self) -> tuple[MappingStatus, ...]:
        """What each prepared mapping is doing now (read-only, never waits): for readiness and status pages."""
        return tuple(self._status_of(p) for p in self.prepared)

    def _status_of(self, p: Prepared) -> MappingStatus:
        state, reason = self._states.get(p.resolved.uuid, ("starting" if p.resolved.enabled else "disabled", ""))
        queue = isinstance(p.source, QueueSource)
        return MappingStatus(
            p.resolved.uuid, p.resolved.function.name, source_name(p.source), "queue" if queue else "stream",
            state, outages(p.runtime.backoffs), reason,
            float(p.source.visibility_timeout_s) if isinstance(p.source, QueueSource) else None,
        )

    def stop(self) -> None:
        """Graceful stop: no new batches; in-flight ones finish and are settled/checkpointed."""
        self._stopping = True
        for p in self.prepared:
            p.runtime.stop.set()

    async def close(self) -> None:
        """Stop invokers, close sources and destinations; a failed close is logged, never hides the run's error."""
        for p in self.prepared:
            await _quietly(p.invoker.close(), "closing the invoker", p)
            await _quietly(p.source.close(), "closing the source", p)
            if p.runtime.destination is not None:
                await _quietly(close_destination(p.runtime.destination), "closing the on-failure destination", p)
            if isinstance(p.checkpoints, LeaseStore) and p.checkpoints is not self.checkpoint_store:
                await _quietly(p.checkpoints.close(), "closing the checkpoint store", p)  # one it opened
        if self._opened_store is not None:  # opened from checkpoint_store_uri: ours; a given store is the caller's
            store, self._opened_store = self._opened_store, None
            try:
                await store.close()
            except Exception as exc:
                log.warning("closing the checkpoint store %s failed: %s", self.checkpoint_store_uri, exc)


async def _quietly(closing: Awaitable[Any], what: str, p: Prepared) -> None:
    try:
        await closing
    except Exception as exc:
        log.warning("mapping %s: %s failed: %s", p.resolved.uuid, what, exc)


def root_cause(exc: BaseException) -> BaseException:
    """The error under the task groups' wrapping: the first one that is not a cancellation."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if not isinstance(inner, asyncio.CancelledError):
                return root_cause(inner)
    return exc


async def _open_on_failure(uri: str, source: Source, options: SourceOptions) -> Destination:
    """A destination the source offers itself (Kafka: ``kafka://<topic>`` on its own cluster), else the registry's."""
    owner = destination_owner(source)
    found = await owner.open_destination(uri) if owner is not None else None
    return found if found is not None else await open_destination(uri, options)


async def open_checkpoint_store(uri: str) -> CheckpointStore:
    """A checkpoint (and lease) store by URI: an embedded file, PostgreSQL or Redis."""
    if "://" not in uri or scheme_of(uri) == "sqlite":
        from batchmap.sources.sqlite.checkpoints import SqliteCheckpointStore

        if uri.startswith("sqlite:") and "?" not in uri:  # a bare file: sqlite:///x.db (relative), sqlite:////x.db
            uri = urlsplit(uri).path[1:]
        return SqliteCheckpointStore(uri)
    from batchmap.sources.checkpoints import open_checkpoint_store as open_shared

    store: CheckpointStore = await open_shared(uri)
    return store


def _acceptor(resolved: ResolvedMapping) -> RecordFilter:
    """The runtime's filter: the compiled FilterCriteria applied to the AWS-shaped record.

    A record whose format does not fit the patterns (plain text where a JSON
    body pattern is given) is filtered out as AWS does, but said so in the log.
    """
    record_filter = resolved.record_filter
    if not record_filter.criteria.filters:
        return accept_all
    evaluate = record_filter.evaluate

    def accept(delivery: Delivery) -> bool:
        result = evaluate(delivery.record)
        if result.verdict is Verdict.MATCHED:
            return True
        if result.verdict is Verdict.FORMAT_MISMATCH:
            log.warning("record %s filtered out: %s", delivery.id, result.reason)
        return False

    return accept


def _invoker_concurrency(resolved: ResolvedMapping, source: Source) -> int:
    """Invocations at once: a queue's lanes at most; a stream's shards x ParallelizationFactor, bounded.

    With ``ProvisionedPollerConfig`` the ceiling is ``MaximumPollers``: a queue runs at most that many
    lanes, and a Kafka mapping has at most that many batches in flight across its partitions.
    """
    if resolved.pollers is not None:
        return resolved.pollers[1]
    if isinstance(source, QueueSource):
        return resolved.maximum_concurrency or DEFAULT_MAXIMUM_CONCURRENCY
    return STREAM_INVOKER_CONCURRENCY


def run_settings(r: ResolvedMapping, adaptive: AdaptiveConfig | None = None) -> RunSettings:
    """The engine's view of a resolved mapping."""
    return RunSettings(
        mapping_id=r.uuid,
        function_name=r.function.name,
        batch=r.batch_policy(),
        report_batch_item_failures=r.report_batch_item_failures,
        retry=RetryPolicy(r.maximum_retry_attempts, r.maximum_record_age_in_seconds, r.bisect_batch_on_function_error),
        scaling=_scaling_policy(r),
        parallelization_factor=r.parallelization_factor,
        starting_position=starting_position(r),
        tumbling_window_s=r.tumbling_window_in_seconds,
        function_timeout_s=r.function.timeout_s,
        adaptive=adaptive,
    )


def _scaling_policy(r: ResolvedMapping) -> ScalingPolicy:
    """A queue's lanes: ``ProvisionedPollerConfig`` is the floor and ceiling (the lanes start at the floor and
    stay warm there), else 1 to ``MaximumConcurrency`` (default 10)."""
    back_off = not r.report_batch_item_failures
    if r.pollers is not None:
        return ScalingPolicy(maximum=r.pollers[1], minimum=r.pollers[0], back_off_on_errors=back_off,
                             provisioned=True)
    return ScalingPolicy(maximum=r.maximum_concurrency or DEFAULT_MAXIMUM_CONCURRENCY, back_off_on_errors=back_off)


def starting_position(r: ResolvedMapping) -> Position:
    """Where a never-checkpointed shard starts (TRIM_HORIZON when unset, e.g. for queues)."""
    if r.starting_position == "AT_TIMESTAMP":
        return Position("AT_TIMESTAMP", timestamp=r.starting_position_timestamp)
    if r.starting_position == "LATEST":
        return Position("LATEST")
    return Position("TRIM_HORIZON")


def run(mappings: Sequence[EventSourceMapping], *, until_idle: bool = False, invoker: str = "auto") -> RunReport:
    """Run mappings from synchronous code (blocks; Ctrl-C stops gracefully)."""
    engine = Engine(mappings, invoker=invoker)
    return asyncio.run(engine.run(until_idle=until_idle))
