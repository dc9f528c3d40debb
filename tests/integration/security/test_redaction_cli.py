"""No password given in a URI ever reaches the terminal: every path, driven through the ``batchmap`` command.

Each case puts a fresh secret in one URI (function URL, source, checkpoint store,
endpoint URL, destination, a template's bound source) and makes batchmap print
or log that URI; the secret must appear in neither stdout nor stderr, and where
the message shows the URI it shows it masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from security_support import batchmap, closed_port, secret
from services import require_port

from batchmap.sources.sqlite import create_queue, create_stream

HANDLER = "def handler(event, context):\n    return {}\n"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "h.py").write_text(HANDLER)
    create_queue(f"sqlite:///{tmp_path}/q.db?queue=jobs")
    create_stream(f"sqlite:///{tmp_path}/q.db?stream=st")
    return tmp_path


def run_args(source: str = "sqlite:///q.db?queue=jobs", function: str = "h:handler", *extra: str) -> list[str]:
    return ["run", "--source", source, "--function", function, "--until-idle", "--log-level", "DEBUG", *extra]


Case = Callable[[str, int], list[str]]

CASES: dict[str, tuple[Case, str | None]] = {
    "function URL": (lambda s, p: run_args(function=f"http://user:{s}@127.0.0.1:{p}/x"), "http://***@127.0.0.1"),
    "function URL of another scheme": (
        lambda s, p: [*run_args(function=f"ftp://user:{s}@127.0.0.1:{p}/x"), "--invoker", "http"], "ftp://***@127.0.0.1"
    ),
    "redis source": (lambda s, p: run_args(f"redis://user:{s}@127.0.0.1:{p}/0?stream=s"), None),
    "redis source option": (lambda s, p: run_args(f"redis://127.0.0.1:{p}/0?stream=s&password={s}"), "hidden"),
    "rabbitmq source": (lambda s, p: run_args(f"amqp://user:{s}@127.0.0.1:{p}/%2F?queue=q"), None),
    "postgres source": (lambda s, p: run_args(f"postgresql://user:{s}@127.0.0.1:{p}/test?queue=q"), None),
    "kafka source": (lambda s, p: run_args(f"kafka://user:{s}@127.0.0.1:{p}/?topic=t"), "kafka://***@127.0.0.1"),
    "checkpoint store": (lambda s, p: [*run_args(), "--checkpoint-store", f"redis://:{s}@127.0.0.1:{p}/0"], None),
    "endpoint URL": (
        lambda s, p: run_args("arn:aws:sqs:us-east-1:123456789012:q", "h:handler", "--endpoint-url",
                              f"http://user:{s}@127.0.0.1:{p}/"),
        "http://***@127.0.0.1",
    ),
    "destination": (
        lambda s, p: run_args("sqlite:///q.db?stream=st", "h:handler", "--starting-position", "TRIM_HORIZON",
                              "--destination-config",
                              json.dumps({"OnFailure": {"Destination": f"redis://user:{s}@127.0.0.1:{p}/0?stream=x"}})),
        "redis://***@127.0.0.1",
    ),
    "destination on a queue": (
        lambda s, p: run_args("sqlite:///q.db?queue=jobs", "h:handler", "--destination-config",
                              json.dumps({"OnFailure": {"Destination": f"http://user:{s}@127.0.0.1:{p}/"}})),
        "http://***@127.0.0.1",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_uri_password_never_reaches_the_output(workdir: Path, name: str) -> None:
    case, shown = CASES[name]
    password = secret()
    result = batchmap(*case(password, closed_port()), cwd=workdir, env=AWS_ENV)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert password not in output
    if shown is not None:
        assert shown in output


def test_a_bad_auth_token_is_named_but_not_shown(tmp_path: Path) -> None:
    token = secret() + " with a space"
    result = batchmap("serve", "--function", "h:handler", "--port", "0", "--auth-token", token, cwd=tmp_path)
    assert result.returncode == 2
    assert "--auth-token" in result.stderr and "hidden" in result.stderr
    assert token.split()[0] not in result.stdout + result.stderr


TEMPLATE = {
    "Transform": "AWS::Serverless-2016-10-31",
    "Resources": {
        "Orders": {"Type": "AWS::SQS::Queue"},
        "Consumer": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": ".", "Handler": "h.handler", "Runtime": "python3.12",
                "Events": {"Orders": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Orders", "Arn"]}}}},
            },
        },
    },
}


@pytest.mark.parametrize("json_logs", ["--json-logs", "--no-json-logs"])
def test_log_lines_mask_a_bound_source_password(workdir: Path, json_logs: str) -> None:
    password = secret()
    (workdir / "template.json").write_text(json.dumps(TEMPLATE))
    bound = f"redis://user:{password}@127.0.0.1:{closed_port()}/0?stream=orders"
    (workdir / "overrides.json").write_text(json.dumps({"Sources": {"Orders": bound}}))
    result = batchmap("run", "template.json", "--overrides", "overrides.json", "--until-idle", json_logs,
                      cwd=workdir)
    assert result.returncode != 0
    assert "redis://***@127.0.0.1" in result.stderr  # the "mapping ...: SOURCE -> handler" log line
    assert password not in result.stdout + result.stderr


@pytest.fixture
def nats_stream() -> Iterator[str]:
    require_port("NATS", 4222)
    name = f"bmsec{uuid.uuid4().hex[:12]}"
    yield name

    async def delete() -> None:
        import nats

        client = await nats.connect("nats://127.0.0.1:4222")
        for stream in (name, f"{name}_DLQ"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await client.jetstream().delete_stream(stream)
        await client.close()

    asyncio.run(delete())


def test_a_running_engine_prints_no_source_password(workdir: Path, nats_stream: str) -> None:
    """The whole run (start-up logs, progress line, summary) of a source reached with a password in its URI."""
    password = secret()
    source = f"nats://user:{password}@127.0.0.1:4222/?stream={nats_stream}"
    result = batchmap(*run_args(source, "h:handler", "--progress", "--summary-json"), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
