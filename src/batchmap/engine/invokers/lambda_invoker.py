"""The AWS Lambda invoker: ``Invoke`` a deployed function (name or ARN) through boto3.

boto3 is imported only when this invoker is built (``pip install
'batchmap[lambda]'``). Region and credentials are found the boto3 way
(environment, profile, instance role); ``FunctionConfig.endpoint_url`` points
the client elsewhere (``batchmap serve``, LocalStack). The SDK's own retries are
off: re-sending an invocation that timed out on the wire could run the
function twice, and whether to retry a batch is the mapping's decision.
A ``FunctionError`` in the response is a function error (a timeout if Lambda
says the task timed out); an API error (throttling, missing function, denied)
means the function never ran, so ``Invocation.invoked`` is ``False``.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import faults
from batchmap.engine.invokers.http_invoker import decode_payload, function_error_invocation
from batchmap.errors import ConfigError, FunctionLoadError, MissingExtraError


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise MissingExtraError("lambda", "boto3") from exc
    return boto3


class LambdaInvoker:
    """Invokes a Lambda function synchronously (``RequestResponse``), ``concurrency`` calls at a time."""

    def __init__(self, function: FunctionConfig, concurrency: int = 1, *, margin_s: float = 5.0) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError("concurrency", concurrency, "an integer of at least 1")
        self.function = function
        self.concurrency = concurrency
        boto3 = _boto3()
        from botocore.config import Config

        config = Config(
            read_timeout=function.timeout_s + margin_s,
            connect_timeout=10,
            retries={"total_max_attempts": 1},
            max_pool_connections=concurrency,
        )
        self._client = boto3.session.Session().client(
            "lambda", region_name=function.region, endpoint_url=function.endpoint_url, config=config
        )
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="batchmap-lambda")

    async def start(self) -> None:
        """Look the function up (``GetFunctionConfiguration``); ``FunctionLoadError`` if it does not exist.

        A caller without ``lambda:GetFunctionConfiguration`` permission is not
        stopped: only a missing function, missing credentials or an
        unreachable endpoint are.
        """
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._check)

    def _check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.function.handler
        try:
            self._client.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ResourceNotFoundException", "InvalidParameterValueException"):
                raise FunctionLoadError(f"function {name!r}: {exc}", handler=name, error_type=code) from exc
        except BotoCoreError as exc:
            raise FunctionLoadError(f"function {name!r}: {exc}", handler=name, error_type=type(exc).__name__) from exc

    async def invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        """Invoke the function with the event and describe the result."""
        body = json.dumps(event, separators=(",", ":")).encode()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._invoke, body, request_id)

    def _invoke(self, body: bytes, request_id: str) -> Invocation:
        from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

        started = time.perf_counter()
        try:
            response = self._client.invoke(
                FunctionName=self.function.handler, InvocationType="RequestResponse", Payload=body
            )
            data = response["Payload"].read()
        except ReadTimeoutError:
            return faults.timeout_invocation(request_id, self.function.timeout_s, _ms(started))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            document = faults.error_document(
                str(error.get("Code", "ClientError")), str(error.get("Message", exc)), request_id
            )
            return _not_invoked(document, request_id, started)
        except BotoCoreError as exc:
            return _not_invoked(faults.error_document(type(exc).__name__, str(exc), request_id), request_id, started)
        return _from_response(response, data, request_id, _ms(started))

    async def close(self) -> None:
        """Release the request threads and the client's connections."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def _from_response(response: dict[str, Any], data: bytes, request_id: str, duration_ms: float) -> Invocation:
    payload = decode_payload(data)
    function_error = response.get("FunctionError")
    if not function_error:
        return Invocation("ok", payload=payload, duration_ms=duration_ms, request_id=request_id)
    return function_error_invocation(payload, str(function_error), request_id, duration_ms)


def _not_invoked(document: dict[str, Any], request_id: str, started: float) -> Invocation:
    return Invocation("error", error=document, duration_ms=_ms(started), request_id=request_id, invoked=False)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
