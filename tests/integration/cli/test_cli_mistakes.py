"""Every mistake on the command line gets one line naming the parameter and the value, and changes nothing.

Each row starts from the same folder (an embedded file whose queues and stream hold known messages,
a damaged copy, a SAM app: ``cli_workspace``), runs one bad invocation and checks: a non-zero exit,
no traceback, exactly one error line and it names the parameter and the value, and afterwards every
file and folder is as it was (bytes and mtimes), every message is stored untouched (receive counts
included), and nothing was created. The bulk runs in-process through ``batchmap.cli.main``; a few
rows run as a real process too.
"""

from __future__ import annotations

import io
import logging
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_workspace import FIFO, QUEUE, STREAM, batchmap, build, snapshot

from batchmap.cli import main

RUN_Q = f"run --source {QUEUE} --function app:handler"
RUN_S = f"run --source {STREAM} --function app:handler --starting-position TRIM_HORIZON"
SERVE = "serve --function app:handler"
TUNE = "tune --rate 5 --t0-ms 1 --t1-ms 1"
PATTERN = '{"Pattern":"{\\"a\\":[1]}"}'
SECRET = "hunter2"
"""A password in a row's flags: it must never be printed."""


def row(argv: str | list[str], *expect: str, stdin: bytes = b"", id: str | None = None) -> Any:
    """One bad invocation and the texts its error line must hold (the parameter, the value)."""
    args = shlex.split(argv) if isinstance(argv, str) else argv
    return pytest.param(args, expect, stdin, id=id or " ".join(args)[:90])


