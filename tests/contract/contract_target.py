"""What the contract tests hold of a source: a ``Kit`` per source and the ``Target`` it creates per test.

A ``Kit`` knows one broker: how to create a fresh, uniquely named queue or
stream on it (with a dead-letter queue, a FIFO flavour, several shards), how
to put messages in with the broker's own producer, and how to clean up. A
``Target`` is one such queue or stream: its URI and ``SourceOptions``, plus
what a test needs to look at it from outside the engine (its backlog, its
dead letters, the on-failure file of a stream).

Messages are JSON objects with an ``id``; the kits turn them into each
source's native message (an SQS body, Kinesis data, a DynamoDB item, a Kafka
value) and ``contract_handlers.payload`` turns the record back.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from batchmap.filters import FilterCriteria
from batchmap.records import SourceKind as RecordShape
from batchmap.sources.base import Backlog, QueueSource
from batchmap.sources.registry import SourceOptions, open_source

Kind = Literal["queue", "stream"]
Message = dict[str, Any]

FILTER_PATTERNS: dict[RecordShape, dict[str, Any]] = {
    "sqs": {"body": {"kind": ["keep"]}},
    "kinesis": {"data": {"kind": ["keep"]}},
    "dynamodb": {"dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}},
    "kafka": {"value": {"kind": ["keep"]}},
}
"""The same filter in each source's terms: only messages whose ``kind`` is ``keep``."""


def unique_name(prefix: str = "ct") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@dataclass
class Target:
    """One fresh queue or stream, created for one test by its kit."""

    kit: Kit
    name: str
    uri: str
    tmp: Path
    options: SourceOptions = field(default_factory=SourceOptions)
    dlq_uri: str | None = None
    fifo: bool = False
    shards: int = 1
    visibility_timeout_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return self.kit.kind

    @property
    def failures_path(self) -> Path:
        """Streams: the on-failure destination file the tests give the mapping."""
        return self.tmp / f"{self.name}-failures.jsonl"

    @property
    def checkpoints_path(self) -> Path:
        """Streams without a store of their own: where the engine keeps checkpoints for this target."""
        return self.tmp / f"{self.name}-checkpoints.db"

    def send(self, messages: Sequence[Message], key: str | None = None) -> None:
        """Put messages in, in order, with the broker's producer (``key``: FIFO group or partition key)."""
        self.kit.send(self, list(messages), key)

    def filter_criteria(self) -> FilterCriteria:
        return FilterCriteria.of(FILTER_PATTERNS[self.kit.shape])

    def backlog(self) -> Backlog:
        """Queues: the backlog as a fresh connection sees it."""
        return asyncio.run(_backlog(self.uri, self.options))

    def dead_letters(self) -> list[Message]:
        """Queues: the messages in the dead-letter queue (read without deleting them)."""
        assert self.dlq_uri is not None, f"{self.name} has no dead-letter queue"
        return asyncio.run(_peek(self.dlq_uri, self.options))

    def on_failure_records(self) -> list[dict[str, Any]]:
        """Streams: the on-failure invocation records the engine wrote."""
        if not self.failures_path.exists():
            return []
        return [json.loads(line) for line in self.failures_path.read_text().splitlines() if line.strip()]

    def cli_args(self) -> list[str]:
        """The ``batchmap run`` flags that name this source."""
        args = ["--source", self.uri]
        if self.options.endpoint_url:
            args += ["--endpoint-url", self.options.endpoint_url]
        if self.options.region:
            args += ["--region", self.options.region]
        return args


KITS: dict[str, type[Kit]] = {}
"""The one registry of kits: fixture name (``sqs`` for ``sqs_kit``) -> kit class, in definition order.

A ``Kit`` subclass with a ``fixture`` registers itself; ``contract_fixtures`` makes its
``NAME_kit`` fixture and puts it in the families (``queue_kit``, ``stream_kit``, ...) its
attributes say it belongs to. Adding a source's kit is adding its class, nothing else."""


