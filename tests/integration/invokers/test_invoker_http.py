"""The HTTP and boto3 Lambda invokers, end to end against batchmap's Lambda Invoke API server."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from invoker_support import function, run, sqs_event

from batchmap.config.function import FunctionConfig
from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import HttpInvoker, LambdaInvoker, SubprocessInvoker
from batchmap.engine.lambda_api import LambdaApiServer
from batchmap.errors import FunctionLoadError, MissingExtraError

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[LambdaApiServer]:
    """One local function (the dispatcher) served on 127.0.0.1 by warm worker processes."""
    config = function("inv_basic:dispatch", name="dispatch", timeout_s=TIMEOUT_S)
    api = LambdaApiServer(SubprocessInvoker(config, concurrency=4), config, port=0)
    api.start()
    yield api
    api.stop()


def http_invocations(url: str, events: list[Any], concurrency: int = 1, **settings: Any) -> list[Invocation]:
    async def go() -> list[Invocation]:
        invoker = HttpInvoker(FunctionConfig(url, timeout_s=TIMEOUT_S, **settings), concurrency)
        await invoker.start()
        try:
            return list(await asyncio.gather(*(invoker.invoke(e, f"req-{i}") for i, e in enumerate(events))))
        finally:
            await invoker.close()

    return run(go())


def lambda_client(server: LambdaApiServer) -> Any:
    import boto3

    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_http_invoker_success_error_marshal_and_timeout(server: LambdaApiServer) -> None:
    ok, raised, marshal, hung = http_invocations(
        server.url,
        [{"do": "echo", "n": 1}, {"do": "raise", "id": 9}, {"do": "set"}, {"do": "sleep", "seconds": 30}],
        concurrency=4,
    )
    assert ok.status == "ok"
    assert ok.payload == {"echo": {"do": "echo", "n": 1}, "request_id": "req-0", "function_name": "dispatch"}
    assert raised.status == "error" and raised.error_type == "ProcessingError"
    assert raised.error is not None and raised.error["errorMessage"] == "cannot process 9"
    assert marshal.status == "error" and marshal.error_type == "Runtime.MarshalError"
    assert hung.status == "timeout" and hung.error_type == "Sandbox.Timedout"
    assert all(r.invoked for r in (ok, raised, marshal, hung))


def test_http_invoker_takes_a_full_invocations_url_and_a_100_record_event(server: LambdaApiServer) -> None:
    url = f"{server.url}/2015-03-31/functions/function/invocations"
    event = sqs_event(100, body="fail")
    event["do"] = "failures"
    (result,) = http_invocations(url, [event])
    assert result.status == "ok"
    assert len(result.payload["batchItemFailures"]) == 100


def test_http_invoker_runs_requests_concurrently_over_kept_alive_connections(server: LambdaApiServer) -> None:
    results = http_invocations(server.url, [{"do": "pid", "seconds": 0.3}] * 4, concurrency=4)
    assert all(r.status == "ok" for r in results)
    assert len({r.payload for r in results}) == 4  # four workers answered at once
    again = http_invocations(server.url, [{"do": "echo"}] * 6, concurrency=2)
    assert [r.status for r in again] == ["ok"] * 6


def test_an_api_error_means_the_function_was_not_invoked(server: LambdaApiServer) -> None:
    url = f"{server.url}/2015-03-31/functions/dispatch/invocations?Qualifier=7"
    (result,) = http_invocations(url, [{"do": "echo"}])
    assert result.status == "error" and result.invoked is False
    assert result.error_type == "ResourceNotFoundException"
    assert result.error is not None and "function:dispatch:7" in result.error["errorMessage"]


def test_an_endpoint_that_is_down_fails_at_start_and_per_invocation() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = FunctionConfig(f"http://127.0.0.1:{port}", timeout_s=TIMEOUT_S)
    invoker = HttpInvoker(config)
    with pytest.raises(FunctionLoadError, match=f"127.0.0.1:{port}"):
        run(invoker.start())

    async def invoke_anyway() -> Invocation:
        result = await invoker.invoke({}, "down")
        await invoker.close()
        return result

    result = run(invoke_anyway())
    assert result.status == "error" and result.invoked is False
    assert result.error_type == "EndpointConnectionError"


def test_an_endpoint_that_never_answers_is_a_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def go() -> Invocation:
            invoker = HttpInvoker(FunctionConfig(url, timeout_s=0.2), margin_s=0.1)
            result = await invoker.invoke({}, "silent")
            await invoker.close()
            return result

        result = run(go())
    assert result.status == "timeout" and result.error_type == "Sandbox.Timedout"


def test_boto3_client_invokes_the_served_function(server: LambdaApiServer) -> None:
    client = lambda_client(server)
    ok = client.invoke(FunctionName="dispatch", Payload=json.dumps({"do": "echo", "k": "v"}), LogType="Tail")
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["echo"] == {"do": "echo", "k": "v"}
    assert base64.b64decode(ok["LogResult"]).decode().startswith("REPORT RequestId: ")
    failed = client.invoke(FunctionName="dispatch", Payload=b'{"do": "raise", "id": 3}')
    assert failed["FunctionError"] == "Unhandled"
    document = json.loads(failed["Payload"].read())
    assert document["errorType"] == "ProcessingError" and document["errorMessage"] == "cannot process 3"
    assert client.invoke(FunctionName="dispatch", InvocationType="DryRun")["StatusCode"] == 204
    assert client.invoke(FunctionName="dispatch", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    configuration = client.get_function_configuration(FunctionName="dispatch")
    assert configuration["Timeout"] == 1 and configuration["MemorySize"] == 128
    assert configuration["Handler"] == "inv_basic:dispatch"


def test_boto3_sees_lambdas_api_errors(server: LambdaApiServer) -> None:
    client = lambda_client(server)
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="dispatch", Payload=b"{not json")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="dispatch", Qualifier="2", Payload=b"{}")


def test_a_request_over_6_mb_is_refused_with_413(server: LambdaApiServer) -> None:
    body = json.dumps({"blob": "x" * (6 * 1024 * 1024)}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/2015-03-31/functions/dispatch/invocations", body=body)
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("x-amzn-ErrorType") == "RequestTooLargeException"
    conn.close()


def lambda_invocations(server: LambdaApiServer, events: list[Any], name: str = "dispatch") -> list[Invocation]:
    async def go() -> list[Invocation]:
        config = FunctionConfig(name, timeout_s=TIMEOUT_S, endpoint_url=server.url, region="us-east-1")
        invoker = LambdaInvoker(config, concurrency=4)
        await invoker.start()
        try:
            return list(await asyncio.gather(*(invoker.invoke(e, f"req-{i}") for i, e in enumerate(events))))
        finally:
            await invoker.close()

    return run(go())


def test_lambda_invoker_success_error_marshal_and_timeout(
    server: LambdaApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    ok, raised, marshal, hung = lambda_invocations(
        server, [{"do": "echo"}, {"do": "raise", "id": 5}, {"do": "set"}, {"do": "sleep", "seconds": 30}]
    )
    assert ok.status == "ok" and ok.payload["echo"] == {"do": "echo"}
    assert raised.status == "error" and raised.error_type == "ProcessingError"
    assert marshal.status == "error" and marshal.error_type == "Runtime.MarshalError"
    assert hung.status == "timeout" and hung.error_type == "Sandbox.Timedout"


def test_lambda_invoker_reports_api_errors_as_not_invoked(
    server: LambdaApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    (result,) = lambda_invocations(server, [{"do": "echo"}], name="dispatch:7")
    assert result.status == "error" and result.invoked is False
    assert result.error_type == "ResourceNotFoundException"


def test_lambda_invoker_fails_at_start_when_the_endpoint_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = FunctionConfig("my-function", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1")
    invoker = LambdaInvoker(config)
    with pytest.raises(FunctionLoadError, match="my-function"):
        run(invoker.start())
    run(invoker.close())


def test_lambda_invoker_without_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if boto3 were not installed
    with pytest.raises(MissingExtraError) as caught:
        LambdaInvoker(FunctionConfig("my-function"))
    assert "pip install 'batchmap[lambda]'" in str(caught.value)
