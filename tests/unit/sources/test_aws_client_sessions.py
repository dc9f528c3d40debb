"""The AWS sources of one process share a boto3 session, and a change of the AWS settings gets a fresh one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from batchmap.sources.aws import client as aws_client


def _access_key(client: Any) -> str:
    return str(client.raw._request_signer._credentials.access_key)


async def _open(service: str) -> aws_client.AwsClient:
    return await aws_client.open_client(service, service, region="us-east-1", endpoint_url="http://127.0.0.1:9")


def test_sources_share_a_session_until_the_credentials_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_client, "_sessions", {})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    sqs, kinesis = asyncio.run(_open("sqs")), asyncio.run(_open("kinesis"))
    assert len(aws_client._sessions) == 1  # two sources, one session: botocore's data loaded once
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    later = asyncio.run(_open("sqs"))
    assert len(aws_client._sessions) == 2
    assert [_access_key(c) for c in (sqs, kinesis, later)] == ["first", "first", "second"]
    for c in (sqs, kinesis, later):
        c.close()


def test_a_session_is_made_once_however_many_open_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_client, "_sessions", {})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")

    async def many() -> list[aws_client.AwsClient]:
        return list(await asyncio.gather(*(_open("sqs") for _ in range(6))))  # made in six threads at once

    clients = asyncio.run(many())
    assert len(aws_client._sessions) == 1 and {_access_key(c) for c in clients} == {"key"}
    for c in clients:
        c.close()
