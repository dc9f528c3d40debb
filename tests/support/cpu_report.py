"""Sum the per-test CPU log written under ``BATCHMAP_TEST_CPU=path`` (see tests/conftest.py).

Usage: ``python tests/support/cpu_report.py path [top]``: the top tests and files by CPU (own + children).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(path: str, top: int = 40) -> None:
    """Print the total, then the ``top`` tests and files by CPU seconds."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
    by_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in rows:
        sums = by_file[row["test"].split("::")[0]]
        sums[0] += row["own"] + row["children"]
        sums[1] += row["wall"]
        sums[2] += 1
    total = sum(row["own"] + row["children"] for row in rows)
    print(f"{len(rows)} tests, CPU {total:.1f} s (own {sum(r['own'] for r in rows):.1f} s)")
    print(f"\n{'cpu':>7} {'own':>7} {'child':>7} {'wall':>7}  test")
    for row in sorted(rows, key=lambda r: -(r["own"] + r["children"]))[:top]:
        cpu = row["own"] + row["children"]
        print(f"{cpu:7.2f} {row['own']:7.2f} {row['children']:7.2f} {row['wall']:7.2f}  {row['test']}")
    print(f"\n{'cpu':>7} {'wall':>7} {'tests':>5}  file")
    for name, (cpu, wall, count) in sorted(by_file.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"{cpu:7.2f} {wall:7.2f} {count:5.0f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40)
