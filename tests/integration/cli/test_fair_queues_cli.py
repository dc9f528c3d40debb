"""A fair queue end to end: ``batchmap send --message-group-id``, ``inspect``, ``run --until-idle``.

One noisy tenant sends 2,000 messages first, then five quiet tenants 20 each; the
quiet tenants' messages all reach the handler within the first few batches (the
order the handler sees, not time), and nothing is lost or repeated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
QUIET = [f"quiet-{n}" for n in range(5)]


def cli(*args: str, log: Path | None = None, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    if log is not None:
        env["BATCHMAP_TEST_LOG"] = str(log)
    return subprocess.run([sys.executable, "-m", "batchmap", *args], capture_output=True, text=True, env=env,
                          input=input_text, timeout=300, check=False)


def send(uri: str, group: str, count: int) -> None:
    lines = "".join(f"{group}.{i}\n" for i in range(count))
    done = cli("send", "--source", uri, "--message-group-id", group, input_text=lines)
    assert done.returncode == 0, done.stderr


def test_quiet_tenants_are_served_before_a_noisy_backlog(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/q.db?queue=tenants"
    send(uri, "noisy", 2000)
    for group in QUIET:
        send(uri, group, 20)

    shown = cli("inspect", "--source", uri)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["message_groups"] == 6 and info["visible"] == 2100
    assert info["groups"][0] == {"group": "noisy", "visible": 2000, "in_flight": 0, "delayed": 0, "noisy": False}
    assert sorted(g["group"] for g in info["groups"][1:]) == QUIET

    log = tmp_path / "batches.log"
    result = cli("run", "--source", uri, "--function", "cli_handlers:log_tenants", "--batch-size", "10",
                 "--invoker", "inprocess", "--log-level", "WARNING", "--until-idle", log=log)
    assert result.returncode == 0, result.stderr
    batches = [json.loads(line) for line in log.read_text().splitlines()]
    seen = [body for batch in batches for _, body in batch]
    assert sorted(seen) == sorted([f"noisy.{i}" for i in range(2000)] + [f"{g}.{i}" for g in QUIET for i in range(20)])
    assert all(group == body.rsplit(".", 1)[0] for batch in batches for group, body in batch), \
        "every record carries its MessageGroupId in attributes"
    last_quiet = max(n for n, batch in enumerate(batches) if any(g != "noisy" for g, _ in batch))
    assert len(batches) >= 210
    assert last_quiet < len(batches) // 10, f"quiet tenants done only by batch {last_quiet} of {len(batches)}"
