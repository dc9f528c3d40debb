"""The model agrees with the discrete-event simulation: within 5 % on n̄ and 10 % on mean latency.

The grid crosses traffic (5-200 records/s over 1-5 lanes), two handlers (fast:
20 ms + 2 ms/record; slow: 150 ms + 10 ms/record) and batch size / window pairs
from B = 1 to 1000 and W = 0 to 10 s, so it covers the size-bound, window-bound
and idle regimes. Candidates the model calls unstable, or that would run a lane
above 80 % busy (where a short run cannot pin the queueing tail down), are
left out; at least 50 configurations remain. Each is simulated on its own
Poisson arrivals for 400 batches and at least 40,000 records (at most 60,000).
"""

from __future__ import annotations

import itertools

import numpy as np

from batchmap.tuning import Candidate, HandlerProfile, Workload, load_prices, predict, simulate
from batchmap.tuning.arrivals import poisson

PRICES = load_prices()
TRAFFIC = [(5.0, 1), (20.0, 2), (50.0, 1), (50.0, 5), (200.0, 4)]
HANDLERS = [(0.020, 0.002), (0.150, 0.010)]
SETTINGS = [(1, 0), (10, 0), (10, 1), (50, 2), (200, 1), (200, 5), (1000, 10)]
MAX_UTILISATION = 0.8
BATCHES = 400
MIN_RECORDS = 40_000
MAX_RECORDS = 60_000


def _configs(
    source: str, traffic: list[tuple[float, int]]
) -> list[tuple[Workload, HandlerProfile, Candidate]]:
    out = []
    for (rate, lanes), (t0, t1), (b, w) in itertools.product(traffic, HANDLERS, SETTINGS):
        if source == "kafka":
            workload = Workload(rate=rate, source="kafka", lanes=lanes, platform="batchmap")
        else:
            workload = Workload(
                rate=rate, source="kinesis", shards=lanes, poll_interval_s=0.0, platform="batchmap"
            )
        out.append(
            (workload, HandlerProfile(t0_s=t0, t1_s=t1, reference_memory_mb=512), Candidate(b, w, 512))
        )
    return out


def _compare(
    source: str, traffic: list[tuple[float, int]], min_records: int
) -> tuple[int, list[str], float, float]:
    failures, checked, worst_n, worst_lat = [], 0, 0.0, 0.0
    for index, (workload, profile, candidate) in enumerate(_configs(source, traffic)):
        p = predict(profile, workload, candidate, PRICES)
        if not p.stable or p.utilisation > MAX_UTILISATION:
            continue
        cycle = p.mean_batch / p.rate_per_lane
        horizon = min(
            max(BATCHES * cycle / p.lanes, min_records / workload.rate), MAX_RECORDS / workload.rate
        )
        arrivals = poisson(workload.rate, horizon, np.random.default_rng(index))
        sim = simulate(profile, workload, candidate, PRICES, arrivals, seed=index)
        err_n = abs(p.mean_batch / sim.mean_batch - 1)
        err_lat = abs(p.mean_latency_s / sim.mean_latency_s - 1)
        worst_n, worst_lat = max(worst_n, err_n), max(worst_lat, err_lat)
        checked += 1
        if err_n > 0.05 or err_lat > 0.10:
            failures.append(
                f"{workload.rate:g}/s {p.lanes} lanes t0={profile.t0_s} t1={profile.t1_s} "
                f"{candidate.label()} [{p.regime}]: n̄ {p.mean_batch:.3g} vs {sim.mean_batch:.3g}, "
                f"mean {p.mean_latency_s:.3g} vs {sim.mean_latency_s:.3g}"
            )
    return checked, failures, worst_n, worst_lat


def test_model_matches_simulation_over_the_grid() -> None:
    checked, failures, worst_n, worst_lat = _compare("kinesis", TRAFFIC, MIN_RECORDS)
    assert checked >= 50, f"only {checked} configurations in the domain"
    assert not failures, "\n".join(failures)
    print(f"{checked} configurations; worst n̄ error {worst_n:.1%}, worst mean-latency error {worst_lat:.1%}")


def test_kafka_window_from_first_record_matches_simulation() -> None:
    """Kafka's window opens at the first record; the model's variant of §2.3 holds to the same bounds."""
    checked, failures, _, _ = _compare("kafka", TRAFFIC[::2], MIN_RECORDS // 2)
    assert checked >= 25
    assert not failures, "\n".join(failures)
