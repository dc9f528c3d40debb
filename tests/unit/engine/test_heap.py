"""The collector set-up of ``batchmap run``: what is loaded is frozen, the young generation is collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from batchmap.engine.heap import YOUNG_THRESHOLD, prepare_heap


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def test_prepare_heap_freezes_what_is_loaded_and_raises_only_the_young_threshold() -> None:
    gc.set_threshold(700, 10, 10)
    prepare_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


def test_a_higher_threshold_or_a_collector_turned_off_is_left_alone() -> None:
    gc.set_threshold(50_000, 5, 5)
    prepare_heap()
    assert gc.get_threshold() == (50_000, 5, 5)
    gc.set_threshold(0, 10, 10)
    prepare_heap()
    assert gc.get_threshold() == (0, 10, 10)
