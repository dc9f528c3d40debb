"""The template's resources as ``Ref`` and ``Fn::GetAtt`` see them locally.

Every resource has a name (its name property, else its logical id) and a
``Ref`` value. Queues, streams, tables, topics, buckets and clusters are
``DeclaredSource`` values (``batchmap.templates.sources``) and give the ARNs and
names of where they live locally, so ``!GetAtt Queue.Arn`` in a mapping and in
a ``RedrivePolicy`` both name the embedded queue. Every other resource type
with an ARN gets a deterministic local one (``batchmap.templates.arns``). A
resource under a false ``Condition`` does not exist: referring to it is an
error naming the condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from batchmap.errors import BatchmapError, TemplateError
from batchmap.templates import arns, sources
from batchmap.templates.sources import SOURCE_TYPES, DeclaredSource

if TYPE_CHECKING:
    from batchmap.templates.intrinsics import Resolver

FUNCTION_TYPES: Final = ("AWS::Serverless::Function", "AWS::Lambda::Function")


class Resources:
    """Names, ``Ref`` and ``Fn::GetAtt`` values of the resources, and their local sources."""

    def __init__(self, declared: Mapping[str, Any], *, database: Path, region: str, account: str,
                 bindings: Mapping[str, str], endpoint_url: str | None) -> None:
        self._declared = {key: value for key, value in declared.items() if isinstance(value, Mapping)}
        self.database = database
        self.region = region
        self.account = account
        self.bindings = bindings
        self.endpoint_url = endpoint_url
        self._resolver: Resolver | None = None
        self._names: dict[str, str] = {}
        self._sources: dict[str, DeclaredSource] = {}
        self._busy: set[str] = set()

    def attach(self, resolver: Resolver) -> None:
        """The resolver that resolves resource properties (it refers back to these resources)."""
        self._resolver = resolver

    @property
    def resolver(self) -> Resolver:
        assert self._resolver is not None, "attach() a resolver first"
        return self._resolver

    def ids(self) -> list[str]:
        return list(self._declared)

    def has(self, logical_id: str) -> bool:
        return logical_id in self._declared

    def type_of(self, logical_id: str) -> str:
        kind = self._declared[logical_id].get("Type")
        return kind if isinstance(kind, str) else ""

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        props = self._declared[logical_id].get("Properties") or {}
        if not isinstance(props, Mapping):
            raise TemplateError(f"Resources.{logical_id}.Properties", f"expected a mapping, got {props!r}")
        return props

    def exists(self, logical_id: str) -> bool:
        """False when the resource's ``Condition`` is false (CloudFormation does not create it)."""
        condition = self._declared[logical_id].get("Condition")
        if condition is None:
            return True
        return self.resolver.conditions.is_true(condition, f"Resources.{logical_id}.Condition")

    def name(self, logical_id: str) -> str:
        """The physical name: the name property when set, else the logical id."""
        if logical_id not in self._names:
            where = f"Resources.{logical_id}.Properties"
            with _Guard(self._busy, f"name:{logical_id}", where):
                props = self.properties(logical_id)
                self._names[logical_id] = sources.physical_name(
                    logical_id, self.type_of(logical_id), props, self.resolver.text, where)
        return self._names[logical_id]

    def source(self, logical_id: str) -> DeclaredSource:
        """Where a queue, stream, table, topic, bucket or cluster of the template lives locally."""
        if logical_id not in self._sources:
            where = f"Resources.{logical_id}.Properties"
            with _Guard(self._busy, f"source:{logical_id}", where):
                self._sources[logical_id] = self._declare(logical_id, where)
        return self._sources[logical_id]

    def declared_sources(self) -> dict[str, DeclaredSource]:
        """Every existing source-type resource, by logical id."""
        return {rid: self.source(rid) for rid in self._declared
                if self.type_of(rid) in SOURCE_TYPES and self.exists(rid)}

    def _declare(self, logical_id: str, where: str) -> DeclaredSource:
        kind, name = self.type_of(logical_id), self.name(logical_id)
        props = self.properties(logical_id)
        target = self.bindings.get(logical_id)
        if target is not None:
            return sources.bound(logical_id, kind, name, target)
        db, resolver = self.database, self.resolver
        try:
            if kind == "AWS::SQS::Queue":
                return sources.declare_queue(logical_id, name, props, resolver.resolve, db, where)
            if kind == "AWS::Kinesis::Stream":
                return sources.declare_stream(logical_id, name, props, resolver.text, db, where)
            if kind == "AWS::DynamoDB::Table":
                return sources.declare_table(logical_id, name, props, self.region, self.account)
            if kind == "AWS::SNS::Topic":
                return sources.declare_topic(logical_id, name, db)
            if kind == "AWS::S3::Bucket":
                return sources.declare_bucket(logical_id, name, db)
            return sources.declare_cluster(logical_id, name, self.region, self.account)
        except TemplateError:
            raise
        except BatchmapError as exc:
            raise TemplateError(where, str(exc)) from None

    def ref(self, logical_id: str, where: str) -> Any:
        """``Ref``: a queue's URL (its source URI locally), a stream's or table's name, a topic's ARN..."""
        self._require(logical_id, where)
        kind = self.type_of(logical_id)
        if kind not in SOURCE_TYPES and logical_id in self.bindings:
            return self.bindings[logical_id]
        if kind == "AWS::SQS::Queue":
            return self._queue_url(self.source(logical_id))
        if kind in ("AWS::SNS::Topic", "AWS::MSK::Cluster"):
            return self.source(logical_id).arn
        if kind == "AWS::Kinesis::Stream" and logical_id in self.bindings:
            return _last(self.bindings[logical_id], "stream/")
        if kind in arns.REF_IS_ARN:
            return self._arn(logical_id, kind)
        return self.name(logical_id)

    def get_att(self, logical_id: str, attribute: str, where: str) -> Any:
        """``Fn::GetAtt``: the attributes mappings use (``Arn``, ``StreamArn``, ``QueueName``...)."""
        self._require(logical_id, where)
        kind = self.type_of(logical_id)
        value = self._attribute(logical_id, kind, attribute)
        if value is None:
            listed = _ATTRIBUTES.get(kind) or (("Arn",) if arns.has_arn(kind) else ())
            known = ", ".join(listed) or "none known locally"
            raise TemplateError(where, f"GetAtt {logical_id}.{attribute}: {kind or 'this resource'} has no "
                                       f"attribute {attribute!r} batchmap can give locally "
                                       f"(attributes: {known})")
        return value

    def _attribute(self, logical_id: str, kind: str, attribute: str) -> str | None:
        if kind not in SOURCE_TYPES:
            return self._arn(logical_id, kind) if attribute == "Arn" else None
        if attribute not in _ATTRIBUTES[kind]:
            return None
        source = self.source(logical_id)
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.name(logical_id)}"
        if (kind == "AWS::DynamoDB::Table" and source.kind == "dynamodb-stream"
                and self.properties(logical_id).get("StreamSpecification") is None):
            raise TemplateError(f"Resources.{logical_id}.Properties.StreamSpecification",
                                source.problem or "no stream")
        if attribute in ("QueueName", "TopicName", "BucketName"):
            return source.name
        if attribute == "QueueUrl":
            return self._queue_url(source)
        if attribute == "DomainName":
            return f"{source.name}.s3.amazonaws.com"
        return source.arn

    def _arn(self, logical_id: str, kind: str) -> str | None:
        """The local ARN of a resource that is not a source (a function, a role, a state machine...)."""
        return arns.local_arn(kind, self.name(logical_id), self.region, self.account)

    def _queue_url(self, source: DeclaredSource) -> str:
        if source.embedded or not source.arn.startswith("arn:aws:sqs:"):
            return source.uri or source.arn
        _, _, _, region, account, name = source.arn.split(":", 5)
        base = self.endpoint_url.rstrip("/") if self.endpoint_url else f"https://sqs.{region}.amazonaws.com"
        return f"{base}/{account}/{name}"

    def _require(self, logical_id: str, where: str) -> None:
        if not self.exists(logical_id):
            condition = self._declared[logical_id].get("Condition")
            raise TemplateError(where, f"resource {logical_id} is not created: its Condition {condition!r} "
                                       "is false")


_ATTRIBUTES: Final[dict[str, tuple[str, ...]]] = {
    "AWS::SQS::Queue": ("Arn", "QueueName", "QueueUrl"),
    "AWS::Kinesis::Stream": ("Arn",),
    "AWS::DynamoDB::Table": ("Arn", "StreamArn"),
    "AWS::SNS::Topic": ("TopicArn", "TopicName"),
    "AWS::S3::Bucket": ("Arn", "BucketName", "DomainName"),
    "AWS::MSK::Cluster": ("Arn",),
}


def _last(value: str, marker: str) -> str:
    return value.rsplit(marker, 1)[-1] if marker in value else value


class _Guard:
    """Detects a resource whose properties refer back to itself (a cycle CloudFormation refuses too)."""

    def __init__(self, busy: set[str], key: str, where: str) -> None:
        self.busy, self.key, self.where = busy, key, where

    def __enter__(self) -> None:
        if self.key in self.busy:
            logical_id = self.key.partition(":")[2]
            raise TemplateError(self.where, f"circular reference: {logical_id} refers to itself")
        self.busy.add(self.key)

    def __exit__(self, *exc: object) -> None:
        self.busy.discard(self.key)
