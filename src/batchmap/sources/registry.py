"""From a source URI or ARN to a source object, importing the broker's client only when used.

The table maps a URI scheme (or ARN service) to ``module:function``; the module
is imported lazily so ``import batchmap`` never pulls in a broker client.
Every opener has the signature ``async def open_source(uri, options) -> Source``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from batchmap.errors import ConfigError
from batchmap.sources.base import Source

Opener = Callable[[str, "SourceOptions"], Awaitable[Source]]

OPENERS: dict[str, str] = {
    "sqlite": "batchmap.sources.sqlite:open_source",
    "sqs": "batchmap.sources.sqs:open_source",
    "kinesis": "batchmap.sources.kinesis:open_source",
    "dynamodb": "batchmap.sources.dynamodb:open_source",
    "kafka": "batchmap.sources.kafka:open_source",
    "redis": "batchmap.sources.redis_streams:open_source",
    "rediss": "batchmap.sources.redis_streams:open_source",
    "amqp": "batchmap.sources.rabbitmq:open_source",
    "amqps": "batchmap.sources.rabbitmq:open_source",
    "nats": "batchmap.sources.nats:open_source",
    "postgresql": "batchmap.sources.postgres:open_source",
    "postgres": "batchmap.sources.postgres:open_source",
    "memory": "batchmap.sources.memory:open_source",
    "memory-stream": "batchmap.sources.memory:open_source",
}
"""Scheme (or ARN service name) -> ``module:function`` of its opener."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Connection settings that are not part of the URI (AWS CLI style flags)."""

    endpoint_url: str | None = None
    region: str | None = None
    consumer_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    mapping_uuid: str | None = None
    """The event source mapping being served, for destinations whose names carry it (S3 object keys)."""


def scheme_of(uri: str) -> str:
    """The registry key of a URI or ARN: its scheme, or for ``arn:aws:SERVICE:...`` the service."""
    if uri.startswith("arn:"):
        parts = uri.split(":")
        if len(parts) < 6:
            raise ConfigError("EventSourceArn", uri, "an ARN: arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE")
        return parts[2]
    scheme = urlsplit(uri).scheme
    if not scheme:
        raise ConfigError("--source", uri, f"a source URI or ARN, with a scheme among: {', '.join(OPENERS)}")
    return scheme


def resolve_opener(uri: str) -> Opener:
    """The opener for ``uri``; an unknown scheme is a ConfigError naming the value."""
    scheme = scheme_of(uri)
    target = OPENERS.get(scheme)
    if target is None:
        raise ConfigError("--source", uri, f"unknown scheme {scheme!r}; known: {', '.join(sorted(OPENERS))}")
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    opener: Opener = getattr(module, attr)
    return opener


async def open_source(uri: str, options: SourceOptions | None = None) -> Source:
    """Open the source a URI or ARN names."""
    return await resolve_opener(uri)(uri, options or SourceOptions())
