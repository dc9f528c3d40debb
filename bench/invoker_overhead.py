"""Per-invocation overhead of each invoker: a trivial handler, a 100-record SQS event.

    .venv/bin/python bench/invoker_overhead.py [--invocations 2000]

Invocations are sent one at a time (concurrency 1), so each figure is the cost
of one round trip through the invoker: event serialisation, the hop to where
the handler runs, the context, the JSON round trip of the result. The HTTP and
boto3 figures go through ``LambdaApiServer`` hosting an in-process invoker, so
they add HTTP on top of the in-process cost. Cold start is the time to start a
subprocess worker and import the handler module.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.context import LambdaContext
from batchmap.engine.invocation import Invoker
from batchmap.engine.invokers import HttpInvoker, InProcessInvoker, LambdaInvoker, SubprocessInvoker
from batchmap.engine.lambda_api import LambdaApiServer

HERE = str(Path(__file__).parent)
HANDLER = "invoker_overhead:trivial"


def trivial(event: dict[str, Any], context: Any) -> dict[str, list[Any]]:
    """The handler under test: does nothing and says every record succeeded."""
    return {"batchItemFailures": []}


def sqs_event(count: int = 100) -> dict[str, Any]:
    """An SQS event shaped as AWS sends it, with ``count`` records of a 200-byte body."""
    record = {
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + "x" * 120,
        "body": '{"order": 12345, "items": ["' + "a" * 160 + '"]}',
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
    return {"Records": [dict(record, messageId=f"059f36b4-87a3-44ab-83d2-{i:012d}") for i in range(count)]}


def report(name: str, samples_s: list[float]) -> None:
    samples = sorted(s * 1e6 for s in samples_s)
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{name:<34} mean {statistics.fmean(samples):9.1f} us   p50 {p50:9.1f} us   p99 {p99:9.1f} us")


async def measure(invoke: Callable[[int], Awaitable[Any]], count: int) -> list[float]:
    for i in range(min(50, count)):  # warm up
        await invoke(i)
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await invoke(i)
        samples.append(time.perf_counter() - started)
    return samples


async def bench_invoker(name: str, invoker: Invoker, event: dict[str, Any], count: int) -> None:
    await invoker.start()

    async def once(i: int) -> None:
        result = await invoker.invoke(event, f"req-{i}")
        if result.status != "ok":
            raise SystemExit(f"{name}: {result}")

    report(name, await measure(once, count))
    await invoker.close()


async def bench_direct(event: dict[str, Any], count: int) -> None:
    async def once(i: int) -> None:
        trivial(event, LambdaContext.start("f", 3.0, 128, f"req-{i}"))

    report("direct call (baseline)", await measure(once, count))


async def bench_cold_start(config: FunctionConfig, count: int) -> None:
    samples = []
    for _ in range(count):
        invoker = SubprocessInvoker(config)
        started = time.perf_counter()
        await invoker.start()
        samples.append(time.perf_counter() - started)
        await invoker.close()
    report("subprocess cold start (spawn+init)", samples)


async def main(count: int) -> None:
    config = FunctionConfig(HANDLER, name="bench", timeout_s=30.0, code_path=HERE)
    event = sqs_event()
    print(
        f"{count} sequential invocations, 100-record SQS event, trivial handler; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    await bench_direct(event, count)
    await bench_invoker("in-process", InProcessInvoker(config), event, count)
    await bench_invoker("subprocess (warm worker)", SubprocessInvoker(config), event, count)
    server = LambdaApiServer(InProcessInvoker(config), config, port=0)
    server.start()
    try:
        http = FunctionConfig(server.url, name="bench", timeout_s=30.0)
        await bench_invoker("http -> serve (in-process)", HttpInvoker(http), event, count)
        remote = FunctionConfig("bench", timeout_s=30.0, endpoint_url=server.url, region="us-east-1")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "x")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "x")
        await bench_invoker("boto3 lambda -> serve (in-process)", LambdaInvoker(remote), event, count // 4)
    finally:
        server.stop()
    await bench_cold_start(config, 10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invocations", type=int, default=2000)
    asyncio.run(main(parser.parse_args().invocations))
