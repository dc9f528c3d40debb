"""Fuzz: malformed events, random options and random handler outcomes into ``process_batch``.

For each case the same event runs at ``concurrency`` 1, 4 and ``"auto"``. The
properties:

* the call returns a response, or raises ``EventError`` (a record without an
  identifier), or ``BatchFailedError`` exactly when ``raise_on_full_failure`` is
  on and every record is listed: nothing else;
* the verdict is the same at every concurrency: the same error (type, record,
  field), or a response. Responses may differ only by records that ran and
  returned in the run that does not list them: a failure stops the records of
  its unit that have not started yet, and which have started by then depends on
  the concurrency (for streams, a record parked behind another of its key);
* nothing is lost: every record whose handler did not return (it raised, was
  malformed, never ran) comes back under AWS's rules: SQS re-delivers the
  listed messages, streams re-read the shard from the lowest listed record,
  Kafka each topic-partition from its lowest listed record. A run in which a
  handler aborted the batch (``BatchAbortedError``) lists every record.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from fuzz_support import fuzz, mutated_events, record_dicts
from hypothesis import given
from hypothesis import strategies as st

from batchmap.errors import BatchAbortedError, BatchFailedError, EventError
from batchmap.handler import process_batch
from batchmap.records import parse_event, read_partial_response
from batchmap.records.event import scan_event

OUTCOMES = ["ok", "ok", "ok", "raise", "touch", "abort"]
ABORTED = -1
"""Put in a run's ``returned`` when a record handler aborted the batch."""


LOGGER = logging.getLogger("fuzz.batchmap.handler")
LOGGER.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115  every line formatted and written
LOGGER.setLevel(logging.DEBUG)
LOGGER.propagate = False


class Told(Exception):
    """What a fuzzed handler raises when told to."""


def handler_for(event: Any, plan: list[str], returned: set[int]) -> Any:
    """A record handler doing ``plan[position]`` for the record at each position (abort: BatchAbortedError;
    touch: read every field of the view, which may raise RecordError). ``returned`` collects the
    positions whose handler returned (every position of a record listed twice)."""
    first_position: dict[int, int] = {}
    positions: dict[int, list[int]] = {}
    for position, raw in enumerate(record_dicts(event)):
        first_position.setdefault(id(raw), position)
        positions.setdefault(id(raw), []).append(position)

    def handle(record: Any) -> None:
        position = first_position[id(record.raw)]
        outcome = plan[position % len(plan)]
        if outcome == "raise":
            raise Told(position)
        if outcome == "abort":
            returned.add(ABORTED)
            raise BatchAbortedError(f"record {position} aborts")
        if outcome == "touch":
            record.json(), record.key, record.size, record.id, repr(record)
        returned.update(positions[id(record.raw)])

    return handle


def run(event: Any, plan: list[str], concurrency: Any, asynchronous: bool,
        options: dict[str, bool]) -> tuple[tuple[Any, ...], set[int]]:
    """(verdict, positions whose handler returned); a verdict is ("response", listed positions) or the error."""
    returned: set[int] = set()
    handle = handler_for(event, plan, returned)

    async def handle_async(record: Any) -> None:
        await asyncio.sleep(0)
        handle(record)

    try:
        response = process_batch(event, handle_async if asynchronous else handle, concurrency=concurrency,
                                 logger=LOGGER, **options)
    except BatchFailedError as exc:
        assert options["raise_on_full_failure"]
        listed = check_nothing_lost(event, exc.response, returned)
        assert listed == set(range(len(record_dicts(event)))), "BatchFailedError, yet not every record is listed"
        return ("response", frozenset(listed)), returned
    except EventError as exc:
        return (type(exc).__name__, getattr(exc, "index", None), getattr(exc, "field", None)), returned
    listed = check_nothing_lost(event, response, returned)
    if options["raise_on_full_failure"]:
        assert len(listed) < len(record_dicts(event)), "every record is listed, yet no BatchFailedError"
    return ("response", frozenset(listed)), returned


def check_nothing_lost(event: Any, response: Any, returned: set[int]) -> set[int]:
    """Every record that did not return is re-delivered; returns the listed positions."""
    reading = read_partial_response(event, response)
    assert reading.status != "invalid", reading.error
    scan = scan_event(event, strict=False)
    records = scan.records
    listed = {i for i, _ in enumerate(records) if _identifier(scan, i) in
              {_identifier(scan, j) for j in reading.failed}}  # a record listed twice is listed
    if ABORTED in returned:
        assert listed == set(range(len(records))), "an aborted batch lists every record"
    needed = set(range(len(records))) - returned
    if scan.kind == "sqs":
        assert needed <= listed, f"not redelivered: {needed - listed}"
    elif scan.kind == "kafka":
        partitions = scan.partitions or []
        start: dict[str, int] = {}
        for i in sorted(listed):
            start.setdefault(partitions[i], i)
        lost = [i for i in needed if i < start.get(partitions[i], len(records))]
        assert not lost, f"not redelivered: {lost}"
    else:
        assert not needed or (listed and min(needed) >= min(listed)), f"not redelivered: {needed - listed}"
    return listed


def _identifier(scan: Any, position: int) -> str:
    identifier = scan.identifier(position)
    return identifier if isinstance(identifier, str) else f"{identifier['partition']}:{identifier['offset']}"


@fuzz(examples=2500)
@given(mutated_events(), st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=12), st.booleans(),
       st.fixed_dictionaries({"fifo_strict": st.booleans(), "stream_continue_other_keys": st.booleans(),
                              "raise_on_full_failure": st.booleans()}))
def test_the_verdict_is_the_same_at_every_concurrency_and_nothing_is_lost(
        event: Any, plan: list[str], asynchronous: bool, options: dict[str, bool]) -> None:
    runs = [run(event, plan, concurrency, asynchronous, options) for concurrency in (1, 4, "auto")]
    (first, first_returned), *others = runs
    for verdict, returned in others:
        assert verdict[0] == first[0], runs
        if first[0] != "response":
            assert verdict == first, runs
            continue
        if ABORTED in returned or ABORTED in first_returned:
            continue  # a handler aborted in one of the two runs: that one lists every record
        assert first[1] - verdict[1] <= returned, f"listed at concurrency 1 only, without succeeding: {runs}"
        assert verdict[1] - first[1] <= first_returned, f"listed at a higher concurrency only: {runs}"
    if first[0] != "response":
        try:
            parse_event(event)
        except EventError:
            pass
        else:
            raise AssertionError(f"process_batch refused an event parse_event accepts: {first}")
