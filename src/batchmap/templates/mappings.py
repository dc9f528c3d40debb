"""Event source mappings of a template: SAM function events and ``AWS::Lambda::EventSourceMapping`` resources.

SAM events of type ``SQS``, ``Kinesis``, ``DynamoDB``, ``MSK`` and
``SelfManagedKafka`` become mappings with the id ``Function.Event``; a plain
``AWS::Lambda::EventSourceMapping`` keeps its logical id. Properties go through
``batchmap.config.from_api``, so every setting is checked exactly as the API
and the ``batchmap run`` flags check it, and unknown properties are refused.
Other event types (``Api``, ``S3``, ``Schedule``...) are not mappings: they are
listed as skipped, never silently run or silently dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from batchmap.config import EventSourceMapping, from_api
from batchmap.errors import BatchmapError, TemplateError
from batchmap.records.wire import MappingKind
from batchmap.templates.functions import AppFunction, Functions
from batchmap.templates.intrinsics import Resolver
from batchmap.templates.locate import Locator

DEFAULT_VISIBILITY_TIMEOUT_S: Final = 30

SOURCE_PROPERTY: Final = {"SQS": "Queue", "Kinesis": "Stream", "DynamoDB": "Stream", "MSK": "Stream"}
KAFKA_TYPES: Final = ("MSK", "SelfManagedKafka")
REFUSED_TYPES: Final = {
    "MQ": "Amazon MQ brokers are not supported; bind a RabbitMQ queue to an AWS::Lambda::EventSourceMapping "
          "in an overrides file, or use an SQS event",
    "DocumentDB": "DocumentDB change streams are not supported",
}
UNRESOLVED: Final = frozenset({
    "KMSKeyArn", "KmsKeyArn", "Tags", "SourceAccessConfigurations", "LoggingConfig", "SchemaRegistryConfig",
})
"""Properties ``from_api`` ignores or refuses, left unresolved: an unresolvable KMS key cannot stop a run, and
an unsupported property is refused for what it is, not for a reference inside it."""
_IDENTITY: Final = (
    "Queue", "Stream", "EventSourceArn", "FunctionName", "Topics", "KafkaBootstrapServers", "ConsumerGroupId",
    "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig",
)


@dataclass(frozen=True, slots=True)
class AppMapping:
    """One mapping of the template: its id, the function it invokes, and the settings the engine runs."""

    id: str
    function_id: str
    mapping: EventSourceMapping


class MappingReader:
    """Turns function events and mapping resources into ``AppMapping`` values."""

    def __init__(self, resolver: Resolver, functions: Functions, locator: Locator,
                 bindings: Mapping[str, str], stack_name: str) -> None:
        self._resolver = resolver
        self._functions = functions
        self._locator = locator
        self._bindings = bindings
        self._stack = stack_name
        self.skipped: list[str] = []

    def from_function(self, logical_id: str) -> list[AppMapping]:
        """The mappings of one serverless function's ``Events`` (none when it has no mapping events)."""
        events = self._functions.properties(logical_id).get("Events") or {}
        where = f"Resources.{logical_id}.Properties.Events"
        if not isinstance(events, Mapping):
            raise TemplateError(where, f"expected a mapping of event names, got {events!r}")
        out: list[AppMapping] = []
        for name, event in events.items():
            place = f"{where}.{name}"
            kind = event.get("Type") if isinstance(event, Mapping) else None
            if kind in REFUSED_TYPES:
                raise TemplateError(f"{place}.Type", f"{kind}: {REFUSED_TYPES[kind]}")
            if kind not in SOURCE_PROPERTY and kind != "SelfManagedKafka":
                self.skipped.append(f"{logical_id}.{name}: a {kind} event is not an event source mapping; "
                                    "not run")
                continue
            function = self._functions.get(logical_id, place)
            out.append(self._event(function, str(name), str(kind), event.get("Properties") or {}, place))
        return out

    def _event(self, function: AppFunction, name: str, kind: str, raw: Any, where: str) -> AppMapping:
        mapping_id = f"{function.logical_id}.{name}"
        props = self._properties(raw, f"{where}.Properties")
        uid = self._uuid(mapping_id)
        if mapping_id in self._bindings:
            source = self._bindings[mapping_id]
        elif kind == "SelfManagedKafka":
            servers = props.get("KafkaBootstrapServers")
            if not isinstance(servers, list) or not servers:
                raise TemplateError(f"{where}.Properties.KafkaBootstrapServers",
                                    f"expected a list of host:port, got {servers!r}")
            source = kafka_uri(f"kafka://{','.join(map(str, servers))}", props, uid, where)
        else:
            source = self._source(props, SOURCE_PROPERTY[kind], f"{where}.Properties")
            if kind == "MSK" and not source.startswith("arn:"):  # an ARN stays only when describing the app
                source = kafka_uri(source, props, uid, where)
        return self._build(mapping_id, function, props, source, uid, where)

    def from_resource(self, logical_id: str, raw: Mapping[str, Any]) -> AppMapping:
        """An ``AWS::Lambda::EventSourceMapping`` resource."""
        where = f"Resources.{logical_id}.Properties"
        props = self._properties(raw, where)
        function = self._function_named(props.get("FunctionName"), f"{where}.FunctionName")
        uid = self._uuid(logical_id)
        if logical_id in self._bindings:
            source = self._bindings[logical_id]
        elif props.get("SelfManagedEventSource") is not None:
            servers = _self_managed_servers(props["SelfManagedEventSource"],
                                            f"{where}.SelfManagedEventSource")
            source = kafka_uri(f"kafka://{servers}", props, uid, where)
        else:
            source = self._source(props, "EventSourceArn", where)
            if props.get("Topics") is not None and not source.startswith("arn:"):
                source = kafka_uri(source, props, uid, where)
        return self._build(logical_id, function, props, source, uid, where)

    def _properties(self, raw: Any, where: str) -> dict[str, Any]:
        if isinstance(raw, Mapping) and len(raw) == 1 and str(next(iter(raw))).startswith("Fn::"):
            raw = self._resolver.resolve(raw, where)
        if not isinstance(raw, Mapping):
            raise TemplateError(where, f"expected a mapping of properties, got {raw!r}")
        out: dict[str, Any] = {}
        for key, value in raw.items():
            resolved = value if key in UNRESOLVED else self._resolver.resolve(value, f"{where}.{key}")
            if resolved is not None and not _no_value(resolved):
                out[str(key)] = resolved
        return out

    def _source(self, props: Mapping[str, Any], key: str, where: str) -> str:
        value = props.get(key)
        if not isinstance(value, str) or not value:
            raise TemplateError(f"{where}.{key}", f"required: the ARN of the source, got {value!r}")
        return self._locator.locate(value, f"{where}.{key}")

    def _function_named(self, value: Any, where: str) -> AppFunction:
        if not isinstance(value, str) or not value:
            raise TemplateError(where, f"required: the function's name or ARN, got {value!r}")
        name = value.split(":function:", 1)[1].split(":")[0] if ":function:" in value else value
        logical_id = self._functions.by_name(name)
        if logical_id is None:
            raise TemplateError(where, f"{value!r} is not a function of this template (batchmap runs the "
                                       "template's own functions)")
        return self._functions.get(logical_id, where)

    def _build(self, mapping_id: str, function: AppFunction, props: Mapping[str, Any], source: str, uid: str,
               where: str) -> AppMapping:
        settings = {key: value for key, value in props.items() if key not in _IDENTITY}
        settings.setdefault("UUID", uid)
        destination = _on_failure(settings)
        if destination is not None:
            place = f"{where}.Properties.DestinationConfig.OnFailure.Destination"
            located = self._locator.locate(destination, place, destination=True)
            settings["DestinationConfig"] = {"OnFailure": {**settings["DestinationConfig"]["OnFailure"],
                                                           "Destination": located}}
        try:
            mapping = from_api(settings, source=source, function=function.config)
            self._check(mapping)
        except BatchmapError as exc:
            raise TemplateError(where, str(exc)) from None
        return AppMapping(mapping_id, function.logical_id, mapping)

    def _check(self, mapping: EventSourceMapping) -> None:
        """AWS's checks when a mapping is created: settings for the source kind, the queue's visibility."""
        kind = source_kind(mapping.source)
        if kind is None:
            return  # another broker: the engine checks it when it opens the source
        resolved = mapping.resolve("sqs" if kind == "sqs-fifo" else kind, fifo=kind == "sqs-fifo")
        declared = self._locator.source_at(mapping.source)
        if declared is not None and declared.kind == "queue":
            visibility = declared.queue_attributes.get("VisibilityTimeout", str(DEFAULT_VISIBILITY_TIMEOUT_S))
            resolved.check_visibility_timeout(float(visibility))

    def _uuid(self, mapping_id: str) -> str:
        """Stable per stack and mapping, so stream checkpoints survive restarts (and differ per mapping)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"batchmap:template:{self._stack}:{mapping_id}"))


def source_kind(source: str) -> MappingKind | None:
    """``sqs``, ``sqs-fifo``, ``kinesis``, ``dynamodb`` or ``kafka`` from a source URI or ARN; else None."""
    if source.startswith("sqlite:"):
        if "?stream=" in source:
            return "kinesis"
        return "sqs-fifo" if source.split("queue=", 1)[-1].split("&")[0].endswith(".fifo") else "sqs"
    if source.startswith(("kafka:", "arn:aws:kafka:")):
        return "kafka"
    if source.startswith("arn:aws:sqs:"):
        return "sqs-fifo" if source.endswith(".fifo") else "sqs"
    if source.startswith("arn:aws:kinesis:"):
        return "kinesis"
    if source.startswith("arn:aws:dynamodb:"):
        return "dynamodb"
    return None


def kafka_uri(base: str, props: Mapping[str, Any], group: str, where: str) -> str:
    """``kafka://servers`` plus the mapping's topics and consumer group (AWS's default: the mapping UUID)."""
    parts = urlsplit(base)
    if parts.scheme != "kafka":
        raise TemplateError(where, f"{base!r}: a Kafka source must be bound to kafka://HOST:PORT")
    path = parts.path.strip("/")
    if not path:
        topics = props.get("Topics")
        if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
            raise TemplateError(f"{where}.Properties.Topics",
                                f"expected a list of topic names, got {topics!r}")
        path = ",".join(topics)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "group" not in query:
        query["group"] = _consumer_group(props) or group
    rest = "&".join(f"{key}={value}" for key, value in query.items())
    return f"kafka://{parts.netloc}/{path}?{rest}"


