"""``concurrency="auto"``: look at the batch, then pick how to run it (seed pattern 3).

The analysis costs one pass over the records without decoding them (sizes come
from the envelope) plus, with a ``Router``, the type of at most
``TYPE_SAMPLE`` records spread over the batch. The rules, first match wins:

1. one record, or every record in one ordering lane → ``sequential``;
2. large records (average ≥ 64 KiB) → ``sequential``: one decoded payload in
   memory at a time;
3. medium records (≥ 8 KiB) or a mixed batch (more than 3 types) → ``moderate``:
   a quarter of the cap;
4. otherwise → ``parallel``: up to the cap (16 threads, or 64 tasks for
   ``async def`` handlers), no more than the records or lanes there are.

The caps assume I/O-bound handlers, the common case in Lambda (calls to other
services); a CPU-bound sync handler gains nothing from threads and should keep
``concurrency=1``.
"""

from __future__ import annotations

from batchmap.errors import RecordError
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable
    from typing import Any

    from batchmap.records.event import Scan
    from batchmap.records.record import Record

TYPE_SAMPLE = 100
LARGE_BYTES = 64 * 1024
MEDIUM_BYTES = 8 * 1024
THREAD_CAP = 16
TASK_CAP = 64


class Analysis(Value):
    """What a batch holds: counts, payload sizes, types and ordering lanes."""

    __slots__ = ("average_bytes", "count", "is_async", "lanes", "max_bytes", "total_bytes", "types")

    count: int
    total_bytes: int
    average_bytes: int
    max_bytes: int
    types: tuple[tuple[str, int], ...]
    """Type value and count in the sample, most frequent first (empty without a router)."""
    lanes: int | None
    """Distinct ordering lanes, ``None`` when the source does not order records."""
    is_async: bool

    def __init__(self, *, count: int, total_bytes: int, max_bytes: int, types: tuple[tuple[str, int], ...],
                 lanes: int | None, is_async: bool) -> None:
        set_field(self, "count", count)
        set_field(self, "total_bytes", total_bytes)
        set_field(self, "average_bytes", total_bytes // count if count else 0)
        set_field(self, "max_bytes", max_bytes)
        set_field(self, "types", types)
        set_field(self, "lanes", lanes)
        set_field(self, "is_async", is_async)

    def as_dict(self) -> dict[str, Any]:
        document = dict(self._items())
        document["types"] = dict(self.types)
        return document


class Strategy(Value):
    """How a batch runs: ``name`` (sequential, moderate, parallel, fixed), ``concurrency``, ``reason``."""

    __slots__ = ("concurrency", "name", "reason")

    name: str
    concurrency: int
    reason: str

    def __init__(self, name: str, concurrency: int, reason: str) -> None:
        set_field(self, "name", name)
        set_field(self, "concurrency", concurrency)
        set_field(self, "reason", reason)


_FIXED: dict[int, Strategy] = {}


def fixed(concurrency: int) -> Strategy:
    """The strategy of an explicit ``concurrency=N`` (one shared value per N)."""
    strategy = _FIXED.get(concurrency)
    if strategy is None:
        strategy = Strategy("fixed", concurrency, f"concurrency={concurrency} was asked for")
        _FIXED[concurrency] = strategy
    return strategy


def analyse(scan: Scan, lanes: list[Hashable | None] | None, type_of: Callable[[Record], object] | None,
            is_async: bool) -> Analysis:
    """Measure the batch (sizes without decoding; types from a sample when ``type_of`` is given)."""
    view, records = scan.view, scan.records
    sizes = [_size(view, raw) for raw in records]
    types: dict[str, int] = {}
    if type_of is not None and records:
        step = max(1, len(records) // TYPE_SAMPLE)
        for raw in records[::step][:TYPE_SAMPLE]:
            try:
                label = str(type_of(view(raw)))[:100]
            except Exception:  # an undecodable payload is a type of its own here; it fails later
                label = "<undecodable>"
            types[label] = types.get(label, 0) + 1
    distinct = None
    if lanes is not None:
        keyed = {lane for lane in lanes if lane is not None}
        distinct = len(keyed) + sum(1 for lane in lanes if lane is None)
    return Analysis(count=len(records), total_bytes=sum(sizes), max_bytes=max(sizes, default=0),
                    types=tuple(sorted(types.items(), key=lambda item: (-item[1], item[0]))),
                    lanes=distinct, is_async=is_async)


def _size(view: type[Record], raw: dict[str, Any]) -> int:
    """A record's payload size; 0 for a malformed one (it fails when it runs; the choice is a heuristic)."""
    try:
        return view(raw).size
    except RecordError:
        return 0


def choose(analysis: Analysis) -> Strategy:
    """Apply the rules of this module's docstring."""
    if analysis.count <= 1:
        return Strategy("sequential", 1, "a single record")
    if analysis.lanes == 1:
        return Strategy("sequential", 1, "every record is in one ordering lane, so they run one at a time")
    average = analysis.average_bytes
    if average >= LARGE_BYTES:
        return Strategy("sequential", 1, f"large records (average {average // 1024} KiB): one at a time "
                                         "keeps memory flat")
    cap = TASK_CAP if analysis.is_async else THREAD_CAP
    room = min(analysis.count, analysis.lanes or analysis.count)
    if average >= MEDIUM_BYTES or len(analysis.types) > 3:
        why = (f"medium records (average {average // 1024} KiB)" if average >= MEDIUM_BYTES
               else f"a mixed batch ({len(analysis.types)} record types)")
        return Strategy("moderate", max(2, min(cap // 4, room)), why)
    return Strategy("parallel", min(cap, room), f"{analysis.count} small records (average {average} B)")
