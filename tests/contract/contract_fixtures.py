"""The contract suite's fixtures, importable by any conftest that wants them (the scale-out tests do).

One kit fixture per kit in ``contract_target.KITS`` (``redis_kit``, ``sqs_kit``, ...),
made here from the registry: its ``create(...)`` gives a test a fresh, uniquely named
queue or stream (URI and ``SourceOptions``) and the fixture deletes what was created.
``queue_kit``, ``stream_kit``, ``any_kit``, ``keyed_kit`` and ``process_kit`` run a test
once per kit of that family, the families read from the kits' attributes. moto and Tansu
are started once per session, on free loopback ports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import contract_handlers
import contract_queue_kits  # noqa: F401  (its kits register themselves in KITS)
import contract_stream_kits  # noqa: F401
import pytest
from contract_services import Moto, moto_server, tansu_broker
from contract_target import KITS, Kit

QUEUES = tuple(name for name, kit in KITS.items() if kit.kind == "queue")
STREAMS = tuple(name for name, kit in KITS.items() if kit.kind == "stream")
KEYED = tuple(name for name, kit in KITS.items() if kit.keyed)
"""Sources that order by a key: FIFO queues (message groups) and every stream (partition or item keys)."""
PROCESS = tuple(name for name, kit in KITS.items() if kit.outlives_process)
"""Sources a ``batchmap run`` subprocess can reach and a restarted engine finds again."""


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


def _kit_fixture(kit_class: type[Kit]) -> Callable[..., Iterator[Kit]]:
    @pytest.fixture(name=f"{kit_class.fixture}_kit")
    def kit_fixture(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Kit]:
        kit = kit_class.open(tmp_path, request)
        try:
            yield kit
        finally:
            kit.cleanup()

    return kit_fixture


_made: dict[str, Any] = {f"{name}_kit": _kit_fixture(kit) for name, kit in KITS.items()}
globals().update(_made)  # ``from contract_fixtures import redis_kit`` finds them, as pytest does


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


@pytest.fixture(params=KEYED)
def keyed_kit(request: pytest.FixtureRequest) -> Kit:
    """Sources that order by a key (``Kit.keyed``); SQS on moto is not one (see ``SqsKit``)."""
    return _kit(request)


@pytest.fixture(params=PROCESS)
def process_kit(request: pytest.FixtureRequest) -> Kit:
    """Every source whose messages outlive the process (``Kit.outlives_process``): for engines run as commands."""
    return _kit(request)


__all__ = [*_made, "any_kit", "fresh_handlers", "kafka_broker", "keyed_kit", "moto", "process_kit", "queue_kit",
           "stream_kit"]
