"""Repeated SIGKILLs of ``batchmap run`` on the embedded queue, FIFO queue and stream, with both invokers.

Each loop starts an engine, lets it process some messages, kills it with
SIGKILL, and does that three times; a last run with ``--until-idle`` finishes
the work. Nothing may be lost. A repeat is a message whose processing finished
but whose delete or checkpoint the kill prevented: the killed engine finished
it just before the kill (its batch in flight on a queue; since the last
checkpoint write, every 0.2 s, on a stream), never earlier.
A FIFO group's messages are first processed in the order they were sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from fault_support import Tally, drain, figure, finished, logged, start, wait_for

from batchmap.sources.sqlite import admin

COUNT = 150
KILLS = 3
BATCH = 5
LANES = 2
GROUPS = 5
RECENT_S = 1.5
"""How near its kill an engine may have finished a message it then repeats: one checkpoint interval (0.2 s)
or the batch in flight before it (plus the wait for the delete or the checkpoint write on a busy machine),
or a worker process finishing its invocation just after its engine died."""


def first_processings(log: Path) -> list[tuple[str, str, float]]:
    seen: dict[str, tuple[str, str, float]] = {}
    for row in finished(log):
        seen.setdefault(row[0], row)
    return list(seen.values())


def repeated(log: Path) -> set[str]:
    return {i for i, n in Counter(logged(log)).items() if n > 1}


def fill(kind: str, tmp_path: Path) -> tuple[str, list[str]]:
    name = uuid.uuid4().hex[:8]
    ids = [f"m{i:03d}" for i in range(COUNT)]
    if kind == "stream":
        uri = f"sqlite:///{tmp_path}/kill.db?stream=s{name}"
        admin.create_stream(uri, shard_count=2)
        admin.send(uri, [json.dumps({"id": i}) for i in ids])
        return uri, ids
    fifo = kind == "fifo"
    uri = f"sqlite:///{tmp_path}/kill.db?queue=q{name}{'.fifo' if fifo else ''}"
    attributes = {"VisibilityTimeout": "1"} | ({"ContentBasedDeduplication": "true"} if fifo else {})
    admin.create_queue(uri, attributes)
    for group in range(GROUPS if fifo else 1):
        mine = ids[group::GROUPS] if fifo else ids
        admin.send(uri, [json.dumps({"id": i}) for i in mine], message_group_id=f"g{group}" if fifo else None)
    return uri, ids


@pytest.mark.parametrize("invoker", ["inprocess", "subprocess"])
@pytest.mark.parametrize("kind", ["queue", "fifo", "stream"])
def test_repeated_sigkills_lose_nothing(tmp_path: Path, kind: str, invoker: str) -> None:
    uri, ids = fill(kind, tmp_path)
    log = tmp_path / "processed.log"
    flags = ["--invoker", invoker, "--batch-size", str(BATCH), "--timeout", "1"]
    flags += ["--shard-lease-seconds", "1"] if kind == "stream" else ["--scaling-config", f"MaximumConcurrency={LANES}"]
    kills: dict[str, float] = {}
    for kill in range(1, KILLS + 1):
        engine = start(uri, log, *flags, sleep_s=0.02, cwd=tmp_path, run=f"killed-{kill}")
        try:
            wait_for(log, kill * COUNT // (KILLS + 2), engine)
        finally:
            engine.kill()
            kills[f"killed-{kill}"] = time.time()
            engine.wait(10)
    killed_at = len(logged(log))
    assert killed_at < COUNT, "the engines finished before the last kill: nothing was tested"
    started = time.monotonic()
    drain(uri, log, *flags, cwd=tmp_path)
    tally = Tally.of(ids, log)
    figure(f"SIGKILL x{KILLS}, {kind}, {invoker}", messages=COUNT, lost=tally.lost, duplicated=tally.duplicated,
           recovered_s=f"{time.monotonic() - started:.1f}")
    assert tally.lost == 0
    unexplained = [(i, run) for i, run, at in first_processings(log) if i in repeated(log)
                   and not (run in kills and abs(kills[run] - at) <= RECENT_S)]
    assert not unexplained, "repeats no kill explains"
    if kind == "fifo":
        first_seen = list(dict.fromkeys(logged(log)))
        for group in range(GROUPS):
            in_group = [i for i in first_seen if int(i[1:]) % GROUPS == group]
            assert in_group == sorted(in_group), f"group g{group} out of order"
    if kind != "stream":
        assert admin.inspect(uri).total == 0  # type: ignore[union-attr]
