"""Helpers shared by the invoker tests: the handlers folder, a FunctionConfig builder, events."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from batchmap.config.function import FunctionConfig

HANDLERS = str(Path(__file__).parent / "handlers")
if HANDLERS not in sys.path:
    sys.path.insert(0, HANDLERS)

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine on a fresh event loop (no asyncio plugin needed)."""
    return asyncio.run(coroutine)


def function(handler: str, **settings: Any) -> FunctionConfig:
    """A FunctionConfig for a test handler; short timeouts keep the suite fast."""
    settings.setdefault("timeout_s", 2.0)
    settings.setdefault("code_path", HANDLERS)
    return FunctionConfig(handler, **settings)


def sqs_event(count: int, body: str = "hello") -> dict[str, Any]:
    """An SQS-shaped event of ``count`` records (AWS's record layout)."""
    records = []
    for i in range(count):
        records.append(
            {
                "messageId": f"059f36b4-87a3-44ab-83d2-{i:012d}",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + "x" * 100,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
                "awsRegion": "us-east-2",
            }
        )
    return {"Records": records}
