"""A real moto server on a free 127.0.0.1 port for the SQS, Kinesis and DynamoDB Streams sources.

One server per test session (it starts in well under a second; tests/support/emulators.py), and
every test starts from an empty account (``POST /moto-api/reset``). Credentials are dummies set
for the session, so nothing here can ever reach real AWS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulators import AWS_ACCOUNT, AWS_REGION, Moto
from emulators import moto_server as start_moto

REGION = AWS_REGION
ACCOUNT = AWS_ACCOUNT
__all__ = ["ACCOUNT", "REGION", "Moto"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    with start_moto() as server:
        yield server


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    """The session's server, emptied for this test."""
    moto_server.reset()
    return moto_server
