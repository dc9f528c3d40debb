"""Modules of the function's folder that hide a standard-library module of the same name.

Lambda puts the code folder first on ``sys.path``, and so does batchmap: a
``resource.py`` or a ``json/`` beside the handler replaces the standard module
for every import made after it, the function's libraries included. That is
allowed, and nearly always a mistake whose symptom (an ``AttributeError`` deep
in a library, a runtime that exits) does not name the file: these helpers do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

NEVER_IMPORTED = frozenset({"test", "this", "antigravity", "idlelib", "turtledemo", "__hello__", "__phello__"})
"""Standard modules nothing imports by accident: a ``test.py`` of one's own is not worth a word."""


def shadowing_files(folder: str) -> list[tuple[str, str]]:
    """``(name, path)`` of each ``NAME.py`` or ``NAME/`` package in ``folder`` named like a standard module."""
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    found = []
    for entry in entries:
        path = os.path.join(folder, entry)
        name, ext = os.path.splitext(entry)
        is_module = ext == ".py" or (not ext and os.path.isfile(os.path.join(path, "__init__.py")))
        if is_module and name in sys.stdlib_module_names and name not in NEVER_IMPORTED:
            found.append((name, path))
    return found


def shadowed_modules(folders: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, file)`` of each standard module this process imported from one of ``folders`` instead."""
    roots = tuple(os.path.join(os.path.abspath(folder), "") for folder in folders)
    found = []
    for name in sorted(sys.stdlib_module_names - NEVER_IMPORTED):
        file = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(file, str) and os.path.abspath(file).startswith(roots):
            found.append((name, file))
    return found


def describe(shadows: Iterable[tuple[str, str]]) -> str:
    """``/code/resource.py shadows the standard module 'resource'; ...`` (empty when there is none)."""
    return "; ".join(f"{path} shadows the standard module {name!r}" for name, path in shadows)
