"""Instructions per message through the engine and through the plain loop, counted by valgrind.

    python bench/source_instructions.py [--sources redis,nats,rabbitmq] [--small 2000] [--large 6000]

Wall-clock ratios move with this shared machine's load; instruction counts do
not. Each drain (``source_throughput.py``'s engine run or plain loop) runs in a
process of its own under ``valgrind --tool=callgrind``, on a queue filled
beforehand by another process, once with ``--small`` and once with ``--large``
messages: the difference over the difference in messages is the cost per
message, start-up and imports cancelling out. Only this process's work is
counted (not the broker's). Needs valgrind and the brokers on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def fill(source: str, name: str, count: int) -> None:
    import source_throughput as st

    st.loops.quiet_logs()
    asyncio.run(st.cases(None)[source].fill(name, count))


def drain(label: str, source: str, name: str, count: int) -> None:
    import source_throughput as st

    st.loops.quiet_logs()
    case = st.cases(None)[source]
    run = st.engine_rate if label == "engine" else st.plain_rate
    asyncio.run(run(case, name, count))
    asyncio.run(case.cleanup(name))


def counted(label: str, source: str, count: int) -> int:
    """Instructions of one drain of ``count`` messages in a fresh process."""
    name = f"instr-{label}-{uuid.uuid4().hex[:8]}"
    subprocess.run([sys.executable, __file__, "--fill", source, name, str(count)], check=True)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--drain", label, source, name, str(count)],
        capture_output=True, text=True, check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind reported no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--fill"]:
        return fill(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if sys.argv[1:2] == ["--drain"]:
        return drain(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sources", default="redis")
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=6000)
    args = parser.parse_args()
    print("instructions per message (valgrind), batch size 100, trivial handler, in-process invoker")
    print(f"{'source':<10} {'engine':>10} {'plain loop':>11} {'plain / engine':>15}")
    for source in [s.strip() for s in args.sources.split(",") if s.strip()]:
        per = {}
        for label in ("engine", "plain"):
            extra = counted(label, source, args.large) - counted(label, source, args.small)
            per[label] = extra / (args.large - args.small)
        print(f"{source:<10} {per['engine']:>10,.0f} {per['plain']:>11,.0f} {per['plain'] / per['engine']:>15.2f}")
    return None


if __name__ == "__main__":
    main()
