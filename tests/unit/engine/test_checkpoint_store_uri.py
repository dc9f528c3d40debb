"""``--checkpoint-store``: a bare embedded file, a sqlite URI with or without a stream, or a plain path."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from batchmap.engine.service import open_checkpoint_store


@pytest.mark.parametrize("form", ["sqlite:///{rel}", "sqlite:///{abs}", "{abs}", "sqlite:///{abs}?stream=s"])
def test_every_embedded_form_opens_a_working_store(tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = form.format(rel="checkpoints.db", abs=tmp_path / "checkpoints.db")

    async def roundtrip() -> str | None:
        store = await open_checkpoint_store(uri)
        await store.put("m", "shard-1", "42")
        return await store.get("m", "shard-1")

    assert asyncio.run(roundtrip()) == "42"
    assert os.path.exists(tmp_path / "checkpoints.db")
