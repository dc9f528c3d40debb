"""What the function sees, through each local invoker: Lambda's defined runtime variables and a region, so a
module that makes a boto3 client at import (without ``region_name``, as in Lambda) works against moto.

The engine's own environment has no region here (moto's dummy one is removed, and no AWS config file is
read), so a missing ``AWS_REGION`` would show as botocore's ``NoRegionError`` at import.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from emulators import Moto, moto_server
from invoker_support import run, sqs_event

from batchmap.config.function import FunctionConfig
from batchmap.engine.invokers import InProcessInvoker, SubprocessInvoker
from batchmap.engine.invokers.environment import DEFAULT_REGION

NAMES = [
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "LAMBDA_TASK_ROOT", "_HANDLER", "TZ",
]

HANDLER = f"""\
import os
import boto3

SQS = boto3.client("sqs", endpoint_url=os.environ["BM_ENDPOINT"])  # no region_name: Lambda's AWS_REGION decides
QUEUE = SQS.create_queue(QueueName=os.environ["BM_QUEUE"])["QueueUrl"]


def handler(event, context):
    SQS.send_message(QueueUrl=QUEUE, MessageBody=context.function_name)
    seen = {{name: os.environ.get(name) for name in {NAMES!r}}}
    seen["stream"] = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") == context.log_stream_name
    seen["client_region"] = SQS.meta.region_name
    return seen
"""


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture
def no_region(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The engine's environment names no region, and every variable a local invoker sets is restored after."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def function(tmp_path: Path, moto: Moto, **settings: Any) -> tuple[FunctionConfig, str]:
    """A handler module of its own (the in-process invoker imports a module once per process)."""
    module = f"bm_env_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(HANDLER)
    queue = f"q-{uuid.uuid4().hex[:8]}"
    config = FunctionConfig(f"{module}.handler", name="invoices", memory_mb=256, code_path=str(tmp_path),
                            environment={"BM_ENDPOINT": moto.url, "BM_QUEUE": queue}, **settings)
    return config, queue


def received(moto: Moto, region: str, queue: str) -> list[str]:
    """The bodies the function sent, read in ``region``: proof its client really used that region."""
    client = boto3.client("sqs", endpoint_url=moto.url, region_name=region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    url = client.get_queue_url(QueueName=queue)["QueueUrl"]
    return [m["Body"] for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def expected(config: FunctionConfig, region: str, tz: str | None) -> dict[str, Any]:
    return {
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": "invoices", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/invoices", "LAMBDA_TASK_ROOT": config.code_path,
        "_HANDLER": config.handler, "TZ": tz, "stream": True, "client_region": region,
    }


async def invoke_once(invoker: InProcessInvoker | SubprocessInvoker) -> Any:
    await invoker.start()
    try:
        result = await invoker.invoke(sqs_event(1), "req-1")
    finally:
        await invoker.close()
    assert result.status == "ok", result.error
    return result.payload


def test_in_process_sets_them_in_the_engines_own_process(tmp_path: Path, moto: Moto, no_region: None) -> None:
    config, queue = function(tmp_path, moto)
    payload = run(invoke_once(InProcessInvoker(config)))
    assert payload == expected(config, DEFAULT_REGION, None)  # no region named anywhere: the documented default
    assert os.environ["AWS_REGION"] == DEFAULT_REGION  # process-wide: shared with the engine
    assert os.environ["AWS_LAMBDA_FUNCTION_NAME"] == "invoices"
    assert received(moto, DEFAULT_REGION, queue) == ["invoices"]


def test_subprocess_sets_them_in_each_workers_environment(tmp_path: Path, moto: Moto, no_region: None) -> None:
    config, queue = function(tmp_path, moto, region="eu-west-3")
    payload = run(invoke_once(SubprocessInvoker(config)))
    assert payload == expected(config, "eu-west-3", ":UTC")
    assert "AWS_REGION" not in os.environ  # the worker's only
    assert received(moto, "eu-west-3", queue) == ["invoices"]


def test_batchmap_serve_sets_them_for_the_function_it_hosts(tmp_path: Path, moto: Moto, no_region: None) -> None:
    config, queue = function(tmp_path, moto)
    serve = [sys.executable, "-m", "batchmap", "serve", "--function", config.handler, "--code-uri", str(tmp_path),
             "--function-name", "invoices", "--memory-size", "256", "--port", "0", "--concurrency", "1",
             "--region", "ap-southeast-2", "--environment", json.dumps({"Variables": config.environment})]
    proc = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+/\S+)", proc.stdout.readline())
        assert match, proc.stderr.read() if proc.stderr else ""
        request = urllib.request.Request(match.group(1), data=json.dumps(sqs_event(1)).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert payload == expected(config, "ap-southeast-2", ":UTC")
    assert received(moto, "ap-southeast-2", queue) == ["invoices"]


def test_the_engines_region_comes_from_the_environment_before_the_default(
    tmp_path: Path, moto: Moto, no_region: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    config, queue = function(tmp_path, moto)
    assert run(invoke_once(SubprocessInvoker(config)))["AWS_REGION"] == "sa-east-1"
    assert received(moto, "sa-east-1", queue) == ["invoices"]
