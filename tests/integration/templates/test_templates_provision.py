"""``provision``: the template's queues and streams created on the embedded file, kept in step with edits."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from batchmap.errors import TemplateError
from batchmap.sources.sqlite import QueueInfo, StreamInfo, inspect
from batchmap.templates import load_template, provision

TEMPLATE = """\
Parameters:
  Visibility: {Type: Number, Default: 45}
  Shards: {Type: Number, Default: 2}
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Parked.Arn, maxReceiveCount: 4}
  Parked:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Graveyard.Arn, maxReceiveCount: 10}
  Graveyard:
    Type: AWS::SQS::Queue
  Ledger:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true, ContentBasedDeduplication: true}
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: !Ref Shards, RetentionPeriodHours: 48}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Orders: {Type: SQS, Properties: {Queue: !GetAtt Orders.Arn}}
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "shop" / "template.yaml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(TEMPLATE))
    return path


def queue(uri: str) -> QueueInfo:
    info = inspect(uri)
    assert isinstance(info, QueueInfo)
    return info


def test_queues_and_streams_are_created_with_their_attributes(template: Path) -> None:
    app = load_template(template)
    created = provision(app)
    assert app.database == template.parent / ".batchmap" / "shop.db" and app.database.exists()
    order = [uri.rsplit("=", 1)[1] for uri in created]
    assert order.index("Graveyard") < order.index("Parked") < order.index("Orders")  # dead letters first
    orders = queue(app.source_uri("Orders"))
    assert orders.attributes["VisibilityTimeout"] == "45"
    assert json.loads(orders.attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:local:000000000000:Parked", "maxReceiveCount": 4}
    ledger = queue(app.source_uri("Ledger"))
    assert ledger.fifo and ledger.name == "Ledger.fifo"
    stream = inspect(app.source_uri("Clicks"))
    assert isinstance(stream, StreamInfo)
    assert (len(stream.shards), stream.retention_hours) == (2, 48)


def test_provisioning_again_is_a_no_op_and_follows_template_edits(template: Path) -> None:
    provision(load_template(template))
    assert provision(load_template(template))  # same attributes: nothing to change
    app = load_template(template, parameters={"Visibility": "90", "Shards": "4"})
    provision(app)
    assert queue(app.source_uri("Orders")).attributes["VisibilityTimeout"] == "90"
    stream = inspect(app.source_uri("Clicks"))
    assert isinstance(stream, StreamInfo)
    assert len([shard for shard in stream.shards if not shard.closed]) == 4
    template.write_text(template.read_text().replace(
        "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Parked.Arn, maxReceiveCount: 4}\n", ""))
    app = load_template(template)
    provision(app)
    attributes = queue(app.source_uri("Orders")).attributes
    assert "RedrivePolicy" not in attributes and attributes["VisibilityTimeout"] == "45"


def test_a_change_sqs_cannot_make_is_named(template: Path) -> None:
    provision(load_template(template))
    template.write_text(template.read_text().replace("RetentionPeriodHours: 48", "RetentionPeriodHours: 72"))
    with pytest.raises(TemplateError) as caught:
        provision(load_template(template))
    assert str(caught.value).startswith("Resources.Clicks: cannot create it in ")


def test_bound_sources_are_not_touched(template: Path) -> None:
    app = load_template(template, overrides={"Sources": {"Clicks": "arn:aws:kinesis:us-east-1:1:stream/c"}})
    created = provision(app)
    assert not any("stream=" in uri for uri in created)


def test_provisioning_from_inside_an_event_loop(template: Path) -> None:
    import asyncio

    provision(load_template(template))
    app = load_template(template, parameters={"Shards": "3"})

    async def inside() -> None:
        provision(app)  # resharding runs its own loop, on a thread

    asyncio.run(inside())
    stream = inspect(app.source_uri("Clicks"))
    assert isinstance(stream, StreamInfo)
    assert len([shard for shard in stream.shards if not shard.closed]) == 3
