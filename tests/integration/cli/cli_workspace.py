"""A folder of known state for command-line mistakes: an embedded file with queues and a stream holding
messages, a damaged copy, files that are not databases or not UTF-8, and a small SAM app.

``snapshot`` records every file and folder (bytes, size, mtime) and every stored message (with its
receive count), so a test can show that a refused command consumed, changed and created nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from batchmap.sources.sqlite import create_queue, create_stream, send

QUEUE = "sqlite:///q.db?queue=work"
FIFO = "sqlite:///q.db?queue=jobs.fifo"
STREAM = "sqlite:///q.db?stream=events"
PAGE = 4096

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Size:
    Type: Number
    Default: 10
Resources:
  Orders:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      CodeUri: {code}
      Events:
        FromQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt Orders.Arn
            BatchSize: !Ref Size
"""


def build(root: Path) -> None:
    """Fill ``root`` with the files every row of the table starts from."""
    here = Path.cwd()
    os.chdir(root)
    try:
        create_queue("sqlite:///q.db?queue=dlq")
        policy = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:dlq", "maxReceiveCount": 3})
        create_queue(QUEUE, {"RedrivePolicy": policy})
        send(QUEUE, ["first", "second", "third"])
        create_queue(FIFO, {"FifoQueue": "true", "ContentBasedDeduplication": "true"})
        send(FIFO, ["x", "y"], message_group_id="g")
        create_stream(STREAM, shard_count=2)
        send(STREAM, [b"\x00\xff raw", "two", "three"], partition_key="k")
    finally:
        os.chdir(here)
    data = (root / "q.db").read_bytes()
    (root / "damaged.db").write_bytes(data[:PAGE] + bytes([0xA5]) * (len(data) - PAGE))
    (root / "notes.txt").write_text("not a database\n" * 300)
    (root / "latin1.json").write_bytes(b'{"Records": [{"body": "caf\xe9"}]}')
    (root / "event.json").write_text(json.dumps({"Records": [{
        "messageId": "1", "receiptHandle": "h", "body": "{}", "attributes": {}, "messageAttributes": {},
        "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}))
    for name, code in (("app", "src/"), ("broken", "missing/")):
        (root / name).mkdir()
        (root / name / "template.yaml").write_text(TEMPLATE.format(code=code))
    (root / "app" / "src").mkdir()
    (root / "app" / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")


def snapshot(root: Path) -> dict[str, Any]:
    """Every file (sha256, size, mtime) and folder under ``root``, and the messages and records stored."""
    entries: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            entries[os.path.relpath(os.path.join(folder, name), root) + "/"] = "folder"
        for name in files:
            path = Path(folder, name)
            stat = path.stat()
            entries[os.path.relpath(path, root)] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size,
                                                    stat.st_mtime_ns)
    return {"files": entries, "stored": stored(root / "q.db")}


def stored(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The messages (with receive counts and visibility) and stream records in ``db``, read without writing."""
    conn = sqlite3.connect(f"file:{quote(str(db))}?mode=ro&immutable=1", uri=True)
    try:
        return {
            "messages": conn.execute("SELECT queue_id, message_id, body, receive_count, visible_ms, receipt "
                                     "FROM messages ORDER BY seq").fetchall(),
            "records": conn.execute("SELECT shard_row, partition_key, data FROM records ORDER BY seq").fetchall(),
        }
    finally:
        conn.close()


def batchmap(*args: str, cwd: Path, stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """``python -m batchmap ARGS`` in ``cwd``, with an environment that has no AWS region or profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(cwd / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(cwd / "no-aws-creds"))
    return subprocess.run([sys.executable, "-m", "batchmap", *args], cwd=cwd, input=stdin, capture_output=True,
                          env=env, timeout=timeout, check=False)
