"""What ``batchmap run`` on the embedded queue loads: no AWS SDK where no AWS configuration exists.

The suite and users start the command hundreds of times; botocore's import alone was about half of a short
run's CPU, paid only to learn that there was no region to read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from batchmap.cli import main
code = main(sys.argv[1:])
print("botocore" in sys.modules, code)
"""


def test_a_run_on_the_embedded_queue_without_aws_configuration_does_not_load_botocore(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"HOME": str(tmp_path)}
    uri = f"sqlite:///{tmp_path}/q.db?queue=orders"
    subprocess.run([sys.executable, "-m", "batchmap", "create-queue", "--source", uri], env=env, check=True,
                   capture_output=True)
    result = subprocess.run([sys.executable, "-c", SCRIPT, "run", "--source", uri, "--function", "json:loads",
                             "--until-idle"], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split()[-2:] == ["False", "0"], result.stdout[-2000:] + result.stderr[-2000:]


HOUSEKEEPING = """
import sys
from batchmap.cli import main
queue, stream = sys.argv[1:3]
codes = [main(argv) for argv in (["create-queue", "--source", queue], ["send", "--source", queue, "a", "b"],
                                 ["inspect", "--source", queue], ["purge", "--source", queue],
                                 ["create-stream", "--source", stream, "--shard-count", "2"],
                                 ["send", "--source", stream, "--partition-key", "k", "c"],
                                 ["inspect", "--source", stream])]
print("asyncio" in sys.modules, codes)
"""


def test_the_embedded_sources_housekeeping_commands_load_no_event_loop(tmp_path: Path) -> None:
    """create-queue, send, inspect, purge and create-stream on the embedded file are plain SQLite calls: asyncio
    (with ssl, ~20 ms of a ~160 ms command) stays unloaded."""
    queue, stream = f"sqlite:///{tmp_path}/q.db?queue=orders", f"sqlite:///{tmp_path}/s.db?stream=clicks"
    result = subprocess.run([sys.executable, "-c", HOUSEKEEPING, queue, stream], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.splitlines()[-1] == "False [0, 0, 0, 0, 0, 0, 0]", result.stdout[-2000:] + result.stderr
