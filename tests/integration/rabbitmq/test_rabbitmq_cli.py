"""``batchmap run --queues`` names the RabbitMQ queue as AWS's flag does for Amazon MQ, against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
FUNCTION = '''
import os


def handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            out.write(record["body"] + "\\n")
'''


def batchmap(*args: str, cwd: Path, env: dict[str, str] | None = None,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmap", *args], capture_output=True, text=True, input=stdin,
                          timeout=120, cwd=cwd, env=env, check=False)


def test_queues_completes_an_amqp_source(queue: str, tmp_path: Path) -> None:
    sent = batchmap("send", "--source", f"{URL}?queue={queue}", cwd=tmp_path, stdin="a\nb\nc\n")
    assert sent.returncode == 0, sent.stderr
    (tmp_path / "rabbit_fn.py").write_text(FUNCTION)
    env = {**os.environ, "OUT_FILE": str(tmp_path / "out.txt"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    ran = batchmap("run", "--source", URL, "--queues", queue, "--function", "rabbit_fn:handler",
                   "--invoker", "inprocess", "--until-idle", "--log-level", "ERROR", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert sorted((tmp_path / "out.txt").read_text().split()) == ["a", "b", "c"]
