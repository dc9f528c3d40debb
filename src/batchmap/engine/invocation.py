"""The Invoker seam: an event goes in, an ``Invocation`` value comes out.

Invokers never raise for a failing function: a function error, a crash, a
hang past the timeout are all values, so the outcome policy can treat them
exactly as Lambda does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

InvocationStatus = Literal["ok", "error", "timeout"]


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """The function a mapping invokes, with Lambda's own settings.

    ``handler`` is ``module:callable`` (or ``module.callable``) for local
    invokers, or a function name / ARN / URL for remote ones.
    """

    handler: str
    name: str = "batchmap-function"
    timeout_s: float = 3.0
    memory_mb: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    code_path: str | None = None  # folder added to sys.path (SAM CodeUri)


@dataclass(frozen=True, slots=True)
class Invocation:
    """What happened when the function was invoked with one event.

    ``status`` is ``ok`` when the function returned (``payload`` holds its
    decoded JSON return value), ``error`` when it raised, crashed or exited
    (``error`` holds Lambda's ``errorType``/``errorMessage`` shape), and
    ``timeout`` when it ran past the function timeout.
    """

    status: InvocationStatus
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    request_id: str = ""


@runtime_checkable
class Invoker(Protocol):
    """Runs the function for one event at a time; may be called concurrently."""

    async def invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        """Invoke the function synchronously (as an ESM does) and describe the result."""
        ...

    async def close(self) -> None:
        """Stop workers and release resources."""
        ...
