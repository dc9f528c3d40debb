"""Timing a handler the way Lambda would run it: warm calls over batch sizes, concurrency and a cold start.

``measure`` calls ``handler(event, context)`` in this process with sample
events of each batch size (after warm-up calls), fits D(n) = t0 + t1·n on wall
time and on CPU time (the CPU share is what memory size speeds up), measures
the speed-up S(c) when c slices of a batch run at once (threads for a sync
handler, tasks for an async one), traces the memory a batch allocates, and
times INIT (interpreter start + import) in a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.engine.context import LambdaContext
from batchmap.engine.loader import load_function, parse_handler
from batchmap.errors import ConfigError, MeasurementError
from batchmap.tuning.fit import LinearFit, fit_contention, fit_line, quadratic_share
from batchmap.tuning.profile import ONE_VCPU_MB, HandlerProfile
from batchmap.tuning.samples import SampleEvents

Handler = Callable[[dict[str, Any], Any], Any]
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MeasurePlan:
    """What to run: batch sizes, in-batch concurrencies, repeats and warm-up calls per cell."""

    batch_sizes: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100)
    concurrencies: tuple[int, ...] = (1,)
    repeats: int = 5
    warmup: int = 2
    cold_starts: int = 3
    memory: bool = True
    timeout_s: float = 900.0

    def __post_init__(self) -> None:
        if len({n for n in self.batch_sizes if n >= 1}) < 2 or min(self.batch_sizes) < 1:
            raise ConfigError("batch_sizes", self.batch_sizes, "two or more distinct sizes, each >= 1")
        if not self.concurrencies or min(self.concurrencies) < 1:
            raise ConfigError("concurrencies", self.concurrencies, "integers >= 1")
        if self.repeats < 1:
            raise ConfigError("repeats", self.repeats, "an integer >= 1")
        if self.warmup < 0 or self.cold_starts < 0:
            raise ConfigError("warmup/cold_starts", (self.warmup, self.cold_starts), "integers >= 0")


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed call: ``concurrency`` slices of a batch of ``batch_size`` records."""

    batch_size: int
    concurrency: int
    wall_s: float
    cpu_s: float


@dataclass(frozen=True, slots=True)
class ColdStart:
    """INIT in a fresh interpreter: start-up, the handler module's import, resident memory after it."""

    interpreter_s: float
    import_s: float
    rss_mb: float

    @property
    def init_s(self) -> float:
        return self.interpreter_s + self.import_s


@dataclass(frozen=True, slots=True)
class Measurement:
    """Everything measured about one handler, and the fits."""

    handler: str
    samples: tuple[Sample, ...]
    duration: LinearFit
    cpu: LinearFit
    quadratic_share: float
    speedups: tuple[tuple[int, float], ...]
    sigma: float
    memory: LinearFit | None
    cold_start: ColdStart | None
    record_bytes: int
    envelope_bytes: int

    @property
    def t0_s(self) -> float:
        return max(0.0, self.duration.intercept)

    @property
    def t1_s(self) -> float:
        return max(1e-7, self.duration.slope)

    def profile(
        self, *, concurrency: int = 1, reference_memory_mb: int = ONE_VCPU_MB, cold_start_rate: float = 0.005
    ) -> HandlerProfile:
        """The service-time model these measurements support (at ``reference_memory_mb``)."""
        t0, t1 = self.t0_s, self.t1_s
        mean_wall = statistics.fmean(s.wall_s for s in self.samples if s.concurrency == 1)
        cold = self.cold_start
        return HandlerProfile(
            t0_s=t0,
            t1_s=t1,
            reference_memory_mb=reference_memory_mb,
            cpu_share_t0=_share(self.cpu.intercept, t0),
            cpu_share_t1=_share(self.cpu.slope, t1),
            concurrency=concurrency,
            sigma=self.sigma,
            duration_cv=self.duration.residual_std / mean_wall if mean_wall > 0 else 0.0,
            init_s=cold.init_s if cold else 0.0,
            cold_start_rate=cold_start_rate if cold else 0.0,
            memory_base_mb=(cold.rss_mb + max(0.0, self.memory.intercept)) if cold and self.memory else None,
            memory_per_record_mb=max(0.0, self.memory.slope) if self.memory else 0.0,
        )


