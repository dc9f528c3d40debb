"""The subprocess invoker: warm workers, and every way a worker can die without touching the engine."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from invoker_support import function, run, sqs_event

from batchmap.config.function import FunctionConfig
from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import SubprocessInvoker
from batchmap.errors import FunctionLoadError


async def session(
    config: FunctionConfig, events: list[dict[str, Any]], concurrency: int = 1
) -> tuple[list[Invocation], SubprocessInvoker]:
    """Start an invoker, send the events one after another, close it."""
    invoker = SubprocessInvoker(config, concurrency)
    await invoker.start()
    try:
        return [await invoker.invoke(event, f"req-{i}") for i, event in enumerate(events)], invoker
    finally:
        await invoker.close()


def invocations(handler: str, *events: dict[str, Any], **settings: Any) -> list[Invocation]:
    return run(session(function(handler, **settings), list(events)))[0]


def test_success_and_warm_state_across_invocations() -> None:
    results = invocations("inv_basic:count", {}, {}, {})
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert [r.payload["calls"] for r in results] == [1, 2, 3]  # the module was imported once
    assert len({r.payload["pid"] for r in results}) == 1
    assert results[0].payload["pid"] != os.getpid()
    assert results[0].init_duration_ms is not None  # the cold start is reported once
    assert results[1].init_duration_ms is None and results[2].init_duration_ms is None
    assert all(r.max_memory_used_mb and r.max_memory_used_mb > 0 for r in results)


def test_max_memory_used_is_the_workers_own_not_the_engines() -> None:
    ballast = bytearray(400 * 1024 * 1024)  # the engine's process has held 400 MB when the worker starts
    ballast[::4096] = b"x" * len(ballast[::4096])
    (result,) = invocations("inv_basic:count", {})
    del ballast
    assert result.status == "ok"
    assert result.max_memory_used_mb is not None and 0 < result.max_memory_used_mb < 200


def test_the_context_and_lambdas_environment_in_the_worker() -> None:
    names = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "BM_ONLY_IN_CHILD"]
    (echo,) = invocations("inv_basic:echo", {"x": 1}, name="orders", memory_mb=512)
    assert echo.payload["function_name"] == "orders" and echo.payload["memory_limit_in_mb"] == "512"
    assert echo.payload["aws_request_id"] == "req-0"
    assert 0 < echo.payload["remaining_ms"] <= 2000
    result = invocations("inv_basic:env", {"names": names}, name="orders", environment={"BM_ONLY_IN_CHILD": "yes"})
    assert result[0].payload == {
        "AWS_LAMBDA_FUNCTION_NAME": "orders",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "BM_ONLY_IN_CHILD": "yes",
    }
    assert "BM_ONLY_IN_CHILD" not in os.environ  # applied in the worker only


def test_exceptions_marshal_errors_and_async_handlers() -> None:
    (raised,) = invocations("inv_basic:raises", {"id": 1})
    (marshal,) = invocations("inv_basic:returns_set", {})
    (async_ok,) = invocations("inv_basic:async_echo", {"a": 2})
    (async_failed,) = invocations("inv_basic:async_raises", {})
    assert raised.status == "error" and raised.error_type == "ProcessingError"
    assert raised.error is not None and raised.error["errorMessage"] == "cannot process 1"
    assert "in _helper" in raised.error["stackTrace"][-1]
    assert marshal.status == "error" and marshal.error_type == "Runtime.MarshalError"
    assert async_ok.status == "ok" and async_ok.payload["event"] == {"a": 2}
    assert async_failed.error_type == "ValueError"


def test_prints_and_stdin_do_not_disturb_the_protocol() -> None:
    (result,) = invocations("inv_basic:chatty", {})
    assert result.status == "ok" and result.payload == "answer: "


def test_a_100_record_event_round_trips() -> None:
    event = sqs_event(100)
    event["Records"][3]["body"] = "fail"
    (result,) = invocations("inv_basic:batch_failures", event)
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][3]["messageId"]}]}


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("os_exit", "Runtime exited with error: exit status 7"),
        ("sys_exit", "Runtime exited with error: exit status 3"),
        ("segfault", "Runtime exited with error: signal: segmentation fault"),
    ],
)
def test_a_crash_fails_the_invocation_and_a_fresh_worker_takes_over(how: str, words: str) -> None:
    warm, crashed, fresh = invocations("inv_crashes:crash", {}, {"how": how}, {})
    assert crashed.status == "error"
    assert crashed.error_type == "Runtime.ExitError"
    assert crashed.error is not None and crashed.error["errorMessage"] == f"RequestId: req-1 Error: {words}"
    assert warm.payload["calls"] == 1 and fresh.payload["calls"] == 1  # the new worker starts from scratch
    assert fresh.payload["pid"] != warm.payload["pid"]
    assert fresh.init_duration_ms is not None


def test_a_hang_is_killed_at_the_timeout_and_the_worker_replaced() -> None:
    async def go() -> tuple[list[Invocation], int]:
        invoker = SubprocessInvoker(function("inv_basic:pid_after", timeout_s=0.5))
        await invoker.start()
        before = await invoker.invoke({"seconds": 0}, "before")
        hung = await invoker.invoke({"seconds": 30}, "hung")
        after = await invoker.invoke({"seconds": 0}, "after")
        await invoker.close()
        return [before, hung, after], invoker.workers_started

    (before, hung, after), started = run(go())
    assert before.status == "ok" and after.status == "ok"
    assert hung.status == "timeout" and hung.error_type == "Sandbox.Timedout"
    assert hung.error is not None
    assert hung.error["errorMessage"] == "RequestId: hung Error: Task timed out after 0.50 seconds"
    assert after.payload != before.payload  # a new process
    assert after.init_duration_ms is not None  # which paid a cold start
    assert started == 2
    with pytest.raises(ProcessLookupError):
        os.kill(before.payload, 0)  # the hung worker is gone, not a zombie


@pytest.mark.parametrize("handler", ["inv_crashes:hog_memory", "inv_crashes:big_allocation"])
def test_running_out_of_memory_is_runtime_out_of_memory(handler: str) -> None:
    async def go() -> tuple[list[Invocation], int]:
        invoker = SubprocessInvoker(function(handler, memory_mb=128))
        await invoker.start()
        blown = await invoker.invoke({"mb": 2048}, "oom")
        fits = await invoker.invoke({"mb": 16}, "fits")
        await invoker.close()
        return [blown, fits], invoker.workers_started

    (blown, fits), started = run(go())
    assert blown.status == "error" and blown.error_type == "Runtime.OutOfMemory"
    assert blown.error is not None and "Runtime exited with error: signal: killed" in blown.error["errorMessage"]
    assert fits.status == "ok"  # a fresh worker, with its memory back
    assert started == 2


def test_concurrency_starts_one_worker_per_concurrent_invocation() -> None:
    async def go(concurrency: int) -> tuple[list[Invocation], int]:
        invoker = SubprocessInvoker(function("inv_basic:pid_after"), concurrency)
        await invoker.start()
        results = await asyncio.gather(*(invoker.invoke({"seconds": 0.3}, f"r{i}") for i in range(2)))
        await invoker.close()
        return list(results), invoker.workers_started

    parallel, started = run(go(2))
    assert len({r.payload for r in parallel}) == 2 and started == 2
    serial, started = run(go(1))
    assert len({r.payload for r in serial}) == 1 and started == 1


def test_close_stops_every_worker() -> None:
    results, invoker = run(session(function("inv_basic:count"), [{}]))
    with pytest.raises(ProcessLookupError):
        os.kill(results[0].payload["pid"], 0)
    after = run(invoker.invoke({}, "late"))
    assert after.status == "error" and after.invoked is False


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("inv_missing_module:handler", "Runtime.ImportModuleError"),
        ("inv_basic:no_such_function", "Runtime.HandlerNotFound"),
        ("inv_broken_import:handler", "Runtime.ImportModuleError"),
    ],
)
def test_a_function_that_cannot_load_fails_at_start(handler: str, error_type: str) -> None:
    invoker = SubprocessInvoker(function(handler))
    with pytest.raises(FunctionLoadError) as caught:
        run(invoker.start())
    assert caught.value.error_type == error_type
    assert handler in str(caught.value)


def test_ctrl_c_in_the_terminal_does_not_kill_a_worker() -> None:
    async def go() -> list[Invocation]:
        invoker = SubprocessInvoker(function("inv_basic:count"))
        await invoker.start()
        first = await invoker.invoke({}, "a")
        os.kill(first.payload["pid"], signal.SIGINT)  # what Ctrl-C sends the whole process group
        second = await invoker.invoke({}, "b")
        await invoker.close()
        return [first, second]

    first, second = run(go())
    assert second.status == "ok"
    assert second.payload == {"calls": 2, "pid": first.payload["pid"]}


def test_a_cancelled_invocation_kills_its_worker_and_the_next_one_starts_fresh() -> None:
    async def go() -> tuple[int, Invocation]:
        invoker = SubprocessInvoker(function("inv_basic:pid_after", timeout_s=30.0))
        await invoker.start()
        task = asyncio.ensure_future(invoker.invoke({"seconds": 30}, "cancelled"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await invoker.invoke({"seconds": 0}, "after")
        await invoker.close()
        return invoker.workers_started, after

    started, after = run(go())
    assert after.status == "ok" and after.init_duration_ms is not None
    assert started == 2


def test_an_idle_worker_killed_from_outside_is_replaced_before_use() -> None:
    async def go() -> tuple[list[Invocation], int]:
        invoker = SubprocessInvoker(function("inv_basic:count"))
        await invoker.start()
        first = await invoker.invoke({}, "a")
        os.kill(first.payload["pid"], signal.SIGKILL)
        while True:  # wait until asyncio has reaped it (then the pid is gone)
            try:
                os.kill(first.payload["pid"], 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.02)
        second = await invoker.invoke({}, "b")
        await invoker.close()
        return [first, second], invoker.workers_started

    (first, second), started = run(go())
    assert second.status == "ok" and second.payload["calls"] == 1
    assert second.payload["pid"] != first.payload["pid"]
    assert started == 2


def test_a_replacement_worker_that_cannot_import_is_the_invocations_outcome(tmp_path: Path) -> None:
    module = f"bm_flaky_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import os, pathlib\n"
        "marker = pathlib.Path(os.environ['BM_MARKER'])\n"
        "if marker.exists():\n    raise RuntimeError('the second import fails')\n"
        "marker.write_text('imported')\n"
        "def handler(event, context):\n    os._exit(1)\n"
    )
    config = FunctionConfig(
        f"{module}.handler", code_path=str(tmp_path), environment={"BM_MARKER": str(tmp_path / "marker")}
    )
    crashed, failed = run(session(config, [{}, {}]))[0]
    assert crashed.error_type == "Runtime.ExitError"
    assert failed.status == "error" and failed.error_type == "Runtime.ImportModuleError"
    assert failed.error is not None and "the second import fails" in failed.error["errorMessage"]
    assert failed.error["requestId"] == "req-1" and failed.init_duration_ms is not None
