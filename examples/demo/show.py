"""Show the demo's results whole: ``show.py log-line`` (the first failed-record log line, parsed) or
``show.py depth`` (``batchmap inspect`` of the orders queue, in words). Reads standard input."""

from __future__ import annotations

import json
import sys


def log_line(text: str) -> str:
    """The first failed-record line as indented JSON, its stack trace reduced to a line count."""
    line = json.loads(text)
    trace = line.get("stackTrace") or []
    line["stackTrace"] = f"[{len(trace)} lines]"
    return json.dumps(line, indent=2)


def depth(text: str) -> str:
    """The orders queue's depth and its dead-letter queue's."""
    queue = json.loads(text)
    return (f"   orders:     visible {queue['visible']}, in flight {queue['in_flight']}, delayed {queue['delayed']}\n"
            f"   orders-dlq: {queue['dead_lettered']} messages (orders that failed maxReceiveCount = 2 times)")


if __name__ == "__main__":
    print({"log-line": log_line, "depth": depth}[sys.argv[1]](sys.stdin.read()))
