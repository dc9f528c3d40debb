"""Well-behaved and failing handlers, sync and async."""

from __future__ import annotations

import asyncio
import decimal
import os
import sys
import threading
import time
from typing import Any

from batchmap.handler import batch_handler

CALLS = 0
"""Module-level state: a warm execution environment keeps it across invocations."""


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return the event and what the context says."""
    return {
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "identity": context.identity,
        "client_context": context.client_context,
    }


def count(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Count invocations in this execution environment."""
    global CALLS
    CALLS += 1
    return {"calls": CALLS, "pid": os.getpid()}


def batch_failures(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Report every record whose body is "fail" as a batch item failure."""
    failed = [r["messageId"] for r in event["Records"] if r.get("body") == "fail"]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


def trivial(event: dict[str, Any], context: Any) -> None:
    """Do nothing (the benchmark's handler)."""
    return None


def returns_decimal(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda's runtime encodes Decimal as a number."""
    return {"price": decimal.Decimal("1.5")}


def returns_set(event: dict[str, Any], context: Any) -> set[int]:
    """Not JSON: Lambda answers Runtime.MarshalError."""
    return {1, 2}


def returns_too_much(event: dict[str, Any], context: Any) -> str:
    """A response over 6 MB."""
    return "x" * (6 * 1024 * 1024 + 1)


class ProcessingError(Exception):
    """A custom exception: its class name becomes the errorType."""


def raises(event: dict[str, Any], context: Any) -> None:
    """Fail the way user code fails."""
    _helper(event)


def _helper(event: dict[str, Any]) -> None:
    raise ProcessingError(f"cannot process {event.get('id')}")


def sleeps(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep for event["seconds"], then answer."""
    time.sleep(float(event.get("seconds", 10)))
    return {"slept": event.get("seconds", 10)}


def exits(event: dict[str, Any], context: Any) -> None:
    """Call sys.exit with event["code"]."""
    raise SystemExit(event.get("code", 3))


def remaining(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Report the remaining time before and after sleeping event["seconds"]."""
    before = context.get_remaining_time_in_millis()
    time.sleep(float(event.get("seconds", 0.2)))
    return {"before": before, "after": context.get_remaining_time_in_millis()}


def env(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    """Read the environment variables named in event["names"]."""
    return {name: os.environ.get(name) for name in event["names"]}


async def async_echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An async handler: runs on its own event loop."""
    await asyncio.sleep(0.01)
    return {"async": True, "event": event, "request_id": context.aws_request_id}


async def async_raises(event: dict[str, Any], context: Any) -> None:
    """An async handler that fails."""
    await asyncio.sleep(0)
    raise ValueError("async failure")


CANCELLED: list[str] = []


async def async_sleeps(event: dict[str, Any], context: Any) -> None:
    """An async handler that overruns its timeout; records that it was cancelled."""
    try:
        await asyncio.sleep(float(event.get("seconds", 10)))
    except asyncio.CancelledError:
        CANCELLED.append(context.aws_request_id)
        raise


class Callable:
    """An object handler: instances with __call__ work as Lambda handlers do."""

    def __call__(self, event: dict[str, Any], context: Any) -> str:
        return "called"


instance = Callable()
not_callable = 42


RENDEZVOUS = threading.Barrier(2)
ACTIVE = {"now": 0, "max": 0}
ACTIVE_LOCK = threading.Lock()


def rendezvous(event: dict[str, Any], context: Any) -> str:
    """Return only once two invocations are inside at the same time (proves they run concurrently)."""
    RENDEZVOUS.wait(timeout=10)
    return "met"


def track_concurrency(event: dict[str, Any], context: Any) -> int:
    """Record how many invocations run at once; return the highest count seen."""
    with ACTIVE_LOCK:
        ACTIVE["now"] += 1
        ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
    time.sleep(float(event.get("seconds", 0.1)))
    with ACTIVE_LOCK:
        ACTIVE["now"] -= 1
        return ACTIVE["max"]


def pid_after(event: dict[str, Any], context: Any) -> int:
    """Sleep event["seconds"], then return this process's id."""
    time.sleep(float(event.get("seconds", 0.2)))
    return os.getpid()


def chatty(event: dict[str, Any], context: Any) -> str:
    """Print to stdout and read stdin: neither may disturb the worker's protocol."""
    print("a line the function prints", flush=False)
    print('{"s": "ok", "p": "not the answer"}')
    return "answer: " + sys.stdin.read()


def dispatch(event: Any, context: Any) -> Any:
    """One function that does what event["do"] says: the HTTP tests serve a single function."""
    action = event.get("do") if isinstance(event, dict) else None
    if action == "raise":
        return raises(event, context)
    if action == "set":
        return returns_set(event, context)
    if action == "sleep":
        return sleeps(event, context)
    if action == "pid":
        return pid_after({"seconds": event.get("seconds", 0)}, context)
    if action == "failures":
        return batch_failures(event, context)
    if action == "env":
        return env(event, context)
    return {"echo": event, "request_id": context.aws_request_id, "function_name": context.function_name}


@batch_handler
def toolkit(record: Any) -> None:
    """A toolkit handler with its default memory budget, which must not count the engine's memory."""
