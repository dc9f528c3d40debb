#!/usr/bin/env python3
"""Prove the handler toolkit imports and works with nothing but the standard library.

CI runs this in a bare virtualenv where batchmap was installed with
``pip install --no-deps .``. It imports ``batchmap``, ``batchmap.records`` and
``batchmap.handler``, runs every golden event of ``tests/events`` through real
handlers (sync, threads, async, router, auto strategy, metrics, deadline,
memory budget, a SQLite transaction) and checks each response against
``tests/events/expected.json``. Finally it checks that every module imported
since it started belongs to the standard library or to batchmap. Exit status 1
on any failure.
"""

from __future__ import annotations

import sys

BEFORE = set(sys.modules)

import asyncio  # noqa: E402  (imported after the snapshot on purpose)
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sqlite3  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"
problems: list[str] = []


def check(condition: bool, what: str) -> None:
    if not condition:
        problems.append(what)


def canonical(identifiers: list[Any]) -> list[str]:
    return [json.dumps(i, sort_keys=True) for i in identifiers]


def failing_handler(fail: list[Any]) -> Callable[[Any], None]:
    doomed = set(canonical(fail))

    def handle(record: Any) -> None:
        record.raw  # noqa: B018  (touch the view as a handler would)
        if json.dumps(record.id, sort_keys=True) in doomed:
            raise ValueError(f"told to fail {record.id!r}")

    return handle


def check_golden(name: str, expect: dict[str, Any]) -> None:
    from batchmap.handler import process_batch, run_batch
    from batchmap.records import parse_event, read_partial_response

    event = json.loads((EVENTS / name).read_text())
    batch = parse_event(event)
    check(batch.kind == expect["kind"] and len(batch) == expect["count"], f"{name}: parsed {batch!r}")
    check(batch.event_source == expect["event_source"], f"{name}: event source {batch.event_source!r}")
    for record in batch:
        check(record.size >= 0 and record.raw is not None, f"{name}: record {record.id!r} has no size/raw")
    handle = failing_handler(expect["fail"])

    async def handle_async(record: Any) -> None:
        await asyncio.sleep(0)
        handle(record)

    variants: list[tuple[str, Callable[[Any], Any], int]] = [("sync", handle, 1), ("async", handle_async, 1)]
    if batch.kind == "sqs":  # set semantics: the same response at any concurrency
        variants += [("threads", handle, 4), ("async x4", handle_async, 4)]
    for label, function, concurrency in variants:
        response = process_batch(event, function, concurrency=concurrency)
        got = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        check(canonical(got) == canonical(expect["response"]), f"{name} ({label}): got {got}")
        reading = read_partial_response(event, response)
        check(reading.status == ("partial" if got else "success"), f"{name} ({label}): AWS reads {reading!r}")
    result = run_batch(event, handle, concurrency="auto")
    reported = canonical([item["itemIdentifier"] for item in result.response["batchItemFailures"]])
    check(set(canonical(expect["fail"])) <= set(reported), f"{name} (auto): {reported}")
    check(read_partial_response(event, result.response).status != "invalid", f"{name} (auto): invalid response")


def check_malformed(name: str, expect: dict[str, Any]) -> None:
    from batchmap import errors
    from batchmap.handler import process_batch
    from batchmap.records import parse_event

    event = json.loads((EVENTS / name).read_text())
    wanted = getattr(errors, expect["error"])
    try:
        parse_event(event)
    except wanted as exc:
        check(getattr(exc, "index", None) == expect.get("index"), f"{name}: index {getattr(exc, 'index', None)}")
        check(getattr(exc, "field", None) == expect.get("field"), f"{name}: field {getattr(exc, 'field', None)}")
    except Exception as exc:
        problems.append(f"{name}: parse_event raised {exc!r}, expected {expect['error']}")
    else:
        problems.append(f"{name}: parse_event accepted a malformed event")

    def reject_all(record: Any) -> None:
        raise ValueError("every record fails, so every record must be identified")

    try:
        response = process_batch(event, reject_all)
    except errors.EventError:
        pass  # a record without an identifier: the whole batch fails
    else:  # every malformed record has an identifier: it fails like the others, so all are reported
        records = event.get("Records") or [r for batch in event.get("records", {}).values() for r in batch]
        check(len(response["batchItemFailures"]) == len(records), f"{name}: process_batch lost records: {response}")


