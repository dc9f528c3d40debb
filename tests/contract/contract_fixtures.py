"""The contract suite's fixtures, importable by any conftest that wants them (the scale-out tests do).

One kit fixture per source (``redis_kit``, ``sqs_kit``, ...): its ``create(...)``
gives a test a fresh, uniquely named queue or stream (URI and
``SourceOptions``) and the fixture deletes what was created. ``queue_kit``,
``stream_kit``, ``any_kit`` and ``keyed_kit`` run a test once per source of
that family. moto and Tansu are started once per session, on free loopback ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import contract_handlers
import pytest
from contract_queue_kits import NatsKit, PostgresKit, RabbitMQKit, RedisKit, SqliteQueueKit, SqsKit
from contract_services import Moto, moto_server, require, tansu_broker
from contract_stream_kits import DynamoDBKit, KafkaKit, KinesisKit, SqliteStreamKit
from contract_target import Kit

QUEUES = ("sqlite_queue", "sqs", "redis", "rabbitmq", "nats", "postgres")
STREAMS = ("sqlite_stream", "kinesis", "dynamodb", "kafka")


@pytest.fixture(autouse=True)
def fresh_handlers() -> Iterator[None]:
    contract_handlers.reset()
    yield
    contract_handlers.reset()


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "tansu.log") as broker:
        yield broker


def _cleaned(kit: Kit) -> Iterator[Kit]:
    try:
        yield kit
    finally:
        kit.cleanup()


@pytest.fixture
def sqlite_queue_kit(tmp_path: Path) -> Iterator[Kit]:
    yield from _cleaned(SqliteQueueKit(tmp_path))


@pytest.fixture
def sqs_kit(tmp_path: Path, moto: Moto) -> Iterator[Kit]:
    yield from _cleaned(SqsKit(tmp_path, moto))


@pytest.fixture
def redis_kit(tmp_path: Path) -> Iterator[Kit]:
    yield from _cleaned(RedisKit(tmp_path, require("redis")))


@pytest.fixture
def rabbitmq_kit(tmp_path: Path) -> Iterator[Kit]:
    yield from _cleaned(RabbitMQKit(tmp_path, require("rabbitmq")))


@pytest.fixture
def nats_kit(tmp_path: Path) -> Iterator[Kit]:
    yield from _cleaned(NatsKit(tmp_path, require("nats")))


@pytest.fixture
def postgres_kit(tmp_path: Path) -> Iterator[Kit]:
    yield from _cleaned(PostgresKit(tmp_path, require("postgres")))


@pytest.fixture
def sqlite_stream_kit(tmp_path: Path) -> Iterator[Kit]:
    yield from _cleaned(SqliteStreamKit(tmp_path))


@pytest.fixture
def kinesis_kit(tmp_path: Path, moto: Moto) -> Iterator[Kit]:
    yield from _cleaned(KinesisKit(tmp_path, moto))


@pytest.fixture
def dynamodb_kit(tmp_path: Path, moto: Moto) -> Iterator[Kit]:
    yield from _cleaned(DynamoDBKit(tmp_path, moto))


@pytest.fixture
def kafka_kit(tmp_path: Path, kafka_broker: str) -> Iterator[Kit]:
    yield from _cleaned(KafkaKit(tmp_path, kafka_broker))


def _kit(request: pytest.FixtureRequest) -> Kit:
    kit: Kit = request.getfixturevalue(f"{request.param}_kit")
    return kit


@pytest.fixture(params=QUEUES)
def queue_kit(request: pytest.FixtureRequest) -> Kit:
    return _kit(request)


@pytest.fixture(params=STREAMS)
def stream_kit(request: pytest.FixtureRequest) -> Kit:
    return _kit(request)


@pytest.fixture(params=QUEUES + STREAMS)
def any_kit(request: pytest.FixtureRequest) -> Kit:
    return _kit(request)


@pytest.fixture(params=("sqlite_queue", *STREAMS))
def keyed_kit(request: pytest.FixtureRequest) -> Kit:
    """Sources that order by a key: FIFO queues (message groups) and every stream (partition or item keys).

    SQS FIFO is not here: moto does not lock a FIFO queue between concurrent receives (services.md §1),
    so one group can reach two receivers at once there, which real SQS never does. The SQS source's FIFO
    order is tested in tests/integration/aws with one receiver at a time.
    """
    return _kit(request)
