"""SendMessageBatch for ``batchmap send`` and tests: 10 entries (and at most 256 KiB) per call.

A failed entry is never dropped quietly: the whole send raises ``SettleError``
naming each failed entry, after the other entries went out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batchmap.errors import ConfigError, SettleError, SourceError
from batchmap.sources.aws.client import AwsClient

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
MAX_DELAY_S = 900


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How one ``send`` call labels its messages."""

    fifo: bool
    content_based_dedup: bool
    message_group_id: str | None = None
    deduplication_id: str | None = None
    delay_s: int = 0


def check_send_options(options: SendOptions) -> None:
    """Reject what SQS would reject, naming the parameter."""
    if not 0 <= options.delay_s <= MAX_DELAY_S:
        raise ConfigError("DelaySeconds", options.delay_s, f"0 to {MAX_DELAY_S}")
    if options.fifo:
        if not options.message_group_id:
            raise ConfigError("MessageGroupId", options.message_group_id, "required on a FIFO queue")
        if options.delay_s:
            raise ConfigError("DelaySeconds", options.delay_s, "per-message delay is not allowed on a FIFO queue")


def _entry(index: int, body: str, options: SendOptions, count: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": body}
    if options.delay_s:
        entry["DelaySeconds"] = options.delay_s
    if options.message_group_id:  # a standard queue takes one too: the tenant of a fair queue
        entry["MessageGroupId"] = options.message_group_id
    if options.fifo:
        if options.deduplication_id is not None:
            # One id per message: suffix the index when several bodies share the caller's id.
            entry["MessageDeduplicationId"] = (
                options.deduplication_id if count == 1 else f"{options.deduplication_id}-{index}"
            )
        elif not options.content_based_dedup:
            entry["MessageDeduplicationId"] = uuid.uuid4().hex
    return entry


def _chunks(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Greedy chunks of at most 10 entries and 256 KiB of bodies (a larger body goes alone)."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        body_size = len(entry["MessageBody"].encode("utf-8"))
        if current and (len(current) == MAX_ENTRIES or size + body_size > MAX_REQUEST_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size += body_size
    if current:
        chunks.append(current)
    return chunks


async def send_messages(
    client: AwsClient, queue_url: str, bodies: Sequence[str], options: SendOptions
) -> list[str]:
    """Send ``bodies`` in order of the list; returns their message ids in that order."""
    check_send_options(options)
    entries = [_entry(i, body, options, len(bodies)) for i, body in enumerate(bodies)]
    chunks = _chunks(entries)
    # FIFO order across calls matters within a group: send those chunks one after another.
    if options.fifo:
        responses: list[dict[str, Any] | BaseException] = []
        for chunk in chunks:
            responses.append(await _send_chunk(client, queue_url, chunk))
    else:
        responses = list(await asyncio.gather(
            *(_send_chunk(client, queue_url, chunk) for chunk in chunks), return_exceptions=True
        ))
    return _collect_ids(chunks, responses, len(bodies))


async def _send_chunk(client: AwsClient, queue_url: str, chunk: list[dict[str, Any]]) -> dict[str, Any]:
    return await client.call("send_message_batch", QueueUrl=queue_url, Entries=chunk)


def _collect_ids(
    chunks: list[list[dict[str, Any]]], responses: Sequence[dict[str, Any] | BaseException], count: int
) -> list[str]:
    ids: list[str | None] = [None] * count
    failed: dict[str, str] = {}
    for chunk, response in zip(chunks, responses, strict=True):
        if isinstance(response, SourceError):
            failed.update({entry["Id"]: str(response) for entry in chunk})
            continue
        if isinstance(response, BaseException):
            raise response
        for ok in response.get("Successful", []):
            ids[int(ok["Id"])] = ok["MessageId"]
        for bad in response.get("Failed", []):
            failed[bad["Id"]] = f"{bad.get('Code', 'Unknown')}: {bad.get('Message', '')}"
    if failed:
        named = {f"message #{index}": reason for index, reason in failed.items()}
        raise SettleError("SendMessageBatch", named, sum(1 for i in ids if i is not None))
    return [i for i in ids if i is not None]
