"""Without boto3 installed, opening an AWS source names the extra to install."""

from __future__ import annotations

import asyncio
import sys

import pytest

from batchmap.errors import MissingExtraError
from batchmap.sources.registry import SourceOptions, open_source


@pytest.mark.parametrize(
    ("arn", "extra"),
    [
        ("arn:aws:sqs:us-east-1:123456789012:q", "sqs"),
        ("arn:aws:kinesis:us-east-1:123456789012:stream/s", "kinesis"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000", "dynamodb"),
    ],
)
def test_a_missing_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch, arn: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what an environment without boto3 looks like to import
    with pytest.raises(MissingExtraError, match=rf"pip install 'batchmap\[{extra}\]'") as missing:
        asyncio.run(open_source(arn, SourceOptions(endpoint_url="http://127.0.0.1:1")))
    assert (missing.value.extra, missing.value.module) == (extra, "boto3")
