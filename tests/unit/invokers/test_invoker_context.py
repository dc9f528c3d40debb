"""LambdaContext: the fields Lambda's Python runtime gives, and a remaining time that counts down."""

from __future__ import annotations

import re
import uuid

import pytest

from batchmap.clock import FakeClock
from batchmap.engine.context import LambdaContext, function_arn, log_stream_name


def test_fields_are_those_of_lambdas_python_runtime() -> None:
    ctx = LambdaContext.start("orders", timeout_s=3.0, memory_mb=512, aws_request_id="r-1")
    assert ctx.function_name == "orders"
    assert ctx.function_version == "$LATEST"
    assert ctx.invoked_function_arn == "arn:aws:lambda:local:000000000000:function:orders"
    assert ctx.memory_limit_in_mb == "512"  # a string, as the runtime reads it from the environment
    assert ctx.aws_request_id == "r-1"
    assert ctx.log_group_name == "/aws/lambda/orders"
    assert ctx.identity is None and ctx.client_context is None


def test_remaining_time_counts_down_from_the_timeout_and_stops_at_zero() -> None:
    clock = FakeClock()
    ctx = LambdaContext.start("f", timeout_s=3.0, now=clock.now)
    assert ctx.get_remaining_time_in_millis() == 3000
    clock.advance(1.25)
    assert ctx.get_remaining_time_in_millis() == 1750
    clock.advance(5)
    assert ctx.get_remaining_time_in_millis() == 0


def test_a_request_id_is_made_when_none_is_given() -> None:
    ids = {LambdaContext.start("f", 1.0).aws_request_id for _ in range(3)}
    assert len(ids) == 3
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


def test_log_stream_names_look_like_lambdas() -> None:
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", log_stream_name())
    assert function_arn("x", region="eu-west-1", account="123456789012") == (
        "arn:aws:lambda:eu-west-1:123456789012:function:x"
    )


def test_log_writes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    LambdaContext.start("f", 1.0).log("hello\n")
    assert capsys.readouterr().out == "hello\n"


def test_the_context_is_immutable() -> None:
    ctx = LambdaContext.start("f", 1.0)
    with pytest.raises(AttributeError):
        ctx.function_name = "g"  # type: ignore[misc]
