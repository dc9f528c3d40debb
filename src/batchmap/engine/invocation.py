"""The Invoker seam: an event goes in, an ``Invocation`` value comes out.

Invokers never raise for a failing function: a function error, a crash, a
hang past the timeout are all values, so the outcome policy can treat them
exactly as Lambda does. The only exception is start-up: ``Invoker.start()``
raises ``FunctionLoadError`` when the function cannot be loaded at all, before
the engine consumes anything. The function's settings are
``batchmap.config.FunctionConfig`` (``batchmap.config.function``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from batchmap.config.function import FunctionConfig as FunctionConfig  # moved to config; importable here as before

InvocationStatus = Literal["ok", "error", "timeout"]

@dataclass(frozen=True, slots=True)
class Invocation:
    """What happened when the function was invoked with one event.

    ``status`` is ``ok`` when the function returned (``payload`` holds its
    decoded JSON return value), ``error`` when it raised, crashed or exited
    (``error`` holds Lambda's ``errorType``/``errorMessage`` shape), and
    ``timeout`` when it ran past the function timeout.

    ``invoked`` is ``False`` when the event never reached the function (the
    endpoint refused the request, throttled it, or failed before running it):
    AWS retries those without counting them against ``MaximumRetryAttempts``.
    ``init_duration_ms`` is set on the invocation that paid a cold start (the
    import of the function's module); ``max_memory_used_mb`` is the execution
    environment's peak resident memory where the invoker can see it.
    """

    status: InvocationStatus
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    request_id: str = ""
    init_duration_ms: float | None = None
    max_memory_used_mb: int | None = None
    invoked: bool = True

    @property
    def error_type(self) -> str | None:
        """The error document's ``errorType`` (``None`` on success)."""
        if self.error is None:
            return None
        value = self.error.get("errorType")
        return value if isinstance(value, str) else None


@runtime_checkable
class Invoker(Protocol):
    """Runs the function for one event at a time; may be called concurrently."""

    async def start(self) -> None:
        """Load or reach the function once; raises ``FunctionLoadError`` if that cannot work."""
        ...

    async def invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        """Invoke the function synchronously (as an ESM does) and describe the result."""
        ...

    async def close(self) -> None:
        """Stop workers and release resources."""
        ...
