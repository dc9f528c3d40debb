"""Request ids come from a seeded generator (no system call per id) and still look like Lambda's."""

from __future__ import annotations

import uuid

from batchmap.engine.runtime import request_id


def test_request_ids_are_distinct_version_4_uuids() -> None:
    ids = [request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:500]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
