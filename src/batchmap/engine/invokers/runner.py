"""Calling the handler once, as Lambda's Python runtime does: the code shared by both local invokers.

The runner calls ``handler(event, context)``, runs a coroutine to completion on
the calling thread's own event loop when the handler is ``async``, and turns
the return value into JSON text exactly as Lambda would: ``Decimal`` becomes a
number, anything else JSON cannot encode is a ``Runtime.MarshalError``, and a
response over 6 MB is ``Function.ResponseSizeTooLarge``. Exceptions become
Lambda's error document. Nothing here raises for a failing handler, except
``SystemExit`` when the runner lives in a worker process, where exiting is
exactly what Lambda's runtime would do.
"""

from __future__ import annotations

import decimal
import inspect
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from batchmap.engine.context import LambdaContext
from batchmap.engine.invokers import faults
from batchmap.engine.loader import LoadedFunction
from batchmap.records.shapes import MAX_PAYLOAD_BYTES

MAX_RESPONSE_BYTES = MAX_PAYLOAD_BYTES
"""Lambda's synchronous response limit (6 MB)."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """One call's outcome: JSON text of the return value, or an error document.

    ``fatal`` means the execution environment must not be reused (it ran out of memory).
    """

    payload_json: str | None
    error: dict[str, Any] | None
    duration_ms: float
    fatal: bool = False


def _lambda_default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{value!r} is not JSON serializable")


def to_json(value: object) -> str:
    """Encode a return value as Lambda's runtime does (``Decimal`` as a number, nothing else extra)."""
    return json.dumps(value, default=_lambda_default, separators=(",", ":"))


class CancelScope:
    """Lets another thread cancel the async handler a worker thread is running (in-process timeouts)."""

    __slots__ = ("_cancel", "_cancelled", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._cancel: Any = None

    def bind(self, loop: Any, task: Any) -> None:
        """Remember how to cancel ``task``; cancel it at once if the deadline already passed."""
        with self._lock:
            self._cancel = lambda: loop.call_soon_threadsafe(task.cancel)
            cancel_now = self._cancelled
        if cancel_now:
            self._cancel()

    def cancel(self) -> None:
        """Cancel the bound task (if any, and if it is a coroutine at all)."""
        with self._lock:
            self._cancelled = True
            cancel = self._cancel
        if cancel is not None:
            cancel()


class HandlerRunner:
    """Calls one loaded function; ``in_process`` decides what ``sys.exit`` and ``MemoryError`` mean.

    In the engine's own process, ``sys.exit`` must not stop the engine: it is
    reported as Lambda's ``Runtime.ExitError``. In a worker process it exits
    the worker (the parent reports it), and ``MemoryError`` is Lambda's
    ``Runtime.OutOfMemory`` followed by a fresh worker.
    """

    def __init__(self, loaded: LoadedFunction, *, in_process: bool) -> None:
        self.loaded = loaded
        self.in_process = in_process
        self._local = threading.local()
        self._hide = {os.path.abspath(__file__), __file__}

    def call(self, event: Any, context: LambdaContext, scope: CancelScope | None = None) -> CallResult:
        """Run the handler once and describe what happened."""
        request_id = context.aws_request_id
        started = time.perf_counter()
        try:
            result = self.loaded.function(event, context)
            if self.loaded.is_async or inspect.isawaitable(result):
                result = self._await(result, scope)
        except SystemExit as exc:
            if not self.in_process:
                raise
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            return CallResult(None, faults.exit_document(code, request_id), _since(started))
        except MemoryError as exc:
            if self.in_process:
                return CallResult(None, self._document(exc, request_id), _since(started))
            return CallResult(None, faults.oom_document(request_id), _since(started), fatal=True)
        except BaseException as exc:  # the handler's failure is a value, whatever it raised
            if isinstance(exc, KeyboardInterrupt) and not self.in_process:
                raise
            return CallResult(None, self._document(exc, request_id), _since(started))
        duration = _since(started)
        return self._marshal(result, request_id, duration)

    def _marshal(self, result: object, request_id: str, duration_ms: float) -> CallResult:
        try:
            text = to_json(result)
        except MemoryError:
            if self.in_process:
                raise
            return CallResult(None, faults.oom_document(request_id), duration_ms, fatal=True)
        except (TypeError, ValueError, RecursionError) as exc:
            return CallResult(None, faults.marshal_document(exc, request_id), duration_ms)
        if len(text) > MAX_RESPONSE_BYTES:  # ASCII-only JSON: characters are bytes
            document = faults.too_large_document(len(text), MAX_RESPONSE_BYTES, request_id)
            return CallResult(None, document, duration_ms)
        return CallResult(text, None, duration_ms)

    def _await(self, awaitable: Any, scope: CancelScope | None) -> Any:
        import asyncio  # only async handlers pay for asyncio's import

        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._local.loop = loop
        task = loop.create_task(_as_coroutine(awaitable))
        if scope is not None:
            scope.bind(loop, task)
        return loop.run_until_complete(task)

    def _document(self, exc: BaseException, request_id: str) -> dict[str, Any]:
        hide = set(self._hide)
        if "asyncio" in sys.modules:
            hide.update(_asyncio_files(exc))
        return faults.exception_document(exc, request_id, hide)

    def close(self) -> None:
        """Close this thread's event loop, if an async handler created one."""
        loop = getattr(self._local, "loop", None)
        if loop is not None and not loop.is_closed():
            loop.close()


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable


def _asyncio_files(exc: BaseException) -> set[str]:
    import asyncio

    folder = os.path.dirname(asyncio.__file__)
    tb = exc.__traceback__
    files: set[str] = set()
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith(folder):
            files.add(name)
        tb = tb.tb_next
    return files


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
