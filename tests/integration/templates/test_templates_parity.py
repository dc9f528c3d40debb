"""Shapes of public SAM apps, run with ``batchmap send --template`` and ``batchmap run TEMPLATE``: a handler module
with hyphens, an IAM role's ARN, zipped and inline code; a function that makes a boto3 client at import (it
needs AWS_REGION); a LATEST stream mapping fed before its first run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from emulators import Moto, moto_server

BATCHMAP = str(Path(sys.executable).parent / "batchmap")

READINGS = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Meter readings on a stream, jobs run from a zip, alerts printed by inline code.
Parameters:
  OutFile: {Type: String}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 5
    Environment:
      Variables:
        OUT_FILE: !Ref OutFile
Resources:
  Readings:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1, RetentionPeriodHours: 25}
  ReaderRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  ReadingsReader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: readings-reader/
      Handler: readings-reader-fn.lambda_handler
      Role: !GetAtt ReaderRole.Arn
      Environment:
        Variables:
          ROLE_ARN: !GetAtt ReaderRole.Arn
      Events:
        Readings:
          Type: Kinesis
          Properties: {Stream: !GetAtt Readings.Arn, StartingPosition: TRIM_HORIZON, BatchSize: 10}
  Jobs: {Type: AWS::SQS::Queue}
  JobRunner:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: dist/job-runner.zip
      Handler: runner.handle
      Events:
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn}}
  Alerts: {Type: AWS::SQS::Queue}
  AlertPrinter:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: |
        import json, os
        def handler(event, context):
            with open(os.environ["OUT_FILE"], "a") as out:
                for record in event["Records"]:
                    out.write(json.dumps({"fn": context.function_name, "alert": record["body"]}) + "\\n")
      Events:
        Alerts: {Type: SQS, Properties: {Queue: !GetAtt Alerts.Arn}}
"""

READER = """\
import base64, json, os

def lambda_handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            reading = json.loads(base64.b64decode(record["kinesis"]["data"]))
            out.write(json.dumps({"fn": context.function_name, "reading": reading["n"],
                                  "role": os.environ["ROLE_ARN"]}) + "\\n")
"""

RUNNER = """\
import json, os

def handle(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"fn": context.function_name, "job": record["body"]}) + "\\n")
"""

ORDERS = """\
Transform: AWS::Serverless-2016-10-31
Description: A FIFO queue with a dead-letter queue; the consumer audits each order through SQS.
Parameters:
  OutFile: {Type: String}
  SqsEndpoint: {Type: String}
  AuditQueue: {Type: String}
Resources:
  OrdersDeadLetters:
    Type: AWS::SQS::Queue
    Properties: {QueueName: orders-dead-letters.fifo, FifoQueue: true, ContentBasedDeduplication: true}
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: orders.fifo
      FifoQueue: true
      ContentBasedDeduplication: true
      VisibilityTimeout: 30
      RedrivePolicy: {deadLetterTargetArn: !GetAtt OrdersDeadLetters.Arn, maxReceiveCount: 1}
  OrderAuditor:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: auditor/
      Handler: app.lambda_handler
      Runtime: python3.12
      Environment:
        Variables:
          OUT_FILE: !Ref OutFile
          AWS_ENDPOINT_URL_SQS: !Ref SqsEndpoint
          AUDIT_QUEUE: !Ref AuditQueue
      Events:
        SqsEvent:
          Type: SQS
          Properties: {Queue: !GetAtt Orders.Arn, BatchSize: 10}
"""

AUDITOR = """\
import json, os
import boto3

sqs = boto3.client("sqs")  # at import, as Lambda samples do: the region comes from AWS_REGION
AUDIT = sqs.create_queue(QueueName=os.environ["AUDIT_QUEUE"])["QueueUrl"]

def lambda_handler(event, context):
    for record in event["Records"]:
        sqs.send_message(QueueUrl=AUDIT, MessageBody=record["body"])
    with open(os.environ["OUT_FILE"], "a") as out:
        out.write(json.dumps({"region": os.environ["AWS_REGION"], "orders": len(event["Records"])}) + "\\n")
"""

CLICKS = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  OutFile: {Type: String}
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 2}
  ClickCounter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: counter/
      Handler: counter.handler
      Runtime: python3.12
      Environment: {Variables: {OUT_FILE: !Ref OutFile}}
      Events:
        Clicks:
          Type: Kinesis
          Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST, BatchSize: 100}
"""

COUNTER = """\
import base64, json, os

def handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            out.write(base64.b64decode(record["kinesis"]["data"]).decode() + "\\n")
"""


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([BATCHMAP, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=environment)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_app(root: Path, template: str, code: dict[str, str]) -> Path:
    for relative, text in code.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(textwrap.dedent(text))
    (root / "template.yaml").write_text(template)
    return root / "template.yaml"


def test_hyphenated_handler_role_arn_zip_and_inline_code_run(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    template = write_app(tmp_path / "meters", READINGS, {"readings-reader/readings-reader-fn.py": READER})
    (template.parent / "dist").mkdir()
    with zipfile.ZipFile(template.parent / "dist" / "job-runner.zip", "w") as archive:
        archive.writestr("runner.py", RUNNER)
    common = ["--template", str(template), "--parameter-overrides", f"OutFile={out}"]
    ok(run_cli("send", '{"n": 1}', '{"n": 2}', "--partition-key", "meter-7", *common, "--source", "Readings",
               cwd=tmp_path))
    ok(run_cli("send", "rotate-keys", *common, "--source", "Jobs", cwd=tmp_path))
    ok(run_cli("send", "disk-full", *common, "--source", "Alerts", cwd=tmp_path))
    ran = ok(run_cli("run", str(template), "--parameter-overrides", f"OutFile={out}", "--until-idle",
                     cwd=tmp_path))
    role = "arn:aws:iam::000000000000:role/ReaderRole"
    assert sorted(map(json.dumps, lines(out))) == sorted(map(json.dumps, [
        {"fn": "ReadingsReader", "reading": 1, "role": role}, {"fn": "ReadingsReader", "reading": 2, "role": role},
        {"fn": "JobRunner", "job": "rotate-keys"}, {"fn": "AlertPrinter", "alert": "disk-full"},
    ]))
    assert "functions run in worker processes" not in ran.stderr  # three modules, three folders: one process


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


def without_region(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment with no region anywhere (and no AWS config file)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        os.environ.pop(name, None)  # moto_server restores its own at the end of the module
    return {"AWS_CONFIG_FILE": str(tmp_path / "no-aws-config")}


def audited(moto: Moto, region: str, queue: str) -> int:
    client = boto3.client("sqs", endpoint_url=moto.url, region_name=region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    url = client.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.mark.parametrize("invoker", ["inprocess", "subprocess"])
def test_a_client_made_at_import_gets_the_runs_region(tmp_path: Path, moto: Moto, invoker: str) -> None:
    env = without_region(tmp_path)
    out, audit = tmp_path / "out.jsonl", f"audit-{invoker}"
    template = write_app(tmp_path / "orders", ORDERS, {"auditor/app.py": AUDITOR})
    params = ["--parameter-overrides", f"OutFile={out}", f"SqsEndpoint={moto.url}", f"AuditQueue={audit}"]
    ok(run_cli("send", '{"id": 1}', '{"id": 2}', "--message-group-id", "customer-1", "--template", str(template),
               "--source", "Orders", *params, cwd=tmp_path, env=env))
    ok(run_cli("run", str(template), *params, "--until-idle", "--invoker", invoker, "--region", "eu-west-1",
               cwd=tmp_path, env=env))
    assert lines(out) == [{"region": "eu-west-1", "orders": 2}]
    assert audited(moto, "eu-west-1", audit) == 2
    overrides = tmp_path / "local.yaml"
    overrides.write_text("Region: ap-northeast-1\n")
    ok(run_cli("send", '{"id": 3}', "--message-group-id", "customer-1", "--template", str(template),
               "--source", "Orders", *params, cwd=tmp_path, env=env))
    ok(run_cli("run", str(template), *params, "--overrides", str(overrides), "--until-idle", "--invoker", invoker,
               cwd=tmp_path, env=env))
    assert lines(out)[1:] == [{"region": "ap-northeast-1", "orders": 1}]  # the overrides file's Region
    assert audited(moto, "ap-northeast-1", audit) == 1


def test_a_latest_mapping_reads_what_was_sent_before_its_first_run(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    template = write_app(tmp_path / "clicks", CLICKS, {"counter/counter.py": COUNTER})
    params = ["--parameter-overrides", f"OutFile={out}"]
    ok(run_cli("send", "a", "b", "c", "d", "--template", str(template), "--source", "Clicks", *params,
               cwd=tmp_path))
    first = ok(run_cli("run", str(template), *params, "--until-idle", "--summary-json", cwd=tmp_path))
    assert sorted(out.read_text().split()) == ["a", "b", "c", "d"]  # the mapping existed from the first send on
    assert json.loads(first.stdout.splitlines()[-1])["summary"]["InvokedEventCount"] >= 1
    assert "skips" not in first.stderr
    ok(run_cli("send", "e", "--template", str(template), "--source", "Clicks", *params, cwd=tmp_path))
    ok(run_cli("run", str(template), *params, "--until-idle", cwd=tmp_path))
    assert sorted(out.read_text().split()) == ["a", "b", "c", "d", "e"]  # its position is kept, not reset


def test_a_first_run_at_latest_says_how_many_records_it_skips(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    template = write_app(tmp_path / "clicks", CLICKS, {"counter/counter.py": COUNTER})
    (template.parent / ".batchmap").mkdir()
    stream = f"sqlite:///{template.parent / '.batchmap' / 'clicks.db'}?stream=Clicks"
    ok(run_cli("create-stream", "--source", stream, "--shard-count", "2", cwd=tmp_path))
    ok(run_cli("send", "old-1", "old-2", "old-3", "--source", stream, cwd=tmp_path))  # before the template's time
    first = ok(run_cli("run", str(template), "--parameter-overrides", f"OutFile={out}", "--until-idle",
                       cwd=tmp_path))
    assert "mapping ClickCounter.Clicks starts at LATEST: it skips the 3 record(s) already in stream Clicks" in (
        first.stderr)
    assert not out.exists()
    ok(run_cli("send", "new-1", "--template", str(template), "--source", "Clicks", "--parameter-overrides",
               f"OutFile={out}", cwd=tmp_path))
    second = ok(run_cli("run", str(template), "--parameter-overrides", f"OutFile={out}", "--until-idle",
                        cwd=tmp_path))
    assert out.read_text().split() == ["new-1"]
    assert "skips" not in second.stderr
