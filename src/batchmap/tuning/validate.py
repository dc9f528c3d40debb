"""``batchmap tune --validate``: run the recommended settings on the embedded engine and measure them.

The model's numbers are predictions; this checks them where they can be
checked without AWS. A temporary embedded queue gets Poisson traffic at the
workload's rate, the engine runs the recommended ``BatchSize`` and window with
the measured handler (or, with stated timings, a function that sleeps
t0 + t1·n), and the measured p99 and invocations per record are printed beside
what the tuner predicts for that engine: the simulator's figures (its lanes
take turns, as the engine's polls do), and the model's beside them (a bound on
the safe side where windows close most batches). Lanes share one queue, as many as
the model's SQS pollers at ``--sqs-pollers 2`` (at least two, more when the
rate needs them), held there with ``ProvisionedPollerConfig`` (minimum =
maximum: the scaler alone would give a lane back after an empty poll, which
the model does not), windows in fractions of a second.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.config.mapping import ProvisionedPollerConfig
from batchmap.engine.service import Engine
from batchmap.errors import ConfigError
from batchmap.sources.sqlite import SqliteQueue, admin
from batchmap.tuning.arrivals import ArrivalSpec, generate
from batchmap.tuning.candidate import Candidate
from batchmap.tuning.edge import edge_horizon_s
from batchmap.tuning.extras import require
from batchmap.tuning.model import Prediction, predict
from batchmap.tuning.prices import Prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.simulate import SimulationResult, simulate
from batchmap.tuning.workload import Workload

WARMUP_SHARE = 0.1
"""The first tenth of the run is left out: the engine starts with empty lanes."""
RUNS_PER_P99 = 4.0
"""A validation lasts at least this many predicted p99s."""
SEND_TICK_S = (0.001, 0.005)
"""The traffic is sent at most every 1-5 ms (``send_tick``), what fell due meanwhile in one transaction, on one
connection kept open: a connection and a transaction per message would take the engine's CPU at hundreds of
records/s."""
SEND_BUNCHED = 0.05
"""The share of records the tick may send together with the one before (``send_tick``)."""
ENGINE_POLLERS = 2
"""Lanes the engine's scaler starts with: the model's SQS pollers for the embedded queue."""
SETTLE_POLL_S = 0.05
"""After the traffic, how often to look whether the measured batches have all finished."""
_SENT_SLACK_S = 0.01
"""A send that began this long after the measured seconds may still stamp its records inside them
(``SentTimestamp`` is in whole milliseconds): its records are waited for too."""

_done: list[tuple[list[float], float]] = []
_finished_ids: set[str] = set()
_lock = threading.Lock()


def finished(event: dict[str, Any], result: Any = None) -> None:
    """Called by the wrapped handler when a batch succeeded: each record's send time, and now.

    ``result`` is the handler's response: the records it reports failed are not done (they come back).
    """
    now = time.time()
    sent = [int(r["attributes"]["SentTimestamp"]) / 1000 for r in event["Records"]]
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    failed = {str(f.get("itemIdentifier")) for f in failures or () if isinstance(f, dict)}
    with _lock:
        _done.append((sent, now))
        _finished_ids.update(i for i in (str(r["messageId"]) for r in event["Records"]) if i not in failed)


@dataclass(frozen=True, slots=True)
class Validation:
    """The prediction and what the engine did, over the batches that opened in the measured seconds after the
    warm-up (the traffic goes on past them until those batches have closed)."""

    candidate: Candidate
    lanes: int
    rate: float
    seconds: float
    records: int
    invocations: int
    predicted: Prediction
    measured_p99_s: float
    measured_mean_batch: float
    p99_interval_s: tuple[float, float | None]
    """95 % interval of the measured p99 (``None`` above: past the slowest record measured)."""
    same_batch: float = 0.0
    """The share of records (in send order) that went to the same batch as the one before: how the lanes were
    dealt the traffic (two lanes taking turns: a few %; dealt at random: about half)."""
    simulated: SimulationResult | None = None
    """The simulator's run of the engine; the prediction when present (``--no-simulate``: the model's)."""

    @property
    def predicted_p99_s(self) -> float:
        return self.simulated.p99_latency_s if self.simulated is not None else self.predicted.p99_latency_s

    @property
    def predicted_invocations_per_record(self) -> float:
        mean = self.simulated.mean_batch if self.simulated is not None else self.predicted.mean_batch
        return 1.0 / mean

    @property
    def measured_invocations_per_record(self) -> float:
        return self.invocations / self.records if self.records else math.inf

    def lines(self) -> list[str]:
        p99, per = self.predicted_p99_s, self.predicted_invocations_per_record
        return [
            f"validation on the embedded engine: BatchSize {self.candidate.batch_size}, window "
            f"{self.candidate.window_s:g} s, {self.lanes} lane(s), Poisson {self.rate:g} records/s for "
            f"{self.seconds:g} s ({self.records} records measured)",
            f"  p99 latency:             predicted {p99:.3f} s{self._model_p99()}, measured "
            f"{self.measured_p99_s:.3f} s ({_diff(self.measured_p99_s, p99)}; 95 % interval {self._interval()})",
            f"  invocations per record:  predicted {per:.4f}, measured {self.measured_invocations_per_record:.4f} "
            f"({_diff(self.measured_invocations_per_record, per)})",
        ]

    def _model_p99(self) -> str:
        if self.simulated is None:
            return " (model)"
        return f" (simulated; model {self.predicted.p99_latency_s:.3f} s)"

    def _interval(self) -> str:
        low, high = self.p99_interval_s
        return f"{low:.3f}-{high:.3f} s" if high is not None else f"{low:.3f} s to beyond the slowest record"


def p99_interval(latencies: Sequence[float]) -> tuple[float, float | None]:
    """95 % interval of the p99 of ``latencies``, from the order statistics (the binomial count of records
    above the true p99, normal approximation): a p99 of a few hundred records rests on its few slowest."""
    ordered = sorted(latencies)
    n = len(ordered)
    spread = 1.96 * math.sqrt(n * 0.99 * 0.01)
    low, high = math.floor(0.99 * n - spread), math.ceil(0.99 * n + spread)
    return ordered[max(0, min(n - 1, low))], ordered[high] if high < n else None


def _diff(measured: float, predicted: float) -> str:
    return f"{100 * (measured / predicted - 1):+.1f} %" if predicted > 0 else "n/a"


def engine_workload(workload: Workload) -> Workload:
    """The workload as the embedded engine runs it: two pollers to start, fractional windows, no 20 s idle wait."""
    return replace(workload, source="sqs", sqs_pollers=ENGINE_POLLERS, platform="batchmap", sqs_idle_wait_s=0.0,
                   poll_interval_s=0.0)


def engine_prediction(profile: HandlerProfile, workload: Workload, candidate: Candidate, prices: Prices) -> Prediction:
    """What the model predicts for the embedded engine."""
    return predict(profile, engine_workload(workload), replace(candidate, maximum_concurrency=None), prices)


def engine_simulation(profile: HandlerProfile, workload: Workload, candidate: Candidate, prices: Prices,
                      predicted: Prediction, seed: int) -> SimulationResult:
    """What the simulator predicts for the embedded engine: steady Poisson arrivals, as long as an edge run."""
    engine = engine_workload(workload)
    horizon = edge_horizon_s(engine, predicted.mean_batch)
    times = generate(ArrivalSpec(rate=engine.rate, horizon_s=horizon), seed=seed)
    return simulate(profile, engine, replace(candidate, maximum_concurrency=None), prices, times, seed=seed)


def validate(
    function: tuple[str, str | None] | None,
    profile: HandlerProfile,
    workload: Workload,
    candidate: Candidate,
    prices: Prices,
    seconds: float,
    *,
    body: str = "{}",
    seed: int = 0,
    simulated: bool = True,
) -> Validation:
    """Run ``candidate`` on a temporary embedded queue for ``seconds`` of traffic and measure it.

    ``function`` is the handler (``module:callable``, code folder); ``None`` runs a
    function that sleeps the profile's t0 + t1·n at its reference memory. ``simulated``
    (the default) predicts with the simulator, else with the model alone.
    """
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError("--validate", seconds, "seconds of traffic, greater than 0")
    predicted = engine_prediction(profile, workload, candidate, prices)
    if not predicted.stable:
        raise ConfigError("--validate", seconds, f"a stable recommendation (the engine's is {predicted.regime})")
    needed = RUNS_PER_P99 * predicted.p99_latency_s
    if seconds < needed:  # fewer, and only the quicker, batches would finish inside the run: a biased p99
        raise ConfigError("--validate", seconds, f"at least {math.ceil(needed)} seconds ({RUNS_PER_P99:g} times the "
                          f"predicted p99 of {predicted.p99_latency_s:.3g} s)")
    sim = engine_simulation(profile, workload, candidate, prices, predicted, seed) if simulated else None
    result = asyncio.run(_run(function, profile, candidate, predicted, workload.rate, seconds, body, seed))
    return replace(result, simulated=sim)


async def _run(function: tuple[str, str | None] | None, profile: HandlerProfile, candidate: Candidate,
               predicted: Prediction, rate: float, seconds: float, body: str, seed: int) -> Validation:
    require("numpy")  # missing, it fails here: before the engine starts
    folder = Path(tempfile.mkdtemp(prefix="batchmap-validate-"))
    uri = f"sqlite:///{folder}/validate.db?queue=validate"
    admin.create_queue(uri)
    module = _wrapper(folder, function, profile)
    lanes = max(ENGINE_POLLERS, predicted.lanes)
    mapping = EventSourceMapping(
        source=uri,
        function=FunctionConfig(f"{module}:handler", timeout_s=max(3.0, math.ceil(predicted.timeout_s)),
                                code_path=str(folder)),
        batch_size=candidate.batch_size,
        maximum_batching_window_in_seconds=candidate.window_s,
        # exactly the model's lanes: on its own the scaler gives a lane back after an empty poll
        provisioned_poller_config=ProvisionedPollerConfig(minimum_pollers=lanes, maximum_pollers=lanes),
    )
    with _lock:
        _done.clear()
        _finished_ids.clear()
    engine = Engine([mapping], invoker="inprocess")
    running = asyncio.create_task(engine.run())
    sends: list[tuple[float, list[str]]] = []
    start = await send_poisson(uri, rate, seconds + _tail(predicted), body, seed, sends=sends)
    end = start + seconds + _SENT_SLACK_S
    await _until_finished({i for began, ids in sends if began < end for i in ids},
                          2.0 + 2.0 * predicted.p99_latency_s)
    engine.stop()
    await running
    return _measure(candidate, lanes, rate, seconds, start, predicted)


async def _until_finished(ids: set[str], patience_s: float) -> None:
    """Wait until every record of ``ids`` is in a batch that succeeded, or ``patience_s`` has passed.

    The measured batches are those that opened in the measured seconds; once their records are all in,
    nothing later changes the measurement, so the run stops then instead of after a fixed pause. A batch
    that failed never comes in: the patience ends the wait, as the fixed pause did.
    """
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        with _lock:
            if ids <= _finished_ids:
                return
        await asyncio.sleep(SETTLE_POLL_S)


def _tail(predicted: Prediction) -> float:
    """How long the traffic goes on after the measured ``seconds``: the batches opened in them close as they
    would in a steady run (when it stopped with them, they waited out their window with nothing more to
    take: the last batches ran short, and their records' latency was the whole window)."""
    return 1.0 + 2.0 * predicted.p99_latency_s


def send_tick(rate: float) -> float:
    """The shortest pause between two sends: records due within it go in one transaction, and one receive takes
    them together, to one lane. About 1 − e^(−rate·tick) of Poisson records fall within one tick (5 ms: 22 % at
    50 records/s); the tick keeps that near ``SEND_BUNCHED`` from 10 records/s down, within ``SEND_TICK_S``.
    Above 50 records/s batches are large and fill on their size."""
    low, high = SEND_TICK_S
    return min(high, max(low, SEND_BUNCHED / rate))


async def send_poisson(uri: str, rate: float, seconds: float, body: str, seed: int, *,
                       sends: list[tuple[float, list[str]]] | None = None) -> float:
    """Poisson traffic at ``rate`` records/s to an embedded queue for ``seconds``; returns when it started.

    One connection, kept open, and what fell due meanwhile in one transaction at most every
    ``send_tick(rate)``: the engine under test shares the process, and must not pay for the load.
    ``sends`` gets, for each send, when it began and the ids of its messages (to wait for them).
    """
    np = require("numpy")
    # No fsync per send: a send that waited for one held the file's write lock, so a receive behind it took the
    # records of several sends at once, to one lane (20-32 % went to the same batch as the one before at 50/s).
    producer = await SqliteQueue.open(f"{uri}&synchronous=NORMAL")
    try:
        start = time.time()
        gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=int(rate * seconds * 1.5) + 10)
        due = start + np.cumsum(gaps)
        sent, tick = 0, send_tick(rate)
        while sent < due.size and due[sent] - start < seconds:
            await asyncio.sleep(max(tick, float(due[sent]) - time.time()))
            began = time.time()
            upto = max(int(np.searchsorted(due, began, side="right")), sent + 1)
            ids = await producer.send([body] * (upto - sent))
            if sends is not None:
                sends.append((began, ids))
            sent = upto
    finally:
        await producer.close()
    return start


