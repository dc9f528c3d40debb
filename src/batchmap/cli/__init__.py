"""The ``batchmap`` command: one module per subcommand, output formatting kept apart from engine logic.

Each subcommand module exposes ``add_parser(subparsers)`` (which registers its
flags and sets ``func``) so this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from batchmap.errors import BatchmapError

SUBCOMMANDS: tuple[str, ...] = ("run", "admin", "serve", "tune")
"""Modules under ``batchmap.cli`` that register a subcommand."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="batchmap", description="Lambda-grade batch processing, anywhere.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"batchmap.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BatchmapError as exc:
        print(f"batchmap: error: {exc}", file=sys.stderr)
        return 2
    return code
