"""Rule 7: a sliding window of at most N records, lanes in order, for threads and for asyncio.

No test here measures time: each one is a choreography of events that can
only complete if the scheduler behaves as promised (a deadlock would fail the
bounded waits instead).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from handler_support import kinesis_event, reported, sqs_event

from batchmap.errors import HandlerError
from batchmap.handler import arun_batch, process_batch

WAIT_S = 10.0


class InFlight:
    """Counts records in flight and remembers the most ever seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.order: list[str] = []

    def enter(self, record_id: str) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.order.append(record_id)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


@pytest.mark.parametrize("concurrency", [2, 5])
def test_threads_never_exceed_the_limit_and_reach_it(concurrency: int) -> None:
    flight = InFlight()
    barrier = threading.Barrier(concurrency, timeout=WAIT_S)

    def handle(record: Any) -> None:
        flight.enter(record.id)
        if int(record.id[1:]) < concurrency:
            barrier.wait()  # the first N must all be in flight together
        flight.leave()

    assert reported(process_batch(sqs_event(30), handle, concurrency=concurrency)) == []
    assert flight.most == concurrency


def test_sliding_window_not_waves() -> None:
    """With N=2, m0 blocks until m3 ran: only a window that refills as each record ends gets there."""
    m3_done = threading.Event()

    def handle(record: Any) -> None:
        if record.id == "m0":
            assert m3_done.wait(WAIT_S), "m3 never started while m0 was in flight: waves, not a window"
        if record.id == "m3":
            m3_done.set()

    assert reported(process_batch(sqs_event(4), handle, concurrency=2)) == []


def test_async_sliding_window_and_limit() -> None:
    flight = InFlight()
    m5_done = asyncio.Event()

    async def handle(record: Any) -> None:
        flight.enter(record.id)
        if record.id == "m0":
            await asyncio.wait_for(m5_done.wait(), WAIT_S)
        await asyncio.sleep(0)
        if record.id == "m5":
            m5_done.set()
        flight.leave()

    assert reported(process_batch(sqs_event(12), handle, concurrency=3)) == []
    assert flight.most == 3


def test_same_key_in_order_one_at_a_time_other_keys_in_parallel() -> None:
    keys = ["a", "b", "a", "b", "a", "b"]
    flight = {"a": InFlight(), "b": InFlight()}
    both_running = threading.Barrier(2, timeout=WAIT_S)

    def handle(record: Any) -> None:
        key = record.key
        flight[key].enter(record.id)
        if record.id in ("1000", "1001"):
            both_running.wait()  # a's first and b's first overlap: different keys run in parallel
        flight[key].leave()

    assert reported(process_batch(kinesis_event(keys), handle, concurrency=4)) == []
    assert flight["a"].most == flight["b"].most == 1
    assert flight["a"].order == ["1000", "1002", "1004"] and flight["b"].order == ["1001", "1003", "1005"]


def test_fifo_group_order_with_async_concurrency() -> None:
    groups = ["g1", "g2", "g1", "g1", "g2", "g3"]
    seen: list[tuple[str, str]] = []

    async def handle(record: Any) -> None:
        await asyncio.sleep(0)
        seen.append((record.key, record.id))

    process_batch(sqs_event(6, groups=groups), handle, concurrency=6)
    assert [i for g, i in seen if g == "g1"] == ["m0", "m2", "m3"]
    assert [i for g, i in seen if g == "g2"] == ["m1", "m4"]


def test_a_sync_handler_returning_a_coroutine_is_a_failure_not_a_success() -> None:
    async def work(record: Any) -> None:
        return None

    response = process_batch(sqs_event(2), lambda record: work(record))
    assert reported(response) == ["m0", "m1"]


def test_arun_batch_inside_a_running_loop() -> None:
    async def main() -> list[Any]:
        async def handle(record: Any) -> None:
            if record.id == "m1":
                raise ValueError("x")

        result = await arun_batch(sqs_event(3), handle, concurrency=2)
        sync_result = await arun_batch(sqs_event(3), lambda r: None, concurrency=2)
        assert reported(sync_result.response) == []
        with pytest.raises(HandlerError, match="arun_batch"):
            process_batch(sqs_event(1), handle)
        return reported(result.response)

    assert asyncio.run(main()) == ["m1"]


def test_pool_threads_are_reused_between_batches() -> None:
    from batchmap.handler.pool import worker_pool

    process_batch(sqs_event(8), lambda r: None, concurrency=8)
    started = worker_pool().threads
    for _ in range(3):
        process_batch(sqs_event(8), lambda r: None, concurrency=8)
    assert worker_pool().threads == started


def test_async_handler_short_waits_still_see_io() -> None:
    """The loop ``process_batch`` starts times short waits itself: a socket that becomes readable
    during such a wait still wakes the record waiting on it, and short sleeps still end."""
    import socket

    readers: list[socket.socket] = []

    async def handler(record: Any) -> None:
        reader, writer = socket.socketpair()
        readers.append(reader)
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[bytes] = loop.create_future()
        loop.add_reader(reader, lambda: arrived.done() or arrived.set_result(reader.recv(4096)))
        # Written by another thread while the loop waits on a timer 5 ms away, so the wake-up
        # comes from the descriptor, not from the timer.
        threading.Timer(0.001, writer.send, (record.body.encode(),)).start()
        keep_short = loop.call_later(0.005, lambda: None)
        try:
            got = await asyncio.wait_for(arrived, WAIT_S)
        finally:
            loop.remove_reader(reader)
            keep_short.cancel()
            writer.close()
        await asyncio.sleep(0.0005)
        assert got == record.body.encode()

    event = sqs_event(20)
    assert process_batch(event, handler, concurrency=5) == {"batchItemFailures": []}
    for reader in readers:
        reader.close()
    assert len(readers) == 20
