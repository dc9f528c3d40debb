"""The engine's handle on one worker process: spawn it, send it an event, kill it when it hangs.

The worker starts with ``python -P`` (no current folder on ``sys.path``) and
finds batchmap itself after the standard library, so neither a stray
``resource.py`` in the current folder nor one in the code folder can replace a
module the worker itself uses; the code folder joins ``sys.path`` only once
those imports are done (worker.py).

A worker that exits, crashes, runs out of memory or overruns the timeout is
finished: ``alive`` turns false and the pool starts a new one. Every failure is
a ``WorkerReply``, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.context import log_stream_name
from batchmap.engine.invokers import faults
from batchmap.engine.invokers.environment import WORKER_ONLY, lambda_variables
from batchmap.engine.invokers.shadowing import describe, shadowing_files
from batchmap.engine.loader import code_root

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
"""The folder batchmap is imported from (the parent of the ``batchmap`` package)."""

WORKER_BOOT = (
    f"import sys; root = {_ROOT!r}; root in sys.path or sys.path.append(root); "
    "from batchmap.engine.invokers.worker import main; main()"
)
"""What ``python -P -c`` runs: batchmap found after the standard library, then the worker."""

LINE_LIMIT = 16 * 1024 * 1024
"""Longest reply line accepted (a 6 MB response plus its envelope, with room to spare)."""

STOP_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class WorkerReply:
    """One invocation as the worker (or its death) reported it."""

    status: str  # "ok" | "error" | "timeout" | "died"
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    max_memory_mb: int | None = None
    returncode: int | None = None


def lambda_environment(function: FunctionConfig, log_stream: str, code_dir: str) -> dict[str, str]:
    """The worker's environment: ours, Lambda's defined runtime variables (``TZ`` too), then the function's own."""
    env = {**os.environ, **WORKER_ONLY}
    env.update(lambda_variables(function, log_stream=log_stream, code_dir=code_dir))
    env.update(function.environment)
    return env


class WorkerProcess:
    """One live worker; ``call`` must not be used by two invocations at once (the pool ensures it)."""

    def __init__(self, proc: asyncio.subprocess.Process, init_ms: float) -> None:
        self._proc = proc
        self.init_ms = init_ms
        self.pid = proc.pid
        self.alive = True

    @classmethod
    async def spawn(
        cls, function: FunctionConfig, *, limit_memory: bool, init_timeout_s: float = 10.0
    ) -> tuple[WorkerProcess | None, Any]:
        """Start a worker and wait for its init; returns ``(worker, init_ms)`` or ``(None, error document)``.

        Like Lambda's init phase, importing the function may take at most ``init_timeout_s``.
        """
        stream = log_stream_name()
        code_dir = code_root(function.code_path)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            "-c",
            WORKER_BOOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=lambda_environment(function, stream, code_dir),
            limit=LINE_LIMIT,
        )
        init = {
            "handler": function.handler,
            "name": function.name,
            "memory_mb": function.memory_mb,
            "code_path": code_dir,
            "sys_path": [code_dir, *sys.path],
            "log_stream": stream,
            "limit_memory": limit_memory,
        }
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(init).encode() + b"\n")
        try:
            async with asyncio.timeout(init_timeout_s):
                await proc.stdin.drain()
                line = await proc.stdout.readline()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            message = f"Error: init did not finish within {init_timeout_s:g} seconds"
            return None, faults.error_document(faults.INIT_TIMEOUT_TYPE, message, "")
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            line = b""
        reply = _ready_reply(line)
        if not isinstance(reply, dict) or not reply.get("ready"):
            await _reap(proc)
            if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
                return None, reply["error"]
            return None, faults.init_exit_document(proc.returncode, _init_clue(line, code_dir))
        return cls(proc, float(reply["init_ms"])), float(reply["init_ms"])

    async def call(self, event: dict[str, Any], request_id: str, timeout_s: float) -> WorkerReply:
        """Send one event and wait at most ``timeout_s`` for the answer; kill the worker past it."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        message = {"id": request_id, "budget_ms": int(timeout_s * 1000), "event": event}
        try:
            stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            async with asyncio.timeout(timeout_s):
                await stdin.drain()
                line = await stdout.readline()
        except TimeoutError:
            await self.kill()
            return WorkerReply("timeout", returncode=self._proc.returncode)
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            line = b""
        if not line:
            self.alive = False
            await _reap(self._proc)
            return WorkerReply("died", returncode=self._proc.returncode)
        return self._parse(line)

    def _parse(self, line: bytes) -> WorkerReply:
        reply = json.loads(line)
        memory = reply.get("m")
        if reply["s"] == "ok":
            return WorkerReply("ok", payload=reply.get("p"), duration_ms=reply["d"], max_memory_mb=memory)
        if reply.get("x"):
            self.alive = False  # the worker exits after this reply (out of memory)
        return WorkerReply("error", error=reply["e"], duration_ms=reply["d"], max_memory_mb=memory)

    @property
    def running(self) -> bool:
        """Whether the worker can take an invocation: alive, not exited, and its process still there."""
        if not self.alive or self._proc.returncode is not None:
            return False
        try:
            os.kill(self.pid, 0)  # asyncio may have reaped it without telling us yet
        except ProcessLookupError:
            return False
        return True

    def abandon(self) -> None:
        """Kill the worker without waiting (asyncio reaps it when it exits)."""
        self.alive = False
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    async def kill(self) -> None:
        """Stop the worker now (SIGKILL) and reap it."""
        self.alive = False
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        await self._proc.wait()

    async def stop(self) -> None:
        """Close the worker's input so it exits by itself; kill it if it does not within the grace time."""
        self.alive = False
        stdin = self._proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await self._proc.wait()
        except TimeoutError:
            await self.kill()


def _ready_reply(line: bytes) -> Any:
    """The worker's first reply, or ``None`` when it is not a JSON document (something else wrote there)."""
    try:
        return json.loads(line) if line else None
    except ValueError:
        return None


def _init_clue(line: bytes, code_dir: str) -> str:
    """What may explain a worker that ended its init without a word: stray output, shadowing modules."""
    clues = [f"it wrote {line[:200]!r} instead of its ready message"] if line.strip() else []
    shadows = describe(shadowing_files(code_dir))
    return "; ".join([*clues, shadows] if shadows else clues)


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Wait for a worker that is ending anyway (its output closed); kill it if it lingers."""
    try:
        async with asyncio.timeout(STOP_GRACE_S):
            await proc.wait()
    except TimeoutError:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
