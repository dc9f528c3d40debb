"""Choosing an invoker, and the validation of the function's settings."""

from __future__ import annotations

from typing import Any

import pytest

from batchmap.config.function import FunctionConfig
from batchmap.engine.invocation import Invocation, Invoker
from batchmap.engine.invokers import (
    HttpInvoker,
    InProcessInvoker,
    LambdaInvoker,
    SubprocessInvoker,
    invocations_url,
    make_invoker,
    resolve_kind,
)
from batchmap.errors import ConfigError


@pytest.mark.parametrize(
    ("handler", "kind"),
    [
        ("app:handler", "inprocess"),
        ("app.handler", "inprocess"),
        ("src/app.handler", "inprocess"),
        ("http://127.0.0.1:9000", "http"),
        ("https://example.invalid/2015-03-31/functions/f/invocations", "http"),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-fn", "lambda"),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-fn:prod", "lambda"),
        ("123456789012:function:my-fn", "lambda"),
        ("my-function", "lambda"),
        ("my_function", "lambda"),
    ],
)
def test_auto_reads_the_handler(handler: str, kind: str) -> None:
    assert resolve_kind(handler) == kind


def test_an_arn_of_another_service_is_refused() -> None:
    with pytest.raises(ConfigError, match="handler"):
        resolve_kind("arn:aws:sqs:us-east-1:123456789012:queue")


@pytest.mark.parametrize(
    ("handler", "kind", "cls"),
    [
        ("app:handler", "auto", InProcessInvoker),
        ("app:handler", "inprocess", InProcessInvoker),
        ("app:handler", "subprocess", SubprocessInvoker),
        ("http://127.0.0.1:9000", "auto", HttpInvoker),
        ("my-function", "lambda", LambdaInvoker),
    ],
)
def test_make_invoker_builds_the_kind_asked_for(handler: str, kind: str, cls: type[Any]) -> None:
    extra: dict[str, Any] = {"region": "us-east-1"} if cls is LambdaInvoker else {}
    invoker: Any = make_invoker(FunctionConfig(handler, **extra), kind, concurrency=3)
    assert invoker.concurrency == 3
    assert isinstance(invoker, cls) and isinstance(invoker, Invoker)


def test_an_unknown_kind_names_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        make_invoker(FunctionConfig("app:handler"), "docker")
    assert caught.value.parameter == "invoker" and "subprocess" in caught.value.allowed


def test_invocations_url_is_built_from_an_endpoint_or_kept() -> None:
    assert invocations_url("http://127.0.0.1:9000", "fn") == "http://127.0.0.1:9000/2015-03-31/functions/fn/invocations"
    full = "http://127.0.0.1:9000/2015-03-31/functions/function/invocations"
    assert invocations_url(full, "ignored") == full
    with pytest.raises(ConfigError):
        invocations_url("ftp://127.0.0.1", "fn")


@pytest.mark.parametrize(
    ("settings", "parameter"),
    [
        ({"handler": ""}, "handler"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 901}, "timeout_s"),
        ({"memory_mb": 64}, "memory_mb"),
        ({"memory_mb": 20_000}, "memory_mb"),
        ({"memory_mb": 256.0}, "memory_mb"),
        ({"environment": {"A": 1}}, "environment"),
        ({"name": ""}, "name"),
    ],
)
def test_function_settings_are_validated_naming_the_field(settings: dict[str, Any], parameter: str) -> None:
    values: dict[str, Any] = {"handler": "app:handler", **settings}
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(**values)
    assert caught.value.parameter == parameter


def test_invocation_error_type() -> None:
    assert Invocation("ok").error_type is None
    assert Invocation("error", error={"errorType": "KeyError"}).error_type == "KeyError"
