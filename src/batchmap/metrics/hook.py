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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the engine imports metrics; metrics needs the engine only for types
    from batchmap.engine.outcome import Outcome



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


class NullHook(MetricsHook):
    """Does nothing: the engine's default when nobody listens."""


class HookChain(MetricsHook):
    """Calls several hooks in order, for each event."""

    def __init__(self, *hooks: MetricsHook) -> None:
        self.hooks = hooks

    def polled(self, records: int) -> None:
        for hook in self.hooks:
            hook.polled(records)

    def filtered_out(self, records: int) -> None:
        for hook in self.hooks:
            hook.filtered_out(records)

    def oversized(self, records: int) -> None:
        for hook in self.hooks:
            hook.oversized(records)

    def invoked(self, records: int) -> None:
        for hook in self.hooks:
            hook.invoked(records)

    def outcome(self, records: int, outcome: Outcome) -> None:
        for hook in self.hooks:
            hook.outcome(records, outcome)

    def dropped(self, records: int) -> None:
        for hook in self.hooks:
            hook.dropped(records)

    def destination_delivered(self, records: int) -> None:
        for hook in self.hooks:
            hook.destination_delivered(records)

    def destination_failed(self, records: int) -> None:
        for hook in self.hooks:
            hook.destination_failed(records)

    def deleted(self, records: int) -> None:
        for hook in self.hooks:
            hook.deleted(records)

    def committed(self, records: int) -> None:
        for hook in self.hooks:
            hook.committed(records)

    def iterator_age(self, age_ms: int) -> None:
        for hook in self.hooks:
            hook.iterator_age(age_ms)

    def offset_lag(self, partition: str, lag: int) -> None:
        for hook in self.hooks:
            hook.offset_lag(partition, lag)
