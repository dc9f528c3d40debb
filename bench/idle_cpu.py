"""CPU an idle ``batchmap run`` spends on an empty embedded queue (or stream), against a baseline checkout.

    python bench/idle_cpu.py [--seconds 10] [--rounds 3] [--baseline /path/to/other/src] [--source stream]

Starts ``batchmap run`` on an empty ``sqlite:///`` queue (``--source stream``:
a stream of one shard, read from LATEST) (this checkout's code,
and with ``--baseline`` the other checkout's through ``PYTHONPATH``, in turns),
lets it settle for two seconds, then reads the process's user + system CPU time
from ``/proc/PID/stat`` over ``--seconds``. Prints CPU milliseconds per second
of each run, the medians and their ratio (target: no more than the baseline).
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batchmap.sources.sqlite import SqliteQueue, SqliteStream
from trees import baseline_src, tree_env

HANDLER = "def handler(event, context):\n    return {}\n"


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid``, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def idle_run(folder: Path, src: str | None, seconds: float, kind: str = "queue") -> float:
    """CPU milliseconds per wall second of an idle ``batchmap run`` (``src``: a PYTHONPATH to run instead)."""
    uri = f"sqlite:///{folder / 'idle.db'}?{kind}=idle"
    created = SqliteQueue(uri) if kind == "queue" else SqliteStream(uri)  # empty
    created.db.close()
    env = tree_env(src if src is not None else os.environ.get("PYTHONPATH"), str(folder))
    command = [sys.executable, "-m", "batchmap", "run", "--source", uri, "--function", "idle_app.handler",
               "--invoker", "inprocess", "--log-level", "WARNING",
               *(["--starting-position", "LATEST"] if kind == "stream" else [])]
    process = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(2.0)  # imports, prepare, the lanes' first polls
        if process.poll() is not None:
            raise SystemExit(f"batchmap run exited: {process.stderr.read().decode() if process.stderr else ''}")
        ticks, start = cpu_ticks(process.pid), time.perf_counter()
        time.sleep(seconds)
        used = (cpu_ticks(process.pid) - ticks) / os.sysconf("SC_CLK_TCK")
        elapsed = time.perf_counter() - start
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    return used / elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=baseline_src, help="another checkout's src folder, run through PYTHONPATH")
    parser.add_argument("--source", choices=("queue", "stream"), default="queue")
    args = parser.parse_args()
    sides: dict[str, str | None] = {"this checkout": None}
    if args.baseline:
        sides["baseline"] = args.baseline
    figures: dict[str, list[float]] = {label: [] for label in sides}
    print(f"idle batchmap run on an empty embedded {args.source}, {args.seconds:g} s per run, load average "
          f"{os.getloadavg()[0]:.2f}")
    for _ in range(args.rounds):
        for label, src in sides.items():
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "idle_app.py").write_text(HANDLER)
                figures[label].append(idle_run(Path(folder), src, args.seconds, args.source))
            print(f"  {label}: {figures[label][-1]:.1f} ms CPU per second")
    medians = {label: statistics.median(values) for label, values in figures.items()}
    print(", ".join(f"{label} median {value:.1f} ms/s" for label, value in medians.items()))
    if "baseline" in medians and medians["baseline"] > 0:
        print(f"this checkout / baseline: {medians['this checkout'] / medians['baseline']:.2f} (target <= 1)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
