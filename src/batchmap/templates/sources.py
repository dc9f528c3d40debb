"""Queues, streams and tables a template declares, and where each lives when the app runs.

By default a declared ``AWS::SQS::Queue`` becomes an embedded queue and an
``AWS::Kinesis::Stream`` an embedded stream, all in one SQLite file; an
overrides file binds any of them to a real source instead. The embedded stream
has Kinesis records only, so a DynamoDB table's stream has no embedded
stand-in (its handler expects DynamoDB records): it must be bound to a real
DynamoDB stream, and using it unbound is refused with the way out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from batchmap.errors import BatchmapError, TemplateError
from batchmap.sources.sqlite.attributes import parse_attributes
from batchmap.sources.sqlite.uri import queue_arn, stream_arn, validate_queue_name, validate_stream_name
from batchmap.templates.parameters import LOCAL_ACCOUNT, LOCAL_REGION

SourceKind = Literal["queue", "stream", "dynamodb-stream", "kafka", "file", "bound"]

SOURCE_TYPES: Final = ("AWS::SQS::Queue", "AWS::Kinesis::Stream", "AWS::DynamoDB::Table", "AWS::SNS::Topic",
                       "AWS::S3::Bucket", "AWS::MSK::Cluster")
"""Resource types that can feed a mapping or receive its failures."""

ON_DEMAND_SHARDS: Final = 4
"""Kinesis on-demand streams start with four shards."""

_STREAM_LABEL = "1970-01-01T00:00:00.000"
_QUEUE_PROPERTIES_IGNORED = ("QueueName", "Tags")

ResolveText = Callable[[Any, str], str]
Resolve = Callable[[Any, str], Any]


@dataclass(frozen=True, slots=True)
class DeclaredSource:
    """A queue, stream, table or topic of the template, and where it lives locally.

    ``uri`` is what the engine opens (a source URI or ARN); ``None`` when there
    is no local stand-in (``problem`` says why and what to do). ``embedded``
    sources are created by batchmap (``provision``) with ``queue_attributes``
    or ``shard_count`` / ``retention_hours``. ``declared`` is ``False`` for an
    ARN the template uses without declaring the resource.
    """

    logical_id: str
    type: str
    kind: SourceKind
    name: str
    arn: str
    uri: str | None
    embedded: bool
    queue_attributes: Mapping[str, str] = field(default_factory=dict)
    shard_count: int | None = None
    retention_hours: int | None = None
    declared: bool = True
    problem: str | None = None

    def require_uri(self, where: str) -> str:
        """The URI to open; a ``TemplateError`` at ``where`` when there is no local stand-in."""
        if self.uri is None:
            raise TemplateError(where, self.problem or f"{self.logical_id} has no local stand-in")
        return self.uri


def embedded_uri(database: Path, kind: Literal["queue", "stream"], name: str) -> str:
    """``sqlite:////abs/path.db?queue=NAME`` (absolute, so it works from any folder)."""
    return f"sqlite:///{database.resolve()}?{kind}={name}"


def physical_name(logical_id: str, resource_type: str, properties: Mapping[str, Any], text: ResolveText,
                  where: str) -> str:
    """The resource's name: its name property when set, else its logical id (CloudFormation adds a suffix)."""
    prop = _NAME_PROPERTY.get(resource_type)
    if prop and properties.get(prop) is not None:
        return text(properties[prop], f"{where}.{prop}")
    fifo = properties.get("FifoQueue")
    if resource_type == "AWS::SQS::Queue" and _is_true(fifo, text, f"{where}.FifoQueue"):
        return f"{logical_id[:75]}.fifo"
    if resource_type == "AWS::S3::Bucket":
        return logical_id.lower()[:63]
    return logical_id


_NAME_PROPERTY: Final = {
    "AWS::SQS::Queue": "QueueName", "AWS::Kinesis::Stream": "Name", "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName", "AWS::S3::Bucket": "BucketName", "AWS::MSK::Cluster": "ClusterName",
    "AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::StepFunctions::StateMachine": "StateMachineName", "AWS::Serverless::StateMachine": "Name",
    "AWS::StepFunctions::Activity": "Name", "AWS::Events::Rule": "Name", "AWS::Events::EventBus": "Name",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::SecretsManager::Secret": "Name", "AWS::SSM::Parameter": "Name",
    "AWS::Scheduler::Schedule": "Name", "AWS::Scheduler::ScheduleGroup": "Name", "AWS::Pipes::Pipe": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName", "AWS::Serverless::SimpleTable": "TableName",
    "AWS::Lambda::LayerVersion": "LayerName", "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Cognito::UserPool": "UserPoolName", "AWS::CloudWatch::Alarm": "AlarmName",
}


def _is_true(value: Any, text: ResolveText, where: str) -> bool:
    return value is not None and text(value, where).lower() == "true"


def declare_queue(logical_id: str, name: str, properties: Mapping[str, Any], resolve: Resolve,
                  database: Path, where: str) -> DeclaredSource:
    """An ``AWS::SQS::Queue`` on the embedded source, its properties checked as ``create-queue`` does."""
    try:
        validate_queue_name(name, f"{where}.QueueName")
    except BatchmapError as exc:
        raise TemplateError(f"{where}.QueueName", str(exc)) from None
    attributes: dict[str, str] = {}
    for key, value in properties.items():
        if key in _QUEUE_PROPERTIES_IGNORED:
            continue
        resolved = resolve(value, f"{where}.{key}")
        attributes[key] = _attribute_text(resolved)
    redrive = attributes.get("RedrivePolicy")
    if redrive is not None:
        _check_embedded_dead_letter(redrive, f"{where}.RedrivePolicy")
    try:
        parse_attributes(dict(attributes), queue_name=name)
    except BatchmapError as exc:
        raise TemplateError(where, str(exc)) from None
    return DeclaredSource(logical_id, "AWS::SQS::Queue", "queue", name, queue_arn(name),
                          embedded_uri(database, "queue", name), True, attributes)


