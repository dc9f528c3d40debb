"""CPU of a short `batchmap run`: one message on an embedded queue, `--until-idle`, nearly all of it start-up.

    python bench/cli_startup.py [--runs 30] [--baseline SRC]

Each round starts `python -m batchmap run` on a fresh one-message queue and reads the CPU the
child used (user + system, from ``getrusage``); with ``--baseline`` (another tree's ``src``) the
two take turns and the ratio is printed. The suite starts hundreds of such processes, and a user
starts one per command, so this is what every command pays before it does anything.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HANDLER = "def handler(event, context):\n    return {}\n"


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(folder: Path, src: str | None, n: int) -> float:
    """CPU seconds of one `batchmap run --until-idle` on a queue holding one message."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, str(folder)) if p))
    uri = f"sqlite:///{folder}/q{n}.db?queue=jobs"
    python = sys.executable
    subprocess.run([python, "-m", "batchmap", "send", "--source", uri, "{}"],
                   env=env, check=True, capture_output=True)
    before = child_cpu()
    subprocess.run([python, "-m", "batchmap", "run", "--source", uri, "--function", "app:handler", "--until-idle"],
                   env=env, check=True, capture_output=True)
    return child_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline", help="another tree's src folder, run in turns with this one")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs: invalid value {args.runs} (an integer >= 1)")
    if args.baseline and not (Path(args.baseline) / "batchmap" / "__init__.py").is_file():
        parser.error(f"--baseline: invalid value {args.baseline!r} (a src folder holding batchmap/)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "app.py").write_text(HANDLER)
        sides = {"this checkout": None, **({"baseline": args.baseline} if args.baseline else {})}
        times: dict[str, list[float]] = {name: [] for name in sides}
        for n in range(args.runs + 2):
            for name, src in sides.items():
                cpu = one_run(folder, src, n * len(sides) + len(times[name]))
                if n >= 2:  # the first two rounds warm the page cache and the bytecode
                    times[name].append(cpu)
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values) * 1000:.1f} ms CPU per run "
              f"({min(values) * 1000:.1f}-{max(values) * 1000:.1f}, {len(values)} runs)")
    if args.baseline:
        ratio = statistics.median(times["this checkout"]) / statistics.median(times["baseline"])
        print(f"this checkout / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
