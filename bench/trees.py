"""The ``--baseline`` of the benches that measure another checkout, and the environment a child runs a tree in.

A folder that holds no ``batchmap`` package was accepted before: the child then imported the installed
tree and the bench compared this checkout with itself (1.00). And with ``PYTHONDONTWRITEBYTECODE`` set,
a tree without bytecode was compiled again in every child, which the bench counted as its cost.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def baseline_src(value: str) -> str:
    """``--baseline``'s type: a folder holding ``batchmap/__init__.py`` (another checkout's ``src``)."""
    if not (Path(value) / "batchmap" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(f"invalid value {value!r} (a src folder holding batchmap/)")
    return value


def tree_env(*path: str | None, **extra: str) -> dict[str, str]:
    """This process's environment for a child that imports from ``path`` first (``None`` entries are skipped),
    writing bytecode whatever ``PYTHONDONTWRITEBYTECODE`` says."""
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    return env