class Kit:
    """One source under contract: creates targets, sends to them, cleans up after the test."""

    fixture: ClassVar[str] = ""
    """Its fixture is ``<fixture>_kit``; empty for a base class that is no kit of its own."""
    title: ClassVar[str] = ""
    """Its row in docs/contract.md's table of sources (the first column, exactly)."""
    scheme: ClassVar[str] = ""
    """The source registry's key its URIs use (``sources.registry.OPENERS``): its module is under contract."""
    name: str = ""
    kind: Kind = "queue"
    shape: RecordShape = "sqs"
    keyed: bool = False
    """Whether the source orders by a key: FIFO message groups, partition keys, item keys."""
    sharded: bool = False
    """Whether its streams take a shard count (keys spread over shards)."""
    outlives_process: bool = True
    """Whether what it holds outlives the process: false for the in-memory twin, which no
    ``batchmap run`` subprocess can reach, so the tests of killed engines leave it out."""
    receives_in_order: bool = True
    """Queues: whether a receive hands messages out in send order (a standard queue roughly keeps it)."""
    competing_query: str = ""
    """Queues: what the competing-consumers test adds to the URI (a prefetch window that lets two share)."""
    kept_visibility_s: float = 1.0
    """Queues: the visibility timeout for a test whose engine keeps what it holds hidden by extending it (at half
    the timeout) and whose restart waits that long for a killed engine's messages: the shortest that is safe."""
    given_back_shows_in_flight: bool = False
    """Queues: whether a message given back (released) still counts as in flight until it is delivered
    again (JetStream's consumer info counts a ``-NAK``ed message in ``num_ack_pending``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.fixture:
            assert cls.fixture not in KITS, f"two kits named {cls.fixture}"
            KITS[cls.fixture] = cls

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[Target] = []

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        """The kit for one test; a kit that needs a service or another fixture takes it from ``request``."""
        return cls(tmp)

    def create(self, *, visibility_timeout_s: float = 30, max_receive_count: int | None = None,
               fifo: bool = False, shards: int = 1) -> Target:
        target = self._create(unique_name(), visibility_timeout_s=visibility_timeout_s,
                              max_receive_count=max_receive_count, fifo=fifo, shards=shards)
        self.created.append(target)
        return target

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        raise NotImplementedError

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        """Delete what the test created; best effort, so one failure does not hide the test's own."""

    def __repr__(self) -> str:
        return self.name


async def _backlog(uri: str, options: SourceOptions) -> Backlog:
    source = await open_source(uri, options)
    try:
        assert isinstance(source, QueueSource)
        return await source.backlog()
    finally:
        await source.close()


PEEK_WAIT_S = 5.0
"""How long ``_peek`` waits for a message the queue counted (it comes at once: this only bounds a failure)."""
EMPTY_WAIT_S = 0.5
"""How long ``_peek`` watches a queue that counted nothing, for a message on its way."""


async def _peek(uri: str, options: SourceOptions) -> list[Message]:
    """Every message of a queue, received once and never deleted (the queue is thrown away after the test).

    Receives until it holds every message the queue counted as visible, then once more without waiting, for
    any the count missed: no empty long poll at the end of every peek. Only a queue that counted none is
    watched for ``EMPTY_WAIT_S``, as a message on its way would be missed without a wait.
    """
    source = await open_source(uri, options)
    found: list[Message] = []
    try:
        assert isinstance(source, QueueSource)
        counted = (await source.backlog()).visible
        while len(found) < counted and (got := await source.receive(10, PEEK_WAIT_S)):
            found += [json.loads(d.record["body"]) for d in got]
        while got := await source.receive(10, 0.0 if found else EMPTY_WAIT_S):
            found += [json.loads(d.record["body"]) for d in got]
    finally:
        await source.close()
    return found


def bodies(messages: Sequence[Message]) -> list[str]:
    return [json.dumps(m, separators=(",", ":")) for m in messages]
