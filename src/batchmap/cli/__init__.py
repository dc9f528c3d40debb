"""The ``batchmap`` command: one module per subcommand, output formatting kept apart from engine logic.

Each subcommand module exposes ``add_parser(subparsers)`` (which registers its
flags and sets ``func``) so this file only wires them together, and answers
every mistake with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from batchmap.cli.parsing import CommandParser, error_line
from batchmap.errors import BatchmapError

SUBCOMMANDS: tuple[str, ...] = ("run", "admin", "dead_letters", "replay", "serve", "tune")
"""Modules under ``batchmap.cli`` that register a subcommand."""

COMMAND_MODULES: dict[str, str] = {
    "run": "run",
    **dict.fromkeys(("create-queue", "create-stream", "send", "inspect", "purge"), "admin"),
    **dict.fromkeys(("receive-message", "start-message-move-task", "list-message-move-tasks",
                     "cancel-message-move-task"), "dead_letters"),
    "replay": "replay",
    "serve": "serve",
    "tune": "tune",
}
"""The module of each subcommand: a command imports only its own module (``send`` needs no engine), so each
call starts in a fraction of the time; a unit test checks this against what the modules register."""

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 1
EXIT_INTERRUPTED = 130


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: with a known ``command``, only the module registering it; else every subcommand."""
    parser = CommandParser(prog="batchmap", description="Lambda-grade batch processing, anywhere.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (COMMAND_MODULES[command],) if command in COMMAND_MODULES else SUBCOMMANDS
    for name in modules:
        importlib.import_module(f"batchmap.cli.{name}").add_parser(sub)
    for each in sub.choices.values():
        each.set_defaults(command_parser=each)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(args[0] if args else None)  # imports the command's module: the start-up's bulk
    except KeyboardInterrupt:  # Ctrl-C while starting: the same line as while running, no traceback
        print("batchmap: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run_command(parser, args)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse and run; a ``BatchmapError`` or an unusable file is one line on stderr (exit 2).

    Output piped into ``head`` that stops reading ends the command quietly, as
    Python's documentation recommends: stdout goes to ``/dev/null`` so the final
    flush cannot fail again.
    """
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BatchmapError as exc:
        print(f"batchmap: error: {error_line(exc, args)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("batchmap: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"batchmap: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (captured in a test): nothing left to flush
        pass
