"""Checks every queue source passes the same way, at the source (no engine).

The contract suite runs them on every queue kit (tests/contract/test_contract_consumers.py); a
broker's own file calls one only with what differs there (PostgreSQL: a row another client inserts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def receive_up_to_n_then_long_poll(
    source: Any, *, wait_s: float = 2.0, ordered: bool = True,
    send_late: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Receive takes at most N (in send order when ``ordered``); a long poll returns when a message arrives."""
    await source.send([f"m{i}" for i in range(5)])
    first = await source.receive(3, wait_s)
    rest = await source.receive(10, wait_s)
    assert len(first) == 3
    bodies = [d.record["body"] for d in first + rest]
    assert (bodies if ordered else sorted(bodies)) == [f"m{i}" for i in range(5)]
    assert await source.receive(10, 0) == []

    poll = asyncio.create_task(source.receive(10, 45))
    await asyncio.sleep(0.3)
    assert not poll.done()
    await (send_late() if send_late is not None else source.send(["late"]))
    got = await asyncio.wait_for(poll, timeout=20)  # far less than the 45 s asked for
    assert [d.record["body"] for d in got] == ["late"]
    await source.close()


async def consumers_compete(a: Any, b: Any, *, wait_s: float = 0.3, pause_s: float = 0.0,
                            delete: bool = False) -> None:
    """Two consumers on one queue: together they get every message, each message exactly one of them."""
    await a.send([str(i) for i in range(200)])
    held: dict[str, list[str]] = {"a": [], "b": []}

    async def consume(name: str, source: Any) -> None:
        while got := await source.receive(7, wait_s):
            held[name] += [d.record["body"] for d in got]
            if delete:
                assert await source.delete(got) == len(got)
            await asyncio.sleep(pause_s)  # the other consumer's turn, as a consumer busy with the batch gives it

    await asyncio.gather(consume("a", a), consume("b", b))
    assert sorted(held["a"] + held["b"], key=int) == [str(i) for i in range(200)]
    assert held["a"] and held["b"]
    assert not set(held["a"]) & set(held["b"])
    await a.close()
    await b.close()
