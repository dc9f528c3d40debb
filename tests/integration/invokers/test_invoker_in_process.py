"""The in-process invoker against real handler modules: results, errors, timeouts, concurrency."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest
from invoker_support import function, run, sqs_event

from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import InProcessInvoker
from batchmap.errors import ConfigError, FunctionLoadError


def invoke_once(handler: str, event: Any, request_id: str = "req-1", **settings: Any) -> Invocation:
    async def go() -> Invocation:
        invoker = InProcessInvoker(function(handler, **settings))
        await invoker.start()
        try:
            return await invoker.invoke(event, request_id)
        finally:
            await invoker.close()

    return run(go())


def test_success_returns_the_json_round_tripped_result_and_a_lambda_context() -> None:
    result = invoke_once("inv_basic:echo", {"n": 1, "t": (1, 2)}, name="orders", memory_mb=256, timeout_s=2.0)
    assert result.status == "ok"
    assert result.request_id == "req-1"
    payload = result.payload
    assert payload["event"] == {"n": 1, "t": [1, 2]}  # a tuple comes back as a list, as through Lambda
    assert payload["function_name"] == "orders"
    assert payload["function_version"] == "$LATEST"
    assert payload["invoked_function_arn"] == "arn:aws:lambda:local:000000000000:function:orders"
    assert payload["memory_limit_in_mb"] == "256"
    assert payload["aws_request_id"] == "req-1"
    assert payload["log_group_name"] == "/aws/lambda/orders"
    assert "[$LATEST]" in payload["log_stream_name"]
    assert 0 < payload["remaining_ms"] <= 2000
    assert payload["identity"] is None and payload["client_context"] is None


def test_lambda_style_dotted_handler_and_object_handlers_load() -> None:
    assert invoke_once("inv_basic.instance", {}).payload == "called"
    assert invoke_once("inv_basic:returns_decimal", {}).payload == {"price": 1.5}


def test_an_exception_is_an_error_with_lambdas_document() -> None:
    result = invoke_once("inv_basic:raises", {"id": 42})
    assert result.status == "error"
    assert result.error is not None
    assert result.error_type == "ProcessingError"
    assert result.error["errorMessage"] == "cannot process 42"
    assert result.error["requestId"] == "req-1"
    stack = result.error["stackTrace"]
    assert all(isinstance(line, str) for line in stack)
    assert "in raises" in stack[0] and "in _helper" in stack[-1]
    assert not any("batchmap" in line for line in stack)  # only the user's frames, as Lambda shows


def test_a_non_json_return_is_a_marshal_error() -> None:
    result = invoke_once("inv_basic:returns_set", {})
    assert result.status == "error"
    assert result.error_type == "Runtime.MarshalError"
    assert result.error is not None and result.error["errorMessage"].startswith("Unable to marshal response:")


def test_a_response_over_6_mb_is_refused() -> None:
    result = invoke_once("inv_basic:returns_too_much", {})
    assert result.status == "error"
    assert result.error_type == "Function.ResponseSizeTooLarge"


def test_sys_exit_fails_the_invocation_not_the_engine() -> None:
    result = invoke_once("inv_basic:exits", {"code": 4})
    assert result.status == "error"
    assert result.error_type == "Runtime.ExitError"
    assert result.error is not None and "exit status 4" in result.error["errorMessage"]


def test_a_hung_handler_times_out_and_does_not_block_the_next_invocation() -> None:
    async def go() -> tuple[Invocation, Invocation, int]:
        invoker = InProcessInvoker(function("inv_basic:sleeps", timeout_s=0.3), concurrency=1)
        await invoker.start()
        hung = await invoker.invoke({"seconds": 2}, "hung")
        abandoned = invoker.abandoned
        quick = await invoker.invoke({"seconds": 0}, "quick")  # the only slot was freed at the deadline
        await invoker.close()
        return hung, quick, abandoned

    hung, quick, abandoned = run(go())
    assert hung.status == "timeout"
    assert hung.error_type == "Sandbox.Timedout"
    assert hung.error is not None
    assert hung.error["errorMessage"] == "RequestId: hung Error: Task timed out after 0.30 seconds"
    assert abandoned == 1
    assert quick.status == "ok" and quick.payload == {"slept": 0}


def test_async_handlers_run_and_are_cancelled_at_the_deadline() -> None:
    import inv_basic

    ok = invoke_once("inv_basic:async_echo", {"a": 1}, request_id="a-1")
    assert ok.status == "ok" and ok.payload == {"async": True, "event": {"a": 1}, "request_id": "a-1"}
    failed = invoke_once("inv_basic:async_raises", {})
    assert failed.status == "error" and failed.error_type == "ValueError"
    assert failed.error is not None and not any("asyncio" in line for line in failed.error["stackTrace"])

    async def overrun() -> Invocation:
        invoker = InProcessInvoker(function("inv_basic:async_sleeps", timeout_s=0.2))
        result = await invoker.invoke({"seconds": 5}, "slow-1")
        while invoker.abandoned:  # the cancelled coroutine unwinds on its own thread
            await asyncio.sleep(0.01)
        await invoker.close()
        return result

    assert run(overrun()).status == "timeout"
    assert "slow-1" in inv_basic.CANCELLED


def test_concurrency_runs_that_many_invocations_at_once_and_no_more() -> None:
    async def go(handler: str, concurrency: int, count: int, event: dict[str, Any]) -> list[Invocation]:
        invoker = InProcessInvoker(function(handler, timeout_s=5.0), concurrency=concurrency)
        results = await asyncio.gather(*(invoker.invoke(event, f"r{i}") for i in range(count)))
        await invoker.close()
        return list(results)

    met = run(go("inv_basic:rendezvous", 2, 2, {}))
    assert [r.payload for r in met] == ["met", "met"]  # both were inside at the same time
    tracked = run(go("inv_basic:track_concurrency", 2, 6, {"seconds": 0.05}))
    assert all(r.status == "ok" for r in tracked)
    assert max(r.payload for r in tracked) <= 2


def test_a_100_record_sqs_event_and_a_partial_batch_response() -> None:
    event = sqs_event(100)
    event["Records"][7]["body"] = "fail"
    result = invoke_once("inv_basic:batch_failures", event)
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][7]["messageId"]}]}


def test_init_duration_is_reported_on_the_first_invocation_only() -> None:
    async def go() -> list[Invocation]:
        invoker = InProcessInvoker(function("inv_basic:count"))
        await invoker.start()
        results = [await invoker.invoke({}, f"r{i}") for i in range(2)]
        await invoker.close()
        return results

    first, second = run(go())
    assert first.init_duration_ms is not None and first.init_duration_ms >= 0
    assert second.init_duration_ms is None
    assert second.payload["calls"] == first.payload["calls"] + 1  # module state is kept


def test_environment_variables_are_applied_before_import() -> None:
    name = f"BATCHMAP_TEST_{threading.get_ident()}"
    result = invoke_once("inv_basic:env", {"names": [name]}, environment={name: "on"})
    assert result.payload == {name: "on"}
    os.environ.pop(name, None)


@pytest.mark.parametrize(
    ("handler", "error_type", "words"),
    [
        ("inv_missing_module:handler", "Runtime.ImportModuleError", "No module named 'inv_missing_module'"),
        ("inv_basic:no_such_function", "Runtime.HandlerNotFound", "missing on module 'inv_basic'"),
        ("inv_basic:not_callable", "Runtime.HandlerNotFound", "not a callable"),
        ("inv_broken_import:handler", "Runtime.ImportModuleError", "the database URL is not set"),
        ("no_dot_at_all", "Runtime.MalformedHandlerName", "bad handler name"),
    ],
)
def test_a_function_that_cannot_load_fails_at_start(handler: str, error_type: str, words: str) -> None:
    invoker = InProcessInvoker(function(handler))
    with pytest.raises(FunctionLoadError) as caught:
        run(invoker.start())
    assert caught.value.handler == handler
    assert caught.value.error_type == error_type
    assert handler in str(caught.value) and words in str(caught.value)


def test_bad_concurrency_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        InProcessInvoker(function("inv_basic:echo"), concurrency=0)


def test_invoking_without_start_reports_a_load_failure_as_lambda_does() -> None:
    async def go() -> Invocation:
        invoker = InProcessInvoker(function("inv_broken_import:handler"))
        result = await invoker.invoke({}, "no-start")
        await invoker.close()
        return result

    result = run(go())
    assert result.status == "error" and result.error_type == "Runtime.ImportModuleError"
    assert result.error is not None and "the database URL is not set" in result.error["errorMessage"]


def test_the_toolkits_memory_budget_does_not_count_the_engines_memory() -> None:
    ballast = bytearray(160 * 1024 * 1024)  # the engine's process holds more than the function's 128 MB
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touched, so it is resident
    result = invoke_once("inv_basic:toolkit", sqs_event(3), memory_mb=128)
    del ballast
    assert result.status == "ok"
    assert result.payload == {"batchItemFailures": []}  # every record ran: none held back for "memory"
