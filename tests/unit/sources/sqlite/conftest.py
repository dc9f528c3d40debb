"""Shared fixtures for the embedded source's unit tests: a fresh database file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmap.clock import FakeClock


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    return str(tmp_path / "embedded.db")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