def _consumer_group(props: Mapping[str, Any]) -> str | None:
    if isinstance(props.get("ConsumerGroupId"), str):
        return str(props["ConsumerGroupId"])
    for key in ("AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig"):
        config = props.get(key)
        if isinstance(config, Mapping) and isinstance(config.get("ConsumerGroupId"), str):
            return str(config["ConsumerGroupId"])
    return None


def _self_managed_servers(value: Any, where: str) -> str:
    endpoints = value.get("Endpoints") if isinstance(value, Mapping) else None
    servers = endpoints.get("KafkaBootstrapServers") if isinstance(endpoints, Mapping) else None
    if not isinstance(servers, list) or not servers:
        raise TemplateError(f"{where}.Endpoints.KafkaBootstrapServers",
                            f"expected a list of host:port, got {servers!r}")
    return ",".join(str(server) for server in servers)


def _on_failure(settings: Mapping[str, Any]) -> str | None:
    config = settings.get("DestinationConfig")
    on_failure = config.get("OnFailure") if isinstance(config, Mapping) else None
    destination = on_failure.get("Destination") if isinstance(on_failure, Mapping) else None
    return destination if isinstance(destination, str) else None


def _no_value(value: Any) -> bool:
    from batchmap.templates.intrinsics import NO_VALUE

    return value is NO_VALUE
