"""Every code block of README.md and docs/*.md runs as printed.

Each runnable block (``python``, ``bash``, ``sh``, ``console``) runs in a fresh folder, after the
blocks it continues, with this virtualenv's ``batchmap`` and ``python`` first on PATH and dummy AWS
credentials (nothing can reach AWS); a chain that needs Kafka also gets short consumer-group timings
(``KAFKA_GROUP_ENV``). Python blocks are also checked for undefined names, which a function body only
meets when it is called. The markers above a block (``docs_blocks``) say what it needs;
docs/contributing.md explains them to writers.

The examples' READMEs are run by tests/integration/examples (their first ``bash`` block); here it is
only checked that they hold nothing else to run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docs_blocks import KAFKA_PORT, PROGRAMS, SERVICES, Block, MarkerError, chain, parse_page, shell_text, source_of
from services import missing, require_port

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "files"
RUNNER = Path(__file__).parent / "docs_runner.py"
BIN = Path(sys.executable).parent
PAGES = ("README.md", "docs/*.md")
EXPECTED_SKIPS = 5
"""Skipped blocks, counted so that skips cannot grow unnoticed: a new skip changes this number."""
CHAIN_TIMEOUT_S = 240.0
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
KAFKA_GROUP_ENV = {
    "BATCHMAP_KAFKA_CLIENT_CONFIG": "session.timeout.ms=1000&heartbeat.interval.ms=200&fetch.wait.max.ms=100"}
"""For the chains that need Kafka: Tansu answers a group join after about half the session timeout (5 s of
batchmap's 10 s), and holds a fetch at the end of a partition for ``fetch.wait.max.ms`` before a drain learns it is
caught up. The blocks' consumers get short group timings from the environment, so their commands stay as
printed (the Kafka tests use the same settings)."""
AWS_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS",
             "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_LAMBDA", "PYTHONPATH")


def read_pages() -> tuple[dict[str, list[Block]], list[str]]:
    pages: dict[str, list[Block]] = {}
    errors: list[str] = []
    for pattern in PAGES:
        for path in sorted(REPO.glob(pattern)):
            name = path.relative_to(REPO).as_posix()
            try:
                pages[name] = parse_page(path.read_text(encoding="utf-8"), name)
            except MarkerError as exc:
                errors.append(str(exc))
    return pages, errors


PAGE_BLOCKS, PAGE_ERRORS = read_pages()
RUNNABLE = [block for blocks in PAGE_BLOCKS.values() for block in blocks if block.runnable]


def chains() -> list[list[Block]]:
    """One chain per block that no other block continues: a block another continues runs inside that chain."""
    inner = {step for block in RUNNABLE for step in chain(PAGE_BLOCKS[block.page], block)[:-1]}
    return [chain(PAGE_BLOCKS[block.page], block) for block in RUNNABLE if block not in inner]


def chain_id(steps: list[Block]) -> str:
    return f"{steps[-1].page}:{'+'.join(str(step.line) for step in steps)}"


def test_every_page_parses_and_every_block_says_how_it_runs() -> None:
    assert PAGE_ERRORS == []
    assert len(RUNNABLE) > 30  # the pages were found


def test_skips_are_counted() -> None:
    skipped = [f"{block.id}: {block.skip}" for block in RUNNABLE if block.skip is not None]
    assert len(skipped) == EXPECTED_SKIPS, "a block was skipped or unskipped: check it, then set EXPECTED_SKIPS\n" + \
        "\n".join(skipped)


@pytest.mark.parametrize("steps", [
    pytest.param(steps, id=chain_id(steps), marks=[pytest.mark.skip(reason=steps[-1].skip)] if steps[-1].skip else [])
    for steps in chains()])
def test_blocks_run(steps: list[Block], tmp_path: Path) -> None:
    """A block, after the blocks it continues: one test per chain (ids name every block of it)."""
    blocks = PAGE_BLOCKS[steps[-1].page]
    for name in sorted({name for step in steps for name in step.needs}):
        if name in SERVICES:
            require_port(name, SERVICES[name])
        elif name in PROGRAMS and shutil.which(name, path=block_env()["PATH"]) is None:
            missing(f"{name} is not installed (on PATH)")
    work = tmp_path / "work"
    work.mkdir()
    python_files = write_files(blocks, steps, work)
    check_names(steps, python_files, tmp_path / "check")
    kafka = any("kafka" in step.needs for step in steps)
    ports = {port for step in steps for port in step.ports} | ({KAFKA_PORT} if kafka else set())
    with contextlib.ExitStack() as stack:
        for port in sorted(ports):  # one order everywhere: no two chains wait for each other
            stack.enter_context(port_lock(port))
        if kafka:
            stack.enter_context(kafka_broker(tmp_path / "tansu.log"))
        run_chain(steps, work, tmp_path / "plan.json", KAFKA_GROUP_ENV if kafka else {})


def write_files(blocks: list[Block], steps: list[Block], work: Path) -> list[Path]:
    """The files the chain names, in the folder; returns the Python ones that came from the page."""
    from_page = {block.file: block for block in blocks if block.file is not None}
    python: list[Path] = []
    for entry in dict.fromkeys(entry for step in steps for entry in step.files):
        name, source = entry.partition("=")[0], source_of(entry)
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source in from_page:
            target.write_text(from_page[source].text, encoding="utf-8")
            if from_page[source].lang == "python":
                python.append(target)
        elif (REPO / source).exists() or (FIXTURES / source).exists():
            path = REPO / source if (REPO / source).exists() else FIXTURES / source
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns(".batchmap", "__pycache__"))
            else:
                shutil.copy(path, target)
        else:
            pytest.fail(f"{steps[-1].id}: docs marker files: {source!r} is no file block of {steps[-1].page}, "
                        f"no path of the repository and not in {FIXTURES.relative_to(REPO)}")
    return python


def check_names(steps: list[Block], python_files: list[Path], folder: Path) -> None:
    """Undefined names in the chain's Python (one namespace) and in the Python files it writes: ruff F821."""
    folder.mkdir()
    chained = [step for step in steps if step.lang == "python"]
    if chained:
        text = "".join(f"# {step.id}\n{step.text}" for step in chained)
        (folder / "chain.py").write_text(text, encoding="utf-8")
    for index, path in enumerate(python_files):
        shutil.copy(path, folder / f"file_{index}_{path.name}")
    if not any(folder.iterdir()):
        return
    result = subprocess.run([str(BIN / "ruff"), "check", "--isolated", "--no-cache", "--select", "F821",
                             "--output-format", "concise", "."], cwd=folder, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"{steps[-1].id}: undefined names\n{result.stdout}{result.stderr}"


def run_chain(steps: list[Block], work: Path, plan_path: Path, extra_env: dict[str, str]) -> None:
    plan = [{"id": step.id, "kind": "python" if step.lang == "python" else "shell",
             "text": step.text if step.lang == "python" else shell_text(step), "runs_for_s": step.runs_for_s}
            for step in steps]
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(RUNNER), str(plan_path)], cwd=work, env=block_env() | extra_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=CHAIN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{steps[-1].id}: still running after {CHAIN_TIMEOUT_S:.0f} s\n{output[-4000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, f"{steps[-1].id} failed:\n{output[-6000:]}"


def block_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in AWS_UNSET}
    env.update(AWS_ENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def port_lock(port: int, patience_s: float = 180.0) -> Iterator[None]:
    """One block at a time on a fixed port, across workers and concurrent runs on this machine."""
    path = Path(tempfile.gettempdir()) / f"batchmap-docs-port-{port}.lock"
    with open(path, "a+") as handle:
        deadline = time.monotonic() + patience_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"port {port} stayed locked for {patience_s:.0f} s by another docs block")
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def kafka_broker(log_path: Path) -> Iterator[None]:
    """A Tansu broker on 127.0.0.1:9092, the address the Kafka guide's blocks use (the caller holds its lock)."""
    from emulators import tansu_broker

    with tansu_broker(log_path, port=KAFKA_PORT):
        yield


EXAMPLE_READMES = sorted(REPO.glob("examples/*/README.md"))


@pytest.mark.parametrize("readme", EXAMPLE_READMES, ids=lambda path: path.parent.name)
def test_examples_readmes_run_elsewhere_and_hold_nothing_else_to_run(readme: Path) -> None:
    """tests/integration/examples runs an example README's first bash block; any other runnable block would
    run nowhere."""
    name = readme.parent.name
    blocks = [block for block in parse_page_loose(readme) if block[0] in {"python", "bash", "sh", "console"}]
    assert [lang for lang, _ in blocks] == ["bash"], f"examples/{name}/README.md: {blocks}"
    tests = (REPO / "tests/integration/examples/test_examples.py").read_text(encoding="utf-8")
    assert f"def test_{name.replace('-', '_')}(" in tests, f"no test runs examples/{name}/README.md"


def parse_page_loose(path: Path) -> list[tuple[str, str]]:
    """(language, text) of each fenced block; the examples' READMEs keep untagged output blocks."""
    return re.findall(r"^```(\w*)\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


def test_every_example_the_docs_name_exists() -> None:
    """Apart from what a page's commands write (``> path``) and run-time state (``.batchmap/``)."""
    missing: list[str] = []
    for pattern in (*PAGES, "examples/*/README.md", "examples/README.md"):
        for path in REPO.glob(pattern):
            text = path.read_text(encoding="utf-8")
            written = set(re.findall(r">\s*(examples/\S+)", text))
            for named in re.findall(r"\bexamples/[\w./-]*\w", text):
                if not (REPO / named).exists() and named not in written and "/." not in named:
                    missing.append(f"{path.relative_to(REPO)}: {named}")
    assert missing == []
