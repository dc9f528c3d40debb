"""Choosing an invoker from the function's handler string, or as asked.

``auto`` reads the handler:

* ``http://...`` or ``https://...``: the HTTP invoker (Lambda Invoke API);
* a Lambda ARN (``arn:aws:lambda:...``, or ``123456789012:function:NAME``) or a
  bare function name (no ``.``, ``:`` or ``/``, which Lambda function names
  never contain and Python handlers always do): AWS Lambda through boto3. That
  needs a region (the function's, the ARN's, or boto3's: ``AWS_DEFAULT_REGION``
  or a profile); without one, a bare name is most likely a local handler missing
  its ``:callable``, and the error says so before any AWS client is made;
* anything else (``module:callable``, ``module.callable``,
  ``folder/module.callable``): in-process, the fastest. Ask for ``subprocess``
  to isolate the function (crashes, hangs, memory limit) from the engine.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Literal, get_args

from batchmap.config.function import FunctionConfig
from batchmap.config.parameters import fail
from batchmap.engine.invocation import Invoker
from batchmap.errors import ConfigError

InvokerKind = Literal["auto", "inprocess", "subprocess", "http", "lambda"]
INVOKER_KINDS: tuple[str, ...] = get_args(InvokerKind)

_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$")
_PARTIAL_ARN = re.compile(r"^\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def resolve_kind(handler: str) -> Literal["inprocess", "http", "lambda"]:
    """What ``auto`` picks for ``handler`` (see the module docstring)."""
    text = handler.strip()
    if text.startswith(("http://", "https://")):
        return "http"
    if text.startswith("arn:"):
        if not _LAMBDA_ARN.match(text):
            raise ConfigError(
                "handler", handler, "a Lambda function ARN: arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]"
            )
        return "lambda"
    if _PARTIAL_ARN.match(text) or _FUNCTION_NAME.match(text):
        return "lambda"
    return "inprocess"


def make_invoker(function: FunctionConfig, kind: str = "auto", concurrency: int = 1) -> Invoker:
    """Build the invoker of ``kind`` for ``function``, running at most ``concurrency`` invocations at once.

    Nothing is loaded or contacted yet: ``await invoker.start()`` does that and
    raises ``FunctionLoadError`` if the function cannot be reached.
    """
    if kind not in INVOKER_KINDS:
        raise ConfigError("invoker", kind, f"one of {', '.join(INVOKER_KINDS)}")
    chosen = resolve_kind(function.handler) if kind == "auto" else kind
    # Each invoker's module is imported only when chosen: the HTTP one alone pulls in http.client and email
    # (~6 ms of every `batchmap run`'s start-up).
    if chosen == "lambda":
        from batchmap.engine.invokers.lambda_invoker import LambdaInvoker

        return LambdaInvoker(lambda_function(function), concurrency)
    if chosen == "inprocess":
        from batchmap.engine.invokers.in_process import InProcessInvoker

        return InProcessInvoker(function, concurrency)
    if chosen == "subprocess":
        from batchmap.engine.invokers.subprocess_invoker import SubprocessInvoker

        return SubprocessInvoker(function, concurrency)
    from batchmap.engine.invokers.http_invoker import HttpInvoker

    return HttpInvoker(function, concurrency)


def lambda_function(function: FunctionConfig) -> FunctionConfig:
    """``function`` with the region its Lambda client will use; a ``ConfigError`` naming it when there is none."""
    handler = function.handler.strip()
    if resolve_kind(handler) != "lambda":
        raise fail("function", handler, "a Lambda function name or ARN with --invoker lambda; module:callable "
                                        "runs locally (--invoker inprocess or subprocess)")
    region = function.region or _arn_region(handler) or _default_region()
    if region is None:
        raise fail("function", handler, "a Lambda function name needs an AWS region (--region, "
                                        "AWS_DEFAULT_REGION or a profile's region); a local handler is "
                                        f"module:callable, such as {handler}:handler")
    return function if function.region == region else replace(function, region=region)


def _arn_region(handler: str) -> str | None:
    return handler.split(":")[3] if _LAMBDA_ARN.match(handler) else None


def _default_region() -> str | None:
    """boto3's own region (``AWS_DEFAULT_REGION``, the profile), without making a client; ``None`` without boto3."""
    try:
        import botocore.session
    except ImportError:
        return None
    region = botocore.session.get_session().get_config_variable("region")
    return str(region) if region else None
