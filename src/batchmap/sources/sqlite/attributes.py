"""Queue attributes as ``aws sqs create-queue --attributes`` takes them, with SQS's ranges.

Attributes arrive as strings (the wire form); ``QueueAttributes`` holds them
parsed and validated, and ``to_dict`` gives them back in the wire form, as
``get-queue-attributes`` would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from batchmap.errors import ConfigError

_INT_RANGES: dict[str, tuple[int, int, str]] = {
    "DelaySeconds": (0, 900, "seconds"),
    "MaximumMessageSize": (1024, 1_048_576, "bytes"),
    "MessageRetentionPeriod": (60, 1_209_600, "seconds"),
    "ReceiveMessageWaitTimeSeconds": (0, 20, "seconds"),
    "VisibilityTimeout": (0, 43_200, "seconds"),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
_FIFO_ONLY = ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
_STORED_ONLY = (
    "Policy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "RedriveAllowPolicy",
)
"""Accepted and kept so templates and scripts work unchanged, but with no effect on a local file."""

KNOWN = (*_INT_RANGES, "RedrivePolicy", "FifoQueue", *_FIFO_ONLY, *_STORED_ONLY)


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    """Where a message goes after ``max_receive_count`` receives without a delete."""

    dead_letter_target_arn: str
    max_receive_count: int

    def to_json(self) -> str:
        return json.dumps({"deadLetterTargetArn": self.dead_letter_target_arn,
                           "maxReceiveCount": self.max_receive_count}, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class QueueAttributes:
    """A queue's settings; defaults are SQS's."""

    visibility_timeout_s: int = 30
    message_retention_s: int = 345_600
    delay_s: int = 0
    receive_wait_s: int = 0
    maximum_message_size: int = 1_048_576
    redrive: RedrivePolicy | None = None
    fifo: bool = False
    content_based_deduplication: bool = False
    deduplication_scope: str = "queue"
    fifo_throughput_limit: str = "perQueue"
    stored: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, str]:
        """The attributes in SQS's wire form (all values strings)."""
        out = {
            "VisibilityTimeout": str(self.visibility_timeout_s),
            "MessageRetentionPeriod": str(self.message_retention_s),
            "DelaySeconds": str(self.delay_s),
            "ReceiveMessageWaitTimeSeconds": str(self.receive_wait_s),
            "MaximumMessageSize": str(self.maximum_message_size),
        }
        if self.redrive is not None:
            out["RedrivePolicy"] = self.redrive.to_json()
        if self.fifo:
            out["FifoQueue"] = "true"
            out["ContentBasedDeduplication"] = "true" if self.content_based_deduplication else "false"
            out["DeduplicationScope"] = self.deduplication_scope
            out["FifoThroughputLimit"] = self.fifo_throughput_limit
        out.update(self.stored)
        return out


def parse_attributes(attributes: dict[str, str], *, queue_name: str) -> QueueAttributes:
    """Validate ``create-queue`` attributes for ``queue_name``; errors name the attribute and value.

    A ``.fifo`` name makes the queue FIFO even without ``FifoQueue=true``
    (SQS insists on both; a URI can only carry the name).
    """
    unknown = sorted(set(attributes) - set(KNOWN))
    if unknown:
        raise ConfigError("Attributes", unknown[0], f"an SQS queue attribute; known: {', '.join(KNOWN)}")
    fifo = _fifo(attributes, queue_name)
    values: dict[str, Any] = {"fifo": fifo}
    for name, (low, high, unit) in _INT_RANGES.items():
        if name in attributes:
            values[_FIELD[name]] = _int_in_range(name, attributes[name], low, high, unit)
    for name in _FIFO_ONLY:
        if name in attributes and not fifo:
            raise ConfigError(name, attributes[name], "only valid on a FIFO queue (a name ending in .fifo)")
    if "ContentBasedDeduplication" in attributes:
        values["content_based_deduplication"] = _bool("ContentBasedDeduplication",
                                                      attributes["ContentBasedDeduplication"])
    for name, choices in _CHOICES.items():
        if name in attributes:
            if attributes[name] not in choices:
                raise ConfigError(name, attributes[name], f"one of {', '.join(choices)}")
            values[_FIELD[name]] = attributes[name]
    if "RedrivePolicy" in attributes:
        values["redrive"] = parse_redrive_policy(attributes["RedrivePolicy"])
    values["stored"] = {k: str(v) for k, v in attributes.items() if k in _STORED_ONLY}
    return QueueAttributes(**values)


def with_defaults_for(name: str) -> QueueAttributes:
    """AWS's default attributes for a queue created on first use of its name."""
    return replace(QueueAttributes(), fifo=name.endswith(".fifo"))


def parse_redrive_policy(text: str) -> RedrivePolicy:
    """``{"deadLetterTargetArn": ARN, "maxReceiveCount": 1..1000}`` (the count may be a string)."""
    try:
        policy = json.loads(text)
    except (TypeError, ValueError):
        policy = None
    if not isinstance(policy, dict):
        raise ConfigError("RedrivePolicy", text, 'JSON: {"deadLetterTargetArn": "ARN", "maxReceiveCount": N}')
    unknown = sorted(set(policy) - {"deadLetterTargetArn", "maxReceiveCount"})
    if unknown:
        raise ConfigError("RedrivePolicy", text, f"unknown key {unknown[0]!r}")
    arn = policy.get("deadLetterTargetArn")
    if not isinstance(arn, str) or not arn:
        raise ConfigError("RedrivePolicy.deadLetterTargetArn", arn, "the ARN of the dead-letter queue")
    count = _int_in_range("RedrivePolicy.maxReceiveCount", policy.get("maxReceiveCount"), 1, 1000, "receives")
    return RedrivePolicy(dead_letter_target_arn=arn, max_receive_count=count)


_FIELD = {
    "DelaySeconds": "delay_s",
    "MaximumMessageSize": "maximum_message_size",
    "MessageRetentionPeriod": "message_retention_s",
    "ReceiveMessageWaitTimeSeconds": "receive_wait_s",
    "VisibilityTimeout": "visibility_timeout_s",
    "DeduplicationScope": "deduplication_scope",
    "FifoThroughputLimit": "fifo_throughput_limit",
}


def _fifo(attributes: dict[str, str], queue_name: str) -> bool:
    named_fifo = queue_name.endswith(".fifo")
    if "FifoQueue" not in attributes:
        return named_fifo
    fifo = _bool("FifoQueue", attributes["FifoQueue"])
    if fifo != named_fifo:
        raise ConfigError("FifoQueue", attributes["FifoQueue"],
                          f"a FIFO queue's name must end in .fifo and only then (queue name {queue_name!r})")
    return fifo


def _bool(name: str, value: object) -> bool:
    text = str(value).lower()
    if text not in ("true", "false"):
        raise ConfigError(name, value, "true or false")
    return text == "true"


def _int_in_range(name: str, value: object, low: int, high: int, unit: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        raise ConfigError(name, value, f"an integer from {low} to {high} {unit}")
    return number