def measure(
    handler: str | Handler,
    samples: SampleEvents,
    plan: MeasurePlan | None = None,
    *,
    code_path: str | None = None,
    memory_mb: int = ONE_VCPU_MB,
) -> Measurement:
    """Time ``handler`` (``module:callable`` or the callable itself) on ``samples`` following ``plan``."""
    plan = plan or MeasurePlan()
    name = handler if isinstance(handler, str) else getattr(handler, "__qualname__", repr(handler))
    function = _load(handler, code_path) if isinstance(handler, str) else handler
    call = _Caller(function, name, plan.timeout_s, memory_mb)
    sizes = tuple(sorted(set(plan.batch_sizes)))
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        samples_1 = _time_sizes(call, samples, sizes, 1, plan)
        extra = [
            s
            for c in sorted(set(plan.concurrencies))
            if c > 1
            for s in _time_sizes(call, samples, tuple(n for n in sizes if n >= c), c, plan)
        ]
        memory = _trace_memory(call, samples, sizes) if plan.memory else None
    all_samples = (*samples_1, *extra)
    duration = fit_line([s.batch_size for s in samples_1], [s.wall_s for s in samples_1])
    cpu = fit_line([s.batch_size for s in samples_1], [s.cpu_s for s in samples_1])
    speedups = _speedups(duration.slope, extra)
    cold = (
        cold_start(handler, code_path, plan.cold_starts)
        if isinstance(handler, str) and plan.cold_starts
        else None
    )
    return Measurement(
        handler=name,
        samples=all_samples,
        duration=duration,
        cpu=cpu,
        quadratic_share=quadratic_share([s.batch_size for s in samples_1], [s.wall_s for s in samples_1]),
        speedups=speedups,
        sigma=fit_contention(speedups),
        memory=memory,
        cold_start=cold,
        record_bytes=samples.record_bytes,
        envelope_bytes=samples.envelope_bytes,
    )


def _load(handler: str, code_path: str | None) -> Handler:
    loaded = load_function(FunctionConfig(handler=handler, code_path=code_path), set_environment=False)
    function: Handler = loaded.function
    return function


class _Caller:
    """Calls the handler with a fresh Lambda context; an exception becomes a ``MeasurementError``."""

    def __init__(self, function: Handler, name: str, timeout_s: float, memory_mb: int) -> None:
        self.function, self.name, self.timeout_s, self.memory_mb = function, name, timeout_s, memory_mb
        self.is_async = inspect.iscoroutinefunction(function)

    def context(self) -> LambdaContext:
        return LambdaContext.start("batchmap-tune", timeout_s=self.timeout_s, memory_mb=self.memory_mb)

    def __call__(self, event: dict[str, Any], n: int) -> None:
        try:
            result = self.function(event, self.context())
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
        except Exception as exc:
            raise MeasurementError(
                f"handler {self.name!r} raised {type(exc).__name__}: {exc} on a sample batch of {n} records",
                batch_size=n,
            ) from exc

    def concurrently(self, events: list[dict[str, Any]], n: int, pool: ThreadPoolExecutor) -> None:
        if self.is_async:

            async def gather() -> None:
                await asyncio.gather(*(self.function(e, self.context()) for e in events))

            self._guard(lambda: asyncio.run(gather()), n)
        else:
            futures = [pool.submit(self.function, e, self.context()) for e in events]
            self._guard(lambda: [f.result() for f in futures], n)

    def _guard(self, action: Callable[[], object], n: int) -> None:
        try:
            action()
        except Exception as exc:
            raise MeasurementError(
                f"handler {self.name!r} raised {type(exc).__name__}: {exc} on a sample batch of {n} records",
                batch_size=n,
            ) from exc


async def _await(result: Any) -> None:
    await result


