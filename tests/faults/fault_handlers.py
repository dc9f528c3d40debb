"""Functions the fault tests map sources to: they note each message id they are given, in this process
(``SEEN``) or, for engines in a subprocess, as ``ID RUN TIME`` lines in the file ``BATCHMAP_FAULT_LOG`` names
(fsynced before returning, so what a function finished survives a SIGKILL of its engine)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from typing import Any

SEEN: Counter[str] = Counter()
_lock = threading.Lock()
_running = 0
_finished = threading.Condition()


def message_id(record: dict[str, Any]) -> str:
    """The ``id`` of the JSON message a test sent, from an SQS body or Kinesis data."""
    if "body" in record:
        return str(json.loads(record["body"])["id"])
    return str(json.loads(base64.b64decode(record["kinesis"]["data"]))["id"])


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Note every message of the batch in ``SEEN``."""
    with _lock:
        SEEN.update(message_id(r) for r in event["Records"])
    return {}


def refuse(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail every batch (after noting it), so its records go to the on-failure destination."""
    record(event, context)
    raise RuntimeError("refused")


def record_slowly(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``record`` after 0.1 s: a run that lasts long enough for shard leases to be renewed."""
    global _running
    with _finished:
        _running += 1
    try:
        time.sleep(0.1)
        return record(event, context)
    finally:
        with _finished:
            _running -= 1
            _finished.notify_all()


def wait_for_stragglers(timeout_s: float = 30.0) -> bool:
    """Wait until no ``record_slowly`` call runs: an engine stopped by a fatal error leaves its in-flight
    calls running in their threads, and one finishing after the next test cleared ``SEEN`` would count
    a message of that test twice."""
    with _finished:
        return _finished.wait_for(lambda: _running == 0, timeout_s)


def log_ids(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep ``BATCHMAP_FAULT_SLEEP`` seconds, then append ``ID RUN TIME`` per message to ``BATCHMAP_FAULT_LOG``.

    RUN names the ``batchmap run`` that invoked it (``BATCHMAP_FAULT_RUN``, which its worker processes inherit):
    a worker may finish its invocation after its engine was killed.
    """
    time.sleep(float(os.environ.get("BATCHMAP_FAULT_SLEEP", "0")))
    now = time.time()
    run = os.environ.get("BATCHMAP_FAULT_RUN", str(os.getpid()))
    lines = "".join(f"{message_id(r)} {run} {now:.3f}\n" for r in event["Records"])
    with open(os.environ["BATCHMAP_FAULT_LOG"], "a", encoding="utf-8") as out:
        out.write(lines)
        out.flush()
        os.fsync(out.fileno())
    return {}
