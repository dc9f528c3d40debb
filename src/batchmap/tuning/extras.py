"""Lazy imports of the ``batchmap[tune]`` extra (numpy, scipy, matplotlib).

The tuner is optional: ``import batchmap`` must never pull these in, and a
missing one must say which ``pip install`` fixes it instead of a bare
``ModuleNotFoundError`` from deep inside a formula.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from batchmap.errors import MissingExtraError


@functools.cache
def require(module: str) -> ModuleType:
    """Import ``module`` (e.g. ``"numpy"``, ``"scipy.special"``) or raise ``MissingExtraError``.

    Cached: the formulas call this in their inner loops.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError("tune", module.split(".")[0]) from exc
