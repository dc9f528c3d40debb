"""NATS with JetStream on 127.0.0.1:4222: required under CI=true, skipped otherwise when missing."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import pytest
from services import require_port

PORT = 4222


@pytest.fixture(scope="session")
def nats_up() -> None:
    require_port("NATS", PORT)


async def _delete_streams(*names: str) -> None:
    import nats

    nc = await nats.connect(f"nats://127.0.0.1:{PORT}")
    js = nc.jetstream()
    for name in names:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(name)
    await nc.close()


@pytest.fixture
def stream(nats_up: None) -> Iterator[str]:
    """A unique stream name; the stream and its dead-letter stream are deleted afterwards."""
    name = f"bmtest{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(_delete_streams(name, f"{name}_DLQ"))
