"""Handlers that end their process: only the subprocess invoker survives them."""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

HOARD: list[bytearray] = []
CALLS = 0


def crash(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Crash as event["how"] says (os_exit, sys_exit, segfault); without it, count calls in this process."""
    global CALLS
    how = event.get("how")
    if how == "os_exit":
        os._exit(int(event.get("code", 7)))  # no cleanup, as a C library calling exit() would
    if how == "sys_exit":
        sys.exit(int(event.get("code", 3)))
    if how == "segfault":
        ctypes.string_at(0)
    CALLS += 1
    return {"calls": CALLS, "pid": os.getpid()}


def hog_memory(event: dict[str, Any], context: Any) -> int:
    """Allocate event["mb"] megabytes in 1 MB pieces and keep them."""
    for _ in range(int(event.get("mb", 4096))):
        HOARD.append(bytearray(1024 * 1024))
    return len(HOARD)


def big_allocation(event: dict[str, Any], context: Any) -> int:
    """One allocation of event["mb"] megabytes."""
    return len(bytearray(int(event.get("mb", 4096)) * 1024 * 1024))
