"""CPU of two short commands: `batchmap send` of one message, then `batchmap run --until-idle` on it.

    python bench/cli_startup.py [--runs 30] [--baseline SRC]

Each round sends one message to a fresh embedded queue with `python -m batchmap send` and drains it
with `python -m batchmap run`, reading the CPU each child used (user + system, from ``getrusage``);
with ``--baseline`` (another tree's ``src``) the two take turns and the ratios are printed. Both are
nearly all start-up: the suite starts hundreds of such processes, and a user starts one per
command, so this is what every command pays before it does anything. Bytecode is written whatever
``PYTHONDONTWRITEBYTECODE`` says (else a tree without it would be compiled again on every run).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from trees import baseline_src, tree_env

HANDLER = "def handler(event, context):\n    return {}\n"


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


COMMANDS = ("send", "run")


def one_run(folder: Path, src: str | None, n: int) -> dict[str, float]:
    """CPU seconds of `batchmap send` of one message to a new queue and of `batchmap run --until-idle` on it."""
    env = tree_env(src, str(folder))
    uri = f"sqlite:///{folder}/q{n}.db?queue=jobs"
    python = sys.executable
    cpu = {}
    for name, args in (("send", ["send", "--source", uri, "{}"]),
                       ("run", ["run", "--source", uri, "--function", "app:handler", "--until-idle"])):
        before = child_cpu()
        subprocess.run([python, "-m", "batchmap", *args], env=env, check=True, capture_output=True)
        cpu[name] = child_cpu() - before
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline", type=baseline_src, help="another tree's src folder, run in turns with this one")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs: invalid value {args.runs} (an integer >= 1)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "app.py").write_text(HANDLER)
        sides = {"this checkout": None, **({"baseline": args.baseline} if args.baseline else {})}
        times: dict[tuple[str, str], list[float]] = {(name, c): [] for name in sides for c in COMMANDS}
        for n in range(args.runs + 2):
            for i, (name, src) in enumerate(sides.items()):
                cpu = one_run(folder, src, n * len(sides) + i)
                if n >= 2:  # the first two rounds warm the page cache and the bytecode
                    for command in COMMANDS:
                        times[name, command].append(cpu[command])
    for (name, command), values in times.items():
        print(f"{name}, {command}: median {statistics.median(values) * 1000:.1f} ms CPU per run "
              f"({min(values) * 1000:.1f}-{max(values) * 1000:.1f}, {len(values)} runs)")
    if args.baseline:
        for command in COMMANDS:
            ratio = statistics.median(times["this checkout", command]) / statistics.median(times["baseline", command])
            print(f"{command}: this checkout / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
