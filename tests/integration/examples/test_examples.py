"""Every example runs end to end exactly as its README says, from a copy of the checkout.

The commands are read from the README's first ``bash`` block and run one by one
with bash (pipes and redirections included) in a fresh copy of the example, with
this virtualenv's ``batchmap`` and ``python`` first on PATH. The assertions read
what the commands printed and what the queues and databases hold afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from services import require_port

from batchmap.sources.sqlite import SqliteQueue
from batchmap.templates import load_template

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent


def readme_commands(name: str) -> list[str]:
    """The command lines of the first ```bash block of the example's README."""
    text = (EXAMPLES / name / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None, f"examples/{name}/README.md has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def checkout(tmp_path: Path, name: str) -> Path:
    """A copy of ``examples/<name>`` under ``tmp_path/examples``; returns the copy's root (``tmp_path``)."""
    shutil.copytree(EXAMPLES / name, tmp_path / "examples" / name,
                    ignore=shutil.ignore_patterns(".batchmap", "__pycache__", "reports.jsonl"))
    return tmp_path


def run_readme(tmp_path: Path, name: str) -> list[subprocess.CompletedProcess[str]]:
    root = checkout(tmp_path, name)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    done = []
    for command in readme_commands(name):
        result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        done.append(result)
    return done


def json_lines(text: str, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and f'"{key}"' in line]


def queue_bodies(tmp_path: Path, name: str, logical_id: str) -> list[str]:
    """Every message body of a queue of the example's template (received, then left to time out)."""
    app = load_template(tmp_path / "examples" / name / "template.yaml")

    async def receive() -> list[str]:
        queue = await SqliteQueue.open(app.source_uri(logical_id))
        try:
            return [d.record["body"] for d in await queue.receive(10, 0)]
        finally:
            await queue.close()

    return asyncio.run(receive())


def test_adaptive_processing(tmp_path: Path) -> None:
    _, run, inspect = run_readme(tmp_path, "adaptive-processing")
    processed = json_lines(run.stdout, "processed")
    assert sorted(p["id"] for p in processed) == [1, 2, 3, 6, 8]
    assert {p["id"]: p["total"] for p in processed} == {1: 19.99, 2: 35.25, 3: 5.0, 6: 1500.0, 8: 42.0}
    assert [p["review"] for p in processed if p["id"] == 6] == [True]
    assert "order 3: downstream timed out (fails on the first delivery only)" in run.stderr
    assert "no route for type='refund'; known types: simple, complex" in run.stderr
    assert json.loads(inspect.stdout)["visible"] == 3
    bodies = queue_bodies(tmp_path, "adaptive-processing", "OrdersDeadLetterQueue")
    assert sorted(bodies) == sorted(['{"type": "refund", "id": 4, "amount": 12}',
                                     '{"type": "complex", "id": 5, "lines": []}', "not json at all"])


def test_parallel_processing(tmp_path: Path) -> None:
    _, run, compare = run_readme(tmp_path, "parallel-processing")
    enriched = json_lines(run.stdout, "enriched")
    assert sorted(e["enriched"] for e in enriched) == list(range(40))
    assert max(e["in_flight"] for e in enriched) == 5  # the limit is reached and never passed
    assert {e["limit"] for e in enriched} == {5}
    lines = compare.stdout.splitlines()
    assert lines[0] == "200 records, concurrency 10, one in 7 takes 100 ms, the rest 10 ms"
    assert re.fullmatch(r"chunked waves: +\d+\.\d ms", lines[1])
    assert re.fullmatch(r"sliding window: +\d+\.\d ms", lines[2])
    ratio = r"the sliding window takes \d+\.\d\dx the time of chunked waves \(\d+\.\d\dx faster\)"
    assert re.fullmatch(ratio, lines[3])


def test_smart_strategy(tmp_path: Path) -> None:
    results = run_readme(tmp_path, "smart-strategy")
    choices = [json_lines(r.stdout, "strategy")[0] for r in results[1::2]]
    assert [(c["batch"], c["strategy"], c["concurrency"]) for c in choices] == [
        (60, "parallel", 16), (6, "sequential", 1), (20, "moderate", 4)]
    assert choices[0]["reason"] == "60 small records (average 62 B)"
    assert choices[1]["reason"].startswith("large records (average 100 KiB)")
    assert choices[2]["reason"] == "a mixed batch (5 record types)"
    assert choices[2]["analysis"]["types"] == {"archive": 4, "index": 4, "notify": 4, "thumbnail": 4,
                                               "transcode": 4}
    jobs = [job for r in results[1::2] for job in json_lines(r.stdout, "job")]
    assert len(jobs) == 86 and len({job["job"] for job in jobs}) == 86


def test_memory_aware(tmp_path: Path) -> None:
    _, _, normal, _, starved, inspect = run_readme(tmp_path, "memory-aware")
    reports = json_lines(normal.stdout, "report")
    assert sorted(r["report"] for r in reports) == [f"report-{n}" for n in range(4)]
    assert {(r["rows"], r["expanded_kb"]) for r in reports} == {(1_000_000, 13_671)}
    peaks = [r["peak_rss_mb"] for r in reports]
    assert max(peaks) - min(peaks) < 13.6  # less than one expanded report: nothing held it whole
    assert '"strategy": "sequential"' in normal.stderr and "large records" in normal.stderr
    assert json_lines(starved.stdout, "report") == []
    assert '"reason": "memory"' in starved.stderr
    assert json.loads(inspect.stdout)["visible"] == 4


def test_monitoring(tmp_path: Path) -> None:
    _, pipeline = run_readme(tmp_path, "monitoring")
    table = pipeline.stdout
    for row in ("PolledEventCount 12", "FilteredOutEventCount 2", "BatchSize 10", "InvokedEventCount 10",
                "SuccessCount 8", "ReportedCount 2", "DeletedEventCount 10", "Errors 0"):
        assert row in table, row
    assert "ok every invoked record reached the handler: 10 = 10" in table
    assert "ok deleted = succeeded + filtered out: 8 = 8" in table
    assert re.search(r"ok one EMF line per invocation: (\d+) = \1", table)
    assert "EMF dimensions ['EventSource', 'FunctionName', 'Service']" in table
    bodies = queue_bodies(tmp_path, "monitoring", "PaymentsDeadLetterQueue")
    assert sorted(json.loads(b)["id"] for b in bodies) == [4, 9]


def require(port: int, name: str) -> None:
    require_port(name, port)


class Databases:
    """The example's ``ledger_entries`` table in PostgreSQL and MariaDB, dropped before and after."""

    def __init__(self) -> None:
        import psycopg
        import pymysql

        self.postgres = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)
        self.mariadb = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                                       autocommit=True)

    def query(self, which: str, sql: str) -> list[tuple[Any, ...]]:
        cursor = self.postgres.cursor() if which == "postgresql" else self.mariadb.cursor()
        try:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            cursor.close()

    def drop(self) -> None:
        for which in ("postgresql", "mariadb"):
            self.query(which, "DROP TABLE IF EXISTS ledger_entries")

    def close(self) -> None:
        self.postgres.close()
        self.mariadb.close()


@pytest.fixture
def databases() -> Any:
    require(5432, "PostgreSQL")
    require(3306, "MariaDB")
    dbs = Databases()
    dbs.drop()
    yield dbs
    dbs.drop()
    dbs.close()


def test_db_transactions(tmp_path: Path, databases: Databases) -> None:
    results = run_readme(tmp_path, "db-transactions")
    expected = [("e-1", "acme", 1250), ("e-2", "acme", -300), ("e-4", "globex", 9900),
                ("e-5", "initech", 4200), ("e-6", "initech", 700), ("e-7", "acme", 150),
                ("e-9", "umbrella", 31000)]
    for which, run in (("postgresql", results[1]), ("mariadb", results[3])):
        rows = databases.query(which, "SELECT entry_id, account, amount_cents, session_id "
                                      "FROM ledger_entries ORDER BY entry_id")
        assert [(r[0], r[1], int(r[2])) for r in rows] == expected, which  # exact; e-3 and e-8 absent
        counts = databases.query(which, "SELECT COUNT(*), COUNT(DISTINCT entry_id) FROM ledger_entries")
        assert [tuple(int(n) for n in row) for row in counts] == [(7, 7)], which  # no duplicates
        check_environments(json_lines(run.stderr, "environment"), {int(r[3]) for r in rows}, which)
    assert json.loads(results[4].stdout)["visible"] == 4
    bodies = queue_bodies(tmp_path, "db-transactions", "LedgerDeadLetterQueue")
    dead = sorted(json.loads(body)["entry_id"] for body in bodies)
    assert dead == ["e-3", "e-3", "e-8", "e-8"]  # the bad amounts, from each run; never the duplicate e-1


def check_environments(invocations: list[dict[str, Any]], sessions: set[int], which: str) -> None:
    """Each environment keeps one connection (one server session) until it is lost; one batch was aborted."""
    assert len(invocations) >= 4, which
    by_environment: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for invocation in invocations:
        by_environment[invocation["environment"]].append(invocation)
    reused = False
    for served in by_environment.values():
        by_connect: dict[int, set[int]] = defaultdict(set)
        for invocation in served:
            by_connect[invocation["connects"]].add(invocation["session"])
        assert all(len(ids) == 1 for ids in by_connect.values()), (which, served)
        reused = reused or any(sum(1 for i in served if i["connects"] == n) >= 2 for n in by_connect)
    assert reused, (which, invocations)  # some environment served two invocations on one connection
    assert sessions <= {i["session"] for i in invocations}, which  # every row was written by those sessions
    aborted = [i for i in invocations if i["reported"] == i["records"] and i["records"] > 1]
    assert aborted, (which, invocations)  # the batch that lost its connection reported every record
    assert max(i["connects"] for i in invocations) <= 2, (which, invocations)  # nobody reconnected twice
    lost = aborted[0]
    later = by_environment[lost["environment"]]
    later = later[later.index(lost) + 1:]
    # Its environment, if invoked again (the retry may go to another one), reconnected exactly once.
    assert all(i["connects"] == lost["connects"] + 1 for i in later), (which, invocations)
