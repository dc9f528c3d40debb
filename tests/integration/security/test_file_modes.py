"""Every file batchmap creates with message data in it is its owner's only (0600), even under umask 000."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from security_support import BATCHMAP

from batchmap.errors import BatchmapError
from batchmap.sources.sqlite import QueueInfo, inspect

FAILING = "def handler(event, context):\n    raise ValueError('rejected')\n"


def batchmap_umask0(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BATCHMAP, *args], cwd=cwd, capture_output=True, text=True, timeout=60, umask=0)


def modes(folder: Path) -> dict[str, int]:
    """Mode bits of every file under ``folder`` except the test's own handler module."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts:
            found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def delivered(folder: Path, destination: str) -> bool:
    """Whether the on-failure record has reached the destination (so the engine is past its start-up)."""
    if destination == "file":
        out = folder / "failures/out.jsonl"
        return out.exists() and out.stat().st_size > 0
    if not (folder / "failures.db").exists():
        return False
    try:
        info = inspect(f"sqlite:///{folder}/failures.db?queue=failed")
    except BatchmapError:  # the engine has not created the queue yet
        return False
    return isinstance(info, QueueInfo) and info.visible > 0


@pytest.mark.parametrize("destination", ["file", "sqlite"])
def test_databases_their_wal_and_shm_and_failure_files_are_0600_under_umask_000(
    tmp_path: Path, destination: str
) -> None:
    (tmp_path / "failing.py").write_text(FAILING)
    (tmp_path / "failures").mkdir()  # a file: destination's folder must exist
    stream = f"sqlite:///s.db?stream=st{uuid.uuid4().hex[:6]}"
    assert batchmap_umask0("create-stream", "--source", stream, cwd=tmp_path).returncode == 0
    sent = batchmap_umask0("send", "--source", stream, "--partition-key", "k", '{"card": "4111"}', cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    target = {"file": "file:failures/out.jsonl", "sqlite": "sqlite:///failures.db?queue=failed"}[destination]
    run = subprocess.Popen(
        [*BATCHMAP, "run", "--source", stream, "--function", "failing:handler", "--starting-position",
         "TRIM_HORIZON", "--maximum-retry-attempts", "0", "--destination-config",
         json.dumps({"OnFailure": {"Destination": target}})],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, umask=0,
    )
    try:
        wait_for(lambda: delivered(tmp_path, destination) or run.poll() is not None)
        assert run.poll() is None, run.communicate()[1]
        while_running = modes(tmp_path)  # the engine holds its databases open: -wal and -shm are there
    finally:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=30)
    assert run.returncode == 0, stderr
    expected = {"s.db", "s.db-wal", "s.db-shm"}
    if destination == "file":
        expected |= {"failures/out.jsonl"}
    else:
        expected |= {"failures.db", "failures.db-wal", "failures.db-shm"}
    assert expected <= set(while_running), while_running
    assert {name: oct(mode) for name, mode in while_running.items() if mode != 0o600} == {}
    assert {name: oct(mode) for name, mode in modes(tmp_path).items() if mode != 0o600} == {}


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    """batchmap never changes the mode of a file it did not create (the user may have chosen it)."""
    database = tmp_path / "shared.db"
    database.touch()
    os.chmod(database, 0o640)
    result = batchmap_umask0("create-queue", "--source", "sqlite:///shared.db?queue=q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(database.stat().st_mode) == 0o640
