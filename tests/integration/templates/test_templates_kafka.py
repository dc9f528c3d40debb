"""A SAM Kafka event without StartingPosition, as SAM's own templates write it, run on a Tansu broker: it starts at
TRIM_HORIZON, so records produced before the first run are processed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulators import tansu_broker

BATCHMAP = str(Path(sys.executable).parent / "batchmap")
GROUP_SETTINGS = "session.timeout.ms=1000&heartbeat.interval.ms=200&fetch.wait.max.ms=100"
"""Tansu answers a group join after about half the session timeout, and holds a fetch at the end of a partition
for ``fetch.wait.max.ms`` (500 ms by default), after which the drain learns it is caught up: keep both short."""

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  OutFile: {Type: String}
Resources:
  LedgerConsumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: ledger/
      Handler: ledger.handler
      Environment: {Variables: {OUT_FILE: !Ref OutFile}}
      Events:
        Entries:
          Type: SelfManagedKafka
          Properties:
            KafkaBootstrapServers: [BROKER]
            Topics: [TOPIC]
            SourceAccessConfigurations:
              - {Type: BASIC_AUTH, URI: arn:aws:secretsmanager:us-east-1:123456789012:secret:k}
"""

LEDGER = """\
import base64, os

def handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for records in event["records"].values():
            for record in records:
                out.write(base64.b64decode(record["value"]).decode() + "\\n")
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "tansu.log") as address:
        yield address


def test_a_kafka_event_without_starting_position_reads_from_the_oldest_record(tmp_path: Path, broker: str) -> None:
    from confluent_kafka import Producer

    topic, group = f"ledger-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 0, "logger": logging.getLogger("tests.kafka")})
    for entry in ("debit-1", "credit-2", "debit-3"):  # one produce request each: Tansu's watermarks stay right
        producer.produce(topic, value=entry.encode())
        assert producer.flush(10) == 0
    app = tmp_path / "ledger-app"
    (app / "ledger").mkdir(parents=True)
    (app / "ledger" / "ledger.py").write_text(LEDGER)
    (app / "template.yaml").write_text(TEMPLATE.replace("BROKER", broker).replace("TOPIC", topic))
    overrides = tmp_path / "local.yaml"  # only to give the consumer group Tansu's short session settings
    overrides.write_text(f"Sources:\n  LedgerConsumer.Entries: kafka://{broker}/{topic}?group={group}&"
                         f"{GROUP_SETTINGS}\n")
    out = tmp_path / "out.txt"
    ran = subprocess.run([BATCHMAP, "run", str(app / "template.yaml"), "--overrides", str(overrides),
                          "--parameter-overrides", f"OutFile={out}", "--until-idle"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert ran.returncode == 0, ran.stderr
    assert sorted(out.read_text().split()) == ["credit-2", "debit-1", "debit-3"]  # partitions interleave
