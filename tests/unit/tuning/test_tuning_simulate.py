"""The simulator drives the engine's own Batcher on simulated time and measures what happens."""

from __future__ import annotations

import numpy as np
import pytest

from batchmap.engine import batcher as batcher_module
from batchmap.errors import ConfigError
from batchmap.tuning import (
    ArrivalSpec,
    Candidate,
    HandlerProfile,
    Workload,
    generate,
    load_prices,
    predict,
    simulate,
)
from batchmap.tuning.arrivals import poisson

PRICES = load_prices()
FAST = HandlerProfile(t0_s=0.020, t1_s=0.002, reference_memory_mb=512)
ONE_LANE = Workload(rate=20.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")


def test_every_record_goes_through_the_engine_batcher(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"records": 0, "poll": 0}
    within_many = [False]  # add_many may call add per record: count those records once
    original_add, original_poll = batcher_module.Batcher.add, batcher_module.Batcher.poll
    original_many = batcher_module.Batcher.add_many

    def add(self, item, size, now):  # type: ignore[no-untyped-def]
        calls["records"] += 0 if within_many[0] else 1
        return original_add(self, item, size, now)

    def add_many(self, items, sizes, now):  # type: ignore[no-untyped-def]
        calls["records"] += len(items)
        within_many[0] = True
        try:
            return original_many(self, items, sizes, now)
        finally:
            within_many[0] = False

    def poll(self, now):  # type: ignore[no-untyped-def]
        calls["poll"] += 1
        return original_poll(self, now)

    monkeypatch.setattr(batcher_module.Batcher, "add", add)
    monkeypatch.setattr(batcher_module.Batcher, "add_many", add_many)
    monkeypatch.setattr(batcher_module.Batcher, "poll", poll)
    arrivals = poisson(20.0, 100.0, np.random.default_rng(0))
    sim = simulate(FAST, ONE_LANE, Candidate(10, 1.0, 512), PRICES, arrivals, keep_runs=True)
    assert calls["records"] == arrivals.size
    assert calls["poll"] == sum(1 for r in sim.runs if r.reason == "window")
    assert sum(r.size for r in sim.runs) == arrivals.size  # nothing lost, nothing counted twice


def test_b1_w0_is_an_m_d_1_queue() -> None:
    """Pollaczek–Khinchine: mean wait ρ/(1−ρ)·D/2 for deterministic service D (ρ = 0.5 here)."""
    profile = HandlerProfile(t0_s=0.09, t1_s=0.01)
    workload = Workload(rate=5.0, source="kinesis", shards=1, poll_interval_s=0.0)
    expected = 0.5 / 0.5 * 0.1 / 2 + 0.1
    assert predict(profile, workload, Candidate(1, 0), PRICES).mean_latency_s == pytest.approx(expected)
    sim = simulate(
        profile, workload, Candidate(1, 0), PRICES, poisson(5.0, 20_000.0, np.random.default_rng(4))
    )
    assert sim.mean_latency_s == pytest.approx(expected, rel=0.03)
    assert sim.close_reasons == {"size": sim.batches}


def test_payload_cap_closes_batches_as_the_model_predicts() -> None:
    """600 KB SQS messages: 6 MB holds 10 of them, whatever BatchSize says."""
    workload = Workload(rate=20.0, source="sqs", record_bytes=600_000, sqs_pollers=2, platform="batchmap")
    p = predict(FAST, workload, Candidate(100, 2.0), PRICES)
    assert (p.batch_cap, p.cap_reason) == (10, "payload")
    sim = simulate(
        FAST, workload, Candidate(100, 2.0), PRICES, poisson(20.0, 600.0, np.random.default_rng(1))
    )
    assert sim.close_reasons.get("payload", 0) > 0
    assert sim.mean_batch <= 10.0
    assert sim.mean_batch == pytest.approx(p.mean_batch, rel=0.05)
    # 600 KB is 10 chunks of 64 KB: each ReceiveMessage of 10 such messages bills 10 requests.
    assert (
        p.cost.source_usd
        > 10
        * predict(
            FAST,
            Workload(rate=20.0, source="sqs", record_bytes=1000, sqs_pollers=2),
            Candidate(10, 2.0),
            PRICES,
        ).cost.source_usd
        / 2
    )


def test_kafka_window_opens_at_the_first_record() -> None:
    """At 1 record/s with W = 5 s, Kafka's window opens on a record, SQS's on the lane being ready."""
    arrivals = poisson(1.0, 20_000.0, np.random.default_rng(2))
    kafka = Workload(rate=1.0, source="kafka", platform="batchmap")
    sqs = Workload(rate=1.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")
    k = simulate(FAST, kafka, Candidate(100, 5.0), PRICES, arrivals)
    s = simulate(FAST, sqs, Candidate(100, 5.0), PRICES, arrivals)
    assert k.mean_batch == pytest.approx(
        predict(FAST, kafka, Candidate(100, 5.0), PRICES).mean_batch, rel=0.05
    )
    assert s.mean_batch == pytest.approx(predict(FAST, sqs, Candidate(100, 5.0), PRICES).mean_batch, rel=0.05)
    assert k.mean_batch == pytest.approx(6.0, rel=0.05)  # the opener plus 5 s of arrivals
    assert s.mean_batch < k.mean_batch


def test_bursts_above_lane_capacity_build_a_backlog_the_steady_formulas_cannot_see() -> None:
    """Same mean rate; bursts at 400 records/s exceed the lane's 250/s (B = 10 in 40 ms) and queue up."""
    workload = Workload(rate=20.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")
    candidate = Candidate(10, 1.0)
    model = predict(FAST, workload, candidate, PRICES)
    steady = simulate(
        FAST, workload, candidate, PRICES, generate(ArrivalSpec(rate=20.0, horizon_s=3000.0), seed=3)
    )
    bursty = simulate(
        FAST,
        workload,
        candidate,
        PRICES,
        generate(
            ArrivalSpec(kind="bursty", rate=20.0, horizon_s=3000.0, burst_factor=20.0, burst_s=5.0), seed=3
        ),
    )
    assert steady.p99_latency_s == pytest.approx(model.p99_latency_s, rel=0.2)
    assert bursty.p99_latency_s > 3 * steady.p99_latency_s
    assert bursty.mean_latency_s > 3 * steady.mean_latency_s


def test_cold_starts_and_jitter_are_simulated() -> None:
    profile = HandlerProfile(t0_s=0.02, t1_s=0.002, init_s=0.5, cold_start_rate=0.2, duration_cv=0.3)
    arrivals = poisson(20.0, 1000.0, np.random.default_rng(7))
    sim = simulate(profile, ONE_LANE, Candidate(10, 1.0), PRICES, arrivals, keep_runs=True)
    durations = np.array([r.duration_s for r in sim.runs])
    assert (durations > 0.45).mean() == pytest.approx(0.2, abs=0.05)
    warm = np.array([r.duration_s / (0.02 + 0.002 * r.size) for r in sim.runs if r.duration_s < 0.45])
    assert warm.std() == pytest.approx(0.3, rel=0.25)


def test_same_seed_same_result_and_bad_input() -> None:
    arrivals = poisson(20.0, 200.0, np.random.default_rng(5))
    a = simulate(FAST, ONE_LANE, Candidate(10, 1.0), PRICES, arrivals, seed=9)
    b = simulate(FAST, ONE_LANE, Candidate(10, 1.0), PRICES, arrivals, seed=9)
    assert a == b
    with pytest.raises(ConfigError):
        simulate(FAST, ONE_LANE, Candidate(10, 1.0), PRICES, arrivals[:1])


def test_polled_shards_see_records_at_the_next_poll() -> None:
    """Kinesis polls an idle shard once a second: at W = 0 batches still gather about a second of records,
    and in the size-bound regime each record waits half a poll interval more on average."""
    kinesis = Workload(rate=5.0, source="kinesis", shards=1, platform="batchmap")
    assert kinesis.poll_delay_s == 1.0
    arrivals = poisson(5.0, 8000.0, np.random.default_rng(3))
    sim = simulate(FAST, kinesis, Candidate(100, 0.0), PRICES, arrivals)
    assert sim.mean_batch == pytest.approx(5.0 * 1.0, rel=0.15)
    assert sim.max_latency_s <= 1.0 + FAST.duration(100, 512) + 0.1

    busy = poisson(50.0, 2000.0, np.random.default_rng(4))
    polled = Workload(rate=50.0, source="kinesis", shards=1, platform="batchmap")
    unpolled = Workload(rate=50.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")
    with_polls = simulate(FAST, polled, Candidate(100, 2.0), PRICES, busy)
    without = simulate(FAST, unpolled, Candidate(100, 2.0), PRICES, busy)
    assert with_polls.mean_latency_s - without.mean_latency_s == pytest.approx(0.5, abs=0.1)
    model = predict(FAST, polled, Candidate(100, 2.0), PRICES)  # the model adds half an interval on top
    assert model.mean_latency_s == pytest.approx(with_polls.mean_latency_s, rel=0.05)
