"""Subprocess workers: a module named like a standard one never runs in place of the worker's own, and is named.

Each test drives ``batchmap run --invoker subprocess`` in a folder that is both
the current folder and the code folder (the default), as a user would.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from security_support import batchmap

from batchmap.sources.sqlite import create_queue, send

STRAY = """\
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "stray-ran"), "w").close()
print("stray module output")
raise SystemExit(3)
"""


def run_subprocess(folder: Path, function: str) -> tuple[int, str, dict[str, int]]:
    queue = f"sqlite:///{folder}/q.db?queue=jobs{uuid.uuid4().hex[:6]}"
    create_queue(queue)
    send(queue, ["hello"])
    result = batchmap("run", "--source", queue, "--function", function, "--invoker", "subprocess", "--until-idle",
                      "--summary-json", cwd=folder)
    summary = json.loads(result.stdout)["summary"] if result.returncode == 0 else {}
    return result.returncode, result.stderr, summary


def test_a_stray_resource_py_never_runs_inside_the_worker(tmp_path: Path) -> None:
    (tmp_path / "resource.py").write_text(STRAY)
    (tmp_path / "app.py").write_text(
        "import resource\n\ndef handler(event, context):\n"
        "    return {'limit': resource.getrlimit(resource.RLIMIT_DATA)}\n"
    )
    code, stderr, summary = run_subprocess(tmp_path, "app.handler")
    assert code == 0, stderr
    assert summary["Invocations"] == 1 and summary["Errors"] == 0, summary
    assert not (tmp_path / "stray-ran").exists()
    assert "stray module output" not in stderr


def test_an_async_handler_gets_the_standard_asyncio(tmp_path: Path) -> None:
    (tmp_path / "asyncio.py").write_text(STRAY)
    (tmp_path / "app.py").write_text("async def handler(event, context):\n    return {}\n")
    code, stderr, summary = run_subprocess(tmp_path, "app.handler")
    assert code == 0, stderr
    assert summary["Invocations"] == 1 and summary["Errors"] == 0, summary
    assert not (tmp_path / "stray-ran").exists()


def test_a_load_error_names_the_module_that_shadows_a_standard_one(tmp_path: Path) -> None:
    (tmp_path / "csv.py").write_text("ROWS = []\n")
    (tmp_path / "app.py").write_text("import csv\nREADER = csv.reader\n\ndef handler(event, context):\n    return {}\n")
    code, stderr, _ = run_subprocess(tmp_path, "app.handler")
    assert code == 2
    assert f"{tmp_path / 'csv.py'} shadows the standard module 'csv'" in stderr
    assert "Traceback" not in stderr


def test_a_shadow_the_function_imports_is_reported_when_the_worker_starts(tmp_path: Path) -> None:
    (tmp_path / "csv.py").write_text("ROWS = []\n")
    (tmp_path / "app.py").write_text("import csv\n\ndef handler(event, context):\n    return {'rows': csv.ROWS}\n")
    code, stderr, summary = run_subprocess(tmp_path, "app.handler")
    assert code == 0 and summary["Errors"] == 0, stderr
    assert f"batchmap worker: {tmp_path / 'csv.py'} shadows the standard module 'csv'" in stderr


def test_a_worker_that_exits_during_init_says_why_it_may_have(tmp_path: Path) -> None:
    (tmp_path / "csv.py").write_text("import os\nos._exit(3)\n")
    (tmp_path / "app.py").write_text("import csv\n\ndef handler(event, context):\n    return {}\n")
    code, stderr, _ = run_subprocess(tmp_path, "app.handler")
    assert code == 2
    assert "exit status 3 during init" in stderr
    assert f"{tmp_path / 'csv.py'} shadows the standard module 'csv'" in stderr
    assert "RequestId:  Error" not in stderr
