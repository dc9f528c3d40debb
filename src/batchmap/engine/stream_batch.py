"""One stream batch through invocation, retries, bisection and discard.

The policy lives in ``batchmap.engine.retry``; this module does the I/O it
decides on: invoking the function, handing finished records back to the
shard, and sending on-failure records to the destination. While a batch is
retried its slot is blocked, so records of one partition key stay in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from batchmap.engine.backoff import Backoff, transient
from batchmap.engine.failure_record import build_failure_record, kafka_topic_failure_records
from batchmap.engine.outcome import Outcome, judge
from batchmap.engine.retry import RECORD_AGE_EXCEEDED, Work, decide, split_expired
from batchmap.engine.runtime import RunSettings, Runtime, describe
from batchmap.engine.tumbling import TumblingWindow
from batchmap.records import build_event
from batchmap.records.build import event_arguments
from batchmap.redaction import redact_uri
from batchmap.sources.base import Delivery, Destination, StreamSource, destination_traits, event_metadata

log = logging.getLogger("batchmap.engine")

MAX_RETRY_DELAY_S = 2.0


def retry_delay_s(retries_used: int) -> float:
    """A short exponential pause between retries, so a failing function does not spin the shard."""
    return float(min(MAX_RETRY_DELAY_S, 0.05 * 2 ** (retries_used - 1)))

Finish = Callable[[Sequence[Delivery]], None]


class StreamBatchProcessor:
    """Processes batches of one shard slot; ``finish`` is told which records are done."""

    def __init__(
        self, settings: RunSettings, source: StreamSource, runtime: Runtime, shard_id: str, finish: Finish,
        stopping: Callable[[], bool] | None = None, destination_backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.rt = runtime
        self.shard_id = shard_id
        self.finish = finish
        self.stopping = stopping or runtime.stop.is_set
        """Whether to give up retrying: the run stops, or the shard was revoked or halted (lost lease)."""
        self.event_meta = event_metadata(source)
        """The top-level fields every event of the source carries (Kafka's cluster), else ``None``."""
        self._event_arguments = event_arguments(source.shape, self.event_meta)
        self.destination_backoff = destination_backoff
        """Waits out a destination that fails transiently (a broker restarting) instead of dropping records."""

    async def process(self, records: Sequence[Delivery], window: TumblingWindow | None = None) -> None:
        """Run a batch to completion: success, or discard after retries (bisecting if asked)."""
        pending = [Work(tuple(records))]
        while pending:
            work, expired = split_expired(pending.pop(0), self.settings.retry, self.rt.clock.wall_ms())
            if expired:
                await self.discard(expired, RECORD_AGE_EXCEEDED, work.invokes)
            if not work.records:
                continue
            if work.retries_used and self.stopping():
                return  # stopping: the checkpoint stays before these records
            if work.retries_used:
                await self.rt.clock.sleep(retry_delay_s(work.retries_used))
            pending[:0] = await self._attempt(work, window)

    async def final_invoke(self, window: TumblingWindow) -> bool:
        """The window's closing invocation, retried until it succeeds (the shard waits, as on AWS)."""
        attempt = 0
        while not self.stopping():
            event = self._event((), window.event_fields(self.shard_id, self.source.arn, True))
            outcome = await self._invoke(event, (), tumbling=True)
            if outcome.kind == "success":
                window.update(outcome.state)
                self.finish(window.pending)
                return True
            attempt += 1
            log.warning("shard %s: final invocation of window %s failed (%s); retrying", self.shard_id,
                        event["window"]["start"], outcome.reason)
            await self.rt.clock.sleep(retry_delay_s(attempt))
        return False

    def _event(self, records: Sequence[Delivery], extra: dict[str, Any] | None) -> dict[str, Any]:
        """The event for ``records`` in the source's shape, plus the tumbling window's fields."""
        event = build_event(self.source.shape, [d.record for d in records], **self._event_arguments)
        if extra:
            event.update(extra)
        return event

    async def _invoke(self, event: dict[str, Any], records: Sequence[Delivery], *, tumbling: bool) -> Outcome:
        if records:  # IteratorAge: how old the batch's last record is when the batch is sent
            self.rt.hooks.iterator_age(max(0, self.rt.clock.wall_ms() - records[-1].arrival_ms))
        invocation = await self.rt.invoke(event, records)
        outcome = judge(
            invocation, [d.id for d in records], shape=self.source.shape,
            report_batch_item_failures=self.settings.report_batch_item_failures, tumbling_window=tumbling,
        )
        self.rt.hooks.outcome(len(records), outcome)
        return outcome

    async def _attempt(self, work: Work, window: TumblingWindow | None) -> list[Work]:
        extra = window.event_fields(self.shard_id, self.source.arn, False) if window else None
        event = self._event(work.records, extra)
        outcome = await self._invoke(event, work.records, tumbling=window is not None)
        first = outcome.rewind_index if outcome.kind == "partial" else None
        step = decide(work, outcome.kind, self.settings.retry, first_failed=first, now_ms=self.rt.clock.wall_ms())
        if outcome.kind != "success":
            log.warning("shard %s: batch of %d %s (%s)", self.shard_id, len(work.records), outcome.kind,
                        describe(outcome))
        elif window is not None:
            window.update(outcome.state)
        if step.done:
            if window is None:
                self.finish(step.done)
            else:
                window.pending.extend(step.done)
        if step.discard:
            await self.discard(step.discard, step.condition, work.invokes + 1, outcome.function_error, event)
        return list(step.next)

    async def discard(
        self, records: Sequence[Delivery], condition: str, invokes: int,
        function_error: str | None = "Unhandled", event: dict[str, Any] | None = None,
    ) -> None:
        """Give up on records: on-failure record to the destination (or a loud log), then move on."""
        destination = self.rt.destination
        if destination is None:
            self.rt.hooks.dropped(len(records))
            log.error("shard %s: dropped %d records (%s), no on-failure destination: sequence numbers %s to %s",
                      self.shard_id, len(records), condition, records[0].id, records[-1].id)
        elif not await self._deliver(destination, records, condition, invokes, function_error, event):
            return  # stopped while the destination was down: the checkpoint stays before these records
        self.finish(records)

    async def _deliver(
        self, destination: Destination, records: Sequence[Delivery], condition: str, invokes: int,
        function_error: str | None, event: dict[str, Any] | None,
    ) -> bool:
        """Send the on-failure records, waiting out a transient outage; False if the run stopped meanwhile.

        A destination that refuses for good is counted (``DestinationDeliveryFailures``,
        the records as dropped) and the shard moves on, as on AWS.
        """
        failures = self._failure_records(records, condition, invokes, function_error, event)
        per_record = len(records) // len(failures)
        for sent, failure in enumerate(failures):
            try:
                if self.destination_backoff is None:
                    await destination.send(failure)
                else:
                    await self.destination_backoff.call(partial(destination.send, failure), "on-failure delivery")
            except Exception as exc:
                if transient(exc):
                    log.warning("shard %s: on-failure records for %d records not delivered before the stop (%s); "
                                "they are processed again", self.shard_id, len(records), exc)
                    return False
                log.exception("shard %s: on-failure destination %s refused the record for %d records "
                              "(%s to %s)", self.shard_id, redact_uri(destination.uri), len(records), records[0].id,
                              records[-1].id)
                self.rt.hooks.destination_delivered(sent * per_record)
                self.rt.hooks.destination_failed(len(records) - sent * per_record)
                return True
        self.rt.hooks.destination_delivered(len(records))
        return True

    def _failure_records(
        self, records: Sequence[Delivery], condition: str, invokes: int, function_error: str | None,
        event: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """The on-failure records for discarded ``records``: one, or one per record for a Kafka topic."""
        destination = self.rt.destination
        common: dict[str, Any] = {
            "function_arn": self.settings.function_arn, "condition": condition,
            "approximate_invoke_count": invokes, "request_id": self.rt.request_id(),
            "now_ms": self.rt.clock.wall_ms(), "function_error": function_error,
        }
        meta = self.event_meta
        traits = destination_traits(destination) if destination is not None else None
        if meta is not None and traits is not None and traits.one_record_per_message:
            return kafka_topic_failure_records(records, event_meta=meta, **common)
        return [build_failure_record(
            self.source.shape, records, shard_id=self.shard_id,
            source_arn=self.source.arn if meta is None else meta.get("eventSourceArn"),
            bootstrap_servers=None if meta is None else meta.get("bootstrapServers"),
            event=event if traits is not None and traits.wants_payload else None, **common,
        )]
