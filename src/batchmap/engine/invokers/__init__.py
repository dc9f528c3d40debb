"""Invokers: how the engine runs the function for one event.

* ``InProcessInvoker``: threads of the engine's process (fastest; no isolation);
* ``SubprocessInvoker``: warm worker processes (crashes, hangs and memory are contained);
* ``HttpInvoker``: anything speaking the Lambda Invoke API (the Runtime Interface Emulator, ``batchmap serve``);
* ``LambdaInvoker``: AWS Lambda itself, through boto3.

``make_invoker`` picks one from the handler string (see ``resolve_kind``).
"""

from __future__ import annotations

from batchmap.engine.invokers.factory import INVOKER_KINDS, InvokerKind, make_invoker, resolve_kind
from batchmap.engine.invokers.http_invoker import HttpInvoker, invocations_url
from batchmap.engine.invokers.in_process import InProcessInvoker
from batchmap.engine.invokers.lambda_invoker import LambdaInvoker
from batchmap.engine.invokers.subprocess_invoker import SubprocessInvoker

__all__ = [
    "INVOKER_KINDS",
    "HttpInvoker",
    "InProcessInvoker",
    "InvokerKind",
    "LambdaInvoker",
    "SubprocessInvoker",
    "invocations_url",
    "make_invoker",
    "resolve_kind",
]
