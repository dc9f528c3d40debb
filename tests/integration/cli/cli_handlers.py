"""Handlers the CLI tests run: they append what they processed to the file named by BATCHMAP_TEST_LOG."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def log_ids(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process slowly, then log every message id (as a real side effect that survives a crash)."""
    time.sleep(float(os.environ.get("BATCHMAP_TEST_SLEEP", "0.02")))
    with open(os.environ["BATCHMAP_TEST_LOG"], "a", encoding="utf-8") as out:
        for record in event["Records"]:
            out.write(json.loads(record["body"])["id"] + "\n")
        out.flush()
        os.fsync(out.fileno())
    return {}


def garbage(event: dict[str, Any], context: Any) -> object:
    """Returns something Lambda cannot serialise."""
    return {"batchItemFailures": object()}


def log_tenants(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One line per batch: each record's ``[MessageGroupId, body]``, in the order the handler sees them."""
    seen = [[record["attributes"].get("MessageGroupId"), record["body"]] for record in event["Records"]]
    with open(os.environ["BATCHMAP_TEST_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps(seen) + "\n")
    return {}
