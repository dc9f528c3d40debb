"""The contract suite runs one set of behaviours on every source; the fixtures are in ``contract_fixtures``.

Helpers live in modules with names of their own (``contract_*``), put on
``sys.path`` here: test modules never import a conftest (several collide).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from contract_fixtures import (  # noqa: E402, F401
    any_kit,
    dynamodb_kit,
    fresh_handlers,
    kafka_broker,
    kafka_kit,
    keyed_kit,
    kinesis_kit,
    moto,
    nats_kit,
    postgres_kit,
    queue_kit,
    rabbitmq_kit,
    redis_kit,
    sqlite_queue_kit,
    sqlite_stream_kit,
    sqs_kit,
    stream_kit,
)
