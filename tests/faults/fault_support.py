"""``batchmap run`` in a subprocess for the fault tests, and what its function logged.

The function is ``fault_handlers:log_ids``: it appends ``ID PID`` per message to
the log and fsyncs before returning, so the log holds every message a function
finished, even when its engine was killed right after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent


def environment(log: Path, sleep_s: float = 0.0, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.update(BATCHMAP_FAULT_LOG=str(log), BATCHMAP_FAULT_SLEEP=str(sleep_s), **extra)
    return env


def command(uri: str, *flags: str) -> list[str]:
    run = [sys.executable, "-m", "batchmap", "run", "--source", uri, "--function", "fault_handlers:log_ids",
           "--log-level", "WARNING", "--no-json-logs", *flags]
    if "?stream=" in uri:
        run += ["--starting-position", "TRIM_HORIZON"]
    return run


def start(uri: str, log: Path, *flags: str, sleep_s: float = 0.0, cwd: Path | None = None,
          run: str = "") -> subprocess.Popen[str]:
    """An engine, its function logging ``run`` as its name; stdout and stderr to ``LOG.N.stdout`` / ``.stderr``."""
    stamp = time.monotonic_ns()
    errors, output = log.with_suffix(f".{stamp}.stderr"), log.with_suffix(f".{stamp}.stdout")
    env = environment(log, sleep_s, **({"BATCHMAP_FAULT_RUN": run} if run else {}))
    with open(errors, "w", encoding="utf-8") as err, open(output, "w", encoding="utf-8") as out:
        engine = subprocess.Popen(command(uri, *flags), env=env, text=True, cwd=cwd, stdout=out, stderr=err)
    engine.stderr_path = str(errors)  # type: ignore[attr-defined]
    engine.stdout_path = str(output)  # type: ignore[attr-defined]
    return engine


def drain(uri: str, log: Path, *flags: str, timeout_s: float = 60, cwd: Path | None = None) -> float:
    """``batchmap run --until-idle``; returns how long it took. It must exit 0."""
    started = time.monotonic()
    done = subprocess.run([*command(uri, *flags), "--until-idle"], env=environment(log), text=True, cwd=cwd,
                          capture_output=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return time.monotonic() - started


def finished(log: Path) -> list[tuple[str, str, float]]:
    """(message id, run, epoch seconds) per processing, in the order the function finished them."""
    if not log.exists():
        return []
    rows = (line.split() for line in log.read_text().splitlines() if line.strip())
    return [(i, run, float(at)) for i, run, at in rows]


def logged(log: Path) -> list[str]:
    """Message ids in the order the function finished them (repeats included)."""
    return [i for i, _, _ in finished(log)]


def wait_for(log: Path, lines: int, engine: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while len(logged(log)) < lines:
        if engine.poll() is not None:
            raise AssertionError(f"the engine exited with {engine.returncode}: "
                                 f"{Path(engine.stderr_path).read_text()[-3000:]}")  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"fewer than {lines} messages processed within {timeout_s:g} s"
        time.sleep(0.02)


@dataclass(frozen=True)
class Tally:
    """What a fault did to a run: messages never processed, and extra processings."""

    lost: int
    duplicated: int

    @classmethod
    def of(cls, expected: list[str], log: Path) -> Tally:
        seen = Counter(logged(log))
        return cls(len(set(expected) - set(seen)), sum(n - 1 for n in seen.values()))


def figure(name: str, **values: object) -> None:
    """One line for docs/reliability.md: ``pytest tests/faults -s | grep '^fault:'`` collects them."""
    print(f"fault: {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
