"""Two ``batchmap run`` processes on one source: start them, watch the shared log, kill one, check the log."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from contract_support import logged, start
from contract_target import Target

BATCH = 5
LANES = 2


def queue_flags(function_timeout_s: int) -> list[str]:
    return ["--batch-size", str(BATCH), "--timeout", str(function_timeout_s),
            "--scaling-config", f"MaximumConcurrency={LANES}"]


def start_two(target: Target, log: Path, *flags: str, sleep_s: float) -> tuple[subprocess.Popen[str], ...]:
    """Two engines on ``target`` writing ``ID PID`` lines to one log."""
    return start(target, log, *flags, sleep_s=sleep_s), start(target, log, *flags, sleep_s=sleep_s)


def wait_until(condition: Callable[[], bool], what: str, engines: tuple[subprocess.Popen[str], ...],
               timeout_s: float = 90) -> None:
    """Wait for ``condition`` while every engine that should still run does (else fail with their stderr)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        for engine in engines:
            if engine.poll() is not None:
                raise AssertionError(f"engine {engine.pid} exited with {engine.returncode} before {what}: "
                                     f"{engine_errors(engine)[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def finish(*engines: subprocess.Popen[str], timeout_s: float = 120) -> None:
    """Wait for engines that end by themselves (``--until-idle``); each must exit cleanly."""
    for engine in engines:
        code = engine.wait(timeout_s)
        assert code == 0, f"engine {engine.pid} exited with {code}: {engine_errors(engine)[-3000:]}"


def engine_errors(engine: subprocess.Popen[str]) -> str:
    """What an engine started by ``contract_support.start`` wrote to stderr."""
    path = getattr(engine, "stderr_path", None)
    return Path(path).read_text() if path and Path(path).exists() else ""


def stop(*engines: subprocess.Popen[str]) -> None:
    """SIGTERM: a graceful stop, which must exit cleanly."""
    for engine in engines:
        engine.terminate()
    finish(*engines, timeout_s=30)


def kill(engine: subprocess.Popen[str]) -> None:
    engine.kill()
    engine.wait(10)


def by_pid(log: Path) -> dict[int, set[str]]:
    """The message ids each engine process processed."""
    found: dict[int, set[str]] = {}
    for message_id, pid in logged(log):
        found.setdefault(pid, set()).add(message_id)
    return found


def repeats(log: Path) -> set[str]:
    return {message_id for message_id, n in Counter(i for i, _ in logged(log)).items() if n > 1}
