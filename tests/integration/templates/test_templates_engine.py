"""A template run end to end on the embedded source: several mappings in one engine, by API and by CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchmap.engine.service import Engine, RunReport
from batchmap.sources.sqlite import QueueInfo, inspect, send
from batchmap.templates import App, load_template, provision

BATCHMAP = str(Path(sys.executable).parent / "batchmap")

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  OutFile: {Type: String}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 2
    Environment:
      Variables:
        OUT_FILE: !Ref OutFile
Resources:
  Failed:
    Type: AWS::SQS::Queue
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 2  # the poison order is dead-lettered at its second receive, this long after the first
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Failed.Arn, maxReceiveCount: 1}
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 2}
  OrderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: orders/
      Handler: ORDERS_MODULE.handler
      Events:
        Orders:
          Type: SQS
          Properties:
            Queue: !GetAtt Orders.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"kind": ["order"]}}'
  ClickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: clicks/
      Handler: CLICKS_MODULE.handler
      Events:
        Clicks:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
"""

ORDERS = """\
import json, os

def handler(event, context):
    failures = []
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            body = json.loads(record["body"])
            if body.get("poison"):
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            out.write(json.dumps({"fn": context.function_name, "order": body["id"]}) + "\\n")
    return {"batchItemFailures": failures}
"""

CLICKS = """\
import base64, json, os

def handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            data = json.loads(base64.b64decode(record["kinesis"]["data"]))
            out.write(json.dumps({"fn": context.function_name, "click": data["n"]}) + "\\n")
"""


def make_app(root: Path, orders_module: str, clicks_module: str) -> Path:
    (root / "orders").mkdir(parents=True)
    (root / "clicks").mkdir()
    (root / "orders" / f"{orders_module}.py").write_text(ORDERS)
    (root / "clicks" / f"{clicks_module}.py").write_text(CLICKS)
    path = root / "template.yaml"
    path.write_text(TEMPLATE.replace("ORDERS_MODULE", orders_module).replace("CLICKS_MODULE", clicks_module))
    return path


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def feed(tmp_path: Path, orders_module: str, clicks_module: str) -> tuple[App, Path]:
    """A provisioned app with 7 orders, a poison order and a refund on the queue, 12 clicks on the stream."""
    out = tmp_path / "out.jsonl"
    template = make_app(tmp_path / "shop", orders_module, clicks_module)
    app = load_template(template, parameters={"OutFile": str(out)})
    provision(app)
    send(app.source_uri("Orders"), [json.dumps({"kind": "order", "id": i}) for i in range(7)]
         + [json.dumps({"kind": "order", "id": 99, "poison": True}), json.dumps({"kind": "refund", "id": 5})])
    send(app.source_uri("Clicks"), [json.dumps({"n": n}) for n in range(12)])
    return app, out


def dead_letters(app: App) -> int:
    failed = inspect(app.source_uri("Failed"))
    assert isinstance(failed, QueueInfo)
    return failed.visible


def check_outcome(app: App, out: Path, report: RunReport) -> None:
    written = lines(out)
    assert sorted(r["order"] for r in written if "order" in r) == list(range(7))
    assert sorted(r["click"] for r in written if "click" in r) == list(range(12))
    assert {r["fn"] for r in written} == {"OrderFunction", "ClickFunction"}
    assert dead_letters(app) == 1  # the poison order, after its one receive
    assert report.total("FilteredOutEventCount") == 1  # the refund is not an order
    assert len(report.metrics) == 2


def test_every_mapping_of_a_template_runs_in_one_engine(tmp_path: Path) -> None:
    app, out = feed(tmp_path, "tpl_engine_orders", "tpl_engine_clicks")
    engine = Engine(app.event_source_mappings, invoker="inprocess", source_options=app.source_options)

    async def run_until_done() -> RunReport:
        running = asyncio.create_task(engine.run())
        for _ in range(600):  # the poison order comes back after its 2 s visibility timeout
            if dead_letters(app) == 1 and len(lines(out)) == 19:
                break
            await asyncio.sleep(0.05)
        engine.stop()
        return await running

    check_outcome(app, out, asyncio.run(asyncio.wait_for(run_until_done(), 60)))


