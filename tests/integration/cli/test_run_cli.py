"""``batchmap`` end to end in a subprocess: the run modes, crash safety, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def cli(*args: str, env: dict[str, str] | None = None, input_text: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmap", *args], capture_output=True, text=True,
                          env=env or environment(), input=input_text, timeout=timeout, check=False)


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def fill(uri: str, n: int) -> list[str]:
    ids = [f"m{i:05d}" for i in range(n)]
    done = cli("send", "--source", uri, input_text="".join(json.dumps({"id": i}) + "\n" for i in ids))
    assert done.returncode == 0, done.stderr
    return ids


def depth(uri: str) -> dict[str, int]:
    out = cli("inspect", "--source", uri)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    return {k: info[k] for k in ("visible", "in_flight", "delayed", "dead_lettered")}


RUN = ("run", "--function", "cli_handlers:log_ids", "--batch-size", "10", "--invoker", "inprocess",
       "--log-level", "WARNING")


def test_run_until_idle_processes_everything_and_prints_a_summary(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=work"
    ids = fill(uri, 120)
    log = tmp_path / "done.log"
    result = cli(*RUN, "--source", uri, "--until-idle", "--summary-json", env=environment(BATCHMAP_TEST_LOG=str(log)))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])["summary"]
    assert summary["DeletedEventCount"] == 120 and summary["InvokedEventCount"] == 120
    assert sorted(log.read_text().split()) == ids
    assert depth(uri) == {"visible": 0, "in_flight": 0, "delayed": 0, "dead_lettered": 0}


def test_sigterm_stops_gracefully_and_loses_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=work"
    ids = fill(uri, 400)
    log = tmp_path / "done.log"
    proc = subprocess.Popen([sys.executable, "-m", "batchmap", *RUN, "--source", uri], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=environment(BATCHMAP_TEST_LOG=str(log), BATCHMAP_TEST_SLEEP="0.1"))
    _wait_for_lines(log, 30)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    done = log.read_text().split()
    assert len(done) == len(set(done))  # a graceful stop processes nothing twice
    left = depth(uri)
    assert left["in_flight"] == 0  # collected but unsent messages were released, not left invisible
    assert len(done) + left["visible"] == len(ids)


def test_sigkill_mid_run_then_restart_loses_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=work"
    created = cli("create-queue", "--source", uri, "--attributes", "VisibilityTimeout=3")
    assert created.returncode == 0, created.stderr
    ids = fill(uri, 600)
    log = tmp_path / "done.log"
    env = environment(BATCHMAP_TEST_LOG=str(log), BATCHMAP_TEST_SLEEP="0.05")
    proc = subprocess.Popen([sys.executable, "-m", "batchmap", *RUN, "--source", uri, "--timeout", "3",
                             "--scaling-config", "MaximumConcurrency=4"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _wait_for_lines(log, 100)
    proc.kill()
    proc.wait(timeout=10)
    before = len(log.read_text().split())
    assert before < len(ids)
    again = cli(*RUN, "--source", uri, "--timeout", "3", "--until-idle", env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    counts = Counter(log.read_text().split())
    assert set(counts) == set(ids)  # every message processed at least once
    duplicates = sum(c - 1 for c in counts.values())
    assert duplicates <= 4 * 10  # only batches in flight at the kill: MaximumConcurrency x BatchSize
    assert depth(uri)["visible"] == 0


def test_bad_settings_exit_2_naming_the_parameter_and_consume_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=work"
    fill(uri, 3)
    bad = cli("run", "--source", uri, "--function", "cli_handlers:log_ids", "--batch-size", "20000")
    assert bad.returncode == 2 and "BatchSize" in bad.stderr and "20000" in bad.stderr
    missing = cli("run", "--source", uri, "--function", "no_such_module:handler", "--until-idle")
    assert missing.returncode == 2 and "no_such_module" in missing.stderr
    lease = cli("run", "--source", uri, "--function", "cli_handlers:log_ids", "--shard-lease-seconds", "0.5")
    assert lease.returncode == 2 and "shard_lease_s" in lease.stderr and "0.5" in lease.stderr
    assert depth(uri)["visible"] == 3


def test_a_handler_returning_garbage_fails_its_batch_into_the_dead_letter_queue(tmp_path: Path) -> None:
    dlq = f"sqlite:///{tmp_path}/q.db?queue=dlq"
    src = f"sqlite:///{tmp_path}/q.db?queue=src"
    assert cli("create-queue", "--source", dlq).returncode == 0
    policy = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:dlq", "maxReceiveCount": 1})
    made = cli("create-queue", "--source", src, "--attributes",
               json.dumps({"VisibilityTimeout": "1", "RedrivePolicy": policy}))
    assert made.returncode == 0, made.stderr
    fill(src, 2)
    result = cli("run", "--source", src, "--function", "cli_handlers:garbage", "--timeout", "1",
                 "--until-idle", "--invoker", "inprocess")
    assert result.returncode == 0, result.stderr
    assert "MarshalError" in result.stderr or "serial" in result.stderr.lower()
    assert depth(dlq)["visible"] == 2 and depth(src)["visible"] == 0


def test_a_non_json_message_is_filtered_out_loudly_when_the_filter_needs_json(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=work"
    assert cli("send", "--source", uri, "plain text", json.dumps({"id": "x", "kind": "a"})).returncode == 0
    log = tmp_path / "done.log"
    result = cli(*RUN, "--source", uri, "--until-idle", "--summary-json",
                 "--filter-criteria", json.dumps({"Filters": [{"Pattern": json.dumps({"body": {"kind": ["a"]}})}]}),
                 env=environment(BATCHMAP_TEST_LOG=str(log)))
    assert result.returncode == 0, result.stderr
    assert log.read_text().split() == ["x"]
    assert "filtered out" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["summary"]["FilteredOutEventCount"] == 1


def _wait_for_lines(path: Path, n: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().split()) >= n:
            return
        time.sleep(0.05)
    pytest.fail(f"the engine did not process {n} messages within {timeout_s} s")
