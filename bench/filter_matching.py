"""What filter criteria cost per record: the worst wildcard patterns, and everyday patterns.

    .venv/bin/python bench/filter_matching.py [--typical-only] [--seed 7]

Prints, from one run:

1. the wildcard that made the old regular-expression matcher backtrack
   (``*a*a*a*a*a*a*a*a*a*b``, which AWS and batchmap now refuse as too complex)
   against runs of ``a`` of growing length: the old translation (``.*a.*a...``
   with ``re.fullmatch``, timed only on short values) next to the matcher;
2. the worst pattern found among the wildcards batchmap accepts (hand-picked
   candidates, then a seeded random search) against a 1 KB value built to make
   it work hard, per SQS record through ``RecordFilter.matches``, next to an
   exact-value filter on the same record (the baseline: JSON parsing included);
   target <= 50 us per record;
3. everyday patterns on a 300-byte SQS body, per record (``--typical-only``
   prints just these, so the same command can time another checkout:
   ``PYTHONPATH=<checkout>/src``).

    .venv/bin/python bench/filter_matching.py --instructions --against ../main/src

counts instead, with valgrind, the instructions per record of the everyday
patterns in this checkout and in another one (each pattern matched 200 and
1,200 times in a fresh process; the difference over 1,000), and prints their
ratio: unlike wall-clock time, it does not move with the machine's load.

No assertion: the figures depend on the machine and its load (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import timeit
from collections.abc import Callable
from typing import Any

from batchmap.errors import FilterError
from batchmap.filters import FilterCriteria

TARGET_US = 50.0
VALUE_BYTES = 1024
HOSTILE = "*a*a*a*a*a*a*a*a*a*b"


def per_call_us(call: Callable[[], Any], budget_s: float = 0.1) -> float:
    """Best of five rounds, each long enough to be measured."""
    number = max(1, int(budget_s / max(timeit.timeit(call, number=1), 1e-7)))
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": body, "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
        "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue", "awsRegion": "us-east-2",
    }


def per_record_us(pattern: dict[str, Any], record: dict[str, Any]) -> float:
    matches = FilterCriteria.of(pattern).for_shape("sqs").matches
    return per_call_us(lambda: matches(record))


def backtracking_section() -> None:
    from batchmap.filters.wildcard import parse_wildcard

    old = re.compile(".*".join(re.escape(part) for part in HOSTILE.split("*")), re.DOTALL)
    new = parse_wildcard(HOSTILE, "k")
    print(f"1. {HOSTILE!r} on runs of 'a' (no match): old regex vs the matcher, per value")
    for length in (10, 15, 20, 25, VALUE_BYTES):
        value = "a" * length
        mine = per_call_us(lambda: new.matches(value))  # noqa: B023 - timed at once
        if length <= 25:
            before = per_call_us(lambda: old.fullmatch(value), budget_s=0.5)  # noqa: B023
            print(f"   {length:5d} chars: old {before:12.1f} us   now {mine:6.2f} us   ratio {before / mine:10.0f}x")
        else:
            print(f"   {length:5d} chars: old (not run: grows as length^9)   now {mine:6.2f} us")


def candidates(rng: random.Random, count: int) -> list[list[str]]:
    """Wildcard lists for one field: hand-picked, then random ones drawn from a small alphabet."""
    picked = [
        ["a*b*c*d*e*f*g*h*i*j"],
        ["*/bin/*.jar", "*/bin/*.class", "*/lib/*.so"],
        [f"{letter}*{letter}x*y" for letter in "abcdef"],
        ["*" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(300)) + "*"],
        ["arn:aws:*:us-east-1:*:function:*", "arn:aws:*:eu-west-1:*:table/*"],
    ]
    while len(picked) < count:
        wildcards = []
        for _ in range(rng.randint(1, 5)):
            parts = ["".join(rng.choice("abc/") for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(2, 6))]
            wildcards.append("*".join(parts))
        picked.append(wildcards)
    return picked


def hard_value(wildcards: list[str]) -> str:
    """About 1 KB that gets far into every wildcard and then misses: all segments but the last, repeated."""
    segments = [part for text in wildcards for part in text.split("*")[:-1]]
    body = "".join(segments) or "a"
    return (body * (VALUE_BYTES // len(body) + 1))[:VALUE_BYTES]


def screened(pattern: dict[str, Any], record: dict[str, Any]) -> float:
    """A quick, rough per-record figure, to rank candidates before timing the worst ones properly."""
    matches = FilterCriteria.of(pattern).for_shape("sqs").matches
    return timeit.timeit(lambda: matches(record), number=100) / 100 * 1e6


def worst_section(seed: int) -> None:
    rng = random.Random(seed)
    ranked: list[tuple[float, list[str], str]] = []
    refused = 0
    for wildcards in candidates(rng, 150):
        pattern = {"body": {"k": [{"wildcard": text} for text in wildcards]}}
        try:
            FilterCriteria.of(pattern)
        except FilterError:
            refused += 1
            continue
        for value in (hard_value(wildcards), hard_value(wildcards)[:-1] + "\u00e9"):
            ranked.append((screened(pattern, sqs_record(json.dumps({"k": value}))), wildcards, value))
    ranked.sort(key=lambda found: found[0], reverse=True)
    timed = []
    for _, wildcards, value in ranked[:3]:
        record = sqs_record(json.dumps({"k": value}))
        timed.append((per_record_us({"body": {"k": [{"wildcard": text} for text in wildcards]}}, record), wildcards,
                      value))
    cost, wildcards, value = max(timed, key=lambda found: found[0])
    record = sqs_record(json.dumps({"k": value}))
    baseline = per_record_us({"body": {"k": ["x"]}}, record)
    negated = per_record_us({"body": {"k": [{"anything-but": {"wildcard": wildcards}}]}}, record)
    print(f"\n2. the worst of {len(ranked) // 2} accepted wildcard lists ({refused} refused as too complex), "
          f"seed {seed},")
    print(f"   per SQS record with a {len(value)}-character value:")
    print(f"   wildcards {wildcards!r}")
    print(f"   exact-value filter (baseline) {baseline:7.2f} us")
    print(f"   wildcard                      {cost:7.2f} us   {cost / baseline:4.2f}x the baseline   "
          f"target <= {TARGET_US:.0f} us: {'met' if cost <= TARGET_US else 'MISSED'}")
    print(f"   anything-but wildcard         {negated:7.2f} us   {negated / baseline:4.2f}x the baseline")


TYPICAL_BODY = json.dumps({
    "order": {"id": 1234, "status": "PAID", "amount": 19.99, "customer": {"tier": "gold", "region": "eu-west-1"},
              "items": [{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}]},
    "type": "order.created", "version": 3, "source": "shop", "trace": "1-5759e988-bd862e3fe1be46a994272793",
})
TYPICAL: dict[str, dict[str, Any]] = {
    "exact value": {"body": {"type": ["order.created"]}},
    "nested, three operators": {"body": {"order": {"status": ["PAID", "SHIPPED"], "amount": [{"numeric": [">", 10]}],
                                                   "customer": {"tier": [{"prefix": "g"}]}}}},
    "array of objects": {"body": {"order": {"items": {"sku": [{"wildcard": "b-*"}], "qty": [1]}}}},
    "number": {"body": {"version": [3]}},
    "metadata only": {"attributes": {"ApproximateReceiveCount": ["1"]}},
    "no match": {"body": {"absent": [{"exists": False}], "type": ["x"]}},
}


def typical_section() -> None:
    record = sqs_record(TYPICAL_BODY)
    print(f"\n3. everyday patterns, per SQS record ({len(TYPICAL_BODY)}-byte body):")
    for name, pattern in TYPICAL.items():
        print(f"   {name:24s} {per_record_us(pattern, record):6.2f} us")


def child(name: str, count: int) -> None:
    """Match the everyday pattern ``name`` ``count`` times (run under valgrind by ``instructions``)."""
    matches = FilterCriteria.of(TYPICAL[name]).for_shape("sqs").matches
    record = sqs_record(TYPICAL_BODY)
    for _ in range(count):
        matches(record)


def counted(name: str, count: int, source: str | None) -> int:
    environment = {**os.environ, "PYTHONPATH": source} if source else None
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--child", name, str(count)],
        capture_output=True, text=True, check=True, env=environment,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind reported no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def instructions_section(against: str | None) -> None:
    print("instructions per record (valgrind), everyday patterns, this checkout"
          + (f" against {against}" if against else ""))
    for name in TYPICAL:
        mine = (counted(name, 1_200, None) - counted(name, 200, None)) / 1_000
        line = f"   {name:24s} {mine:9.0f}"
        if against:
            theirs = (counted(name, 1_200, against) - counted(name, 200, against)) / 1_000
            line += f"   {theirs:9.0f}   ratio {mine / theirs:4.2f}"
        print(line, flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--typical-only", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--against", help="another checkout's src directory, for --instructions")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.instructions:
        return instructions_section(args.against)
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    if not args.typical_only:
        backtracking_section()
        worst_section(args.seed)
    typical_section()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return None


if __name__ == "__main__":
    main()
