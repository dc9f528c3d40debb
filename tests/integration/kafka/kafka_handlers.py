"""Functions the Kafka tests map topics to; each keeps what it was given in ``EVENTS`` (per name)."""

from __future__ import annotations

import base64
import copy
import threading
import time
from collections import defaultdict
from typing import Any

SLEEP_S = 0.0
"""How long ``record_a`` and ``record_b`` take per batch."""
EVENTS: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
DONE_AT: defaultdict[str, list[float]] = defaultdict(list)
_lock = threading.Lock()


def reset() -> None:
    global SLEEP_S
    SLEEP_S = 0.0
    with _lock:
        EVENTS.clear()
        DONE_AT.clear()


def _keep(name: str, event: dict[str, Any]) -> None:
    with _lock:
        EVENTS[name].append(copy.deepcopy(event))


def _values(event: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    records = [r for rs in event["records"].values() for r in rs]
    return [(r, base64.b64decode(r.get("value", "")).decode()) for r in records]


def record(event: dict[str, Any], context: Any) -> None:
    _keep("record", event)
    with _lock:
        DONE_AT["record"].append(time.monotonic())


def record_a(event: dict[str, Any], context: Any) -> None:
    time.sleep(SLEEP_S)
    _keep("a", event)


def record_b(event: dict[str, Any], context: Any) -> None:
    time.sleep(SLEEP_S)
    _keep("b", event)


def fail_all(event: dict[str, Any], context: Any) -> None:
    _keep("fail_all", event)
    raise RuntimeError("this function always fails")


def fail_poison(event: dict[str, Any], context: Any) -> None:
    """Raises when the batch holds a record whose value is ``poison``."""
    _keep("fail_poison", event)
    if any(value == "poison" for _, value in _values(event)):
        raise ValueError("poison record")


def report_bad(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ReportBatchItemFailures with Kafka's identifiers for records whose value starts with ``bad``."""
    _keep("report_bad", event)
    failures = [{"itemIdentifier": {"partition": f"{r['topic']}-{r['partition']}", "offset": r["offset"]}}
                for r, value in _values(event) if value.startswith("bad")]
    return {"batchItemFailures": failures}


def append_values(event: dict[str, Any], context: Any) -> None:
    """Appends each value as a line to the file ``$KAFKA_TEST_OUT`` (for engines in other processes)."""
    import os

    lines = "".join(f"{value}\n" for _, value in _values(event))
    with open(os.environ["KAFKA_TEST_OUT"], "a", encoding="utf-8") as out:
        out.write(lines)
    time.sleep(float(os.environ.get("KAFKA_TEST_SLEEP", "0")))
