"""Where a Kafka mapping reads from: cluster, topics, consumer group and client settings, checked once.

Two ways to name a source:

* ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC[,TOPIC...]?group=GROUP`` for a
  self-managed cluster (events say ``"eventSource": "SelfManagedKafka"``);
* an Amazon MSK cluster ARN ``arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID``
  with the bootstrap servers and topics in ``SourceOptions.extra``
  (``bootstrap_servers``, ``topics``), since an ARN does not carry them
  (events say ``"eventSource": "aws:kafka"`` and carry ``eventSourceArn``).

Either form takes ``consumer_group_id`` and ``client_config`` (librdkafka
properties such as SASL credentials) from ``extra``; a ``kafka://`` URI also
takes librdkafka properties in its query string (any name with a dot, such as
``session.timeout.ms=6000``). Properties that would break the guarantees
(auto commit, the group, the servers) are refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from batchmap.errors import ConfigError
from batchmap.sources._broker import UriOptions
from batchmap.sources.aws.arn import Arn
from batchmap.sources.registry import SourceOptions

EXAMPLE_URI = "kafka://127.0.0.1:9092/orders?group=orders-processor"
EXAMPLE_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/751d2973-a626-431c-9d4e-d7975eb44dd7-2"
DEFAULT_PORT = 9092
DEFAULT_BUFFER = 20_000
DEFAULT_REVOKE_WAIT_S = 10.0
DEFAULT_SESSION_TIMEOUT_MS = "10000"
CLIENT_CONFIG_ENV = "BATCHMAP_KAFKA_CLIENT_CONFIG"
"""librdkafka properties (``name=value&...``, as in a URI) every consumer takes unless its source sets them:
they reach the consumers of ``batchmap run`` processes where no flag can (a ``--self-managed-event-source``
takes none); the tests give short group timings this way. Unset, nothing changes."""

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")
_GROUP = re.compile(r"[A-Za-z0-9._:-]{1,255}")
_RESERVED = {
    "enable.auto.commit": "offsets are committed by batchmap only after a batch succeeds",
    "enable.auto.offset.store": "offsets are committed by batchmap only after a batch succeeds",
    "group.id": "give the consumer group as ?group=... (AWS's ConsumerGroupId)",
    "bootstrap.servers": "give the servers in the URI (or extra['bootstrap_servers'] with an MSK ARN)",
    "metadata.broker.list": "give the servers in the URI (or extra['bootstrap_servers'] with an MSK ARN)",
    "enable.partition.eof": "batchmap uses end-of-partition events to know when a partition is caught up",
    "auto.offset.reset": "set the mapping's StartingPosition (out-of-range offsets restart at the earliest)",
}


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """A Kafka source, resolved: who to talk to, what to read, as which group.

    ``client_config`` holds extra librdkafka properties for every client the
    source makes (consumer, producer). ``buffer`` is how many messages each
    partition may hold fetched and not yet read by the engine before fetching
    pauses; ``revoke_wait_s`` how long a rebalance waits for records already
    handed to the function to be committed before giving their partition away.
    """

    bootstrap_servers: str
    topics: tuple[str, ...]
    group_id: str
    event_source_arn: str | None = None
    client_config: Mapping[str, str] = field(default_factory=dict)
    buffer: int = DEFAULT_BUFFER
    revoke_wait_s: float = DEFAULT_REVOKE_WAIT_S

    @property
    def arn(self) -> str:
        """The source's name in logs and on-failure records: the MSK ARN, or the URI without options."""
        return self.event_source_arn or f"kafka://{self.bootstrap_servers}/{','.join(self.topics)}"

    @property
    def event_meta(self) -> dict[str, str]:
        """The top-level fields of every event, as Lambda sends them (reference §9.5)."""
        if self.event_source_arn:
            return {"eventSource": "aws:kafka", "eventSourceArn": self.event_source_arn,
                    "bootstrapServers": self.bootstrap_servers}
        return {"eventSource": "SelfManagedKafka", "bootstrapServers": self.bootstrap_servers}

    def consumer_config(self) -> dict[str, Any]:
        """librdkafka settings of the consumer: manual commits, end-of-partition events, our group."""
        config: dict[str, Any] = {
            "client.id": "batchmap",
            "session.timeout.ms": DEFAULT_SESSION_TIMEOUT_MS,
            "partition.assignment.strategy": "cooperative-sticky",
            **environment_client_config(),
            **self.client_config,
        }
        config.update({
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        })
        return config

    def producer_config(self) -> dict[str, Any]:
        """librdkafka settings of a producer on the same cluster (``batchmap send``, topic destinations)."""
        return {"client.id": "batchmap", **self.client_config, "bootstrap.servers": self.bootstrap_servers}

    @property
    def cooperative(self) -> bool:
        """Whether the group rebalances incrementally (only moved partitions are revoked)."""
        strategy = str(self.consumer_config()["partition.assignment.strategy"])
        return "cooperative" in strategy


