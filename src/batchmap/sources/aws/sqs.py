"""Amazon SQS as a ``QueueSource`` (and a ``Producer``), through boto3.

A receive of up to 10 messages is one long poll. A larger receive runs
``ceil(n / 10)`` receives at once (at most ``max_receivers``): one long poll
and the others short, so a quiet queue answers as soon as its first message
arrives instead of when the slowest poll times out; then more rounds of short
receives while every receive comes back full, so a batch of 100 fills as fast
as the queue can give it. Deleting and releasing go 10 per call;
entries SQS refuses are reported (``SettleError``), never dropped. Redrive to a
dead-letter queue is SQS's own job through the queue's RedrivePolicy, exactly
as with Lambda.

A receive cancelled mid-poll (the engine stopping) does not strand messages:
whatever the outstanding polls still bring back is made visible again at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from batchmap.errors import BrokerError, ConfigError, SettleError, SourceError
from batchmap.records import SourceKind
from batchmap.sources.aws import sqs_moves
from batchmap.sources.aws.arn import Arn, client_region
from batchmap.sources.aws.client import AwsClient, open_client
from batchmap.sources.aws.sqs_record import sqs_delivery
from batchmap.sources.aws.sqs_send import SendOptions, send_messages
from batchmap.sources.base import Backlog, Delivery, SourceTraits
from batchmap.sources.registry import SourceOptions

log = logging.getLogger("batchmap.sources.sqs")

MAX_PER_RECEIVE = 10
MAX_WAIT_S = 20
MAX_VISIBILITY_S = 43_200
EXAMPLE_ARN = "arn:aws:sqs:us-east-1:123456789012:my-queue"
COUNT_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]
NOT_FOUND_CODES = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """What opening the queue learned from SQS: its URL and the attributes that change our behaviour."""

    url: str
    arn: str
    fifo: bool
    visibility_timeout_s: float
    content_based_dedup: bool = False
    dead_letter_url: str | None = None
    max_receive_count: int | None = None


def _split(count: int, calls: int) -> list[int]:
    """``count`` messages over at most ``calls`` receives of at most 10 each."""
    sizes = []
    for _ in range(calls):
        if count <= 0:
            break
        sizes.append(min(MAX_PER_RECEIVE, count))
        count -= sizes[-1]
    return sizes


def _system_attribute_param(client: AwsClient) -> dict[str, list[str]]:
    """``MessageSystemAttributeNames=All``, or the older ``AttributeNames`` on a botocore that predates it."""
    members = client.raw.meta.service_model.operation_model("ReceiveMessage").input_shape.members
    name = "MessageSystemAttributeNames" if "MessageSystemAttributeNames" in members else "AttributeNames"
    return {name: ["All"]}


def _unique(deliveries: list[Delivery]) -> list[Delivery]:
    """One copy per message id: concurrent receives can both get a message (SQS is at-least-once).

    The copy kept is the latest receive (highest receive count): its receipt handle is the one
    SQS honours for deleting.
    """
    latest: dict[str, Delivery] = {}
    for delivery in deliveries:
        kept = latest.get(delivery.id)
        if kept is None or delivery.receive_count > kept.receive_count:
            latest[delivery.id] = delivery
    return list(latest.values()) if len(latest) < len(deliveries) else deliveries


class SqsQueue:
    """One SQS queue: receive, delete, release, backlog, send."""

    shape: SourceKind = "sqs"
    traits = SourceTraits(extends_visibility=True, moves_messages=True, approximate_backlog=True)

    def __init__(self, client: AwsClient, info: QueueInfo, region: str, *, max_receivers: int = 10) -> None:
        self._client = client
        self.info = info
        self.arn = info.arn
        self.region = region
        self.fifo = info.fifo
        self.visibility_timeout_s = info.visibility_timeout_s
        self.max_receivers = max_receivers
        self._system_attributes = _system_attribute_param(client)

    # -- receiving -----------------------------------------------------------------------------

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Up to ``max_records`` messages; waits up to ``wait_s`` (at most 20 s) for the first."""
        if max_records < 1:
            raise ConfigError("max_records", max_records, "at least 1")
        wait = min(MAX_WAIT_S, int(max(0.0, wait_s)))
        out: list[Delivery] = []
        while True:
            sizes = _split(max_records - len(out), min(self.max_receivers, math.ceil(max_records / 10)))
            pages = await self._round(sizes, wait)
            for page in pages:
                out.extend(self._deliveries(page))
            all_full = all(len(page) == size for page, size in zip(pages, sizes, strict=True))
            if len(out) >= max_records or not all_full:
                return _unique(out)
            wait = 0  # the queue is busy: more short receives while they come back full

    def _deliveries(self, messages: list[dict[str, Any]]) -> list[Delivery]:
        return [sqs_delivery(m, arn=self.arn, region=self.region, fifo=self.fifo) for m in messages]

    async def _round(self, sizes: list[int], wait: int) -> list[list[dict[str, Any]]]:
        """Concurrent receives, the first one long; if cancelled, what they still bring is released."""
        cancelled = threading.Event()
        futures: list[Future[list[dict[str, Any]]]] = [
            self._client.submit(self._receive_page, size, wait if i == 0 else 0, cancelled)
            for i, size in enumerate(sizes)
        ]
        try:
            results = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True)
        except asyncio.CancelledError:
            cancelled.set()
            for future in futures:
                future.add_done_callback(self._release_late)
            raise
        errors = [r for r in results if isinstance(r, BaseException)]
        pages = [r if not isinstance(r, BaseException) else [] for r in results]
        if errors:
            # Messages other receives got are in hand now: hand them on rather than strand them.
            if not any(pages):
                raise errors[0]
            log.warning("sqs: %d of %d receives failed; first: %s", len(errors), len(results), errors[0])
        return pages

    def _receive_page(self, size: int, wait: int, cancelled: threading.Event) -> list[dict[str, Any]]:
        response = self._client.sync_call(
            "receive_message",
            QueueUrl=self.info.url,
            MaxNumberOfMessages=size,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
            **self._system_attributes,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        if messages and cancelled.is_set():
            self._release_now([m["ReceiptHandle"] for m in messages])
            return []
        return messages

    def _release_late(self, future: Future[list[dict[str, Any]]]) -> None:
        """A poll finished after its receive was cancelled: make its messages visible again."""
        if future.cancelled() or future.exception() is not None:
            return
        handles = [m["ReceiptHandle"] for m in future.result()]
        if handles:
            try:
                self._client.submit(self._release_now, handles)
            except RuntimeError:  # the pool is shut down: the visibility timeout brings them back
                log.warning("sqs: %d received message(s) will reappear after the visibility timeout", len(handles))

    def _release_now(self, handles: list[str]) -> None:
        for start in range(0, len(handles), MAX_PER_RECEIVE):
            entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                       for i, h in enumerate(handles[start:start + MAX_PER_RECEIVE])]
            try:
                self._client.sync_call("change_message_visibility_batch", QueueUrl=self.info.url, Entries=entries)
            except SourceError as exc:
                log.warning("sqs: could not release %d message(s) after a cancelled receive: %s", len(entries), exc)

    # -- settling ------------------------------------------------------------------------------

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """DeleteMessageBatch, 10 per call, concurrently; raises ``SettleError`` naming any failure."""
        chunks = [list(deliveries[i:i + MAX_PER_RECEIVE]) for i in range(0, len(deliveries), MAX_PER_RECEIVE)]
        responses = await asyncio.gather(
            *(self._batch("delete_message_batch", chunk, {}) for chunk in chunks), return_exceptions=True
        )
        return self._settled("DeleteMessageBatch", chunks, responses, benign=set())

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """ChangeMessageVisibilityBatch to ``delay_s`` (0 = visible now); raises ``SettleError`` on failures."""
        timeout = min(MAX_VISIBILITY_S, max(0, math.ceil(delay_s)))
        chunks = [list(deliveries[i:i + MAX_PER_RECEIVE]) for i in range(0, len(deliveries), MAX_PER_RECEIVE)]
        responses = await asyncio.gather(
            *(self._batch("change_message_visibility_batch", chunk, {"VisibilityTimeout": timeout})
              for chunk in chunks),
            return_exceptions=True,
        )
        # A message no longer in flight is already visible: what releasing asked for.
        self._settled("ChangeMessageVisibilityBatch", chunks, responses, benign={"MessageNotInflight"})

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """ChangeMessageVisibilityBatch to ``timeout_s`` (whole seconds, rounded up), 10 per call.

        A call that fails as a whole (the network, throttling) raises its ``SourceError``, so the
        engine tries them all again; entries SQS refuses (``ReceiptHandleIsInvalid``,
        ``MessageNotInflight``: the receipt died) raise ``SettleError`` naming them.
        """
        timeout = min(MAX_VISIBILITY_S, max(1, math.ceil(timeout_s)))
        chunks = [list(deliveries[i:i + MAX_PER_RECEIVE]) for i in range(0, len(deliveries), MAX_PER_RECEIVE)]
        responses = await asyncio.gather(
            *(self._batch("change_message_visibility_batch", chunk, {"VisibilityTimeout": timeout})
              for chunk in chunks),
            return_exceptions=True,
        )
        for response in responses:
            if isinstance(response, SourceError):
                raise response
        self._settled("ChangeMessageVisibilityBatch", chunks, responses, benign=set())

    async def _batch(self, operation: str, chunk: list[Delivery], extra: dict[str, Any]) -> dict[str, Any]:
        entries = [{"Id": str(i), "ReceiptHandle": d.handle, **extra} for i, d in enumerate(chunk)]
        return await self._client.call(operation, QueueUrl=self.info.url, Entries=entries)

    @staticmethod
    def _settled(
        action: str, chunks: list[list[Delivery]], responses: Sequence[Any], benign: set[str]
    ) -> int:
        settled = 0
        failed: dict[str, str] = {}
        for chunk, response in zip(chunks, responses, strict=True):
            if isinstance(response, SourceError) and response.transient:
                raise response  # throttled or unreachable: the caller tries the whole call again (it is idempotent)
            if isinstance(response, SourceError):
                failed.update({d.id: str(response) for d in chunk})
                continue
            if isinstance(response, BaseException):
                raise response
            settled += len(response.get("Successful", []))
            for bad in response.get("Failed", []):
                code = str(bad.get("Code", "Unknown"))
                if code in benign:
                    settled += 1
                else:
                    failed[chunk[int(bad["Id"])].id] = f"{code}: {bad.get('Message', '')}"
        if failed:
            raise SettleError(action, failed, settled)
        return settled

    # -- state ---------------------------------------------------------------------------------

    async def backlog(self) -> Backlog:
        """Approximate counts from SQS; ``dead_lettered`` is the DLQ's depth when a redrive policy exists."""
        counts = await self._counts(self.info.url)
        dead = sum(await self._counts(self.info.dead_letter_url)) if self.info.dead_letter_url else 0
        return Backlog(visible=counts[0], in_flight=counts[1], delayed=counts[2], dead_lettered=dead)

    async def _counts(self, url: str) -> tuple[int, int, int]:
        response = await self._client.call("get_queue_attributes", QueueUrl=url, AttributeNames=COUNT_ATTRIBUTES)
        values = response.get("Attributes", {})
        visible, in_flight, delayed = (int(values.get(name, "0")) for name in COUNT_ATTRIBUTES)
        return visible, in_flight, delayed

    async def send(
        self,
        bodies: Sequence[str],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int = 0,
    ) -> list[str]:
        """SendMessageBatch; on a FIFO queue ``message_group_id`` is required. Returns message ids."""
        if partition_key is not None:
            raise ConfigError("--partition-key", partition_key, "only for streams; queues take --message-group-id")
        options = SendOptions(
            fifo=self.fifo,
            content_based_dedup=self.info.content_based_dedup,
            message_group_id=message_group_id,
            deduplication_id=deduplication_id,
            delay_s=delay_s,
        )
        return await send_messages(self._client, self.info.url, bodies, options)

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """The ARN of the queue that dead-lettered each message (``MessageMover``; see ``sqs_moves``)."""
        return await sqs_moves.origins(self._client, self.info.url, deliveries)

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Send copies to ``destination`` (an SQS ARN), then delete the originals that SQS took."""
        url, fifo = await sqs_moves.destination_url(self._client, self.arn, destination)
        if not deliveries:
            return 0
        sent, failed = await sqs_moves.copy_to(self._client, url, fifo, deliveries)
        moved = await self.delete(sent)  # the copies SQS took: their originals go, whatever else failed
        if failed:
            raise SettleError("SendMessageBatch", failed, moved)
        return moved

    async def close(self) -> None:
        """Release the client and its threads."""
        self._client.close()


async def describe_queue(client: AwsClient, arn: Arn) -> QueueInfo:
    """Resolve the queue URL (GetQueueUrl) and read the attributes that matter to us."""
    url = await _queue_url(client, arn)
    response = await client.call("get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
    attributes: dict[str, str] = response.get("Attributes", {})
    dead_url: str | None = None
    max_receive: int | None = None
    if attributes.get("RedrivePolicy"):
        policy = json.loads(attributes["RedrivePolicy"])
        dead_arn = Arn.parse(policy["deadLetterTargetArn"], "sqs", EXAMPLE_ARN, field="RedrivePolicy")
        dead_url = await _queue_url(client, dead_arn)
        max_receive = int(policy["maxReceiveCount"])
    return QueueInfo(
        url=url,
        arn=attributes.get("QueueArn", str(arn)),
        fifo=attributes.get("FifoQueue", "false") == "true" or arn.resource.endswith(".fifo"),
        visibility_timeout_s=float(attributes.get("VisibilityTimeout", "30")),
        content_based_dedup=attributes.get("ContentBasedDeduplication", "false") == "true",
        dead_letter_url=dead_url,
        max_receive_count=max_receive,
    )


async def _queue_url(client: AwsClient, arn: Arn) -> str:
    try:
        response = await client.call("get_queue_url", QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)
    except BrokerError as exc:
        if exc.code in NOT_FOUND_CODES:
            raise SourceError(f"SQS queue {arn} does not exist (GetQueueUrl: {exc.code})") from exc
        raise
    return str(response["QueueUrl"])


def _max_receivers(options: SourceOptions) -> int:
    value = options.extra.get("max_receivers", 10)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ConfigError("max_receivers", value, "an integer from 1 to 100")
    return value


async def open_source(uri: str, options: SourceOptions) -> SqsQueue:
    """Open the queue an ``arn:aws:sqs:REGION:ACCOUNT:NAME`` names (``options.endpoint_url`` for a local SQS)."""
    arn = Arn.parse(uri, "sqs", EXAMPLE_ARN)
    region = client_region(arn, options.region)
    receivers = _max_receivers(options)
    client = await open_client("sqs", "sqs", region=region, endpoint_url=options.endpoint_url, threads=receivers + 6)
    try:
        info = await describe_queue(client, arn)
    except BaseException:
        client.close()
        raise
    return SqsQueue(client, info, region, max_receivers=receivers)