def _time_sizes(
    call: _Caller, samples: SampleEvents, sizes: tuple[int, ...], c: int, plan: MeasurePlan
) -> list[Sample]:
    """Warm up at each size, then time ``repeats`` rounds over all sizes (interleaved against drift)."""
    out: list[Sample] = []
    with ThreadPoolExecutor(max_workers=c) as pool:
        for n in sizes:
            for _ in range(plan.warmup):
                _run(call, samples, n, c, pool)
        for _ in range(plan.repeats):
            for n in sizes:
                wall, cpu = _run(call, samples, n, c, pool)
                out.append(Sample(n, c, wall, cpu))
    return out


def _run(
    call: _Caller, samples: SampleEvents, n: int, c: int, pool: ThreadPoolExecutor
) -> tuple[float, float]:
    event = samples.event(n)
    slices = _split(samples, event, c) if c > 1 else []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if c > 1:
        call.concurrently(slices, n, pool)
    else:
        call(event, n)
    return time.perf_counter() - wall0, time.process_time() - cpu0


def _split(samples: SampleEvents, event: dict[str, Any], c: int) -> list[dict[str, Any]]:
    """``c`` events holding the records of ``event`` dealt out in turn."""
    if samples.shape == "kafka":
        ((key, records),) = event["records"].items()
        meta = {k: v for k, v in event.items() if k != "records"}
        return [{**meta, "records": {key: records[i::c]}} for i in range(c)]
    return [{"Records": event["Records"][i::c]} for i in range(c)]


def _speedups(slope_1: float, extra: list[Sample]) -> tuple[tuple[int, float], ...]:
    """S(c) = t1 / (slope of wall time against n when c slices run at once)."""
    out: list[tuple[int, float]] = []
    for c in sorted({s.concurrency for s in extra}):
        points = [s for s in extra if s.concurrency == c]
        if len({s.batch_size for s in points}) < 2:
            continue
        slope_c = fit_line([s.batch_size for s in points], [s.wall_s for s in points]).slope
        if slope_c > 0 and slope_1 > 0:
            out.append((c, slope_1 / slope_c))
    return tuple(out)


def _trace_memory(call: _Caller, samples: SampleEvents, sizes: tuple[int, ...]) -> LinearFit | None:
    """Peak Python allocation (MB) while handling one batch, against n."""
    picks = sorted({sizes[0], sizes[len(sizes) // 2], sizes[-1]})
    peaks: list[float] = []
    for n in picks:
        event = samples.event(n)
        tracemalloc.start()
        try:
            call(event, n)
            peaks.append(tracemalloc.get_traced_memory()[1] / MiB)
        finally:
            tracemalloc.stop()
    return fit_line([float(n) for n in picks], peaks) if len(picks) >= 2 else None


_COLD_SCRIPT = """
import importlib, json, resource, sys, time
t = time.perf_counter()
module = importlib.import_module(sys.argv[1])
target = module
for name in sys.argv[2].split("."):
    target = getattr(target, name)
elapsed = time.perf_counter() - t
try:  # this interpreter's own peak: ru_maxrss keeps the parent's peak across fork and exec on Linux
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_s": elapsed, "rss_kb": rss}))
"""


def cold_start(handler: str, code_path: str | None = None, runs: int = 3) -> ColdStart:
    """INIT time of ``handler`` in fresh interpreters: the median of ``runs`` start-ups and imports."""
    ref = parse_handler(handler)
    paths = [os.path.abspath(code_path or os.getcwd()), *[p for p in sys.path if p]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    bare, imports, rss = [], [], []
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True, capture_output=True)
        bare.append(time.perf_counter() - started)
        done = subprocess.run(
            [sys.executable, "-c", _COLD_SCRIPT, ref.module, ref.attribute],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise MeasurementError(f"handler {handler!r}: a fresh interpreter could not import it: {tail[0]}")
        data = json.loads(done.stdout.strip().splitlines()[-1])
        imports.append(float(data["import_s"]))
        rss.append(float(data["rss_kb"]) / 1024.0)
    return ColdStart(statistics.median(bare), statistics.median(imports), statistics.median(rss))


def _share(part: float, whole: float) -> float:
    if whole <= 0 or not math.isfinite(part):
        return 0.0
    return min(1.0, max(0.0, part / whole))
