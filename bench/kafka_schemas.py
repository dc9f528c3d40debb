"""Kafka schema decoding: batchmap's ``SchemaConfig`` against Powertools' Kafka consumer, same records.

    .venv/bin/python bench/kafka_schemas.py [--records 1000] [--repeat 7]

For each format (Avro plain and in Confluent's wire format, Protobuf plain and as
a mapping with a schema registry delivers it, JSON plain and validated against a
JSON Schema) one event of ``--records`` records is built with the producers' own
encoders (``tests/support/schema_samples.py``) and decoded, every key and value:

* batchmap: ``config.decode(record).value`` over the event's records, and the
  whole toolkit path ``process_batch(event, decode_with(config)(handler))``
  (per-record isolation, the partial-batch response);
* Powertools: ``ConsumerRecords(event, SchemaConfig(...)).records`` and each
  ``.value``, what its ``@kafka_consumer`` hands the function.

Prints the median time per record of ``--repeat`` runs, the ratio Powertools /
batchmap (above 1: batchmap is faster) and the load average, all from one run.
No assertion: the numbers depend on the machine. Target: no slower than
Powertools on any format.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from aws_lambda_powertools.utilities.kafka import ConsumerRecords
from aws_lambda_powertools.utilities.kafka import SchemaConfig as PowertoolsSchemaConfig
from schema_samples import (
    ORDER_AVRO,
    ORDER_JSON_SCHEMA,
    Confluent,
    avro_plain,
    order,
    proto_classes,
    proto_order,
)

from batchmap.handler import SchemaConfig, decode_with, process_batch
from batchmap.records import kafka_event, kafka_record


def cases(n: int) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(name, event, SchemaConfig settings)``: one event per format, the same for both sides."""
    confluent = Confluent()
    _, order_class = proto_classes()
    registry = {"dataFormat": "PROTOBUF", "schemaId": "4"}

    def event(values: list[bytes], **metadata: Any) -> dict[str, Any]:
        return dict(kafka_event([kafka_record("orders", 0, i, value, key=f"k{i}", **metadata)
                                 for i, value in enumerate(values)]))

    json_values = [f'{{"order_id": "o-{i}", "quantity": {1 + i % 5}}}'.encode() for i in range(n)]
    return [
        ("Avro, plain", event([avro_plain(order(i)) for i in range(n)]),
         {"value_schema_type": "AVRO", "value_schema": ORDER_AVRO}),
        ("Avro, Confluent wire format", event([confluent.avro(order(i)) for i in range(n)]),
         {"value_schema_type": "AVRO", "value_schema": ORDER_AVRO, "value_schema_wire_format": "CONFLUENT"}),
        ("Protobuf, plain", event([proto_order(i).SerializeToString() for i in range(n)]),
         {"value_schema_type": "PROTOBUF", "value_schema": order_class}),
        ("Protobuf, from a registry mapping", event([b"\x00" + proto_order(i).SerializeToString() for i in range(n)],
                                                    value_schema_metadata=registry),
         {"value_schema_type": "PROTOBUF", "value_schema": order_class}),
        ("JSON, plain", event(json_values), {"value_schema_type": "JSON"}),
        ("JSON, validated (batchmap only)", event(json_values),
         {"value_schema_type": "JSON", "value_schema": ORDER_JSON_SCHEMA}),
    ]


def per_record_us(runs: list[Callable[[], object]], n: int, repeat: int) -> list[float]:
    """Median time per record of each run; the runs take turns, so a change of load hits all of them."""
    for run in runs:
        run()  # warm: caches, lazy imports
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, spent in zip(runs, times, strict=True):
            gc.collect()
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) / n * 1e6 for spent in times]


def measure(event: dict[str, Any], settings: dict[str, Any], n: int, repeat: int) -> tuple[float, float, float | None]:
    config = SchemaConfig(**settings)
    records = [record for batch in event["records"].values() for record in batch]
    decode = config.decode

    def ours() -> None:
        for record in records:
            decode(record).value  # noqa: B018

    handler = decode_with(config)(lambda record: record.value)

    def toolkit() -> None:
        assert process_batch(event, handler, deadline_margin_ms=None, memory=None) == {"batchItemFailures": []}

    runs: list[Callable[[], object]] = [ours, toolkit]
    if not (settings["value_schema_type"] == "JSON" and "value_schema" in settings):  # Powertools has no JSON Schema
        powertools = PowertoolsSchemaConfig(**settings)

        def theirs() -> None:
            for record in ConsumerRecords(event, powertools).records:
                record.value  # noqa: B018

        runs.append(theirs)
    times = per_record_us(runs, n, repeat)
    return times[0], times[1], times[2] if len(times) > 2 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    print(f"{args.records} records per event, median of {args.repeat} runs, microseconds per record\n")
    print("| format | batchmap decode | batchmap process_batch | Powertools | Powertools / batchmap decode |")
    print("|---|---|---|---|---|")
    for name, event, settings in cases(args.records):
        ours, toolkit, theirs = measure(event, settings, args.records, args.repeat)
        ratio = "—" if theirs is None else f"{theirs / ours:.1f}x"
        shown = "—" if theirs is None else f"{theirs:.2f}"
        print(f"| {name} | {ours:.2f} | {toolkit:.2f} | {shown} | {ratio} |")
    print(f"\nload average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{os.cpu_count()} cores; Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
