"""The code blocks of the user docs, with the markers that say how each one runs.

A marker is an HTML comment on the lines right above a fence (several may stack)::

    <!-- docs: needs redis -->
    ```python

Markers (docs/contributing.md, "Docs", is the user-facing list):

``skip REASON``        not run; the reason is required and the test counts skips
``output``             the block shows output, not commands
``continues [NAME]``   runs after the page's previous runnable block (or the block called NAME), in the
                       same folder, with what it left running and the variables it exported (Python
                       blocks of one chain share their names)
``name NAME``          what ``continues NAME`` calls this block
``file NAME``          this block is the file NAME for blocks of the page that name it in ``files``
``files NAME ...``     written into the folder first: a ``file`` block of the page, else that path of
                       the repository (a file or a folder), else ``tests/docs/files/NAME``;
                       ``NAME=SOURCE`` writes NAME from SOURCE, found the same way
``needs SERVICE ...``  a local service (``postgresql``, ``mariadb``, ``redis``, ``rabbitmq``, ``nats``),
                       ``kafka`` (the harness starts a broker on 127.0.0.1:9092), or a program outside
                       the virtualenv (``aws``, ``curl``)
``runs-for SECONDS``   the block's last command runs until stopped: it must still be running after
                       SECONDS, then it alone gets SIGINT (Ctrl-C) and must stop

Every block needs a language; ``python``, ``bash``, ``sh`` and ``console`` blocks run, the rest
(``text``, ``json``, ``yaml``, ...) are shown only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = frozenset({"python", "bash", "sh", "console"})
SERVICES = {"postgresql": 5432, "mariadb": 3306, "redis": 6379, "rabbitmq": 5672, "nats": 4222}
"""The system services on 127.0.0.1 (scripts/services.sh starts them)."""
KAFKA_PORT = 9092
"""Where ``needs kafka`` puts a broker: the address the Kafka guide uses."""
PROGRAMS = ("aws", "curl")
"""Programs a block may call that the virtualenv does not provide."""

_FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs:\s*(.*?)\s*-->\s*$")
_PORT = re.compile(r"(?:127\.0\.0\.1|localhost):(\d{2,5})\b|--port[ =](\d{2,5})\b")


class MarkerError(ValueError):
    """A marker or a block the harness cannot run as written: names the page and line."""


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page and its markers."""

    page: str
    line: int
    lang: str
    text: str
    skip: str | None = None
    output: bool = False
    continues: str | None = None
    """None: runs alone; "": after the previous runnable block; else after the block of that name."""
    name: str | None = None
    file: str | None = None
    files: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    runs_for_s: float | None = None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.lang in RUNNABLE and not self.output and self.file is None

    @property
    def run(self) -> bool:
        return self.runnable and self.skip is None

    @property
    def ports(self) -> tuple[int, ...]:
        """Fixed loopback ports the block names, apart from the system services': the harness locks them."""
        found = {int(a or b) for a, b in _PORT.findall(self.text)}
        return tuple(sorted(found - set(SERVICES.values())))


@dataclass
class _Markers:
    values: dict[str, str] = field(default_factory=dict)
    line: int = 0


