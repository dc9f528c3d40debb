"""The in-process invoker: the handler runs on a thread of the engine's own process.

The fastest invoker (no serialisation across a process boundary, the module is
imported once), and the one with the least isolation:

* ``concurrency`` invocations run at once, each on its own daemon thread.
* A sync handler that runs past the timeout **cannot be stopped**: Python has
  no way to kill a thread. The invocation still returns a ``timeout`` outcome
  at the deadline and frees its concurrency slot, so the engine carries on;
  the stuck thread keeps running in the background (``abandoned`` counts them)
  and, being a daemon thread, never blocks the engine's exit. An ``async``
  handler is cancelled at the deadline (``asyncio.CancelledError`` is raised
  inside it at its next ``await``).
* ``sys.exit`` inside the handler fails that invocation (``Runtime.ExitError``)
  instead of stopping the engine. There is no memory limit: use the subprocess
  invoker to enforce ``memory_mb``, contain crashes and kill hung handlers.
* The function's environment variables, and Lambda's defined runtime
  variables (``batchmap.engine.invokers.environment``), are set in the
  engine's process before the import: they are process-wide, shared with the
  engine and with every other function in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.context import LambdaContext, log_stream_name
from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import faults
from batchmap.engine.invokers.environment import lambda_variables
from batchmap.engine.invokers.runner import CallResult, CancelScope, HandlerRunner
from batchmap.engine.loader import apply_environment, code_root, load_function
from batchmap.errors import ConfigError, FunctionLoadError

_STOP = object()


class _DaemonThreads:
    """A pool of daemon threads that grows past threads stuck in a hung handler.

    A thread returns to the idle list when its job ends, however late; at most
    ``keep_idle`` idle threads are kept, the rest exit.
    """

    def __init__(self, name: str, keep_idle: int, on_exit: Callable[[], None]) -> None:
        self._name = name
        self._keep_idle = keep_idle
        self._on_exit = on_exit
        self._idle: list[queue.SimpleQueue[Any]] = []
        self._lock = threading.Lock()
        self._count = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self._count += 1
                number = self._count
        if inbox is None:
            inbox = queue.SimpleQueue()
            thread = threading.Thread(target=self._work, args=(inbox,), name=f"{self._name}-{number}", daemon=True)
            thread.start()
        inbox.put(job)

    def _work(self, inbox: queue.SimpleQueue[Any]) -> None:
        try:
            while True:
                job = inbox.get()
                if job is _STOP:
                    return
                job()
                with self._lock:
                    if len(self._idle) >= self._keep_idle:
                        return
                    self._idle.append(inbox)
        finally:
            self._on_exit()

    def shutdown(self) -> None:
        """Let idle threads exit; busy ones exit when their job ends."""
        with self._lock:
            idle, self._idle, self._keep_idle = self._idle, [], 0
        for inbox in idle:
            inbox.put(_STOP)


class InProcessInvoker:
    """Runs ``module:callable`` on threads of this process, ``concurrency`` invocations at a time."""

    def __init__(self, function: FunctionConfig, concurrency: int = 1) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError("concurrency", concurrency, "an integer of at least 1")
        self.function = function
        self.concurrency = concurrency
        self._runner: HandlerRunner | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._threads = _DaemonThreads(f"batchmap-{function.name}", concurrency, self._thread_exit)
        self._log_stream = log_stream_name()
        self._pending_init_ms: float | None = None
        self._abandoned = 0
        self._abandoned_lock = threading.Lock()

    @property
    def abandoned(self) -> int:
        """Handler calls still running after their invocation timed out."""
        return self._abandoned

    async def start(self) -> None:
        """Import the function (once); ``FunctionLoadError`` if it cannot be loaded."""
        if self._runner is None:
            function = self.function
            code_dir = code_root(function.code_path)
            apply_environment(lambda_variables(function, log_stream=self._log_stream, code_dir=code_dir))
            loaded = load_function(function)
            self._runner = HandlerRunner(loaded, in_process=True)
            self._pending_init_ms = loaded.init_duration_ms

    async def invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        """Run the handler on a thread; returns at the timeout even if the handler does not.

        Without a prior ``start()``, a function that cannot be loaded is an
        ``error`` outcome with Lambda's init error type, as Lambda reports it.
        """
        if self._runner is None:
            try:
                await self.start()
            except FunctionLoadError as exc:
                document = faults.error_document(exc.error_type, str(exc), request_id)
                return Invocation("error", error=document, request_id=request_id)
        runner = self._runner
        assert runner is not None
        async with self._slots:
            init_ms, self._pending_init_ms = self._pending_init_ms, None
            return await self._run(runner, event, request_id, init_ms)

    async def _run(
        self, runner: HandlerRunner, event: dict[str, Any], request_id: str, init_ms: float | None
    ) -> Invocation:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Invocation | None] = loop.create_future()  # None: the timeout came first
        scope = CancelScope()
        timeout_s = self.function.timeout_s
        started = time.perf_counter()
        self._threads.submit(lambda: self._job(runner, event, request_id, init_ms, scope, loop, done))
        # A timer, not asyncio.timeout and a shield: one handle per invocation instead of a context and a future.
        deadline = loop.call_later(timeout_s, self._expire, done, scope)
        try:
            result = await done
        finally:
            deadline.cancel()
        if result is None:
            elapsed = (time.perf_counter() - started) * 1000.0
            return faults.timeout_invocation(request_id, timeout_s, elapsed, init_duration_ms=init_ms)
        return result

    def _expire(self, done: asyncio.Future[Invocation | None], scope: CancelScope) -> None:
        """At the deadline, on the loop: the invocation times out; its thread counts as abandoned until it returns."""
        if done.done():
            return
        scope.cancel()
        with self._abandoned_lock:
            self._abandoned += 1
        done.set_result(None)

    def _settle(self, done: asyncio.Future[Invocation | None], invocation: Invocation) -> None:
        """On the loop: hand the handler's result to the waiting invocation, or release a thread that came back late."""
        if not done.done():
            done.set_result(invocation)
        elif not done.cancelled() and done.result() is None:
            self._release_abandoned()

    def _job(
        self,
        runner: HandlerRunner,
        event: dict[str, Any],
        request_id: str,
        init_ms: float | None,
        scope: CancelScope,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Future[Invocation | None],
    ) -> None:
        """On a worker thread: call the handler and decode its result (off the engine's event loop)."""
        function = self.function
        context = LambdaContext.start(
            function.name, function.timeout_s, function.memory_mb, request_id, log_stream=self._log_stream,
            shared_process=True,
        )
        invocation = _to_invocation(runner.call(event, context, scope), request_id, init_ms)
        with contextlib.suppress(RuntimeError):  # the engine's loop is gone: nobody is waiting any more
            loop.call_soon_threadsafe(self._settle, done, invocation)

    def _thread_exit(self) -> None:
        if self._runner is not None:
            self._runner.close()  # the exiting thread's event loop, if an async handler made one

    def _release_abandoned(self) -> None:
        with self._abandoned_lock:
            self._abandoned -= 1

    async def close(self) -> None:
        """Stop idle threads. Threads stuck in a hung handler are daemons and end with the process."""
        self._threads.shutdown()


def _to_invocation(result: CallResult, request_id: str, init_ms: float | None) -> Invocation:
    if result.error is not None:
        return Invocation(
            "error",
            error=result.error,
            duration_ms=result.duration_ms,
            request_id=request_id,
            init_duration_ms=init_ms,
        )
    assert result.payload_json is not None
    return Invocation(
        "ok",
        payload=json.loads(result.payload_json),
        duration_ms=result.duration_ms,
        request_id=request_id,
        init_duration_ms=init_ms,
    )
