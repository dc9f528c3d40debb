"""Each test here gets its own state folder, so the message move tasks it lists are its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("BATCHMAP_STATE_DIR", str(folder))
    return folder
