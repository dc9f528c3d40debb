"""Per-record outcomes and the batch result, as values.

While a batch runs, each position of a preallocated list holds ``OK``, the
exception the record raised, or one of the ``Skip`` markers saying why it was
never started. No per-record object is kept for a record that succeeded, so a
10,000-record batch allocates nothing that lives past its record; the
``RecordResult`` views are built only when asked for.
"""

from __future__ import annotations

from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    from batchmap.handler.strategy import Analysis, Strategy
    from batchmap.records.record import Record
    from batchmap.records.wire import PartialBatchResponse, SourceKind

    Status = Literal["succeeded", "failed", "skipped"]


class Skip:
    """Why a record was not started; reported so Lambda delivers it again."""

    __slots__ = ("detail", "reason")

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail

    def __repr__(self) -> str:
        return f"Skip({self.reason!r})"


OK: Any = object()
"""The outcome of a record whose handler returned."""
UNPROCESSED = Skip("unprocessed", "the batch ended before the record was started")
STOPPED = Skip("stopped", "an earlier record of the same ordering unit failed")
DEADLINE = Skip("deadline", "the Lambda deadline margin was reached")
MEMORY = Skip("memory", "the memory budget's hard limit was reached")
ABORTED = Skip("aborted", "a record handler aborted the batch (BatchAbortedError): all of it must run again")


class RecordResult(Value):
    """What happened to one record: ``status``, the ``error`` it raised, whether it is ``reported``.

    ``reason`` is ``""`` for a record that ran, else ``stopped``, ``deadline``,
    ``memory``, ``aborted`` or ``unprocessed``. A stream record can be ``succeeded`` and
    still ``reported``: Lambda re-reads from the lowest reported sequence
    number, so every record after a failure of its shard comes back anyway.
    """

    __slots__ = ("error", "position", "reason", "record", "reported", "status")

    position: int
    record: Record
    status: Status
    error: BaseException | None
    reason: str
    reported: bool

    def __init__(self, position: int, record: Record, outcome: object, reported: bool) -> None:
        set_field(self, "position", position)
        set_field(self, "record", record)
        set_field(self, "reported", reported)
        if outcome is OK:
            status, error, reason = "succeeded", None, ""
        elif isinstance(outcome, Skip):
            status, error, reason = "skipped", None, outcome.reason
        else:
            assert isinstance(outcome, BaseException)
            status, error, reason = "failed", outcome, ""
        set_field(self, "status", status)
        set_field(self, "error", error)
        set_field(self, "reason", reason)


class BatchResult(Value):
    """The outcome of one batch: the ``response`` for Lambda plus everything behind it.

    ``strategy`` says how the batch ran (and ``analysis`` why, with
    ``concurrency="auto"``); ``results`` and ``failures`` give per-record
    outcomes; ``elapsed_ms`` is the wall time of the whole batch.
    """

    __slots__ = ("_outcomes", "_records", "_reported", "_view", "analysis", "elapsed_ms", "event_source",
                 "kind", "response", "strategy")

    response: PartialBatchResponse
    kind: SourceKind
    event_source: str
    strategy: Strategy
    analysis: Analysis | None
    elapsed_ms: float
    _records: list[dict[str, Any]]
    _view: type[Record]
    _outcomes: list[object]
    _reported: list[int]

    def __init__(self, *, response: PartialBatchResponse, kind: SourceKind, event_source: str,
                 strategy: Strategy, analysis: Analysis | None, elapsed_ms: float,
                 records: list[dict[str, Any]], view: type[Record], outcomes: list[object],
                 reported: list[int]) -> None:
        for name, value in (("response", response), ("kind", kind), ("event_source", event_source),
                            ("strategy", strategy), ("analysis", analysis), ("elapsed_ms", elapsed_ms),
                            ("_records", records), ("_view", view), ("_outcomes", outcomes),
                            ("_reported", reported)):
            set_field(self, name, value)

    def __len__(self) -> int:
        return len(self._outcomes)

    @property
    def results(self) -> list[RecordResult]:
        """One ``RecordResult`` per record, in event order."""
        reported = set(self._reported)
        view, records = self._view, self._records
        return [RecordResult(i, view(records[i]), outcome, i in reported)
                for i, outcome in enumerate(self._outcomes)]

    @property
    def failures(self) -> list[RecordResult]:
        """The reported records (the ones in ``response``), in event order."""
        view, records, outcomes = self._view, self._records, self._outcomes
        return [RecordResult(i, view(records[i]), outcomes[i], True) for i in self._reported]

    @property
    def payload_bytes(self) -> int:
        """The payload sizes of all records added up (``Record.size``)."""
        view = self._view
        return sum(view(raw).size for raw in self._records)

    @property
    def errors(self) -> list[BaseException]:
        """The exceptions records raised, in event order."""
        return [o for o in self._outcomes if isinstance(o, BaseException)]

    @property
    def succeeded(self) -> int:
        """How many records ran to completion."""
        return self._outcomes.count(OK)

    @property
    def skipped(self) -> int:
        """How many records were never started (stopped, deadline, memory, unprocessed)."""
        return sum(isinstance(o, Skip) for o in self._outcomes)

    @property
    def failed(self) -> int:
        """How many records raised."""
        return len(self._outcomes) - self.succeeded - self.skipped

    @property
    def all_failed(self) -> bool:
        """Whether every record is reported (Lambda will retry the whole batch)."""
        return bool(self._outcomes) and len(self._reported) == len(self._outcomes)

    def __repr__(self) -> str:
        return (f"BatchResult(kind={self.kind!r}, records={len(self)}, succeeded={self.succeeded}, "
                f"failed={self.failed}, skipped={self.skipped}, reported={len(self._reported)}, "
                f"strategy={self.strategy!r})")
