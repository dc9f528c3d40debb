"""A message move task keeps to MaxNumberOfMessagesPerSecond (on a fake clock: no timing in the test)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from batchmap.clock import FakeClock
from batchmap.engine.backoff import Backoff
from batchmap.metrics.hook import NullHook
from batchmap.sources.message_moves import MoveTaskRunner
from batchmap.sources.sqlite import SqliteQueue, create_queue, inspect, send
from batchmap.sources.sqlite.move_tasks import MoveTask, MoveTaskLedger, new_handle


class StepClock(FakeClock):
    """A fake clock that remembers every sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


def test_a_rate_of_two_a_second_moves_five_messages_over_two_and_a_half_seconds(tmp_path: Path) -> None:
    dlq, retry = f"sqlite:///{tmp_path}/w.db?queue=dlq", f"sqlite:///{tmp_path}/w.db?queue=retry"
    create_queue(dlq)
    create_queue(retry)
    send(dlq, [f"m{n}" for n in range(5)])
    clock = StepClock()
    ledger = MoveTaskLedger(str(tmp_path / "w.db"))

    async def run() -> MoveTask:
        queue = await SqliteQueue.open(dlq)
        try:
            task = MoveTask(new_handle(ledger.path, queue.arn), queue.arn, retry, 2, "RUNNING", 0, None, None,
                            clock.wall_ms(), clock.wall_ms())
            ledger.start(task)
            retrier = Backoff("dlq", NullHook(), asyncio.Event())
            return await MoveTaskRunner(queue, queue, ledger, task, retrier, destination=retry, clock=clock).run()
        finally:
            await queue.close()

    ended = asyncio.run(run())
    ledger.close()
    assert ended.status == "COMPLETED" and ended.moved == 5 == ended.to_move
    assert abs(clock.now() - 2.5) < 1e-9, "5 messages at 2 a second take 2.5 s"
    assert max(clock.sleeps) <= 1.0, "progress is written at least every second while it waits"
    assert inspect(retry).visible == 5 and inspect(dlq).total == 0  # type: ignore[union-attr]
    assert json.loads(json.dumps(ended.to_aws()))["MaxNumberOfMessagesPerSecond"] == 2
