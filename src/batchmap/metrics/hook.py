"""The hooks the engine calls at batch events: middleware with no-op defaults.

The engine calls a ``MetricsHook`` once per batch event, never per record, with
record counts. Counting rules live in the implementation (``MetricsRecorder``),
not in the engine, so every runner counts the same way. A hook that only cares
about some events subclasses ``MetricsHook`` and overrides those; the rest stay
no-ops. ``HookChain`` fans one call out to several hooks (a recorder and a log).

Events, in the order a batch meets them:

``polled``                  records a poll returned (0 for an empty poll)
``filtered_out``            records FilterCriteria removed
``oversized``               records over the 6 MB payload limit, never sent
``invoked``                 one invocation about to carry ``records`` records (retries too)
``outcome``                 the invocation's judged ``Outcome`` for ``records`` records
``dropped``                 records discarded with no destination to receive them
``destination_delivered``   records named by an on-failure record the destination accepted
``destination_failed``      records named by an on-failure record the destination refused
``deleted``                 queue messages deleted (what the source reports it deleted)
``committed``               Kafka: records newly committed (sum of offset advances)
``iterator_age``            streams: age in ms of the last record of a batch when it was sent
``offset_lag``              Kafka: a partition's lag behind the latest offset
``polling_error``           a call to the source failed and will be retried (AWS's ``PollingErrorCount``)
``hook_error``              another hook raised (it is logged once and ignored)

A hook that raises never changes processing: ``HookChain`` (which the engine always
calls) catches the error, logs it once per hook and event, and counts it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from typing import Any, Protocol

log = logging.getLogger("batchmap.metrics")


class Outcome(Protocol):
    """What a hook reads of an invocation's judged outcome (the engine's ``batchmap.engine.outcome.Outcome``).

    Declared here, by the reader, so metrics needs nothing of the engine that imports it.
    """

    @property
    def kind(self) -> str:
        """``success``, ``partial`` or ``failure``."""
        ...

    @property
    def failed_ids(self) -> tuple[str, ...]:
        """The records a partial response listed."""
        ...

    @property
    def rewind_index(self) -> int | None:
        """Streams and Kafka: the position of the lowest failed record."""
        ...

    @property
    def reason(self) -> str | None:
        """Why a batch failed (``FunctionError``, ``Timeout``, ...)."""
        ...

    @property
    def duration_ms(self) -> float:
        """How long the invocation took."""
        ...

class MetricsHook(Protocol):
    """Called by the engine at batch events; every method defaults to doing nothing."""

    def polled(self, records: int) -> None:
        """A poll returned ``records`` records."""
        return None

    def filtered_out(self, records: int) -> None:
        """FilterCriteria removed ``records`` records."""
        return None

    def oversized(self, records: int) -> None:
        """``records`` records were too large to send in any invocation."""
        return None

    def invoked(self, records: int) -> None:
        """An invocation is about to carry ``records`` records."""
        return None

    def outcome(self, records: int, outcome: Outcome) -> None:
        """An invocation of ``records`` records ended with ``outcome``."""
        return None

    def dropped(self, records: int) -> None:
        """``records`` records were discarded (retries or age used up) with no destination."""
        return None

    def destination_delivered(self, records: int) -> None:
        """An on-failure record naming ``records`` records reached the destination."""
        return None

    def destination_failed(self, records: int) -> None:
        """The destination refused the on-failure record naming ``records`` records: they are lost."""
        return None

    def deleted(self, records: int) -> None:
        """``records`` queue messages were deleted after processing."""
        return None

    def committed(self, records: int) -> None:
        """Kafka offsets advanced by ``records`` in total."""
        return None

    def iterator_age(self, age_ms: int) -> None:
        """A stream batch was sent whose last record was ``age_ms`` old."""
        return None

    def offset_lag(self, partition: str, lag: int) -> None:
        """Kafka ``partition`` is ``lag`` offsets behind its latest offset."""
        return None

    def polling_error(self) -> None:
        """A call to the source (poll, settle, checkpoint, lease) failed; it is retried with backoff."""
        return None

    def pollers(self, count: int) -> None:
        """In provisioned mode, the mapping now runs ``count`` pollers (a queue's lanes)."""
        return None

    def hook_error(self, hook: str, event: str) -> None:
        """Hook ``hook`` raised when told of ``event``; the error was logged and ignored."""
        return None


class NullHook(MetricsHook):
    """Does nothing: the engine's default when nobody listens."""


class HookChain(MetricsHook):
    """Calls several hooks in order, for each event; a hook that raises is logged once and ignored.

    The engine calls its hooks through a chain, so a broken hook (a bug in a
    user's exporter, a full disk under its file) can never stop a lane: the
    error is logged with its traceback the first time each hook fails at each
    event, counted in ``failures``, and reported to the other hooks (the
    recorder counts ``HookErrorCount``).
    """

    def __init__(self, *hooks: MetricsHook) -> None:
        self.hooks = hooks
        self.failures: Counter[tuple[str, str]] = Counter()
        """Errors by (hook class, event)."""

    def _call(self, event: str, *args: Any) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, event)(*args)
            except Exception as exc:
                self._failed(hook, event, exc)

    def _failed(self, hook: MetricsHook, event: str, exc: Exception) -> None:
        name = type(hook).__name__
        key = (name, event)
        if key not in self.failures:
            log.error("metrics hook %s raised at %s (%s: %s); ignored, and logged once per hook and event",
                      name, event, type(exc).__name__, exc, exc_info=exc)
        self.failures[key] += 1
        for other in self.hooks:
            if other is not hook:
                with contextlib.suppress(Exception):  # failing to count another's failure: nothing left to tell
                    other.hook_error(name, event)

    def polled(self, records: int) -> None:
        self._call("polled", records)

    def filtered_out(self, records: int) -> None:
        self._call("filtered_out", records)

    def oversized(self, records: int) -> None:
        self._call("oversized", records)

    def invoked(self, records: int) -> None:
        self._call("invoked", records)

    def outcome(self, records: int, outcome: Outcome) -> None:
        self._call("outcome", records, outcome)

    def dropped(self, records: int) -> None:
        self._call("dropped", records)

    def destination_delivered(self, records: int) -> None:
        self._call("destination_delivered", records)

    def destination_failed(self, records: int) -> None:
        self._call("destination_failed", records)

    def deleted(self, records: int) -> None:
        self._call("deleted", records)

    def committed(self, records: int) -> None:
        self._call("committed", records)

    def iterator_age(self, age_ms: int) -> None:
        self._call("iterator_age", age_ms)

    def offset_lag(self, partition: str, lag: int) -> None:
        self._call("offset_lag", partition, lag)

    def polling_error(self) -> None:
        self._call("polling_error")

    def pollers(self, count: int) -> None:
        self._call("pollers", count)

    def hook_error(self, hook: str, event: str) -> None:
        self._call("hook_error", hook, event)
