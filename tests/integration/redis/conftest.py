"""Redis on 127.0.0.1:6379: required under CI=true, skipped otherwise when missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from services import require_port

PORT = 6379


@pytest.fixture(scope="session")
def redis_up() -> None:
    require_port("Redis", PORT)


@pytest.fixture
def stream(redis_up: None) -> Iterator[str]:
    """A unique stream name; the stream and its dead-letter stream are deleted afterwards."""
    import redis

    name = f"bm-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis(host="127.0.0.1", port=PORT)
    client.delete(name, f"{name}:dlq", f"{name}-dead")
    client.close()
