"""The subprocess invoker: a pool of warm worker processes, Lambda's execution environments at home.

Each worker imports the function once and then handles one invocation at a
time, so module-level state (clients, caches, counters) is reused across
invocations exactly as in a warm Lambda. Up to ``concurrency`` workers run at
once; the most recently used idle worker is picked first, as Lambda reuses
warm environments. Workers start on demand; the invocation that starts one
reports the cold start in ``Invocation.init_duration_ms``.

Isolation: a crash (segfault, ``os._exit``, ``sys.exit``), a hang past the
function timeout (the worker is killed with SIGKILL), or running out of
``memory_mb`` fails that invocation only (``Runtime.ExitError``,
``Sandbox.Timedout``, ``Runtime.OutOfMemory``) and the worker is replaced on
the next invocation, with a cold start, as Lambda would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import faults
from batchmap.engine.invokers.worker_process import WorkerProcess, WorkerReply
from batchmap.errors import ConfigError, FunctionLoadError


class SubprocessInvoker:
    """Runs ``module:callable`` in up to ``concurrency`` long-lived worker processes."""

    def __init__(
        self,
        function: FunctionConfig,
        concurrency: int = 1,
        *,
        limit_memory: bool = True,
        init_timeout_s: float = 10.0,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError("concurrency", concurrency, "an integer of at least 1")
        self.function = function
        self.concurrency = concurrency
        self.limit_memory = limit_memory
        self.init_timeout_s = init_timeout_s
        self._slots = asyncio.Semaphore(concurrency)
        self._idle: list[WorkerProcess] = []
        self._all: set[WorkerProcess] = set()
        self._fresh: set[WorkerProcess] = set()  # started by start(): the next use reports its init
        self._closed = False
        self.workers_started = 0
        """How many worker processes were started so far (replacements included)."""

    async def start(self) -> None:
        """Start one worker and import the function in it; ``FunctionLoadError`` if that fails."""
        if self._all:
            return
        worker, init = await self._spawn()
        if worker is None:
            raise FunctionLoadError(
                str(init.get("errorMessage", "the worker could not start")),
                handler=self.function.handler,
                error_type=str(init.get("errorType", faults.EXIT_TYPE)),
            )
        self._fresh.add(worker)
        self._idle.append(worker)

    async def invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        """Run the handler in a warm worker (or a new one); crashes and hangs are outcomes."""
        if self._closed:
            document = faults.error_document("ServiceException", "the invoker is closed", request_id)
            return Invocation("error", error=document, request_id=request_id, invoked=False)
        async with self._slots:
            ready = await self._warm_worker(request_id)
            if isinstance(ready, Invocation):
                return ready  # a new worker could not import the function
            worker, init_ms = ready
            try:
                reply = await worker.call(event, request_id, self.function.timeout_s)
            except asyncio.CancelledError:  # the caller gave up: this worker's state is unknown now
                self._all.discard(worker)
                worker.abandon()
                raise
            await self._settle(worker)
            return self._to_invocation(reply, request_id, init_ms)

    async def _warm_worker(self, request_id: str) -> tuple[WorkerProcess, float | None] | Invocation:
        """An idle worker, or a new one, with the init time to report (``None`` once warm).

        Idle workers that died meanwhile (killed from outside) are dropped, not used. A new
        worker that cannot import the function is the invocation's outcome, as in Lambda.
        """
        while self._idle:
            worker = self._idle.pop()
            if not worker.running:
                self._all.discard(worker)
                await worker.stop()
                continue
            if worker in self._fresh:  # started by start(): its first use reports the cold start
                self._fresh.discard(worker)
                return worker, worker.init_ms
            return worker, None
        started = time.perf_counter()
        spawned, init = await self._spawn()
        if spawned is None:
            return _init_failure(init, request_id, (time.perf_counter() - started) * 1000.0)
        return spawned, init

    async def _spawn(self) -> tuple[WorkerProcess | None, Any]:
        self.workers_started += 1
        worker, init = await WorkerProcess.spawn(
            self.function, limit_memory=self.limit_memory, init_timeout_s=self.init_timeout_s
        )
        if worker is not None:
            self._all.add(worker)
        return worker, init

    async def _settle(self, worker: WorkerProcess) -> None:
        if worker.alive and not self._closed:
            self._idle.append(worker)
        elif not worker.alive:
            self._all.discard(worker)
            await worker.stop()  # already gone, or exiting by itself after running out of memory

    def _to_invocation(self, reply: WorkerReply, request_id: str, init_ms: float | None) -> Invocation:
        common: dict[str, Any] = {"init_duration_ms": init_ms}
        measured: dict[str, Any] = {"duration_ms": reply.duration_ms, "max_memory_used_mb": reply.max_memory_mb}
        if reply.status == "ok":
            return Invocation("ok", payload=reply.payload, request_id=request_id, **measured, **common)
        if reply.status == "error":
            return Invocation("error", error=reply.error, request_id=request_id, **measured, **common)
        timeout_ms = self.function.timeout_s * 1000.0
        if reply.status == "timeout":
            return faults.timeout_invocation(request_id, self.function.timeout_s, timeout_ms, **common)
        document = faults.exit_document(reply.returncode, request_id)
        return Invocation("error", error=document, request_id=request_id, **common)

    async def close(self) -> None:
        """Stop every worker: idle ones exit on their own, busy ones are killed after a grace time."""
        self._closed = True
        workers, self._all, self._idle = list(self._all), set(), []
        await asyncio.gather(*(worker.stop() for worker in workers))


def _init_failure(document: dict[str, Any], request_id: str, elapsed_ms: float) -> Invocation:
    """A replacement worker could not import the function: Lambda reports that as a function error."""
    error = dict(document, requestId=request_id)
    if error.get("errorType") == faults.INIT_TIMEOUT_TYPE:
        return Invocation("timeout", error=error, request_id=request_id, init_duration_ms=elapsed_ms)
    return Invocation("error", error=error, request_id=request_id, init_duration_ms=elapsed_ms)
