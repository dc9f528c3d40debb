"""The docs harness itself: how markers are read, which mistakes it refuses, and how a chain runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docs_blocks import MarkerError, chain, console_commands, parse_page, shell_text

RUNNER = Path(__file__).parent / "docs_runner.py"
FENCE = "```"


def page(*parts: str) -> str:
    return "\n".join(parts) + "\n"


def test_markers_stack_above_a_block_and_name_what_it_needs() -> None:
    blocks = parse_page(page(
        "Intro.", "",
        "<!-- docs: file app.py -->", f"{FENCE}python", "def handler(event, context): ...", FENCE, "",
        "<!-- docs: files app.py data/=examples/demo -->", "<!-- docs: needs redis, postgresql -->",
        "<!-- docs: runs-for 2.5 -->", f"{FENCE}bash", "batchmap run --source x", FENCE, "",
        f"{FENCE}text", "output", FENCE), "p.md")
    assert [(b.lang, b.line) for b in blocks] == [("python", 4), ("bash", 11), ("text", 15)]
    app, run, shown = blocks
    assert app.file == "app.py" and not app.runnable
    assert run.files == ("app.py", "data/=examples/demo") and run.needs == ("redis", "postgresql")
    assert run.runs_for_s == 2.5 and run.run
    assert not shown.runnable


@pytest.mark.parametrize(("text", "message"), [
    (page(FENCE, "make test", FENCE), "p.md:1: a code block needs a language"),
    (page("<!-- docs: sometimes -->", f"{FENCE}bash", "x", FENCE), "unknown docs marker 'sometimes'"),
    (page("<!-- docs: skip -->", f"{FENCE}bash", "x", FENCE), "docs marker 'skip' needs a reason"),
    (page("<!-- docs: output now -->", f"{FENCE}console", "x", FENCE), "docs marker 'output' takes nothing"),
    (page("<!-- docs: needs mongodb -->", f"{FENCE}bash", "x", FENCE), "unknown service 'mongodb'"),
    (page("<!-- docs: runs-for soon -->", f"{FENCE}bash", "x", FENCE), "'soon' is not a number of seconds"),
    (page("<!-- docs: needs redis -->", "", "Text.", f"{FENCE}bash", "x", FENCE), "must sit right above"),
    (page("<!-- docs: needs redis -->", f"{FENCE}json", "{}", FENCE), "are for blocks that run"),
    (page("<!-- docs: file a.py -->", f"{FENCE}python", "x = 1", FENCE), "no block of p.md names it"),
    (page("<!-- docs: continues -->", f"{FENCE}python", "x = 1", FENCE), "no runnable block above it"),
    (page("<!-- docs: continues server -->", f"{FENCE}python", "x = 1", FENCE), "no runnable block above it has"),
    (page("<!-- docs: skip later -->", f"{FENCE}bash", "x", FENCE, "<!-- docs: continues -->", f"{FENCE}bash",
          "y", FENCE), "which it continues, is skipped"),
    (page(f"{FENCE}bash", "x"), "code block never closed"),
])
def test_what_the_harness_refuses_is_named_with_its_page_and_line(text: str, message: str) -> None:
    with pytest.raises(MarkerError, match=message.replace("(", r"\(")):
        parse_page(text, "p.md")


def test_a_chain_runs_what_it_continues_first_by_order_or_by_name() -> None:
    blocks = parse_page(page(
        "<!-- docs: name server -->", f"{FENCE}console", "$ serve &", FENCE,
        f"{FENCE}console", "$ other", FENCE,
        "<!-- docs: continues server -->", f"{FENCE}python", "call()", FENCE,
        "<!-- docs: continues -->", f"{FENCE}python", "again()", FENCE), "p.md")
    server, other, call, again = blocks
    assert chain(blocks, other) == [other]
    assert chain(blocks, call) == [server, call]
    assert chain(blocks, again) == [server, call, again]


def test_a_console_block_runs_its_commands_and_waits_for_the_ports_it_names() -> None:
    text = page("$ batchmap serve --port 9001 &", "batchmap: serving at http://127.0.0.1:9001/", "",
                "$ curl -d '{}' \\", "    http://127.0.0.1:9001/x", "{}")
    assert console_commands(text) == "batchmap serve --port 9001 &\ncurl -d '{}' \\\n    http://127.0.0.1:9001/x\n"
    [block] = parse_page(page(f"{FENCE}console", text.rstrip("\n"), FENCE), "p.md")
    assert block.ports == (9001,)
    script = shell_text(block).splitlines()
    assert script[-4:] == ["batchmap serve --port 9001 &", "__docs_wait 9001", "curl -d '{}' \\",
                           "    http://127.0.0.1:9001/x"]


def run_plan(tmp_path: Path, *steps: dict[str, object]) -> subprocess.CompletedProcess[str]:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"id": f"step{n}", "runs_for_s": None, **step} for n, step in enumerate(steps)]))
    return subprocess.run([sys.executable, str(RUNNER), str(plan)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


def test_a_chain_shares_names_exports_and_what_runs_in_the_background(tmp_path: Path) -> None:
    done = run_plan(
        tmp_path,
        {"kind": "shell", "text": "export GREETING=hello\nsleep 30 &\necho $! > sleeper.pid\n"},
        {"kind": "python", "text": "import os, asyncio\nword = os.environ['GREETING']\nawait asyncio.sleep(0)\n"},
        {"kind": "python", "text": "import os\npid = int(open('sleeper.pid').read())\nos.kill(pid, 0)\n"
                                   "print(word, 'alive')\n"},
    )
    assert done.returncode == 0, done.stderr
    assert "hello alive" in done.stdout
    pid = int((tmp_path / "sleeper.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def test_a_failing_step_stops_the_chain_and_is_named(tmp_path: Path) -> None:
    done = run_plan(tmp_path, {"kind": "shell", "text": "false | cat\necho unreachable\n"},
                    {"kind": "python", "text": "print('never')\n"})
    assert done.returncode == 1
    assert "FAILED step0: exit status 1" in done.stderr
    assert "unreachable" not in done.stdout and "never" not in done.stdout


def runs_for(text: str, seconds: float) -> dict[str, object]:
    [block] = parse_page(page(f"<!-- docs: runs-for {seconds} -->", f"{FENCE}bash", text.rstrip("\n"), FENCE), "p.md")
    return {"kind": "shell", "text": shell_text(block), "runs_for_s": block.runs_for_s}


def test_a_long_running_command_must_outlast_its_time_and_stop_on_sigint(tmp_path: Path) -> None:
    started = time.monotonic()
    survives = run_plan(tmp_path, runs_for("sleep 30", 0.5))
    assert survives.returncode == 0, survives.stderr
    assert time.monotonic() - started < 10
    ends_early = run_plan(tmp_path, runs_for("bash -c 'exit 3'", 5))
    assert "ended with status 3 before the 5 s it should run for" in ends_early.stderr
    # bash sets its trap at once (a python handler came after the interpreter's start-up, which on a loaded
    # machine took longer than the half second: SIGINT met the start-up itself)
    fails_to_stop = run_plan(tmp_path, runs_for("bash -c 'trap \"exit 4\" INT; while :; do sleep 0.1; done'", 0.5))
    assert "exit status 4 after SIGINT" in fails_to_stop.stderr


def test_sigint_reaches_the_last_command_only_as_ctrl_c_would(tmp_path: Path) -> None:
    """Background jobs of the block (a broker it started) keep running until the chain ends."""
    script = ("python -c 'import signal, time; signal.signal(signal.SIGINT, lambda *_: open(\"bg.int\", \"w\")); "
              "time.sleep(30)' &\n"
              "sleep 30\n")
    done = run_plan(tmp_path, runs_for(script, 0.5))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "bg.int").exists()


def test_the_last_command_of_a_runs_for_block_cannot_be_a_background_job() -> None:
    with pytest.raises(MarkerError, match="cannot end in &"):
        parse_page(page("<!-- docs: runs-for 3 -->", f"{FENCE}bash", "batchmap serve \\", "  --port 9001 &", FENCE),
                   "p.md")