def parse_settings(uri: str, options: SourceOptions) -> KafkaSettings:
    """The settings of a ``kafka://`` URI or an MSK ARN (plus ``options``); bad input is a ConfigError."""
    extra = options.extra or {}
    if uri.startswith("arn:"):
        return _from_arn(uri, options, extra)
    return _from_uri(uri, options, extra)


def _from_uri(uri: str, options: SourceOptions, extra: Mapping[str, Any]) -> KafkaSettings:
    parts = urlsplit(uri)
    if parts.scheme != "kafka":
        raise ConfigError("--source", uri, f"a Kafka URI like {EXAMPLE_URI}")
    if parts.fragment:
        raise ConfigError("--source", uri, f"a Kafka URI without '#': {EXAMPLE_URI}")
    if "@" in parts.netloc:
        raise ConfigError("--source", uri, "no credentials in the URI: give SASL settings in client_config")
    servers = bootstrap_servers(parts.netloc, "--source")
    topics = topic_list(parts.path.strip("/"), "--source")
    dotted = frozenset(name for name, _ in parse_qsl(parts.query, keep_blank_values=True) if "." in name)
    opts = UriOptions(uri, passthrough=dotted)
    group = opts.text("group") or _group_from(extra, options) or default_group(servers, topics)
    buffer = opts.integer("buffer", DEFAULT_BUFFER, 10, 1_000_000) or DEFAULT_BUFFER
    revoke_wait = opts.number("revoke_wait", DEFAULT_REVOKE_WAIT_S, 0.0, 600.0)
    opts.check_all_used()
    config = {**client_config(extra), **client_config({"client_config": dict(_pairs(parts.query, dotted))})}
    return KafkaSettings(servers, topics, checked_group(group), None, config, buffer, revoke_wait)


def _from_arn(uri: str, options: SourceOptions, extra: Mapping[str, Any]) -> KafkaSettings:
    arn = Arn.parse(uri, "kafka", EXAMPLE_ARN)
    if not arn.resource.startswith("cluster/"):
        raise ConfigError("EventSourceArn", uri, f"an MSK cluster ARN like {EXAMPLE_ARN}")
    raw_servers = extra.get("bootstrap_servers")
    if isinstance(raw_servers, list | tuple):
        raw_servers = ",".join(str(s) for s in raw_servers)
    if not isinstance(raw_servers, str) or not raw_servers:
        raise ConfigError("extra['bootstrap_servers']", raw_servers,
                          "the MSK cluster's bootstrap servers, e.g. 'b-1.demo.kafka.aws.example:9098'")
    raw_topics = extra.get("topics")
    if isinstance(raw_topics, list | tuple):
        raw_topics = ",".join(str(t) for t in raw_topics)
    if not isinstance(raw_topics, str) or not raw_topics:
        raise ConfigError("extra['topics']", raw_topics, "the topic (or topics, comma-separated) to read")
    servers = bootstrap_servers(raw_servers, "extra['bootstrap_servers']")
    topics = topic_list(raw_topics, "extra['topics']")
    group = _group_from(extra, options) or default_group(servers, topics, uri)
    return KafkaSettings(servers, topics, checked_group(group), uri, client_config(extra))


