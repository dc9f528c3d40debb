"""``provision(app)``: create the app's embedded queues and streams, as ``sam deploy`` creates the real ones.

Idempotent, and it follows template edits: a queue that exists with other
attributes gets the template's (SetQueueAttributes), a stream with another
shard count is resharded (UpdateShardCount). Dead-letter queues are created
before the queues that redrive to them. Bound sources are never touched.
Code given as a ``.zip`` or inline is written to its folder, as ``sam deploy``
uploads it.

A mapping exists on AWS from ``sam deploy`` on, so one that starts at
``LATEST`` reads what is sent after the deploy. Here the first provisioning
is the deploy: a ``LATEST`` mapping on an embedded stream gets its position
then (a checkpoint after the stream's last record, on every shard), so
``batchmap send --template`` followed by ``batchmap run`` processes what was
sent. Records already in the stream at that moment are skipped, and a line
says how many. A mapping that has a position keeps it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from batchmap.errors import BatchmapError, ConfigError, TemplateError
from batchmap.sources.sqlite import admin
from batchmap.sources.sqlite.attributes import QueueAttributes, parse_attributes
from batchmap.sources.sqlite.shards import format_sequence, parse_sequence
from batchmap.templates.app import App
from batchmap.templates.mappings import AppMapping
from batchmap.templates.sources import DeclaredSource

log = logging.getLogger("batchmap.templates")


def provision(app: App, *, checkpoint_store_uri: str | None = None) -> list[str]:
    """Create (or update) every embedded queue and stream of ``app``; returns their URIs in creation order.

    The database's folder is created even when nothing is embedded: stream positions live there too.
    ``LATEST`` mappings get their first position in ``checkpoint_store_uri`` (default: the stack's file,
    ``app.checkpoint_store_uri``): give the store the engine will use.
    """
    embedded = [s for s in app.sources.values()
                if s.embedded and s.uri is not None and s.kind in ("queue", "stream")]
    app.database.parent.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    for source in _in_redrive_order(embedded):
        where = f"Resources.{source.logical_id}" if source.declared else source.logical_id
        try:
            if source.kind == "queue":
                _queue(source)
            else:
                _stream(source)
        except TemplateError:
            raise
        except BatchmapError as exc:
            raise TemplateError(where, f"cannot create it in {app.database}: {exc}") from None
        created.append(source.require_uri(where))
    for function in app.functions.values():
        if function.package is not None:
            function.package.unpack()
    latest = _latest_on_embedded_streams(app)
    if latest:
        _run_coroutine(_place_at_latest(latest, checkpoint_store_uri or app.checkpoint_store_uri))
    return created


def _latest_on_embedded_streams(app: App) -> list[tuple[AppMapping, DeclaredSource]]:
    streams = {s.uri: s for s in app.sources.values() if s.embedded and s.kind == "stream"}
    return [(m, streams[m.mapping.source]) for m in app.mappings.values()
            if m.mapping.starting_position == "LATEST" and m.mapping.source in streams]


async def _place_at_latest(pending: list[tuple[AppMapping, DeclaredSource]], store_uri: str) -> None:
    """Checkpoint each mapping that has no position yet after its stream's last record, on every shard."""
    from batchmap.engine.service import open_checkpoint_store

    store = await open_checkpoint_store(store_uri)
    try:
        for mapping, source in pending:
            info = admin.inspect(source.require_uri(source.logical_id))
            assert isinstance(info, admin.StreamInfo)
            uuid = mapping.mapping.uuid
            assert uuid is not None  # every template mapping has one
            if any([await store.get(uuid, shard.shard_id) is not None for shard in info.shards]):
                continue
            last = max((parse_sequence(s.last_sequence_number) for s in info.shards if s.last_sequence_number),
                       default=0)
            for shard in info.shards:
                await store.put(uuid, shard.shard_id, format_sequence(last))
            if info.records:
                log.warning("mapping %s starts at LATEST: it skips the %d record(s) already in stream %s",
                            mapping.id, info.records, source.logical_id)
    finally:
        closer = getattr(store, "close", None)
        if closer is not None:
            await closer()


def _queue(source: DeclaredSource) -> None:
    uri = source.require_uri(source.logical_id)
    wanted = dict(source.queue_attributes)
    try:
        admin.create_queue(uri, wanted)
    except ConfigError:
        desired = parse_attributes(wanted, queue_name=source.name)
        changes = _changes(desired)
        admin.set_queue_attributes(uri, changes)


def _changes(desired: QueueAttributes) -> dict[str, str]:
    """Every attribute set to the template's value (defaults included), so removed ones go back to default."""
    changes = {key: value for key, value in desired.to_dict().items() if key != "FifoQueue"}
    if desired.redrive is None:
        changes["RedrivePolicy"] = ""
    return changes


def _stream(source: DeclaredSource) -> None:
    uri = source.require_uri(source.logical_id)
    shards, hours = source.shard_count or 1, source.retention_hours or 24
    try:
        admin.create_stream(uri, shards, hours)
    except ConfigError:
        info = admin.inspect(uri)
        assert isinstance(info, admin.StreamInfo)
        if info.retention_hours != hours:
            raise
        _run_coroutine(_reshard(uri, shards))


def _run_coroutine(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to the end, also when called from code already inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _reshard(uri: str, shards: int) -> None:
    from batchmap.sources.sqlite.stream import SqliteStream

    stream = await SqliteStream.open(uri)
    try:
        await stream.update_shard_count(shards)
    finally:
        await stream.close()


def _in_redrive_order(sources: list[DeclaredSource]) -> list[DeclaredSource]:
    """Dead-letter queues before the queues that name them (a chain of any length)."""
    by_arn = {s.arn: s for s in sources}
    ordered: list[DeclaredSource] = []
    placed: set[str] = set()

    def place(source: DeclaredSource, depth: int) -> None:
        if source.arn in placed or depth > len(sources):
            return
        target = _dead_letter_arn(source)
        if target in by_arn:
            place(by_arn[target], depth + 1)
        placed.add(source.arn)
        ordered.append(source)

    for source in sources:
        place(source, 0)
    return ordered


def _dead_letter_arn(source: DeclaredSource) -> str | None:
    policy = source.queue_attributes.get("RedrivePolicy")
    if not policy:
        return None
    try:
        target = json.loads(policy).get("deadLetterTargetArn")
    except (ValueError, AttributeError):
        return None
    return target if isinstance(target, str) else None