def check_features() -> None:
    from batchmap.handler import EmfMetrics, MemoryBudget, Router, process_batch, run_batch_in_transaction

    event = json.loads((EVENTS / "sqs_standard.json").read_text())
    router = Router("type")
    seen: list[str] = []
    router.add("order.created", lambda record: seen.append("created"))
    router.add("order.paid", lambda record: seen.append("paid"))
    lines = io.StringIO()
    log_stream = io.StringIO()
    logger = logging.getLogger("check_stdlib_only")
    logger.addHandler(logging.StreamHandler(log_stream))
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    response = process_batch(event, router, metrics=EmfMetrics(stream=lines), logger=logger)
    ids = [r["messageId"] for r in event["Records"]]
    # "Test message." is not JSON and order.shipped has no route: both reported, both logged
    check([f["itemIdentifier"] for f in response["batchItemFailures"]] == [ids[0], ids[3]], f"router: {response}")
    check(sorted(seen) == ["created", "paid"], f"router ran {seen}")
    metrics = json.loads(lines.getvalue())
    check(metrics["BatchSize"] == 4 and metrics["FailureCount"] == 2 and "_aws" in metrics, f"EMF: {metrics}")
    logged = [json.loads(line) for line in log_stream.getvalue().splitlines()]  # one line for the batch
    check([line["failedIdentifiers"] for line in logged] == [[ids[0], ids[3]]], f"failure log: {logged}")

    class Context:  # the two members of the Lambda context the toolkit reads
        memory_limit_in_mb = 10_240  # the largest Lambda: this check is not about memory

        def get_remaining_time_in_millis(self) -> int:
            return 100  # already past a 1,000 ms margin: nothing may start

    late = process_batch(event, lambda record: None, Context())
    check(len(late["batchItemFailures"]) == 4, f"deadline: {late}")
    full = process_batch(event, lambda record: None, memory=MemoryBudget(1, check_interval_ms=0))
    check(len(full["batchItemFailures"]) == 4, f"memory hard limit: {full}")

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY)")
    db.commit()

    def insert(record: Any, cursor: Any) -> None:
        cursor.execute("INSERT INTO seen VALUES (?)", (record.id,))
        if record.id == ids[1]:
            raise RuntimeError("this record is rolled back alone")

    tx = run_batch_in_transaction(event, insert, db)
    rows = sorted(row[0] for row in db.execute("SELECT id FROM seen"))
    check(rows == sorted([ids[0], ids[2], ids[3]]), f"transaction rows: {rows}")
    check(tx.response["batchItemFailures"] == [{"itemIdentifier": ids[1]}], f"transaction: {tx.response}")


def check_kafka_schemas() -> None:
    """Plain JSON decodes without the kafka-schemas extra; without fastavro, Avro asks for the extra."""
    import importlib.util

    from batchmap.errors import MissingExtraError
    from batchmap.handler import SchemaConfig, decode_with, process_batch
    from batchmap.records import kafka_event, kafka_record

    seen: list[Any] = []
    handle = decode_with(SchemaConfig(value_schema_type="JSON"))(lambda record: seen.append(record.value))
    event = kafka_event([kafka_record("t", 0, 0, b'\x00\x00\x00\x00\x05{"a": 1}'), kafka_record("t", 0, 1, b"{")])
    response = process_batch(event, handle)
    check(seen == [{"a": 1}], f"kafka schemas: decoded {seen!r}")
    check(response == {"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 1}}]},
          f"kafka schemas: {response!r}")
    if importlib.util.find_spec("fastavro") is None:
        try:
            SchemaConfig(value_schema_type="AVRO", value_schema='"string"')
        except MissingExtraError as exc:
            check(exc.extra == "kafka-schemas", f"kafka schemas: {exc}")
        else:
            problems.append("kafka schemas: Avro without fastavro did not raise MissingExtraError")


def check_imports() -> None:
    allowed = set(sys.stdlib_module_names) | {"batchmap"}
    foreign = sorted(name for name in set(sys.modules) - BEFORE if name.split(".")[0] not in allowed)
    check(not foreign, f"third-party modules were imported: {foreign}")


def main() -> int:
    import batchmap
    import batchmap.handler
    import batchmap.records

    for module in (batchmap.records, batchmap.handler):
        for name in module.__all__:
            check(getattr(module, name, None) is not None, f"{module.__name__}.{name} does not resolve")
    for name in ("process_batch", "batch_handler", "parse_event"):  # re-exported by batchmap, once it does
        if hasattr(batchmap, name):
            home = batchmap.records if name == "parse_event" else batchmap.handler
            check(getattr(batchmap, name) is getattr(home, name), f"batchmap.{name} is not {home.__name__}.{name}")
    expected = json.loads((EVENTS / "expected.json").read_text())
    for name, expect in sorted(expected.items()):
        if name.startswith("_"):
            continue
        try:
            if "error" in expect:
                check_malformed(name, expect)
            else:
                check_golden(name, expect)
        except Exception as exc:
            problems.append(f"{name}: {exc!r}")
    check(sorted(p.name for p in EVENTS.glob("*.json") if p.name != "expected.json")
          == sorted(k for k in expected if not k.startswith("_")), "tests/events and expected.json disagree")
    try:
        check_features()
        check_kafka_schemas()
    except Exception as exc:
        problems.append(f"features: {exc!r}")
    check_imports()
    for problem in problems:
        print("FAIL", problem)
    print(f"check_stdlib_only: {len(expected) - 1} golden events, features, imports: "
          + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)  # the toolkit's own failure lines are expected here
    sys.exit(main())
