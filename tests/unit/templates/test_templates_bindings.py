"""Where sources live: the embedded file by default, stand-ins for undeclared ARNs, and the overrides file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from batchmap.config import DestinationConfig, OnFailure
from batchmap.errors import TemplateError
from batchmap.templates import Overrides, load_overrides, load_template

Write = Callable[..., Path]

STREAM_APP = """\
Parameters:
  ExistingQueueArn: {Type: String, Default: "arn:aws:sqs:us-east-1:123456789012:legacy-orders"}
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 3}
  Alerts:
    Type: AWS::SNS::Topic
    Properties: {TopicName: stream-alerts}
  Archive:
    Type: AWS::S3::Bucket
    Properties: {BucketName: failed-batches}
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Environment:
        Variables:
          LEGACY_QUEUE_URL: !Ref LegacyQueue
          ARCHIVE: !Ref Archive
          ALERTS: !Ref Alerts
      Events:
        ClicksToTopic:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: LATEST
            DestinationConfig: {OnFailure: {Type: SNS, Destination: !Ref Alerts}}
        ClicksToBucket:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            DestinationConfig: {OnFailure: {Destination: !GetAtt Archive.Arn}}
        Legacy:
          Type: SQS
          Properties: {Queue: !Ref ExistingQueueArn}
        External:
          Type: Kinesis
          Properties:
            Stream: arn:aws:kinesis:us-east-1:123456789012:stream/partner-feed
            StartingPosition: LATEST
  LegacyQueue:
    Type: AWS::SQS::Queue
"""


def test_topics_and_buckets_as_failure_destinations(write_template: Write) -> None:
    path = write_template(STREAM_APP)
    app = load_template(path)
    database = app.database
    topic = app.mappings["Consumer.ClicksToTopic"].mapping.destination_config
    assert topic == DestinationConfig(OnFailure(f"sqlite:///{database}?queue=stream-alerts"))
    bucket = app.mappings["Consumer.ClicksToBucket"].mapping.destination_config
    assert bucket == DestinationConfig(OnFailure(f"file://{database.with_name('app-failed-batches.jsonl')}"))
    environment = app.functions["Consumer"].config.environment
    assert environment["ALERTS"] == "arn:aws:sns:local:000000000000:stream-alerts"
    assert environment["ARCHIVE"] == "failed-batches"
    assert environment["LEGACY_QUEUE_URL"] == f"sqlite:///{database}?queue=LegacyQueue"
    assert app.sources["Clicks"].shard_count == 3


def test_undeclared_sqs_and_kinesis_arns_get_embedded_stand_ins(write_template: Write) -> None:
    app = load_template(write_template(STREAM_APP))
    legacy_arn = "arn:aws:sqs:us-east-1:123456789012:legacy-orders"
    partner_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/partner-feed"
    assert app.mappings["Consumer.Legacy"].mapping.source == f"sqlite:///{app.database}?queue=legacy-orders"
    assert app.mappings["Consumer.External"].mapping.source == f"sqlite:///{app.database}?stream=partner-feed"
    assert app.sources[legacy_arn].declared is False and app.sources[legacy_arn].embedded is True
    assert app.source_uri(partner_arn) == f"sqlite:///{app.database}?stream=partner-feed"


def test_overrides_bind_by_logical_id_arn_and_mapping_id(write_template: Write, tmp_path: Path) -> None:
    path = write_template(STREAM_APP)
    overrides = tmp_path / "local.yaml"
    overrides.write_text("""\
Sources:
  Clicks: arn:aws:kinesis:us-east-1:123456789012:stream/clicks
  LegacyQueue: arn:aws:sqs:us-east-1:123456789012:legacy
  arn:aws:sqs:us-east-1:123456789012:legacy-orders: redis://127.0.0.1:6379/0?stream=orders&group=consumer
  Consumer.External: nats://127.0.0.1:4222/partner?consumer=feed
