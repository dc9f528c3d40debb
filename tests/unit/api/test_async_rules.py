"""Rules for the package's asyncio code that a type checker cannot see."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "batchmap"


def test_no_wait_for_in_the_package() -> None:
    """``asyncio.timeout``, never ``asyncio.wait_for``: on Python 3.11, a cancellation that meets a call that has
    just finished makes ``wait_for`` return (or raise) the call's outcome, and the cancelled task carries on;
    a loop that runs until cancelled then never ends. ``asyncio.timeout`` lets the cancellation through."""
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "wait_for"
    ]
    assert found == []