def test_until_idle_drains_every_mapping_of_the_template(tmp_path: Path) -> None:
    app, out = feed(tmp_path, "tpl_idle_orders", "tpl_idle_clicks")
    engine = Engine(app.event_source_mappings, invoker="inprocess", source_options=app.source_options)
    check_outcome(app, out, asyncio.run(asyncio.wait_for(engine.run(until_idle=True), 60)))


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([BATCHMAP, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def test_the_cli_sends_by_logical_id_and_runs_every_mapping(tmp_path: Path) -> None:
    make_app(tmp_path / "shop", "tpl_cli_orders", "tpl_cli_clicks")
    out = tmp_path / "out.jsonl"
    params = ["--parameter-overrides", f"OutFile={out}"]
    sent = run_cli("send", '{"kind": "order", "id": 1}', '{"kind": "order", "id": 2}',
                   "--template", "shop/template.yaml", "--source", "Orders", *params, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["sent"] == 2
    clicks = run_cli("send", "--template", "shop/template.yaml", "--source", "Clicks", "--partition-key", "k",
                     '{"n": 7}', *params, cwd=tmp_path)
    assert clicks.returncode == 0, clicks.stderr
    ran = run_cli("run", "shop/template.yaml", *params, "--until-idle", "--summary-json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout.splitlines()[-1])["summary"]
    assert summary["InvokedEventCount"] == 3 and summary["DeletedEventCount"] == 2
    expected = [{"fn": "OrderFunction", "order": 1}, {"fn": "OrderFunction", "order": 2},
                {"fn": "ClickFunction", "click": 7}]
    assert sorted(map(str, lines(out))) == sorted(map(str, expected))
    assert "mapping OrderFunction.Orders" in ran.stderr and "mapping ClickFunction.Clicks" in ran.stderr


def test_functions_that_cannot_share_a_process_run_in_workers(tmp_path: Path) -> None:
    template = make_app(tmp_path / "shop", "app", "app")  # one module name in two code folders
    out = tmp_path / "out.jsonl"
    params = ["--parameter-overrides", f"OutFile={out}"]
    assert run_cli("send", '{"kind": "order", "id": 3}', "--template", str(template), "--source", "Orders",
                   *params, cwd=tmp_path).returncode == 0
    assert run_cli("send", '{"n": 4}', "--template", str(template), "--source", "Clicks", *params,
                   cwd=tmp_path).returncode == 0
    ran = run_cli("run", str(template), *params, "--until-idle", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "functions run in worker processes: module 'app' of ClickFunction" in ran.stderr
    assert sorted(map(str, lines(out))) == sorted(map(str, [
        {"fn": "OrderFunction", "order": 3}, {"fn": "ClickFunction", "click": 4}]))
    refused = run_cli("run", str(template), *params, "--until-idle", "--invoker", "inprocess", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--invoker: these functions cannot share one process: module 'app'" in refused.stderr


def test_the_cli_refuses_mapping_flags_with_a_template_and_names_problems(tmp_path: Path) -> None:
    template = make_app(tmp_path / "shop", "tpl_flags_orders", "tpl_flags_clicks")
    refused = run_cli("run", str(template), "--batch-size", "5", "--parameter-overrides", "OutFile=x",
                      cwd=tmp_path)
    assert refused.returncode == 2
    assert "batchmap: error: --batch-size: a template's mappings take their settings from the template" in (
        refused.stderr)
    missing = run_cli("run", str(template), "--until-idle", cwd=tmp_path)
    assert missing.returncode == 2
    assert "parameter 'OutFile' has no Default and no value was given" in missing.stderr
    (tmp_path / "shop" / "clicks" / "tpl_flags_clicks.py").unlink()
    (tmp_path / "shop" / "clicks").rmdir()
    no_code = run_cli("run", str(template), "--parameter-overrides", "OutFile=x", cwd=tmp_path)
    assert "Resources.ClickFunction.Properties.CodeUri: the code folder" in no_code.stderr
    unknown = run_cli("send", "x", "--template", str(template), "--source", "Nope", "--parameter-overrides",
                      "OutFile=x", cwd=tmp_path)
    assert "no queue or stream 'Nope'" in unknown.stderr
    assert "(sources: Failed, Orders, Clicks)" in unknown.stderr


@pytest.mark.parametrize("command", ["inspect", "purge"])
def test_inspect_and_purge_take_a_logical_id(tmp_path: Path, command: str) -> None:
    template = make_app(tmp_path / "shop", f"tpl_{command}_orders", f"tpl_{command}_clicks")
    params = ["--template", str(template), "--parameter-overrides", "OutFile=x"]
    assert run_cli("send", "a", "b", *params, "--source", "Orders", cwd=tmp_path).returncode == 0
    result = run_cli(command, *params, "--source", "Orders", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    if command == "inspect":
        assert shown["visible"] == 2 and shown["name"] == "Orders"
        assert json.loads(shown["attributes"]["RedrivePolicy"])["maxReceiveCount"] == 1
    else:
        assert shown == {"deleted": 2}


def test_template_flags_need_a_template(tmp_path: Path) -> None:
    result = run_cli("send", "x", "--source", "sqlite:///q.db?queue=q", "--parameter-overrides", "A=1",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "--template: --parameter-overrides and --overrides need --template" in result.stderr
