"""Invokers: how the engine runs the function for one event.

* ``InProcessInvoker``: threads of the engine's process (fastest; no isolation);
* ``SubprocessInvoker``: warm worker processes (crashes, hangs and memory are contained);
* ``HttpInvoker``: anything speaking the Lambda Invoke API (the Runtime Interface Emulator, ``batchmap serve``);
* ``LambdaInvoker``: AWS Lambda itself, through boto3.

``make_invoker`` picks one from the handler string (see ``resolve_kind``).

The names are imported on first use: a worker process imports
``batchmap.engine.invokers.worker`` and must not pay for asyncio, http.client
and the other invokers in its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchmap.lazy import lazy_exports

if TYPE_CHECKING:
    from batchmap.engine.invokers.factory import INVOKER_KINDS, InvokerKind, make_invoker, resolve_kind
    from batchmap.engine.invokers.http_invoker import HttpInvoker, invocations_url
    from batchmap.engine.invokers.in_process import InProcessInvoker
    from batchmap.engine.invokers.lambda_invoker import LambdaInvoker
    from batchmap.engine.invokers.subprocess_invoker import SubprocessInvoker

_HOMES = {
    "INVOKER_KINDS": "factory",
    "InvokerKind": "factory",
    "make_invoker": "factory",
    "resolve_kind": "factory",
    "HttpInvoker": "http_invoker",
    "invocations_url": "http_invoker",
    "InProcessInvoker": "in_process",
    "LambdaInvoker": "lambda_invoker",
    "SubprocessInvoker": "subprocess_invoker",
}

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

__getattr__, __dir__ = lazy_exports(globals(), _HOMES, __all__)