ROWS = [
    # --- run, on the embedded queue: the mapping's flags
    row(f"{RUN_Q} --batch-size 0", "--batch-size", "0"),
    row(f"{RUN_Q} --batch-size abc", "--batch-size", "abc"),
    row(f"{RUN_Q} --batch-size 99999999999999999999", "--batch-size", "99999999999999999999"),
    row(f"{RUN_Q} --batch-size 10001", "--batch-size", "10001"),
    row(f"{RUN_Q} --batch-size 20", "--maximum-batching-window-in-seconds", "BatchSize is 20"),
    row(f"{RUN_Q} --maximum-batching-window-in-seconds nan", "--maximum-batching-window-in-seconds", "nan"),
    row(f"{RUN_Q} --maximum-batching-window-in-seconds inf", "--maximum-batching-window-in-seconds", "inf"),
    row(f"{RUN_Q} --maximum-batching-window-in-seconds 301", "--maximum-batching-window-in-seconds", "301"),
    row(f"{RUN_Q} --maximum-batching-window-in-seconds -1", "--maximum-batching-window-in-seconds", "-1"),
    row(f"{RUN_Q} --function-response-types Foo", "--function-response-types", "Foo"),
    row(f"{RUN_Q} --starting-position TRIM_HORIZON", "--starting-position", "TRIM_HORIZON"),
    row(f"{RUN_Q} --starting-position-timestamp yesterday", "--starting-position-timestamp", "yesterday"),
    row(f"{RUN_Q} --parallelization-factor 2", "--parallelization-factor", "2"),
    row(f"{RUN_Q} --bisect-batch-on-function-error", "--bisect-batch-on-function-error", "True"),
    row(f"{RUN_Q} --maximum-retry-attempts 3", "--maximum-retry-attempts", "3"),
    row(f"{RUN_Q} --maximum-record-age-in-seconds 60", "--maximum-record-age-in-seconds", "60"),
    row(f"{RUN_Q} --destination-config OnFailure={{Destination=file:failures.jsonl}}", "--destination-config",
        "failures.jsonl"),
    row(f"{RUN_Q} --filter-criteria {{bad", "--filter-criteria", "{bad"),
    row([*shlex.split(RUN_Q), "--filter-criteria", 'Filters=[{Pattern="{\\"body\\":5}"}]'], "FilterCriteria",
        "got 5"),
    row([*shlex.split(RUN_Q), "--filter-criteria", '{"Filters":[' + ",".join([PATTERN] * 11) + "]}"],
        "FilterCriteria", "11 filters"),
    row(f"{RUN_Q} --tumbling-window-in-seconds 60", "--tumbling-window-in-seconds", "60"),
    row(f"{RUN_Q} --scaling-config MaximumConcurrency=1", "--scaling-config", "1"),
    row(f"{RUN_Q} --scaling-config Foo=3", "--scaling-config", "Foo"),
    row(f"{RUN_Q} --scaling-config MaximumConcurrency=abc", "--scaling-config", "abc"),
    row([*shlex.split(RUN_Q), "--uuid", ""], "--uuid", "''"),
    row(f"{RUN_Q} --provisioned-poller-config MinimumPollers=9,MaximumPollers=4", "--provisioned-poller-config",
        "MinimumPollers=9, MaximumPollers=4"),
    row(f"{RUN_Q} --provisioned-poller-config MinimumPollers=1", "--provisioned-poller-config", "1", "from 2"),
    row(f"{RUN_Q} --provisioned-poller-config MaximumPollers=10001", "--provisioned-poller-config", "10001"),
    row(f"{RUN_Q} --provisioned-poller-config MinPollers=2", "--provisioned-poller-config", "MinPollers"),
    row(f"{RUN_Q} --provisioned-poller-config PollerGroupName=g,MinimumPollers=2", "--provisioned-poller-config",
        "'g'", "only for Kafka"),
    row(f"{RUN_Q} --provisioned-poller-config MinimumPollers=2 --scaling-config MaximumConcurrency=5",
        "--scaling-config", "5", "not with ProvisionedPollerConfig"),
    row(f"{RUN_Q} --metrics-config Metrics=EventCount,Errors", "--metrics-config", "Errors"),
    row(f"{RUN_Q} --metrics-config Metrics=ErrorCount", "--metrics-config", "ErrorCount", "Kafka"),
    row(f"{RUN_Q} --metrics-config Metrics=EventCount,EventCount", "--metrics-config", "EventCount", "once"),
    row(f"{RUN_Q} --topics orders", "--topics", "orders", "only for Kafka"),
    row(f"{RUN_Q} --queues orders", "--queues", "orders", "only for RabbitMQ"),
    row(f"{RUN_Q} --self-managed-kafka-event-source-config ConsumerGroupId=g",
        "--self-managed-kafka-event-source-config", "'g'"),
    row(f"{RUN_Q} --amazon-managed-kafka-event-source-config ConsumerGroupId=g",
        "--amazon-managed-kafka-event-source-config", "ConsumerGroupId"),
    row([*shlex.split(RUN_Q), "--self-managed-event-source",
         '{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["127.0.0.1:1"]}}', "--topics", "t"],
        "--self-managed-event-source", "KAFKA_BOOTSTRAP_SERVERS", "not with --source"),
    row(["run", "--function", "app:handler", "--self-managed-event-source",
         '{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["127.0.0.1:1"]}}'], "--topics", "None", "required"),
    row(["run", "--function", "app:handler", "--topics", "t", "--self-managed-event-source",
         "Endpoints={BROKERS=[127.0.0.1:1]}"], "--self-managed-event-source", "BROKERS"),
    row("run --function app:handler --source kafka://127.0.0.1:1/t --topics u", "--topics", "'u'", "already"),
    row(f"run --function app:handler --source amqp://guest:{SECRET}@127.0.0.1:1/?queue=a --queues b", "--queues",
        "'b'", "already"),
    row("run --function app:handler --source amqp://127.0.0.1:1/ --queues a b", "--queues", "'a b'", "exactly one"),
    row(f"{RUN_Q} --timeout 0", "--timeout", "0"),
    row(f"{RUN_Q} --timeout 901", "--timeout", "901"),
    row(f"{RUN_Q} --timeout nan", "--timeout", "nan"),
    row(f"{RUN_Q} --memory-size 64", "--memory-size", "64"),
    row(f"{RUN_Q} --memory-size 10241", "--memory-size", "10241"),
    row(f"{RUN_Q} --memory-size 1.5", "--memory-size", "1.5"),
    row(f"{RUN_Q} --environment Variables={{A}}", "--environment", "Variables={A}"),
    row([*shlex.split(RUN_Q), "--environment", '{"Variables":{"A=B":"x"}}'], "--environment", "A=B"),
    row([*shlex.split(RUN_Q), "--environment", '{"Variables":{"AB":"x\\u0000y"}}'], "--environment", "NUL"),
    row(f"{RUN_Q} --environment Variables={{1X=y}}", "--environment", "1X"),
    row([*shlex.split(RUN_Q), "--environment", '{"Variables":[]}'], "--environment", "[]"),
    row(f"{RUN_Q} --environment Variables={{AB=1,CD}}", "--environment", "'AB': ['1', 'CD']", "quote"),
    row(f"{RUN_Q} --json-logs=maybe", "--json-logs", "maybe"),
    row(f"{RUN_Q} --checkpoint-store foo://x", "--checkpoint-store", "foo://x"),
    # --- run: the function and the invoker
    row(f"run --source {QUEUE} --function okh", "--function", "okh", "module:callable"),
    row(f"run --source {QUEUE} --function okh --invoker lambda", "--function", "okh", "region"),
    row(["run", "--source", QUEUE, "--function", ""], "--function", "''"),
    row(f"run --source {QUEUE} --function arn:aws:lambda:bad", "--function", "arn:aws:lambda:bad"),
    row(f"run --source {QUEUE} --function arn:aws:sqs:us-east-1:123456789012:q", "--function", "arn:aws:sqs"),
    row(f"run --source {QUEUE} --function nosuchmodule:handler", "--function", "nosuchmodule"),
    row(f"run --source {QUEUE} --function nosuchmodule:handler --invoker subprocess", "--function",
        "nosuchmodule"),
    row(f"run --source {QUEUE} --function http://127.0.0.1:1", "--function", "127.0.0.1:1"),
    row(f"{RUN_Q} --invoker lamda", "--invoker", "lamda", "'lambda'"),
    row(f"{RUN_Q} --invoker lambda", "--function", "app:handler", "--invoker lambda"),
    # --- run: connection flags, engine flags, typos
    row(f"{RUN_Q} --endpoint-url http://127.0.0.1:1", "--endpoint-url", "http://127.0.0.1:1"),
    row(f"{RUN_Q} --source-option sasl.password={SECRET}", "--source-option", "sasl.password=..."),
    row(f"{RUN_Q} --source-option ab", "--source-option", "ab"),
    row(f"{RUN_Q} --shard-lease-seconds 0.5", "--shard-lease-seconds", "0.5"),
    row(f"{RUN_Q} --shard-lease-seconds abc", "--shard-lease-seconds", "abc"),
    row(f"{RUN_Q} --log-level TRACE", "--log-level", "TRACE"),
    row(f"{RUN_Q} --adaptive-latency-target -1", "--adaptive-latency-target", "-1"),
    row(f"{RUN_Q} --adaptive-latency-target nan", "--adaptive-latency-target", "nan"),
    row(f"{RUN_Q} --adaptive-statistic p50", "--adaptive-statistic", "p50"),
    row(f"{RUN_Q} --batch-szie 3", "--batch-szie", "did you mean --batch-size"),
    row(f"{RUN_Q} --until-idel", "--until-idel", "did you mean --until-idle"),
    row("run --function app:handler", "--source", "None"),
    row(f"run --source {QUEUE}", "--function", "None"),
    # --- run, on the embedded stream
    row(f"run --source {STREAM} --function app:handler", "--starting-position", "None"),
    row(f"{RUN_S} --starting-position NOWHERE", "--starting-position", "NOWHERE"),
    row(f"run --source {STREAM} --function app:handler --starting-position AT_TIMESTAMP",
        "--starting-position-timestamp", "None"),
    row(f"{RUN_S} --parallelization-factor 11", "--parallelization-factor", "11"),
    row(f"{RUN_S} --maximum-retry-attempts -2", "--maximum-retry-attempts", "-2"),
    row(f"{RUN_S} --maximum-record-age-in-seconds 59", "--maximum-record-age-in-seconds", "59"),
    row(f"{RUN_S} --tumbling-window-in-seconds 901", "--tumbling-window-in-seconds", "901"),
    row(f"{RUN_S} --scaling-config MaximumConcurrency=5", "--scaling-config", "5"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=file:nodir/failures.jsonl}}",
        "DestinationConfig.OnFailure.Destination", "nodir/failures.jsonl"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=file:///proc/failures.jsonl}}",
        "DestinationConfig.OnFailure.Destination", "/proc/failures.jsonl"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=file:///tmp/x%00y.jsonl}}",
        "DestinationConfig.OnFailure.Destination", "x%00y"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=file:q.db/f.jsonl}}",
        "DestinationConfig.OnFailure.Destination", "q.db/f.jsonl"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=sqlite:///nodir/f.db?queue=failed}}",
        "DestinationConfig.OnFailure.Destination", "nodir/f.db"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=ftp://x/y}}",
        "DestinationConfig.OnFailure.Destination", "ftp://x/y"),
    row(f"{RUN_S} --destination-config OnSuccess={{Destination=x}}", "--destination-config", "OnSuccess"),
    row(f"{RUN_S} --destination-config OnFailure={{Destination=", "--destination-config", "OnFailure={Destination="),
    # --- run: the source
    row("run --source sqlite:///x%00y.db?queue=q --function app:handler", "--source", "x%00y.db"),
    row("run --source sqlite:///q.db?queue=nope --function app:handler", "--source", "nope", "work"),
    row("run --source sqlite:///q.db?stream=nope --function app:handler --starting-position LATEST", "--source",
        "nope", "events"),
    row("run --source sqlite:///other.db?queue=work --function app:handler", "--source", "other.db"),
    row("run --source sqlite:///nodir/q.db?queue=work --function app:handler", "--source", "nodir"),
    row("run --source sqlite:///damaged.db?queue=work --function app:handler", "--source", "damaged.db"),
    row("run --source sqlite:///notes.txt?queue=work --function app:handler", "--source", "notes.txt"),
    row("run --source foo://x --function app:handler", "--source", "foo://x"),
    row("run --source noscheme --function app:handler", "--source", "noscheme"),
    row("run --source sqlite:///q.db --function app:handler", "--source", "sqlite:///q.db"),
    row("run --source sqlite:///q.db?queue=bad! --function app:handler", "QueueName", "bad!"),
    row("run --source sqlite://host/q.db?queue=work --function app:handler", "--source", "host"),
    row("run --source sqlite:///q.db?queue=work&synchronous=OFF --function app:handler", "synchronous", "OFF"),
    row("run --source sqlite:///q.db?queue=work&colour=red --function app:handler", "--source", "colour"),
    row("run --source arn:aws:sqs:bad --function app:handler", "EventSourceArn", "arn:aws:sqs:bad"),
    # --- run TEMPLATE
    row("run app/template.yaml --batch-size 5", "--batch-size", "template"),
    row("run app/template.yaml --parameter-overrides Size=abc", "Parameters.Size", "abc"),
    row("run app/template.yaml --parameter-overrides Nope=1", "Nope"),
    row("run app/template.yaml --parameter-overrides Size", "--parameter-overrides", "Size"),
    row("run app/template.yaml --overrides missing.yaml", "missing.yaml"),
    row("run broken/template.yaml", "CodeUri", "missing"),
    row("run missing.yaml", "missing.yaml", "cannot read"),
    row("run q.db", "q.db", "UTF-8"),
    row("run notes.txt", "notes.txt", "template"),
    row("run app/template.yaml --endpoint-url http://127.0.0.1:1", "--endpoint-url", "http://127.0.0.1:1"),
    row("run app/template.yaml --invoker lamda", "--invoker", "lamda"),
    # --- create-queue
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes VisibilityTimeout=-1", "VisibilityTimeout",
        "-1"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes Foo=1", "Attributes", "Foo"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes {bad", "--attributes", "{bad"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes DelaySeconds=901", "DelaySeconds", "901"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes FifoQueue=true", "FifoQueue", "true"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes MessageRetentionPeriod=59",
        "MessageRetentionPeriod", "59"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes MaximumMessageSize=1023",
        "MaximumMessageSize", "1023"),
    row(["create-queue", "--source", "sqlite:///q.db?queue=fresh", "--attributes",
         'RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:local:000000000000:nope","maxReceiveCount":3}'],
        "deadLetterTargetArn", "nope"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes [1,2]", "--attributes", "[1,2]"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes file://missing.json", "--attributes",
        "missing.json"),
    row("create-queue --source sqlite:///q.db?queue=fresh --attributes file://latin1.json", "--attributes",
        "latin1.json", "UTF-8"),
    row("create-queue --source sqlite:///q.db?queue=dlq --attributes VisibilityTimeout=60", "VisibilityTimeout", "60"),
    row(f"create-queue --source {STREAM}", "--source", "stream=events"),
    row("create-queue --source sqlite:///x%00y.db?queue=q", "--source", "x%00y.db"),
    row("create-queue --source sqlite:///nodir/q.db?queue=q", "--source", "nodir"),
    row("create-queue --source sqlite:///damaged.db?queue=fresh", "--source", "damaged.db"),
    row("create-queue --source kafka://127.0.0.1:1/t", "--source", "kafka://127.0.0.1:1/t"),
    row("create-queue --source sqlite:///q.db?queue=fresh --atributes VisibilityTimeout=60", "--atributes",
        "did you mean --attributes"),
    row("create-queue", "--source"),
    # --- create-stream
    row("create-stream --source sqlite:///q.db?stream=fresh --shard-count 0", "--shard-count", "0"),
    row("create-stream --source sqlite:///q.db?stream=fresh --shard-count 99999999999999999999", "--shard-count",
        "99999999999999999999"),
    row("create-stream --source sqlite:///q.db?stream=fresh --shard-count abc", "--shard-count", "abc"),
    row("create-stream --source sqlite:///q.db?stream=fresh --retention-period-hours 23",
        "--retention-period-hours", "23"),
    row("create-stream --source sqlite:///q.db?stream=fresh --retention-period-hours 8761",
        "--retention-period-hours", "8761"),
    row(f"create-stream --source {STREAM} --shard-count 4", "--shard-count", "4"),
    row(f"create-stream --source {QUEUE}", "--source", "queue=work"),
    row("create-stream --source sqlite:///q.db?stream=bad/name", "StreamName", "bad/name"),
    row("create-stream --source sqlite:///q.db?stream=fresh --shard-cuont 2", "--shard-cuont",
        "did you mean --shard-count"),
    # --- send
    row(f"send --source {QUEUE} --delay-seconds -1 hi", "--delay-seconds", "-1"),
    row(f"send --source {QUEUE} --delay-seconds 901 hi", "--delay-seconds", "901"),
    row(f"send --source {QUEUE} --delay-seconds 9000000000000000 hi", "--delay-seconds", "9000000000000000"),
    row(f"send --source {QUEUE} --delay-seconds 99999999999999999999 hi", "--delay-seconds",
        "99999999999999999999"),
    row(f"send --source {QUEUE} --delay-seconds abc hi", "--delay-seconds", "abc"),
    row(["send", "--source", STREAM, "--partition-key", "", "hi"], "--partition-key", "''"),
    row(["send", "--source", STREAM, "--partition-key", "k" * 257, "hi"], "--partition-key", "k" * 257),
    row(f"send --source {QUEUE} --partition-key k hi", "--partition-key", "'k'"),
    row(f"send --source {STREAM} --message-group-id g hi", "--message-group-id", "'g'"),
    row(f"send --source {STREAM} --delay-seconds 5 hi", "--delay-seconds", "5"),
    row(f"send --source {QUEUE} --message-deduplication-id d hi", "--message-deduplication-id", "'d'"),
    row(f"send --source {FIFO} hi", "--message-group-id", "None"),
    row(f"send --source {FIFO} --message-group-id g --delay-seconds 5 hi", "--delay-seconds", "5"),
    row(f"send --source {QUEUE}", "BODY", "None"),
    row(f"send --source {QUEUE}", "BODY", "None", stdin=b"\n  \n\r\n", id="send blank lines"),
    row(f"send --source {QUEUE}", "BODY (message 2)", "\\xff\\xfe", stdin=b"fine\n\xff\xfe\n", id="send not UTF-8"),
    row(["send", "--source", QUEUE, "a\x01b"], "MessageBody", "\\x01"),
    row(f"send --source {QUEUE}", "MessageBody", "bytes", stdin=b"x" * 1_100_000 + b"\n", id="send too big"),
    row(f"send --source {QUEUE} --endpoint-url http://127.0.0.1:1 hi", "--endpoint-url", "http://127.0.0.1:1"),
    row(f"send --source {QUEUE} --region us-east-1 hi", "--region", "us-east-1"),
    row("send --template nope.yaml --source Orders hi", "nope.yaml"),
    row(f"send --source {QUEUE} --parameter-overrides A=B hi", "--template", "--parameter-overrides"),
    row("send --template app/template.yaml --source Nope hi", "--source", "Nope"),
    row("send --template app/template.yaml --source Orders --endpoint-url http://127.0.0.1:1 hi",
        "--endpoint-url", "http://127.0.0.1:1"),
    row("send --source sqlite:///x%00y.db?queue=q hi", "--source", "x%00y.db"),
    row("send --source sqlite:///nodir/q.db?queue=q hi", "--source", "nodir"),
    row("send --source sqlite:///damaged.db?queue=work hi", "--source", "damaged.db"),
    row("send --source noscheme hi", "--source", "noscheme"),
    row(f"send --source {QUEUE} --massage-group-id g hi", "--massage-group-id", "did you mean --message-group-id"),
    # --- inspect
    row("inspect --source sqlite:///q.db?queue=nope", "--source", "nope", "work"),
    row("inspect --source sqlite:///q.db?stream=nope", "--source", "nope", "events"),
    row("inspect --source sqlite:///other.db?queue=work", "--source", "other.db"),
    row("inspect --source sqlite:///x%00y.db?queue=q", "--source", "x%00y.db"),
    row(f"inspect --source {QUEUE} --endpoint-url http://127.0.0.1:1", "--endpoint-url", "http://127.0.0.1:1"),
    row(f"inspect --source {QUEUE} --region us-east-1", "--region", "us-east-1"),
    row("inspect --source sqlite:///damaged.db?queue=work", "--source", "damaged.db"),
    row("inspect --source sqlite:///notes.txt?queue=work", "--source", "notes.txt"),
    row("inspect --template app/template.yaml --source Orders", "--source", ".batchmap"),
    row("inspect --template app/template.yaml --source Nope", "--source", "Nope"),
    row("inspect --source noscheme", "--source", "noscheme"),
    row(f"inspect --source {QUEUE} --verbose", "--verbose"),
    # --- purge
    row("purge --source sqlite:///q.db?queue=nope", "--source", "nope"),
    row("purge --source sqlite:///q.db?stream=nope", "--source", "nope"),
    row("purge --source sqlite:///other.db?queue=work", "--source", "other.db"),
    row(f"purge --source {QUEUE} --force", "--force"),
    row("purge --source sqlite:///damaged.db?queue=work", "--source", "damaged.db"),
    row("purge --template app/template.yaml --source Orders", "--source", ".batchmap"),
    row("purge --source kafka://127.0.0.1:1/t", "--source", "kafka://127.0.0.1:1/t"),
    row(f"purge --source {QUEUE} --endpoint-url http://127.0.0.1:1", "unrecognized", "--endpoint-url"),
    # --- serve
    row(f"{SERVE} --port -1", "--port", "-1"),
    row(f"{SERVE} --port abc", "--port", "abc"),
    row(f"{SERVE} --port 70000", "--port", "70000"),
    row(f"{SERVE} --timeout nan", "--timeout", "nan"),
    row(f"{SERVE} --timeout 0", "--timeout", "0"),
    row(f"{SERVE} --memory-size 64", "--memory-size", "64"),
    row([*shlex.split(SERVE), "--environment", '{"Variables":{"A=B":"x"}}'], "--environment", "A=B"),
    row([*shlex.split(SERVE), "--environment", '{"Variables":{"AB":"x\\u0000y"}}'], "--environment", "NUL"),
    row(f"{SERVE} --environment {{bad", "--environment", "{bad"),
    row(f"{SERVE} --environment Variables={{1X=y}}", "--environment", "1X"),
    row(f"{SERVE} --environment A=1", "--environment", "A"),
    row(["serve", "--function", ""], "--function", "''"),
    row("serve --function okh", "--function", "okh"),
    row("serve --function nosuchmodule:handler --invoker inprocess", "--function", "nosuchmodule"),
    row(f"{SERVE} --concurrency 0", "--concurrency", "0"),
    row(f"{SERVE} --invoker lambda", "--invoker", "lambda"),
    row("serve --function app:handler --code-uri nodir --invoker inprocess", "code_path", "nodir"),
    row([*shlex.split(SERVE), "--function-name", ""], "--function-name", "''"),
    row("serve --port 9001", "--function"),
    # --- tune
    row("tune --rate 0 --t0-ms 1 --t1-ms 1", "--rate", "0"),
    row("tune --rate nan --t0-ms 1 --t1-ms 1", "--rate", "nan"),
    row("tune --rate abc --t0-ms 1 --t1-ms 1", "--rate", "abc"),
    row("tune --t0-ms 1 --t1-ms 1", "--rate"),
    row("tune --rate 5 --t0-ms -1 --t1-ms 1", "--t0-ms", "-1"),
    row("tune --rate 5 --t0-ms nan --t1-ms 1", "--t0-ms", "nan"),
    row("tune --rate 5 --t0-ms 1", "--t1-ms", "None"),
    row("tune --rate 5", "--function", "None"),
    row(f"{TUNE} --batch-size 0", "--batch-size", "0"),
    row(f"{TUNE} --batch-size abc", "--batch-size", "abc"),
    row(f"{TUNE} --memory-size 64", "--memory-size", "64"),
    row(f"{TUNE} --measured-memory-size 64", "--measured-memory-size", "64"),
    row(f"{TUNE} --architectures mips", "--architectures", "mips"),
    row(f"{TUNE} --maximum-concurrency 1", "--maximum-concurrency", "1"),
    row(f"{TUNE} --parallelization-factor 11 --source kinesis", "--parallelization-factor", "11"),
    row(f"{TUNE} --latency-p99 -1", "--latency-p99", "-1"),
    row(f"{TUNE} --latency-p99 nan", "--latency-p99", "nan"),
    row(f"{TUNE} --goal fastest", "--goal", "fastest"),
    row(f"{TUNE} --source rabbit", "--source", "rabbit"),
    row(f"{TUNE} --prices nofile.toml", "--prices", "nofile.toml"),
    row(f"{TUNE} --arrivals trace", "--trace", "None"),
    row(f"{TUNE} --arrivals trace --trace nofile.txt", "--trace", "nofile.txt"),
    row(f"{TUNE} --arrivals trace --trace q.db", "--trace", "q.db", "UTF-8"),
    row(f"{TUNE} --horizon -1", "--horizon", "-1"),
    row(f"{TUNE} --repeats 0", "--repeats", "0"),
    row(f"{TUNE} --confirm-top 0", "--confirm-top", "0"),
    row(f"{TUNE} --producer-batch 11", "--producer-batch", "11"),
    row(f"{TUNE} --cpu-share 2", "--cpu-share", "2"),
    row(f"{TUNE} --arrivals bursty --burst-factor -1", "--burst-factor", "-1"),
    row(f"{TUNE} --arrivals daily --daily-amplitude 2", "--daily-amplitude", "2"),
    row(f"{TUNE} --record-size -5", "--record-size", "-5"),
    row(f"{TUNE} --source kinesis --shards 0", "--shards", "0"),
    row(f"{TUNE} --source kafka --lanes 0", "--lanes", "0"),
    row(f"{TUNE} --timeout 0", "--timeout", "0"),
    row(f"{TUNE} --record-concurrency 0", "--record-concurrency", "0"),
    row(f"{TUNE} --validate -3", "--validate", "-3"),
    row(f"{TUNE} --validate nan", "--validate", "nan"),
    row(f"{TUNE} --validate abc", "--validate", "abc"),
    row("tune --rate 5 --function app:handler", "--sample-event", "None"),
    row("tune --rate 5 --function app:handler --sample-event nofile.json", "--sample-event", "nofile.json"),
    row("tune --rate 5 --function app:handler --sample-event latin1.json", "--sample-event", "latin1.json"),
    row("tune --rate 5 --function app:handler --sample-event notes.txt", "--sample-event", "notes.txt"),
    row("tune --rate 5 --function app:handler --sample-event event.json --measure-batch-sizes 0,x",
        "--measure-batch-sizes", "x"),
    row("tune nosuch.yaml --rate 5", "--function-name", "''"),
    row("tune nosuch.yaml --rate 5 --function-name Worker", "nosuch.yaml"),
    row(f"{TUNE} --rte 5", "--rte", "did you mean --rate"),
    # --- the command itself
    row("rnu", "COMMAND", "rnu", "'run'"),
    row("", "COMMAND"),
    row("--verbose run", "--verbose"),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starting folder, built once; each row gets a copy."""
    root = tmp_path_factory.mktemp("start")
    build(root)
    return root


@pytest.fixture
def workspace(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of the starting folder as the current directory, with no AWS region or profile set."""
    root = tmp_path / "work"
    shutil.copytree(prepared, root)
    monkeypatch.chdir(root)
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    logger = logging.getLogger("batchmap")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield root
    logger.handlers[:], logger.level, logger.propagate = saved


