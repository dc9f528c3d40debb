"""Instructions per record: the engine on the embedded queue against the at-least-once raw loop.

    python bench/engine_instructions.py [--messages N] [--batch-size B] [--rounds R] [--baseline SRC]

Wall-clock and CPU-time ratios (``bench/engine_throughput.py``,
``bench/engine_cpu_split.py``) move with the machine's load; instruction
counts do not. Each run drains a freshly filled queue in a child process under
``valgrind --tool=callgrind`` (threads run one at a time there; every thread's
instructions are counted) and reads the total instructions executed. Start-up
and imports cost the same at any queue length, so each figure is the
difference between a run of ``N`` messages and one of ``N/4``, over the
``3N/4`` records between them. Printed: instructions per record for the engine
(``Engine.run(until_idle=True)``, the in-process invoker, a handler that parses
every JSON body, as in ``engine_throughput.py``) and for the at-least-once
loop, and the loop's figure over the engine's (the share of the loop's speed
the engine would reach on CPU alone). ``--baseline SRC`` runs the engine from
another checkout's ``src`` too (say ``/work/main/src``), for a before/after
pair. Needs valgrind; a run of 4,000 messages takes about a minute.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from trees import baseline_src, tree_env

HERE = Path(__file__).parent
TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def child(kind: str, path: str, batch_size: int, count: int) -> None:
    """The measured run, in the child: drain the queue at ``path`` once."""
    sys.path.insert(0, str(HERE))
    if kind == "loop":
        from sqlite_plain_loop import at_least_once_loop

        at_least_once_loop(path, "bench", batch_size, "NORMAL")
        return
    from engine_throughput import engine_rate

    engine_rate(f"sqlite:///{path}?queue=bench&synchronous=NORMAL", batch_size, count, None)


def instructions(kind: str, folder: Path, src: str, batch_size: int, count: int) -> int:
    """Total instructions of one child run on a fresh queue of ``count`` messages."""
    sys.path.insert(0, str(HERE))
    from sqlite_plain_loop import fill

    db = folder / f"{kind}-{count}.db"
    for leftover in folder.glob(f"{kind}-{count}.db*"):
        leftover.unlink()
    fill(f"sqlite:///{db}?queue=bench&synchronous=NORMAL", count)
    out = folder / "callgrind.out"
    env = tree_env(src, str(HERE))
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-line=no",
         sys.executable, __file__, "--child", kind, str(db), "--batch-size", str(batch_size),
         "--messages", str(count)],
        env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    found = TOTALS.search(out.read_text())
    if found is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(found.group(1))


def per_record(kind: str, folder: Path, src: str, batch_size: int, count: int) -> float:
    """Instructions per record between a run of ``count // 4`` messages and one of ``count``."""
    small = count // 4
    return (instructions(kind, folder, src, batch_size, count)
            - instructions(kind, folder, src, batch_size, small)) / (count - small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each; medians are shown")
    parser.add_argument("--baseline", type=baseline_src,
                        help="another checkout's src folder: its engine is measured too")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.batch_size, args.messages)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: this benchmark counts instructions with callgrind")
    this_src = str(HERE.parent / "src")
    runs = {"engine": ("engine", this_src), "at-least-once": ("loop", this_src)}
    if args.baseline:
        runs["engine (baseline)"] = ("engine", args.baseline)
    figures: dict[str, list[float]] = {label: [] for label in runs}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for label, (kind, src) in runs.items():
                figures[label].append(per_record(kind, Path(folder), src, args.batch_size, args.messages))
    loop = statistics.median(figures["at-least-once"])
    print(f"batch {args.batch_size}, {args.messages} messages, synchronous=NORMAL, instructions per record "
          f"(callgrind), median of {args.rounds}")
    print(f"{'run':>18} {'instr/record':>13} {'min-max':>17} {'loop / run':>11}")
    for label, values in figures.items():
        value = statistics.median(values)
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(f"{label:>18} {value:>13,.0f} {spread:>17} {loop / value:>11.2f}")


if __name__ == "__main__":
    main()
