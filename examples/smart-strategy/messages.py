"""Print one batch's worth of job messages, one JSON body per line, for ``batchmap send``.

    python examples/smart-strategy/messages.py small   # 60 small jobs of one type: parallel
    python examples/smart-strategy/messages.py large   # 6 jobs of about 100 KiB: sequential
    python examples/smart-strategy/messages.py mixed   # 20 small jobs of 5 types: moderate
"""

from __future__ import annotations

import json
import sys

KINDS = {
    "small": (60, ["notify"], 0),
    "large": (6, ["transcode"], 100 * 1024),
    "mixed": (20, ["thumbnail", "transcode", "index", "notify", "archive"], 200),
}


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind not in KINDS:
        sys.exit(f"usage: messages.py {'|'.join(KINDS)}")
    count, types, padding = KINDS[kind]
    for n in range(count):
        job = {"id": f"{kind}-{n}", "type": types[n % len(types)], "io_ms": 5, "payload": "x" * padding}
        print(json.dumps(job))


if __name__ == "__main__":
    main()