def run_in_process(argv: list[str], stdin: bytes, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``batchmap.cli.main(argv)``: the exit code (argparse's too) and what went to stderr."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def check_refused(code: int, stderr: str, expect: tuple[str, ...]) -> None:
    """Non-zero, no traceback, and one error line (after argparse's usage) naming the parameter and value."""
    assert code != 0, stderr
    assert "Traceback" not in stderr, stderr
    assert SECRET not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("batchmap") and ": error: " in line]
    assert len(errors) == 1, stderr
    assert stderr.rstrip("\n").splitlines()[-1] == errors[0], stderr
    for text in expect:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"


def test_the_table_holds_at_least_100_mistakes_across_every_command() -> None:
    commands = {values[0][0] for values in (p.values for p in ROWS) if values[0]}
    assert len(ROWS) >= 100
    assert {"run", "create-queue", "create-stream", "send", "inspect", "purge", "serve", "tune"} <= commands


@pytest.mark.parametrize(("argv", "expect", "stdin"), ROWS)
def test_a_mistake_is_one_line_and_changes_nothing(argv: list[str], expect: tuple[str, ...], stdin: bytes,
                                                    workspace: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(workspace)
    code, stderr = run_in_process(argv, stdin, monkeypatch, capsys)
    check_refused(code, stderr, expect)
    assert snapshot(workspace) == before


PROCESS_ROWS = [
    row("send --source sqlite:///x%00y.db?queue=q hi", "--source", "x%00y.db"),
    row(f"run --source {QUEUE} --function okh", "--function", "okh", "module:callable"),
    row(f"run --source {QUEUE} --function app:handler --batch-szie 3", "did you mean --batch-size"),
    row(f"send --source {QUEUE}", "BODY (message 1)", stdin=b"\xff\n", id="send not UTF-8"),
    row("run --source sqlite:///q.db?queue=wrok --function app:handler", "--source", "wrok", "work"),
    row([*shlex.split(SERVE), "--environment", '{"Variables":{"A=B":"x"}}'], "--environment", "A=B"),
    row(f"send --source {QUEUE} --delay-seconds 99999999999999999999 hi", "--delay-seconds"),
    row("inspect --source sqlite:///damaged.db?queue=work", "--source", "damaged.db"),
]


@pytest.mark.parametrize(("argv", "expect", "stdin"), PROCESS_ROWS)
def test_a_mistake_in_a_real_process(argv: list[str], expect: tuple[str, ...], stdin: bytes,
                                     workspace: Path) -> None:
    before = snapshot(workspace)
    done = batchmap(*argv, cwd=workspace, stdin=stdin)
    check_refused(done.returncode, done.stderr.decode(errors="replace"), expect)
    assert done.returncode == 2
    assert snapshot(workspace) == before
