"""Show the demo's results whole: ``show.py log-line`` (the first failed-batch log line, parsed) or
``show.py depth`` (``batchmap inspect`` of the orders queue, in words). Reads standard input."""

from __future__ import annotations

import json
import sys


def log_line(text: str) -> str:
    """The first failed-batch line as indented JSON, each error type's stack trace reduced to a line count."""
    line = json.loads(text)
    for error in line.get("errors") or []:
        error["stackTrace"] = f"[{len(error.get('stackTrace') or [])} lines]"
    return json.dumps(line, indent=2)


def depth(text: str) -> str:
    """The orders queue's depth and its dead-letter queue's."""
    queue = json.loads(text)
    return (f"   orders:     visible {queue['visible']}, in flight {queue['in_flight']}, delayed {queue['delayed']}\n"
            f"   orders-dlq: {queue['dead_lettered']} messages (orders that failed maxReceiveCount = 2 times)")


if __name__ == "__main__":
    print({"log-line": log_line, "depth": depth}[sys.argv[1]](sys.stdin.read()))
