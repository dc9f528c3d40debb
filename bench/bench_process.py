"""The process set-up ``batchmap run`` does once the engine is prepared, for benchmarks that drive ``Engine``."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from batchmap.engine.heap import prepare_heap


@contextmanager
def as_batchmap_run() -> Iterator[None]:
    """``prepare_heap()`` as ``batchmap run`` calls it; the collector's settings come back afterwards."""
    saved = gc.get_threshold()
    prepare_heap()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