EndpointUrl: http://127.0.0.1:5055
Region: us-east-1
Database: state/app.db
StackName: clicks
""")
    app = load_template(path, overrides=overrides)
    assert app.stack_name == "clicks"
    assert app.database == tmp_path / "state" / "app.db"
    assert app.source_options.endpoint_url == "http://127.0.0.1:5055"
    assert app.source_options.region == "us-east-1"
    mappings = {key: m.mapping.source for key, m in app.mappings.items()}
    assert mappings["Consumer.ClicksToTopic"] == "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    assert mappings["Consumer.Legacy"] == "redis://127.0.0.1:6379/0?stream=orders&group=consumer"
    assert mappings["Consumer.External"] == "nats://127.0.0.1:4222/partner?consumer=feed"
    environment = app.functions["Consumer"].config.environment
    assert environment["LEGACY_QUEUE_URL"] == "http://127.0.0.1:5055/123456789012/legacy"  # Ref: its URL
    assert app.sources["Clicks"].embedded is False


def test_overrides_as_json_and_as_a_mapping(write_template: Write, tmp_path: Path) -> None:
    file = tmp_path / "o.json"
    file.write_text(json.dumps({"Sources": {"A": "sqlite:///x.db?queue=a"}, "Region": "eu-west-1"}))
    expected = Overrides({"A": "sqlite:///x.db?queue=a"}, region="eu-west-1", base=tmp_path)
    assert load_overrides(file) == expected
    assert load_overrides({"EndpointUrl": "http://127.0.0.1:1"}).endpoint_url == "http://127.0.0.1:1"
    assert load_overrides(None) == Overrides()


@pytest.mark.parametrize(("document", "message"), [
    ({"Queues": {}},
     "overrides.Queues: unknown key; expected Sources, EndpointUrl, Region, Database, StackName"),
    ({"Sources": ["a"]}, "overrides.Sources: expected a mapping of logical ids or ARNs to URIs"),
    ({"Sources": {"A": 5}}, "overrides.Sources.A: expected a source URI or ARN, got 5"),
    ({"Region": ""}, "overrides.Region: expected text, got ''"),
])
def test_bad_overrides_are_named(document: dict[str, object], message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        load_overrides(document)
    assert str(caught.value).startswith(message)


def test_a_missing_overrides_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read the overrides file"):
        load_overrides(tmp_path / "nope.yaml")


def test_a_bound_dynamodb_stream_runs_against_the_bound_arn(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Orders:
            Type: AWS::DynamoDB::Table
            Properties: {TableName: orders, StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Environment: {Variables: {TABLE: !Ref Orders, TABLE_ARN: !GetAtt Orders.Arn}}
              Events:
                Changes:
                  Type: DynamoDB
                  Properties: {Stream: !GetAtt Orders.StreamArn, StartingPosition: LATEST}
        """)
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-05-01T00:00:00.000"
    app = load_template(path, overrides={"Sources": {"Orders": arn}})
    assert app.mappings["Fn.Changes"].mapping.source == arn
    assert app.functions["Fn"].config.environment == {
        "TABLE": "orders", "TABLE_ARN": "arn:aws:dynamodb:local:000000000000:table/orders"}


def test_describing_an_app_keeps_arns_without_a_stand_in(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Orders:
            Type: AWS::DynamoDB::Table
            Properties: {StreamSpecification: {StreamViewType: NEW_IMAGE}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Changes:
                  Type: DynamoDB
                  Properties: {Stream: !GetAtt Orders.StreamArn, StartingPosition: LATEST}
        """)
    app = load_template(path, require_sources=False)
    source = app.mappings["Fn.Changes"].mapping.source
    assert source.startswith("arn:aws:dynamodb:local:000000000000:table/Orders/")


def test_functions_that_cannot_share_a_process(write_template: Write) -> None:
    path = write_template("""\
        Globals:
          Function: {Runtime: python3.12, Handler: app.handler}
        Resources:
          Q: {Type: AWS::SQS::Queue}
          A:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: a/
              Environment: {Variables: {MODE: fast}}
              Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}
          B:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: b/
              Environment: {Variables: {MODE: safe}}
              Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}
        """)
    conflicts = load_template(path).in_process_conflicts()
    assert len(conflicts) == 2
    assert conflicts[0].startswith("module 'app' of B (")
    assert conflicts[1] == "environment variable MODE is 'safe' for B and 'fast' for A"
