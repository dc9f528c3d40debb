"""A real moto server on a free 127.0.0.1 port for the SQS, Kinesis and DynamoDB Streams sources.

One server per test session (it starts in well under a second); every test
starts from an empty account (``POST /moto-api/reset``). Credentials are
dummies set for the session, so nothing here can ever reach real AWS.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto_receive import one_receive_at_a_time

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Moto:
    """The running server and boto3 clients on it, for setting up and checking state."""

    url: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    from moto.server import ThreadedMotoServer

    one_receive_at_a_time()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", REGION)):
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_KINESIS"):
            env.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield Moto(f"http://{host}:{port}")
        finally:
            server.stop()


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    """The session's server, emptied for this test."""
    moto_server.reset()
    return moto_server