def parse_page(text: str, page: str) -> list[Block]:
    """Every fenced block of a markdown page, with the markers above it; refuses what cannot run."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending = _Markers()
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _MARKER.match(line)
        fence = _FENCE.match(line)
        if marker:
            _add_marker(pending, marker.group(1), page, index + 1)
        elif fence:
            end = _closing(lines, index, fence.group(1), page)
            blocks.append(_block(page, index + 1, fence.group(2), "\n".join(lines[index + 1:end]) + "\n",
                                 pending.values))
            pending = _Markers()
            index = end
        elif line.strip() and pending.values:
            raise MarkerError(f"{page}:{pending.line}: a docs marker must sit right above a code block")
        index += 1
    if pending.values:
        raise MarkerError(f"{page}:{pending.line}: a docs marker must sit right above a code block")
    _check_references(blocks, page)
    return blocks


def _closing(lines: list[str], start: int, ticks: str, page: str) -> int:
    for end in range(start + 1, len(lines)):
        if lines[end].strip() == ticks:
            return end
    raise MarkerError(f"{page}:{start + 1}: code block never closed")


def _add_marker(pending: _Markers, body: str, page: str, line: int) -> None:
    key, _, argument = body.partition(" ")
    if key not in _KEYS:
        raise MarkerError(f"{page}:{line}: unknown docs marker {key!r} (known: {', '.join(sorted(_KEYS))})")
    if key in pending.values:
        raise MarkerError(f"{page}:{line}: docs marker {key!r} given twice for one block")
    if _KEYS[key] and _KEYS[key] != OPTIONAL and not argument.strip():
        raise MarkerError(f"{page}:{line}: docs marker {key!r} needs {_KEYS[key]}")
    if not _KEYS[key] and argument.strip():
        raise MarkerError(f"{page}:{line}: docs marker {key!r} takes nothing, got {argument!r}")
    pending.values[key] = argument.strip()
    pending.line = pending.line or line


OPTIONAL = "an optional name"
_KEYS = {"skip": "a reason", "output": "", "continues": OPTIONAL, "name": "a name", "file": "a file name",
         "files": "file names", "needs": "service names", "runs-for": "a number of seconds"}
"""Each marker and what it takes (empty: nothing)."""


def _block(page: str, line: int, lang: str, text: str, markers: dict[str, str]) -> Block:
    where = f"{page}:{line}"
    if not lang:
        raise MarkerError(f"{where}: a code block needs a language (python, bash, console to run; text, json, "
                          "yaml, ... to show)")
    needs = tuple(markers.get("needs", "").replace(",", " ").split())
    known = [*SERVICES, "kafka", *PROGRAMS]
    unknown = [name for name in needs if name not in known]
    if unknown:
        raise MarkerError(f"{where}: docs marker needs: unknown service {unknown[0]!r} (known: {', '.join(known)})")
    runs_for = markers.get("runs-for")
    try:
        runs_for_s = float(runs_for) if runs_for is not None else None
    except ValueError:
        raise MarkerError(f"{where}: docs marker runs-for: {runs_for!r} is not a number of seconds") from None
    block = Block(page, line, lang, text, skip=markers.get("skip"), output="output" in markers,
                  continues=markers.get("continues"), name=markers.get("name"), file=markers.get("file"),
                  files=tuple(markers.get("files", "").split()), needs=needs, runs_for_s=runs_for_s)
    if runs_for_s is not None and _last_command(_commands(block)).rstrip().endswith("&"):
        raise MarkerError(f"{where}: docs marker runs-for: the block's last command is the one that runs until "
                          "stopped; it cannot end in &")
    if (set(markers) & {"continues", "name", "files", "needs", "runs-for"}) and not block.runnable:
        raise MarkerError(f"{where}: docs markers continues, name, files, needs and runs-for are for blocks that run "
                          f"({', '.join(sorted(RUNNABLE))}, not output or file blocks)")
    return block


def _check_references(blocks: list[Block], page: str) -> None:
    """A ``file`` block that no block uses would never be checked; every chain must resolve."""
    used = {source_of(entry) for block in blocks for entry in block.files}
    for block in blocks:
        if block.file is not None and block.file not in used:
            raise MarkerError(f"{block.id}: docs marker file {block.file!r}: no block of {page} names it in files")
    names = [block.name for block in blocks if block.name is not None]
    if len(names) != len(set(names)):
        raise MarkerError(f"{page}: a docs marker name is given to two blocks: {sorted(names)}")
    for block in blocks:
        if block.runnable:
            chain(blocks, block)


def source_of(entry: str) -> str:
    """Where a ``files`` entry comes from: SOURCE in ``NAME=SOURCE``, else NAME."""
    name, _, source = entry.partition("=")
    return source or name


def chain(blocks: list[Block], target: Block) -> list[Block]:
    """The blocks to run for ``target``: the blocks it continues from (first to last), then itself."""
    runnable = [block for block in blocks if block.runnable]
    steps = [target]
    while steps[0].continues is not None:
        steps.insert(0, _continued(runnable, steps[0]))
        if steps[0].skip is not None:
            raise MarkerError(f"{target.id}: docs marker continues: {steps[0].id}, which it continues, is skipped")
    return steps


def _continued(runnable: list[Block], block: Block) -> Block:
    earlier = runnable[:runnable.index(block)]
    if block.continues:
        named = [other for other in earlier if other.name == block.continues]
        if not named:
            raise MarkerError(f"{block.id}: docs marker continues {block.continues}: no runnable block above it "
                              "has that name")
        return named[0]
    if not earlier:
        raise MarkerError(f"{block.id}: docs marker continues: no runnable block above it on the page")
    return earlier[-1]


def console_commands(text: str) -> str:
    """The commands of a ``console`` block (lines starting ``$ ``, with their ``\\`` continuations)."""
    commands: list[str] = []
    continuing = False
    for line in text.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif continuing:
            commands.append(line)
        else:
            continue
        continuing = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


def read_pages(root: Path, patterns: tuple[str, ...]) -> dict[str, list[Block]]:
    """Every page matching ``patterns`` under ``root``, parsed; keys are paths relative to ``root``."""
    pages: dict[str, list[Block]] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            name = path.relative_to(root).as_posix()
            pages[name] = parse_page(path.read_text(encoding="utf-8"), name)
    return pages


_WAIT_FOR_PORTS = """__docs_wait() { local port; for port in "$@"; do for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done; done; }
"""


def shell_text(block: Block) -> str:
    """The script for a shell block.

    A ``console`` block is a terminal session: after a command put in the background (``&``), the next
    one waits for the ports the block names, as a person waits for the server's first line. In a
    ``runs-for`` block the last command replaces the shell (``exec``), so that SIGINT reaches it alone,
    as Ctrl-C reaches the foreground command and not the background jobs.
    """
    lines = _commands(block).splitlines()
    if block.runs_for_s is not None:
        start = len(lines) - len(_last_command("\n".join(lines)).splitlines())
        lines[start] = "exec " + lines[start]
    if block.lang != "console":
        return "\n".join(lines) + "\n"
    script: list[str] = []
    for line in lines:
        script.append(line)
        if line.rstrip().endswith("&") and block.ports:
            script.append("__docs_wait " + " ".join(map(str, block.ports)))
    return _WAIT_FOR_PORTS + "\n".join(script) + "\n"


def _commands(block: Block) -> str:
    return console_commands(block.text) if block.lang == "console" else block.text


def _last_command(text: str) -> str:
    """The last command of a script: its last non-blank line and the lines it continues (``\\``)."""
    lines = text.rstrip().splitlines()
    start = len(lines) - 1
    while start > 0 and lines[start - 1].rstrip().endswith("\\"):
        start -= 1
    return "\n".join(lines[start:]) + "\n"
