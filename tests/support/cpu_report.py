"""Sum the per-test CPU log written under ``BATCHMAP_TEST_CPU=path`` (see tests/conftest.py).

Usage: ``python tests/support/cpu_report.py path [top]``: the top tests and files by CPU (own + children);
``python tests/support/cpu_report.py path --units [top]``: the longest units by wall time, as
``tests/support/scheduling.py``'s ``LONGEST`` holds them.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from scheduling import unit_of


def main(path: str, top: int = 40) -> None:
    """Print the total, then the ``top`` tests and files by CPU seconds."""
    rows = _rows(path)
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


def units(path: str, top: int = 30) -> None:
    """Print the ``top`` units by wall seconds, as lines of ``LONGEST``."""
    walls: dict[str, float] = defaultdict(float)
    for row in _rows(path):
        walls[unit_of(row["test"])] += row["wall"]
    for unit, wall in sorted(walls.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {json.dumps(unit)}: {round(wall)},")


def _rows(path: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="the file BATCHMAP_TEST_CPU named")
    parser.add_argument("top", nargs="?", type=int, default=None, help="how many lines (40 tests, 30 units)")
    parser.add_argument("--units", action="store_true", help="the longest units by wall time, as LONGEST holds them")
    args = parser.parse_intermixed_args()
    if not Path(args.log).is_file():
        parser.error(f"log: invalid value {args.log!r} (no such file: run the tests with BATCHMAP_TEST_CPU=FILE)")
    if args.top is not None and args.top < 1:
        parser.error(f"top: invalid value {args.top} (an integer >= 1)")
    return args


if __name__ == "__main__":
    arguments = _arguments()
    if arguments.units:
        units(arguments.log, arguments.top or 30)
    else:
        main(arguments.log, arguments.top or 40)
