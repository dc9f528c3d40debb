"""The Kafka source through its public opener: settings, a bounded buffer, checkpoints, sending."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Callable

import pytest
from kafka_support import GROUP_SETTINGS, committed, consume_all, produce, run, source_uri, values

from batchmap.errors import ConfigError, MissingExtraError
from batchmap.sources.base import Delivery, Position, StreamSource
from batchmap.sources.kafka import KafkaSource, parse_settings
from batchmap.sources.registry import SourceOptions, open_source

MSK_ARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/751d2973-a626-431c-9d4e-d7975eb44dd7-2"


def settings(uri: str, **options: object) -> object:
    return parse_settings(uri, SourceOptions(**options))  # type: ignore[arg-type]


async def read_to_end(source: KafkaSource, shard_id: str, position: Position) -> list[str]:
    """Ids read until the partition is caught up (an empty read with ``millis_behind_latest`` 0)."""
    ids: list[str] = []
    while True:
        read = await source.read(shard_id, position, 10)
        ids.extend(d.id for d in read.deliveries)
        position = read.next_position
        if not read.deliveries and read.millis_behind_latest == 0:
            return ids


def test_uri_names_servers_topics_group_and_client_properties() -> None:
    s = parse_settings("kafka://h1:9093,h2,[::1]:9094/orders,refunds?group=fn-orders&session.timeout.ms=6000"
                       "&buffer=50&revoke_wait=2.5", SourceOptions())
    assert s.bootstrap_servers == "h1:9093,h2:9092,[::1]:9094"
    assert s.topics == ("orders", "refunds")
    assert (s.group_id, s.buffer, s.revoke_wait_s, s.event_source_arn) == ("fn-orders", 50, 2.5, None)
    config = s.consumer_config()
    assert config["session.timeout.ms"] == "6000"
    assert (config["enable.auto.commit"], config["group.id"], config["enable.partition.eof"]) == (
        False, "fn-orders", True)
    assert s.event_meta == {"eventSource": "SelfManagedKafka",
                            "bootstrapServers": "h1:9093,h2:9092,[::1]:9094"}
    assert s.arn == "kafka://h1:9093,h2:9092,[::1]:9094/orders,refunds"


def test_the_environment_gives_consumer_properties_the_source_may_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHMAP_KAFKA_CLIENT_CONFIG", "session.timeout.ms=1000&heartbeat.interval.ms=200")
    config = parse_settings("kafka://h1/orders?heartbeat.interval.ms=300", SourceOptions()).consumer_config()
    assert (config["session.timeout.ms"], config["heartbeat.interval.ms"]) == ("1000", "300")
    monkeypatch.setenv("BATCHMAP_KAFKA_CLIENT_CONFIG", "group.id=other")
    with pytest.raises(ConfigError) as caught:
        parse_settings("kafka://h1/orders", SourceOptions()).consumer_config()
    assert caught.value.parameter == "$BATCHMAP_KAFKA_CLIENT_CONFIG: Kafka client property group.id"
    monkeypatch.delenv("BATCHMAP_KAFKA_CLIENT_CONFIG")
    assert parse_settings("kafka://h1/orders", SourceOptions()).consumer_config()["session.timeout.ms"] == "10000"


def test_group_comes_from_the_uri_then_extra_then_consumer_name_else_a_stable_default() -> None:
    uri = "kafka://127.0.0.1:9092/orders"
    assert parse_settings(uri + "?group=a", SourceOptions(consumer_name="c")).group_id == "a"
    from_extra = SourceOptions(consumer_name="c", extra={"consumer_group_id": "b"})
    assert parse_settings(uri, from_extra).group_id == "b"
    assert parse_settings(uri, SourceOptions(consumer_name="c")).group_id == "c"
    default = parse_settings(uri, SourceOptions()).group_id
    assert default == parse_settings(uri, SourceOptions()).group_id
    assert default.startswith("batchmap-orders-")
    assert default != parse_settings("kafka://127.0.0.1:9092/refunds", SourceOptions()).group_id


def test_msk_arn_takes_servers_and_topics_from_extra() -> None:
    s = parse_settings(MSK_ARN, SourceOptions(extra={
        "bootstrap_servers": ["b-1.demo:9098", "b-2.demo:9098"], "topics": "orders",
        "client_config": {"security.protocol": "SASL_SSL", "enable.ssl.certificate.verification": True},
    }))
    assert (s.bootstrap_servers, s.topics, s.arn) == ("b-1.demo:9098,b-2.demo:9098", ("orders",), MSK_ARN)
    assert s.event_meta == {"eventSource": "aws:kafka", "eventSourceArn": MSK_ARN,
                            "bootstrapServers": "b-1.demo:9098,b-2.demo:9098"}
    assert s.producer_config()["enable.ssl.certificate.verification"] == "true"


@pytest.mark.parametrize(("uri", "extra", "field"), [
    ("kafka://127.0.0.1:9092/", {}, "--source"),
    ("kafka://127.0.0.1:9092/bad topic", {}, "--source"),
    ("kafka://127.0.0.1:70000/orders", {}, "--source"),
    ("kafka://user:secret@127.0.0.1/orders", {}, "--source"),
    ("kafka://127.0.0.1/orders?grup=typo", {}, "kafka URI option grup"),
    ("kafka://127.0.0.1/orders?buffer=0", {}, "kafka URI option buffer"),
    ("kafka://127.0.0.1/orders?enable.auto.commit=true", {}, "Kafka client property enable.auto.commit"),
    ("kafka://127.0.0.1/orders?group=no spaces", {}, "ConsumerGroupId"),
    (MSK_ARN, {"topics": "orders"}, "extra['bootstrap_servers']"),
    (MSK_ARN, {"bootstrap_servers": "b-1:9098"}, "extra['topics']"),
    ("arn:aws:kafka:eu-west-1:123456789012:topic/demo/x", {"bootstrap_servers": "b", "topics": "t"},
     "EventSourceArn"),
    (MSK_ARN, {"bootstrap_servers": "b", "topics": "t", "client_config": {"group.id": "x"}},
     "Kafka client property group.id"),
])
def test_bad_input_is_a_config_error_naming_the_field(uri: str, extra: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(uri, SourceOptions(extra=extra))
    assert caught.value.parameter == field


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'batchmap\[kafka\]'"):
        run(lambda: open_source("kafka://127.0.0.1:9092/orders", SourceOptions()))


def test_the_buffer_pauses_fetching_and_nothing_is_lost(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    """With room for 10 fetched messages, 120 are read 7 at a time, slowly: all arrive, in order, once."""
    topic = new_topic()
    produce(kafka_broker, topic, values(120))

    async def scenario() -> list[int]:
        source = await open_source(source_uri(kafka_broker, topic, group, "&buffer=10"), SourceOptions())
        assert isinstance(source, StreamSource) and source.shape == "kafka"
        [shard] = await source.shards()
        assert shard.id == f"{topic}-0"
        offsets: list[int] = []
        position = Position("TRIM_HORIZON")
        while len(offsets) < 120:
            read = await source.read(shard.id, position, 7)
            assert len(read.deliveries) <= 7 and not read.revoked
            offsets.extend(d.record["offset"] for d in read.deliveries)
            position = read.next_position
            await asyncio.sleep(0.01)
        assert await read_to_end(source, shard.id, position) == []  # nothing more
        await source.close()
        return offsets

    assert run(scenario) == list(range(120))


def test_deliveries_carry_id_key_shard_size_and_arrival(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    """What the engine batches and orders by: ids ``topic-N:offset``, decoded keys, exact JSON sizes."""
    topic = new_topic()
    produce(kafka_broker, topic, [(b"caf\xc3\xa9", b"v")], headers=[("n\u00e4me", b"\x00\xff")],
            timestamp_ms=1_700_000_000_000)
    produce(kafka_broker, topic, [(b"\xff\xfe", None), (None, b"x" * 300)])

    async def scenario() -> list[Delivery]:
        source = await open_source(source_uri(kafka_broker, topic, group), SourceOptions())
        assert isinstance(source, KafkaSource)
        [shard] = await source.shards()
        found: list[Delivery] = []
        position = Position("TRIM_HORIZON")
        while len(found) < 3:
            read = await source.read(shard.id, position, 10)
            found.extend(read.deliveries)
            position = read.next_position
        await source.close()
        return found

    first, tombstone, unkeyed = run(scenario)
    for d in (first, tombstone, unkeyed):
        assert d.size == len(json.dumps(d.record, separators=(",", ":")))
        assert d.shard == f"{topic}-0"
    assert (first.id, first.key, first.arrival_ms) == (f"{topic}-0:0", "café", 1_700_000_000_000)
    assert first.record["headers"] == [{"n\u00e4me": [0, 255]}]
    assert "value" not in tombstone.record and tombstone.key == "//4="  # not UTF-8: its base64
    assert unkeyed.key is None and "key" not in unkeyed.record


def test_checkpoints_are_the_groups_committed_offsets(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic(partitions=2)
    produce(kafka_broker, topic, values(6), partition=1)

    async def scenario() -> tuple[str | None, str | None, object]:
        source = await open_source(source_uri(kafka_broker, topic, group), SourceOptions())
        assert isinstance(source, KafkaSource)
        await source.shards()
        store = source.checkpoint_store()
        before = await store.get("any-mapping", f"{topic}-1")
        await store.put("any-mapping", f"{topic}-1", f"{topic}-1:3")
        after = await store.get("any-mapping", f"{topic}-1")
        resume = Position("AFTER_SEQUENCE_NUMBER", sequence_number=after)
        ids = await read_to_end(source, f"{topic}-1", resume)
        await source.close()
        return before, after, ids

    before, after, ids = run(scenario)
    assert (before, after) == (None, f"{topic}-1:3")
    assert ids == [f"{topic}-1:4", f"{topic}-1:5"]
    assert committed(kafka_broker, group, topic, 2) == {1: 4}


def test_a_partition_not_assigned_reads_as_revoked(kafka_broker: str, new_topic: Callable[..., str]) -> None:
    topic = new_topic()

    async def scenario() -> bool:
        source = await open_source(f"kafka://{kafka_broker}/{topic}?{GROUP_SETTINGS}", SourceOptions())
        assert isinstance(source, KafkaSource)
        read = await source.read(f"{topic}-7", Position("TRIM_HORIZON"), 10)
        await source.close()
        return read.revoked and read.deliveries == []

    assert run(scenario)


def test_send_produces_keyed_messages_and_returns_their_ids(
    kafka_broker: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic(partitions=3)

    async def scenario() -> tuple[list[str], list[str]]:
        source = await open_source(f"kafka://{kafka_broker}/{topic}", SourceOptions())
        assert isinstance(source, KafkaSource)
        keyed = await source.send(["a", "b", "c"], partition_key="user-7")
        plain = await source.send(["d"])
        with pytest.raises(ConfigError, match="--message-group-id"):
            await source.send(["x"], message_group_id="g")
        await source.close()
        return keyed, plain

    keyed, plain = run(scenario)
    partition = keyed[0].rsplit(":", 1)[0]
    assert [i.rsplit(":", 1)[0] for i in keyed] == [partition] * 3  # one key, one partition, in order
    assert [int(i.rsplit(":", 1)[1]) for i in keyed] == sorted(int(i.rsplit(":", 1)[1]) for i in keyed)
    messages = consume_all(kafka_broker, topic, expected=4)
    by_value = {m.value(): m for m in messages}
    assert by_value[b"a"].key() == b"user-7" and by_value[b"d"].key() is None
    assert base64.b64encode(by_value[b"a"].key()).decode() == "dXNlci03"
    assert len(plain) == 1


def test_a_missing_topic_is_a_broker_error_naming_it(kafka_broker: str, group: str) -> None:
    from batchmap.errors import BrokerError

    async def scenario() -> None:
        source = await open_source(source_uri(kafka_broker, "no-such-topic-here", group), SourceOptions())
        try:
            await source.shards()
        finally:
            await source.close()

    with pytest.raises(BrokerError, match="no-such-topic-here"):
        run(scenario)
