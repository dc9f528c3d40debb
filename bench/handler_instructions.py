"""Machine instructions per record through ``process_batch``, counted by valgrind: steady on a busy machine.

    python bench/handler_instructions.py [--baseline PATH/TO/OTHER/src] [--kinds sqs,kinesis,dynamodb,kafka]

Wall-clock figures (``handler_overhead.py``) move with this shared machine's
load; instruction counts do not. Each case runs in a process of its own under
``valgrind --tool=callgrind``, once with 2 and once with 12 batches of the same
1,000-record event: the difference over 10,000 records is the cost per record,
start-up, imports and building the event cancelling out. Cases, per kind:

* ``clean``: a no-op record handler;
* ``10% failing``: every tenth record's handler raises, logging on (INFO and
  above from every logger to a file, as Lambda sends them to CloudWatch Logs).

Powertools' ``BatchProcessor`` runs the same SQS cases (target: batchmap at most
1.5x Powertools with 10 % failing). ``--baseline`` runs every batchmap case
again with another checkout's ``src`` on the path (``git worktree add`` one at
the commit to compare with) and prints the ratio.

Last, the partial-batch response reader as the engine calls it for every batch
(``engine.outcome.judge``, a batch of 100 SQS messages): instructions per call
for a null response, an empty ``batchItemFailures`` and three failures listed
(target: flat against the baseline). Needs valgrind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from trees import baseline_src, tree_env

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
RECORDS = 1_000
FEW, MANY = 2, 12
KINDS = ("sqs", "kinesis", "dynamodb", "kafka")
CASES = ("clean", "10% failing")


def build(kind: str) -> dict[str, Any]:
    from batchmap.records import dynamodb_record, kafka_event, kafka_record, kinesis_record, records_event, sqs_record

    body = [json.dumps({"order": i, "amount": "19.99"}) for i in range(RECORDS)]
    if kind == "sqs":
        return records_event([sqs_record(body[i], message_id=f"msg-{i:06d}", sent_timestamp_ms=1, receipt_handle="r")
                              for i in range(RECORDS)])
    if kind == "kinesis":
        return records_event([kinesis_record(body[i], partition_key=f"k{i % 7}", sequence_number=str(10**20 + i),
                                             arrival_timestamp=1.0) for i in range(RECORDS)])
    if kind == "dynamodb":
        return records_event([dynamodb_record("INSERT", {"k": i}, sequence_number=str(10**20 + i),
                                              new_image={"k": i}, created_at=1, event_id="e") for i in range(RECORDS)])
    return dict(kafka_event([kafka_record("t", i % 4, i, body[i], timestamp_ms=1) for i in range(RECORDS)]))


def child(kind: str, case: str, runner: str, batches: int) -> None:
    """The measured process: ``batches`` batches of one event."""
    event = build(kind)
    failing = case != "clean"
    tenth = {i for i in range(0, RECORDS, 10)}
    if failing:
        handler = logging.StreamHandler(open(os.path.join(tempfile.gettempdir(), "bench-lambda.log"), "a"))  # noqa: SIM115
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
    if runner == "powertools":
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        processor = BatchProcessor(event_type=EventType.SQS)
        ids = {f"msg-{i:06d}" for i in tenth}

        def record_handler(record: Any) -> None:
            if failing and record.message_id in ids:
                raise ValueError(f"cannot process {record.message_id}")

        for _ in range(batches):
            process_partial_response(event=event, record_handler=record_handler, processor=processor, context=None)
        return
    from batchmap.handler import process_batch

    position = {id(raw): i for i, raw in enumerate(_records(event))}

    def handle(record: Any) -> None:
        if failing and position[id(record.raw)] in tenth:
            raise ValueError("cannot process this record")

    for _ in range(batches):
        process_batch(event, handle)


JUDGED = {"null response": None, "empty list": {"batchItemFailures": []},
          "3 of 100 failed": {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (5, 50, 99)]}}


def judge_child(case: str, calls: int) -> None:
    from batchmap.engine.invocation import Invocation
    from batchmap.engine.outcome import judge

    ids = [f"m-{i}" for i in range(100)]
    invocation = Invocation("ok", payload=JUDGED[case])
    for _ in range(calls):
        judge(invocation, ids, shape="sqs", report_batch_item_failures=True)


def _records(event: dict[str, Any]) -> list[Any]:
    return event.get("Records") or [r for batch in event["records"].values() for r in batch]


def instructions(kind: str, case: str, runner: str, src: Path) -> int:
    """Instructions per record: the difference between MANY and FEW batches, over the records
    (per call of ``judge`` for ``kind="judge"``: 1,000 and 11,000 calls)."""
    runs = (1_000, 11_000) if kind == "judge" else (FEW, MANY)
    counts = []
    for batches in runs:
        env = tree_env(str(src), PYTHONHASHSEED="0")
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                              __file__, "--child", kind, case, runner, str(batches)],
                             capture_output=True, text=True, env=env, check=True)
        found = re.search(r"Collected : (\d+)", out.stderr)
        if found is None:
            raise SystemExit(f"valgrind gave no count for {kind} {case} {runner}:\n{out.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) // (10_000 if kind == "judge" else (MANY - FEW) * RECORDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=lambda value: Path(baseline_src(value)),
                        help="another checkout's src directory to compare with")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, case, runner, batches = args.child
        if kind == "judge":
            judge_child(case, int(batches))
        else:
            child(kind, case, runner, int(batches))
        return
    print(f"instructions per record through process_batch, {RECORDS:,}-record batches (valgrind callgrind)\n")
    header = f"   {'kind':<9} {'case':<12} {'batchmap':>9}"
    header += f" {'baseline':>9} {'ratio':>6}" if args.baseline else ""
    print(header + f" {'powertools':>11} {'bm/pt':>6}")
    met = True
    for kind in args.kinds.split(","):
        for case in CASES:
            ours = instructions(kind, case, "batchmap", SRC)
            line = f"   {kind:<9} {case:<12} {ours:>9,}"
            if args.baseline:
                theirs = instructions(kind, case, "batchmap", args.baseline)
                line += f" {theirs:>9,} {ours / theirs:>6.2f}"
            if kind == "sqs":
                powertools = instructions(kind, case, "powertools", SRC)
                line += f" {powertools:>11,} {ours / powertools:>6.2f}"
                met &= case == "clean" or ours <= 1.5 * powertools
            print(line, flush=True)
    print(f"\n   target: with 10 % failing, batchmap <= 1.5x powertools: {'met' if met else 'MISSED'}")
    print("\ninstructions per call of the engine's judge (100 SQS messages)\n")
    for case in JUDGED:
        ours = instructions("judge", case, "batchmap", SRC)
        line = f"   {case:<16} {ours:>9,}"
        if args.baseline:
            theirs = instructions("judge", case, "batchmap", args.baseline)
            line += f" {theirs:>9,} {ours / theirs:>6.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
