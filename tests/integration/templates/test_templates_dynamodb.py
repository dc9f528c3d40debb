"""A template's DynamoDB table bound to a real DynamoDB stream (moto on 127.0.0.1) through the overrides file.

The embedded source has no DynamoDB-shaped stream, so this is how a DynamoDB
mapping of a template runs locally: the function gets genuine DynamoDB Streams
records (``eventName``, ``dynamodb.NewImage``...).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchmap.engine.service import Engine
from batchmap.templates import load_template, provision

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  OutFile: {Type: String}
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  Changes:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: tpl_ddb_changes.handler
      Environment: {Variables: {OUT_FILE: !Ref OutFile}}
      Events:
        OrderChanges:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT", "MODIFY"]}'
"""

HANDLER = """\
import json, os

def handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            image = record["dynamodb"]["NewImage"]
            out.write(json.dumps([record["eventSource"], record["eventName"], image["pk"]["S"],
                                  image["status"]["S"]]) + "\\n")
"""


@pytest.fixture
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def test_a_dynamodb_mapping_bound_to_a_real_stream(tmp_path: Path, moto_url: str) -> None:
    import boto3

    folder = tmp_path / "orders"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "tpl_ddb_changes.py").write_text(HANDLER)
    (folder / "template.yaml").write_text(TEMPLATE)
    dynamodb: Any = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    table = dynamodb.create_table(
        TableName="orders", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    overrides = folder / "local.yaml"
    overrides.write_text(json.dumps({"Sources": {"Orders": table["LatestStreamArn"]}, "EndpointUrl": moto_url,
                                     "Region": "us-east-1"}))
    for key, status in (("o-1", "new"), ("o-2", "new"), ("o-1", "paid")):
        dynamodb.put_item(TableName="orders", Item={"pk": {"S": key}, "status": {"S": status}})
    dynamodb.delete_item(TableName="orders", Key={"pk": {"S": "o-2"}})

    out = tmp_path / "out.jsonl"
    app = load_template(folder / "template.yaml", parameters={"OutFile": str(out)}, overrides=overrides)
    assert provision(app) == []  # the table is bound: nothing embedded to create
    assert app.mappings["Changes.OrderChanges"].mapping.source == table["LatestStreamArn"]
    engine = Engine(app.event_source_mappings, invoker="inprocess", source_options=app.source_options,
                    checkpoint_store_uri=app.checkpoint_store_uri)
    report = asyncio.run(asyncio.wait_for(engine.run(until_idle=True), 60))
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    assert seen == [["aws:dynamodb", "INSERT", "o-1", "new"], ["aws:dynamodb", "INSERT", "o-2", "new"],
                    ["aws:dynamodb", "MODIFY", "o-1", "paid"]]
    assert report.total("FilteredOutEventCount") == 1  # the REMOVE
    assert app.database.exists()  # the stream's position is kept in the stack's own file
