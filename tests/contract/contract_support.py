"""Running the engine against a contract target: in process (drain, run until a condition) or as ``batchmap run``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract_services import AWS_ENV
from contract_target import Message, Target

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.service import Engine, RunReport
from batchmap.sources.sqlite.checkpoints import SqliteCheckpointStore

HERE = Path(__file__).parent
RUN_TIMEOUT_S = 60.0


def messages(n: int, prefix: str = "m", **fields: Any) -> list[Message]:
    return [{"id": f"{prefix}{i:03d}", **fields} for i in range(n)]


def mapping(target: Target, function: str, *, timeout_s: float = 1.0, **settings: Any) -> EventSourceMapping:
    """A mapping of ``target`` to ``contract_handlers:<function>``; streams start at TRIM_HORIZON."""
    if target.kind == "stream":
        settings.setdefault("starting_position", "TRIM_HORIZON")
    settings.setdefault("uuid", f"contract-{target.name}")
    handler = FunctionConfig(handler=f"contract_handlers:{function}", timeout_s=timeout_s)
    return EventSourceMapping(source=target.uri, function=handler, **settings)


def engine_for(target: Target, *mappings: EventSourceMapping) -> Engine:
    """An in-process engine on ``target``; streams keep checkpoints next to the test's files."""
    store = None
    if target.kind == "stream" and not target.uri.startswith(("sqlite:", "kafka:")):
        store = SqliteCheckpointStore(str(target.checkpoints_path))
    return Engine(list(mappings), invoker="inprocess", source_options=target.options, checkpoint_store=store)


def drain(target: Target, mapping_: EventSourceMapping, timeout_s: float = RUN_TIMEOUT_S) -> RunReport:
    """Run until the source holds nothing more to do."""
    engine = engine_for(target, mapping_)
    return asyncio.run(asyncio.wait_for(engine.run(until_idle=True), timeout_s))


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = RUN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.02)


# -- the engine as a command --------------------------------------------------------------------------------


def cli_environment(log: Path, sleep_s: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(AWS_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.update(BATCHMAP_CONTRACT_LOG=str(log), BATCHMAP_CONTRACT_STARTED=str(started_log(log)),
               BATCHMAP_CONTRACT_SLEEP=str(sleep_s))
    return env


def started_log(log: Path) -> Path:
    """Where ``log_ids`` notes batches as they start (beside the log of processed ones)."""
    return log.with_suffix(".started")


def run_command(target: Target, *flags: str) -> list[str]:
    """``python -m batchmap run`` on ``target`` with ``contract_handlers:log_ids`` and ``flags``."""
    command = [sys.executable, "-m", "batchmap", "run", *target.cli_args(), "--function",
               "contract_handlers:log_ids", "--invoker", "inprocess", "--log-level", "WARNING",
               "--uuid", f"contract-{target.name}", *flags]
    if target.kind == "stream":
        command += ["--starting-position", "TRIM_HORIZON"]
    return command


def start(target: Target, log: Path, *flags: str, sleep_s: float = 0.05) -> subprocess.Popen[str]:
    """An engine process (in ``target.tmp``, where streams keep their checkpoints); stderr to ``LOG.stderr``."""
    path = log.with_suffix(f".{time.monotonic_ns()}.stderr")
    with open(path, "w", encoding="utf-8") as errors:
        engine = subprocess.Popen(run_command(target, *flags), cwd=target.tmp, text=True,
                                  env=cli_environment(log, sleep_s), stdout=subprocess.DEVNULL, stderr=errors)
    engine.stderr_path = str(path)  # type: ignore[attr-defined]
    return engine


def run_to_idle(target: Target, log: Path, *flags: str, timeout_s: float = 90) -> None:
    done = subprocess.run([*run_command(target, *flags), "--until-idle"], cwd=target.tmp, text=True,
                          env=cli_environment(log, 0.0), capture_output=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def logged(log: Path) -> list[tuple[str, int]]:
    """(message id, pid) per processing, in the order written."""
    if not log.exists():
        return []
    return [(i, int(p)) for i, p in (line.split() for line in log.read_text().splitlines() if line.strip())]


def counts(log: Path) -> Counter[str]:
    return Counter(i for i, _ in logged(log))


def wait_for_lines(log: Path, n: int, process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(logged(log)) < n:
        if process.poll() is not None:
            errors = "".join(p.read_text() for p in log.parent.glob(f"{log.stem}.*.stderr"))
            raise AssertionError(f"the engine exited with {process.returncode}: {errors[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the engine did not process {n} messages within {timeout_s:g} s")
        time.sleep(0.02)
