"""Runs one chain of doc blocks in the current folder, as a user would paste them: ``python docs_runner.py PLAN``.

PLAN is a JSON list of steps ``{"id", "kind": "python" | "shell", "text", "runs_for_s"}``, run as one
terminal session would run them. Python steps share one namespace and accept top-level ``await`` (as
``python -m asyncio`` does); shell steps run with ``bash -euo pipefail`` in a process session of their own,
and what they export is seen by the steps after them. What a step leaves running (``cmd &``) runs until the
last step is done, then its session is ended. Exits 1 at the first step that fails, naming it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

STEP_TIMEOUT_S = 90.0
"""Longer than any block should take: a hang fails the block instead of the suite."""
STOP_GRACE_S = 15.0
"""After SIGINT, how long a ``runs-for`` command may take to stop."""


class StepFailed(Exception):
    pass


def run_python(step: dict[str, Any], namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    code = compile(step["text"], f"<{step['id']}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    try:
        if code.co_flags & inspect.CO_COROUTINE:
            loop.run_until_complete(eval(code, namespace))
        else:
            exec(code, namespace)
    except BaseException as exc:
        traceback.print_exc()
        raise StepFailed(f"{step['id']}: {type(exc).__name__}: {exc}") from None


_STOPPED_BY_SIGINT = frozenset({0, 130, -signal.SIGINT})
_NOT_EXPORTS = frozenset({"_", "SHLVL", "PWD", "OLDPWD", "DOCS_ENV_OUT"})


def run_shell(step: dict[str, Any], sessions: list[subprocess.Popen[bytes]]) -> None:
    """Run a shell step; its session (and what it left running) is added to ``sessions``."""
    script, exported = Path(f".docs-step-{os.getpid()}.sh"), Path(f".docs-env-{os.getpid()}")
    script.write_text('trap \'env -0 > "$DOCS_ENV_OUT"\' EXIT\n' + step["text"], encoding="utf-8")
    process = subprocess.Popen(["bash", "-euo", "pipefail", str(script)], start_new_session=True,
                               env={**os.environ, "DOCS_ENV_OUT": str(exported.resolve())})
    sessions.append(process)
    try:
        if step.get("runs_for_s") is not None:
            _run_for(process, float(step["runs_for_s"]), step["id"])
        else:
            _run_to_end(process, step["id"])
        _take_exports(exported)
    finally:
        script.unlink()
        exported.unlink(missing_ok=True)


def _take_exports(path: Path) -> None:
    """The variables the step exported, for the steps after it (as in one terminal)."""
    if not path.exists():
        return
    for entry in path.read_bytes().decode(errors="surrogateescape").split("\0"):
        name, equals, value = entry.partition("=")
        if equals and name not in _NOT_EXPORTS:
            os.environ[name] = value


def _run_to_end(process: subprocess.Popen[bytes], step_id: str) -> None:
    try:
        status = process.wait(STEP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{step_id}: still running after {STEP_TIMEOUT_S:.0f} s (a command that does not end "
                         "needs the runs-for marker)") from None
    if status != 0:
        raise StepFailed(f"{step_id}: exit status {status}")


def _run_for(process: subprocess.Popen[bytes], seconds: float, step_id: str) -> None:
    try:
        status = process.wait(seconds)
    except subprocess.TimeoutExpired:
        pass
    else:
        raise StepFailed(f"{step_id}: ended with status {status} before the {seconds:g} s it should run for")
    process.send_signal(signal.SIGINT)  # the step's last command, exec'd by the shell: not its background jobs
    try:
        status = process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{step_id}: did not stop within {STOP_GRACE_S:.0f} s of SIGINT") from None
    if status not in _STOPPED_BY_SIGINT:
        raise StepFailed(f"{step_id}: exit status {status} after SIGINT (a clean stop is 0 or 130)")


def _end_session(process: subprocess.Popen[bytes]) -> None:
    """Stop whatever the step left running (``cmd &``): SIGTERM to its session, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(process.pid):
            time.sleep(0.05)
    if process.poll() is None:
        process.wait(5)


def _alive(group: int) -> bool:
    """Whether a process of the session still runs (zombies left to PID 1 do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


def main(plan_path: str) -> int:
    steps: list[dict[str, Any]] = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    sys.path.insert(0, os.getcwd())
    sys.argv = ["-c"]
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    loop = asyncio.new_event_loop()
    sessions: list[subprocess.Popen[bytes]] = []
    try:
        for step in steps:
            print(f"--- {step['id']}", flush=True)
            if step["kind"] == "python":
                run_python(step, namespace, loop)
            else:
                run_shell(step, sessions)
            sys.stdout.flush()
    except StepFailed as failed:
        print(f"FAILED {failed}", file=sys.stderr, flush=True)
        return 1
    finally:
        for process in reversed(sessions):
            _end_session(process)
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
