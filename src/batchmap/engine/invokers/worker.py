"""The worker process: one warm execution environment, as Lambda keeps one per concurrent invocation.

Started as ``python -P -c ...`` (``worker_process.WORKER_BOOT``) by the
subprocess invoker. Everything the worker itself imports is imported before the
code folder is put first on ``sys.path``, so a module of the function's folder
named like a standard one (``resource.py``) cannot replace the worker's own;
when such a module is imported by the function, the worker says so on standard
error, and a load error names it. It imports the function once, then answers
one invocation at a time over its standard input and output, one JSON document
per line:

* parent -> worker, first line: the init message (handler, code path, the
  parent's ``sys.path``, name, memory size, whether to limit memory);
  worker -> parent: ``{"ready": true, "init_ms": ...}`` or
  ``{"ready": false, "error": {...}}`` (then the worker exits);
* parent -> worker: ``{"id": request id, "budget_ms": ..., "event": {...}}``;
  worker -> parent: ``{"s": "ok", "d": ms, "m": MB, "p": payload}`` or
  ``{"s": "error", "d": ms, "m": MB, "e": {...}, "x": true if the worker exits}``.

The protocol uses copies of file descriptors 0 and 1 made at start-up; the
handler's ``print`` goes to standard error (the engine's log) and its standard
input reads nothing. SIGINT is ignored, so Ctrl-C in a terminal lets the engine
finish in-flight invocations; the worker exits when its input closes.

Memory: ``RLIMIT_DATA`` (private writable memory: heap, anonymous mappings,
thread stacks) is set to the worker's own usage at start-up (the bare
interpreter and this module) + ``memory_mb`` + ``ALLOWANCE_MB``. Beyond it an
allocation fails, Python raises ``MemoryError`` and the invocation fails with
``Runtime.OutOfMemory``; the worker then exits and is replaced.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
from typing import IO, Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.context import LambdaContext
from batchmap.engine.invokers.runner import CallResult, HandlerRunner
from batchmap.engine.invokers.shadowing import describe, shadowed_modules, shadowing_files
from batchmap.engine.loader import load_function, prepend_sys_path
from batchmap.errors import FunctionLoadError

ALLOWANCE_MB = 64
"""Headroom over ``memory_mb`` for allocator slack and reserved-but-untouched memory (thread stacks)."""

MB = 1024 * 1024


def data_segment_bytes() -> int | None:
    """This process's private writable memory (``VmData``), in bytes; ``None`` where Linux's /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def limit_memory(memory_mb: int) -> int | None:
    """Cap the data segment at its current size + ``memory_mb`` + the allowance; returns the cap.

    Only on Linux, where ``RLIMIT_DATA`` also covers ``mmap``; elsewhere nothing is limited (``None``).
    """
    base = data_segment_bytes()
    if base is None or not sys.platform.startswith("linux"):
        return None
    cap = base + (memory_mb + ALLOWANCE_MB) * MB
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    return cap


def _claim_stdio() -> tuple[IO[bytes], IO[bytes]]:
    """Keep fds 0/1 for the protocol; point the handler's stdin at /dev/null and its stdout at stderr."""
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    return proto_in, proto_out


def _send(out: IO[bytes], text: str) -> None:
    out.write(text.encode("utf-8") + b"\n")
    out.flush()


def _max_rss_mb() -> int:
    """This worker's own peak resident memory (Lambda's Max Memory Used).

    On Linux ``ru_maxrss`` keeps the engine's peak across the fork and exec that
    started the worker, so the worker's own high-water mark is read instead.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // MB if sys.platform == "darwin" else peak // 1024  # bytes on macOS, kilobytes on Linux


def _reply(result: CallResult) -> str:
    head = f'"d":{result.duration_ms:.3f},"m":{_max_rss_mb()}'
    if result.error is None:
        return f'{{"s":"ok",{head},"p":{result.payload_json}}}'
    exits = "true" if result.fatal else "false"
    return f'{{"s":"error",{head},"x":{exits},"e":{json.dumps(result.error)}}}'


def _load(init: dict[str, Any]) -> HandlerRunner:
    own_path = list(sys.path)
    prepend_sys_path([p for p in init["sys_path"] if isinstance(p, str)])
    function = FunctionConfig(
        handler=init["handler"], name=init["name"], memory_mb=init["memory_mb"], code_path=init["code_path"]
    )
    code_dir = str(init["code_path"])
    try:
        loaded = load_function(function, set_environment=False)  # the variables are in this process's env
    except FunctionLoadError as exc:
        shadows = describe(shadowed_modules([code_dir]) or shadowing_files(code_dir))
        if not shadows:
            raise
        raise FunctionLoadError(f"{exc} ({shadows})", handler=exc.handler, error_type=exc.error_type) from exc
    if loaded.is_async and "asyncio" not in sys.modules:
        _import_from(own_path, "asyncio")  # the runner's, not a folder's asyncio.py
    shadows = describe(shadowed_modules([code_dir]))
    if shadows:
        print(f"batchmap worker: {shadows}", file=sys.stderr, flush=True)
    return HandlerRunner(loaded, in_process=False)


def _import_from(path: list[str], module: str) -> None:
    """Import ``module`` as the worker would have before the code folder joined ``sys.path``."""
    current = sys.path[:]
    sys.path[:] = path
    try:
        importlib.import_module(module)
    finally:
        sys.path[:] = current


def serve(proto_in: IO[bytes], proto_out: IO[bytes]) -> int:
    """Initialise from the first line, then answer invocations until the input closes."""
    init = json.loads(proto_in.readline() or b"null")
    if not isinstance(init, dict):
        return 2
    if init.get("limit_memory"):
        limit_memory(int(init["memory_mb"]))
    try:
        runner = _load(init)
    except FunctionLoadError as exc:
        error = {"errorMessage": str(exc), "errorType": exc.error_type, "requestId": "", "stackTrace": []}
        _send(proto_out, json.dumps({"ready": False, "error": error}))
        return 0
    _send(proto_out, json.dumps({"ready": True, "init_ms": runner.loaded.init_duration_ms, "pid": os.getpid()}))
    name, memory, stream = init["name"], init["memory_mb"], init.get("log_stream", "")
    while line := proto_in.readline():
        request = json.loads(line)
        context = LambdaContext.start(
            name, request["budget_ms"] / 1000.0, memory, request["id"], log_stream=stream, now=time.monotonic
        )
        result = runner.call(request["event"], context)
        _send(proto_out, _reply(result))
        if result.fatal:
            return 0
    return 0


def main() -> None:
    """Entry point of a worker process (``worker_process.WORKER_BOOT`` calls it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proto_in, proto_out = _claim_stdio()
    code = serve(proto_in, proto_out)
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: a warm environment simply goes away, as in Lambda


if __name__ == "__main__":
    main()
