"""Two engine processes on one queue share it through the broker's own work sharing.

Competing consumers on the same queue (the embedded queue's leases, a Redis
consumer group, SKIP LOCKED rows, a RabbitMQ queue, a JetStream durable): each
message goes to one engine at a time, so together they process every message
exactly once. When one engine is killed, what it held comes back to the other
(visibility timeout, pending-entries claim, lease expiry, channel close), and
only the batches it was processing are processed twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_support import counts, messages, started_log
from contract_target import Kit
from scaleout_support import BATCH, LANES, by_pid, finish, kill, queue_flags, repeats, start_two, stop, wait_until

QUEUES = ("sqlite_queue", "redis", "postgres", "rabbitmq", "nats")
COUNT = 400


@pytest.fixture(params=QUEUES)
def shared_kit(request: pytest.FixtureRequest) -> Kit:
    kit: Kit = request.getfixturevalue(f"{request.param}_kit")
    return kit


def test_two_engines_share_a_queue_and_process_each_message_once(shared_kit: Kit, tmp_path: Path) -> None:
    target = shared_kit.create(visibility_timeout_s=30)
    target.send(messages(COUNT))
    log = tmp_path / "processed.log"
    engines = start_two(target, log, *queue_flags(5), "--until-idle", sleep_s=0.1)
    finish(*engines)
    done = counts(log)
    assert sorted(done) == [m["id"] for m in messages(COUNT)] and set(done.values()) == {1}
    shares = by_pid(log)
    assert set(shares) == {e.pid for e in engines}, {pid: len(ids) for pid, ids in shares.items()}
    assert target.backlog().total == 0


def test_killing_one_engine_loses_nothing_and_repeats_only_its_unsettled_batches(
    shared_kit: Kit, tmp_path: Path
) -> None:
    target = shared_kit.create(visibility_timeout_s=2)
    target.send(messages(COUNT // 2))
    log = tmp_path / "processed.log"
    doomed, survivor = engines = start_two(target, log, *queue_flags(2), sleep_s=0.1)

    def in_hand() -> set[str]:
        """What the doomed engine's function has started and not finished."""
        return by_pid(started_log(log)).get(doomed.pid, set()) - by_pid(log).get(doomed.pid, set())

    try:
        wait_until(lambda: len(by_pid(log)) == 2 and bool(in_hand()), "both engines at work", engines)
        kill(doomed)
        lost_with_it = in_hand()
        wait_until(lambda: len(counts(log)) == COUNT // 2, "every message", (survivor,))
        stop(survivor)
    finally:
        for engine in engines:
            if engine.poll() is None:
                engine.kill()
    assert lost_with_it <= by_pid(log)[survivor.pid]  # its batches in flight came back to the other engine
    twice = repeats(log)
    assert twice <= by_pid(log)[doomed.pid]  # only what the killed engine had processed ...
    assert len(twice) <= LANES * BATCH, sorted(twice)  # ... in the batches it had in flight
    assert target.backlog().total == 0