def _group_from(extra: Mapping[str, Any], options: SourceOptions) -> str | None:
    value = extra.get("consumer_group_id")
    if value is not None and not isinstance(value, str):
        raise ConfigError("extra['consumer_group_id']", value, "a consumer group id (text)")
    return value or options.consumer_name


def _pairs(query: str, names: frozenset[str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k in names]


def bootstrap_servers(value: str, where: str) -> str:
    """``host:port`` entries, comma-separated (port 9092 when left out); each host checked."""
    servers: list[str] = []
    for entry in value.split(","):
        host, port = _host_port(entry.strip(), where, value)
        servers.append(f"{host}:{port}")
    return ",".join(servers)


def _host_port(entry: str, where: str, whole: str) -> tuple[str, int]:
    host, port_text = entry, ""
    if entry.startswith("["):
        close = entry.find("]")
        host, port_text = entry[: close + 1], entry[close + 1:].removeprefix(":")
    elif ":" in entry:
        host, _, port_text = entry.rpartition(":")
    if not host or not _HOST.fullmatch(host):
        raise ConfigError(where, whole, "bootstrap servers as host:port[,host:port...]")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(where, whole, f"a port from 1 to 65535 for {host}")
    return host, int(port_text)


def topic_list(value: str, where: str) -> tuple[str, ...]:
    """Topic names, comma-separated; each made of letters, digits, ``.``, ``_`` or ``-`` (Kafka's rule)."""
    topics = tuple(t.strip() for t in value.split(",")) if value else ()
    if not topics:
        raise ConfigError(where, value, f"at least one topic: {EXAMPLE_URI}")
    for topic in topics:
        if not _TOPIC.fullmatch(topic) or topic in (".", ".."):
            raise ConfigError(where, topic, "a topic name: 1-249 letters, digits, '.', '_' or '-'")
    if len(set(topics)) != len(topics):
        raise ConfigError(where, value, "each topic once")
    return topics


def checked_group(group: str) -> str:
    """A consumer group id (AWS's ConsumerGroupId: 1-200 characters, we allow Kafka's 255)."""
    if not _GROUP.fullmatch(group):
        raise ConfigError("ConsumerGroupId", group, "1-255 letters, digits, '.', '_', ':' or '-'")
    return group


def default_group(servers: str, topics: tuple[str, ...], arn: str | None = None) -> str:
    """A group id stable for one source (AWS makes a unique one per mapping): ``batchmap-<topic>-<hash>``."""
    digest = hashlib.sha256(f"{arn or servers}/{','.join(topics)}".encode()).hexdigest()[:12]
    return f"batchmap-{topics[0][:100]}-{digest}"


def environment_client_config() -> dict[str, str]:
    """The consumer properties ``$BATCHMAP_KAFKA_CLIENT_CONFIG`` gives (none when unset), checked as a URI's are."""
    raw = os.environ.get(CLIENT_CONFIG_ENV, "")
    try:
        return client_config({"client_config": dict(parse_qsl(raw, keep_blank_values=True))}) if raw else {}
    except ConfigError as exc:  # say where it came from: no flag or URI of the run holds it
        raise ConfigError(f"${CLIENT_CONFIG_ENV}: {exc.parameter}", exc.value, exc.allowed) from None


def client_config(extra: Mapping[str, Any]) -> dict[str, str]:
    """librdkafka properties from ``extra['client_config']``, refusing the ones batchmap must own."""
    raw = extra.get("client_config") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("extra['client_config']", raw, "a mapping of librdkafka property names to values")
    config: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name:
            raise ConfigError("client_config", name, "librdkafka property names (text)")
        if name in _RESERVED:
            raise ConfigError(f"Kafka client property {name}", value, _RESERVED[name])
        if isinstance(value, bool):
            value = "true" if value else "false"
        config[name] = str(value)
    return config