def _attribute_text(value: Any) -> str:
    """Attributes travel as text: numbers as digits, booleans as true/false, objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _check_embedded_dead_letter(policy: str, where: str) -> None:
    try:
        target = json.loads(policy).get("deadLetterTargetArn")
    except (ValueError, AttributeError):
        return  # parse_attributes names the problem
    prefix = f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:"
    if isinstance(target, str) and not target.startswith(prefix):
        raise TemplateError(f"{where}.deadLetterTargetArn",
                            f"{target!r}: the dead-letter queue of an embedded queue must be embedded too "
                            "(declare it in the template, or bind both queues in the overrides file)")


def declare_stream(logical_id: str, name: str, properties: Mapping[str, Any], text: ResolveText,
                   database: Path, where: str) -> DeclaredSource:
    """An ``AWS::Kinesis::Stream`` on the embedded source: its shard count and retention."""
    try:
        validate_stream_name(name, f"{where}.Name")
    except BatchmapError as exc:
        raise TemplateError(f"{where}.Name", str(exc)) from None
    mode = properties.get("StreamModeDetails")
    place = f"{where}.StreamModeDetails.StreamMode"
    on_demand = isinstance(mode, Mapping) and text(mode.get("StreamMode", ""), place) == "ON_DEMAND"
    shards = ON_DEMAND_SHARDS if on_demand else _whole(properties.get("ShardCount", 1), text,
                                                       f"{where}.ShardCount")
    retention = _whole(properties.get("RetentionPeriodHours", 24), text, f"{where}.RetentionPeriodHours")
    if not 1 <= shards <= 10_000:
        raise TemplateError(f"{where}.ShardCount", f"{shards}: expected 1 to 10000 shards")
    if not 24 <= retention <= 8760:
        raise TemplateError(f"{where}.RetentionPeriodHours", f"{retention}: expected 24 to 8760 hours")
    return DeclaredSource(logical_id, "AWS::Kinesis::Stream", "stream", name, stream_arn(name),
                          embedded_uri(database, "stream", name), True, shard_count=shards,
                          retention_hours=retention)


def _whole(value: Any, text: ResolveText, where: str) -> int:
    raw = text(value, where)
    if not raw.strip().isdigit():
        raise TemplateError(where, f"expected a whole number, got {raw!r}")
    return int(raw)


def declare_table(logical_id: str, name: str, properties: Mapping[str, Any], region: str, account: str
                  ) -> DeclaredSource:
    """An ``AWS::DynamoDB::Table``: its stream has no embedded stand-in (see the module docstring)."""
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{_STREAM_LABEL}"
    if properties.get("StreamSpecification") is None:
        problem = (f"table {logical_id} has no StreamSpecification, so it has no stream "
                   "(GetAtt StreamArn fails on AWS too)")
    else:
        problem = (f"the stream of DynamoDB table {logical_id} has no embedded stand-in: the embedded stream "
                   "delivers Kinesis records, not DynamoDB ones. Bind it to a real DynamoDB stream in an "
                   f"overrides file (Sources: {{{logical_id}: arn:aws:dynamodb:REGION:ACCOUNT:table/{name}/"
                   "stream/LABEL}, with EndpointUrl for a local emulator)")
    return DeclaredSource(logical_id, "AWS::DynamoDB::Table", "dynamodb-stream", name, arn, None, False,
                          problem=problem)


def declare_topic(logical_id: str, name: str, database: Path) -> DeclaredSource:
    """An ``AWS::SNS::Topic`` used as an on-failure destination: an embedded queue of the same name."""
    validate_queue_name(name.removesuffix(".fifo"))
    return DeclaredSource(logical_id, "AWS::SNS::Topic", "queue", name,
                          f"arn:aws:sns:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{name}",
                          embedded_uri(database, "queue", name), True)


def declare_bucket(logical_id: str, name: str, database: Path) -> DeclaredSource:
    """An ``AWS::S3::Bucket`` used as an on-failure destination: a JSON-lines file beside the database."""
    path = database.resolve().with_name(f"{database.stem}-{name}.jsonl")
    return DeclaredSource(logical_id, "AWS::S3::Bucket", "file", name, f"arn:aws:s3:::{name}",
                          f"file://{path}", True)


def declare_cluster(logical_id: str, name: str, region: str, account: str) -> DeclaredSource:
    """An ``AWS::MSK::Cluster``: reachable only through a binding to a Kafka URI."""
    import uuid

    arn = f"arn:aws:kafka:{region}:{account}:cluster/{name}/{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    problem = (f"MSK cluster {logical_id} cannot run locally; bind it to a Kafka broker in an overrides file "
               f"(Sources: {{{logical_id}: kafka://127.0.0.1:9092}})")
    return DeclaredSource(logical_id, "AWS::MSK::Cluster", "kafka", name, arn, None, False, problem=problem)


def bound(logical_id: str, resource_type: str, name: str, target: str) -> DeclaredSource:
    """A source the overrides file binds to ``target`` (a source URI or ARN); batchmap creates nothing."""
    return DeclaredSource(logical_id, resource_type, "bound", name, target, target, False)