def _measure(candidate: Candidate, lanes: int, rate: float, seconds: float, start: float,
             predicted: Prediction) -> Validation:
    np = require("numpy")
    warm, end = start + WARMUP_SHARE * seconds, start + seconds
    with _lock:  # the batches that opened in the measured seconds (after the warm-up), whole
        batches = [(s, f) for s, f in _done if s and warm <= min(s) < end]
    latencies = np.array([f - t for s, f in batches for t in s])
    records = int(latencies.size)
    if not records:
        raise ConfigError("--validate", seconds, "long enough for batches after the warm-up")
    return Validation(candidate, lanes, rate, seconds, records, len(batches), predicted,
                      float(np.percentile(latencies, 99)), records / len(batches),
                      p99_interval(latencies.tolist()), _same_batch(batches))


def _same_batch(batches: list[tuple[list[float], float]]) -> float:
    """The share of records, in send order, that went to the same batch as the one before."""
    ordered = sorted((t, k) for k, (sent, _) in enumerate(batches) for t in sent)
    pairs = len(ordered) - 1
    return sum(1 for a, b in itertools.pairwise(ordered) if a[1] == b[1]) / pairs if pairs else 0.0


def _wrapper(folder: Path, function: tuple[str, str | None] | None, profile: HandlerProfile) -> str:
    """A module in ``folder`` whose ``handler`` runs the function and reports each batch's success."""
    name = f"batchmap_validate_{id(folder):x}"
    if function is None:
        t0, t1 = profile.times_at(profile.reference_memory_mb)
        inner = (f"async def _inner(event, context):\n"
                 f"    await asyncio.sleep({t0!r} + {t1!r} * len(event['Records']))\n")
    else:
        handler, code_path = function
        if code_path:
            sys.path.insert(0, str(Path(code_path).resolve()))
        module, _, attr = handler.partition(":") if ":" in handler else handler.rpartition(".")
        inner = f"_inner = getattr(importlib.import_module({module!r}), {attr!r})\n"
    (folder / f"{name}.py").write_text(
        "import asyncio\nimport importlib\nimport inspect\n\nfrom batchmap.tuning.validate import finished\n\n"
        + inner
        + "\n\nif inspect.iscoroutinefunction(_inner):\n"
        "    async def handler(event, context):\n"
        "        result = await _inner(event, context)\n"
        "        finished(event, result)\n"
        "        return result\n"
        "else:\n"
        "    def handler(event, context):\n"
        "        result = _inner(event, context)\n"
        "        finished(event, result)\n"
        "        return result\n",
        encoding="utf-8",
    )
    return name


def sample_body(samples: Any) -> str:
    """A message body like the sample's first record (SQS ``body``), else ``{}``."""
    records = getattr(samples, "records", ())
    if records and isinstance(records[0].get("body"), str):
        return str(records[0]["body"])
    return json.dumps({})
