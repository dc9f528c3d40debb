"""One botocore client per source and the threads its blocking calls run on.

boto3 is blocking; botocore clients are thread-safe. Each source owns a small
thread pool sized for its concurrent calls (SQS runs several long polls at
once), so it never starves the event loop's default executor. ``boto3`` is
imported here, lazily: without it the error names the extra to install.
The clients of one process share a session (``_client``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from batchmap.errors import BrokerError, MissingExtraError, SourceError

T = TypeVar("T")


def _import_boto3(extra: str) -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise MissingExtraError(extra, "boto3") from exc
    return boto3


TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "LimitExceededException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "SlowDown", "KmsThrottled", "KMSThrottlingException",
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "InternalError", "InternalFailure",
    "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException",
})
"""AWS error codes that waiting cures (throttling, a service that is busy or failing for a while).
Every other code (access denied, a queue or stream that does not exist, bad input) is fatal."""


def _botocore_errors() -> tuple[type[Exception], type[Exception], tuple[type[Exception], ...]]:
    from botocore import exceptions

    transient = (exceptions.HTTPClientError, exceptions.IncompleteReadError, exceptions.EndpointConnectionError,
                 exceptions.ConnectTimeoutError, exceptions.ProxyConnectionError)
    return exceptions.ClientError, exceptions.BotoCoreError, transient


def transient_client_error(error: dict[str, Any], status: int) -> bool:
    """A ClientError waiting may cure: a throttling or server code, or an HTTP 429 or 5xx."""
    return str(error.get("Code", "")) in TRANSIENT_CODES or status == 429 or status >= 500


class AwsClient:
    """A botocore client whose calls are awaited; failures come back as ``BrokerError``/``SourceError``."""

    def __init__(self, client: Any, threads: int, service: str) -> None:
        self.raw = client
        self.service = service
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"batchmap-{service}")
        self._client_error, self._core_error, self._transient = _botocore_errors()

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run ``operation`` (boto3 snake_case name) in the pool and return its response."""
        return await self.run(self.sync_call, operation, **params)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking function that uses this client in the pool."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Start a blocking function in the pool; ``RuntimeError`` once the client is closed."""
        return self._executor.submit(functools.partial(fn, *args, **kwargs))

    def sync_call(self, operation: str, **params: Any) -> dict[str, Any]:
        """The blocking call, with botocore's errors turned into ours (for use inside the pool)."""
        try:
            response: dict[str, Any] = getattr(self.raw, operation)(**params)
        except self._client_error as exc:
            response = getattr(exc, "response", {})
            error = response.get("Error", {})
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            raise BrokerError(
                operation, str(error.get("Code", "Unknown")), str(error.get("Message", exc)),
                transient=transient_client_error(error, status),
            ) from exc
        except self._core_error as exc:  # connection refused, reset or timed out: transient; no credentials: not
            raise SourceError(f"{self.service} {operation}: {exc}", transient=isinstance(exc, self._transient)) from exc
        return response

    def close(self) -> None:
        """Stop taking calls; calls in flight finish on their own (a long poll within 20 s)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.raw.close()


async def open_client(
    service: str, extra: str, *, region: str, endpoint_url: str | None, threads: int = 8
) -> AwsClient:
    """A client for ``service`` with credentials found the boto3 way (env, profile, role)."""
    boto3 = _import_boto3(extra)
    from botocore.config import Config

    config = Config(
        max_pool_connections=threads,
        retries={"mode": "standard", "max_attempts": 5},
        read_timeout=70,
        connect_timeout=10,
    )

    raw = await asyncio.to_thread(_client, boto3, service, region_name=region, endpoint_url=endpoint_url,
                                  config=config)
    return AwsClient(raw, threads, service)


_sessions: dict[tuple[tuple[str, str], ...], Any] = {}
_sessions_lock = threading.Lock()


def _client(boto3: Any, service: str, **kwargs: Any) -> Any:
    """A client made by the process's boto3 session for the current AWS settings.

    A new session loads botocore's endpoint and service data again (~50 ms of
    CPU per source opened; a client of a session that has them costs ~3 ms), so
    the sources share one. A session reads its settings and credentials from the
    environment (``AWS_*``) and from the files under ``HOME``: a change to any
    of those makes a new one. Sessions are not thread-safe: clients are made
    under a lock (the clients themselves are).
    """
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_") or k == "HOME"))
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = boto3.session.Session()
        return session.client(service, **kwargs)
