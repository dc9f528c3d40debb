"""Prices, arrivals, sample events, fits and the settings' validation: inputs the tuner must get right."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from batchmap.errors import ConfigError, MeasurementError, UnknownEventSourceError
from batchmap.tuning import (
    ArrivalSpec,
    Candidate,
    HandlerProfile,
    Workload,
    aws_rule_violations,
    default_prices_path,
    fit_contention,
    fit_line,
    generate,
    load_prices,
    read_trace,
    samples_from,
)
from batchmap.tuning.arrivals import observed_rate

SQS_RECORD = {
    "messageId": "m-1",
    "receiptHandle": "rh",
    "body": "x" * 100,
    "attributes": {},
    "messageAttributes": {},
    "md5OfBody": "0",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
    "awsRegion": "us-east-1",
}
KINESIS_RECORD = {
    "kinesis": {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "k",
        "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
        "data": "SGVsbG8gV29ybGQ=",
        "approximateArrivalTimestamp": 1545084650.987,
    },
    "eventSource": "aws:kinesis",
    "eventVersion": "1.0",
    "eventID": "shardId-000000000006:1",
    "eventName": "aws:kinesis:record",
    "invokeIdentityArn": "arn:aws:iam::1:role/r",
    "awsRegion": "us-east-1",
    "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/s",
}


def test_shipped_prices_are_the_reference_us_east_1_figures() -> None:
    prices = load_prices()
    assert prices.request == 2e-7
    assert prices.gb_second("x86_64") == 0.0000166667
    assert prices.gb_second("arm64") == 0.0000133334
    assert prices.sqs.standard_request == 4e-7 and prices.sqs.fifo_request == 5e-7
    assert prices.sqs.chunk_bytes == 65536
    assert prices.kinesis.shard_hour == 0.015
    assert default_prices_path().name == "prices.toml"


def test_tiers_blend_the_monthly_price() -> None:
    prices = load_prices()
    # 10 billion GB-s on x86: 6 billion at tier 1, 4 billion at tier 2.
    blended = prices.gb_second("x86_64", 10e9)
    assert blended == pytest.approx((6e9 * 0.0000166667 + 4e9 * 0.000015) / 10e9)
    assert prices.gb_second("x86_64", 20e9) < blended


def test_a_user_price_file_overrides_and_bad_values_name_the_field(tmp_path: Path) -> None:
    text = default_prices_path().read_text().replace("request = 0.0000002", "request = 0.0000003")
    custom = tmp_path / "prices.toml"
    custom.write_text(text)
    assert load_prices(custom).request == 3e-7
    custom.write_text(text.replace("shard_hour = 0.015", 'shard_hour = "cheap"'))
    with pytest.raises(ConfigError) as raised:
        load_prices(custom)
    assert raised.value.parameter == "kinesis.shard_hour" and raised.value.value == "cheap"
    with pytest.raises(ConfigError, match="--prices"):
        load_prices(tmp_path / "missing.toml")


@pytest.mark.parametrize("kind", ["poisson", "bursty", "daily"])
def test_arrivals_are_sorted_and_keep_the_mean_rate(kind: str) -> None:
    spec = ArrivalSpec(
        kind=kind, rate=40.0, horizon_s=20_000.0, burst_factor=4.0, burst_s=5.0, period_s=2_000.0
    )  # type: ignore[arg-type]
    times = generate(spec, seed=2)
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] <= spec.horizon_s
    assert times.size / spec.horizon_s == pytest.approx(40.0, rel=0.05)


def test_bursty_and_daily_shapes() -> None:
    bursty = generate(
        ArrivalSpec(kind="bursty", rate=10.0, horizon_s=5_000.0, burst_factor=10.0, burst_s=2.0), seed=1
    )
    counts = np.bincount(bursty.astype(int), minlength=5_000)
    assert (counts == 0).mean() > 0.7  # silent most seconds
    assert counts.max() > 60  # bursts at ~100 records/s
    daily = generate(
        ArrivalSpec(kind="daily", rate=10.0, horizon_s=1_000.0, amplitude=0.8, period_s=1_000.0), seed=1
    )
    night = ((daily < 100) | (daily > 900)).sum()
    noon = ((daily > 400) & (daily < 600)).sum()
    assert noon > 4 * night


def test_trace_files(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("# ms since epoch\n1700000000500,a\n1700000000000\n\n1700000002000\n")
    times = read_trace(trace, "ms")
    assert times.tolist() == [0.0, 0.5, 2.0]
    assert observed_rate(times) == pytest.approx(1.5)
    trace.write_text("1\nlater\n")
    with pytest.raises(ConfigError) as raised:
        read_trace(trace)
    assert raised.value.parameter == "trace line 2"
    with pytest.raises(ConfigError, match="trace_path"):
        ArrivalSpec(kind="trace")


def test_sample_events_copy_records_with_their_own_identity() -> None:
    samples = samples_from({"Records": [SQS_RECORD]})
    event = samples.event(25)
    ids = [r["messageId"] for r in event["Records"]]
    assert len(set(ids)) == 25 and all(r["body"] == "x" * 100 for r in event["Records"])
    assert samples.record_bytes == 100
    assert samples.envelope_bytes == len(json.dumps(SQS_RECORD, separators=(",", ":"))) - 100
    kinesis = samples_from(KINESIS_RECORD)  # one bare record works too
    seqs = [int(r["kinesis"]["sequenceNumber"]) for r in kinesis.event(3)["Records"]]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert kinesis.record_bytes == len(b"Hello World")
    kafka = samples_from(
        {
            "eventSource": "SelfManagedKafka",
            "bootstrapServers": "b:9092",
            "records": {
                "t-0": [
                    {
                        "topic": "t",
                        "partition": 0,
                        "offset": 5,
                        "timestamp": 1,
                        "timestampType": "CREATE_TIME",
                        "value": "aGk=",
                        "headers": [],
                    }
                ]
            },
        }
    )
    event = kafka.event(4)
    assert [r["offset"] for r in event["records"]["t-0"]] == [0, 1, 2, 3]
    assert event["bootstrapServers"] == "b:9092"


def test_bad_sample_events_say_what_is_wrong() -> None:
    with pytest.raises(UnknownEventSourceError):
        samples_from({"Records": [{"eventSource": "aws:s3"}]})
    with pytest.raises(ConfigError, match="payload field"):
        samples_from({"Records": [{"eventSource": "aws:sqs"}]})
    with pytest.raises(ConfigError):
        samples_from({"Records": []})
    with pytest.raises(ConfigError) as raised:
        samples_from({"Records": [SQS_RECORD]}).event(0)
    assert raised.value.parameter == "batch_size"


def test_fit_line_and_contention() -> None:
    xs = [1, 2, 5, 10, 20, 1, 2, 5, 10, 20]
    ys = [0.02 + 0.002 * x + (0.0001 if i % 2 else -0.0001) for i, x in enumerate(xs)]
    fit = fit_line(xs, ys)
    assert fit.intercept == pytest.approx(0.02, abs=2e-4)
    assert fit.slope == pytest.approx(0.002, abs=2e-5)
    assert 0.99 < fit.r_squared <= 1.0
    assert len(fit.residuals) == 10 and fit.residual_std > 0
    with pytest.raises(MeasurementError):
        fit_line([5, 5], [1.0, 2.0])
    # S(c) = c / (1 + σ(c−1)) with σ = 0.05 at c = 2, 4, 8.
    speedups = [(c, c / (1 + 0.05 * (c - 1))) for c in (2, 4, 8)]
    assert fit_contention(speedups) == pytest.approx(0.05)
    assert fit_contention([]) == 0.0


def test_profile_scales_the_cpu_share_with_memory() -> None:
    profile = HandlerProfile(
        t0_s=0.1, t1_s=0.01, reference_memory_mb=1769, cpu_share_t0=0.5, cpu_share_t1=1.0
    )
    t0, t1 = profile.times_at(512)
    scale = 1769 / 512
    assert t0 == pytest.approx(0.05 + 0.05 * scale)
    assert t1 == pytest.approx(0.01 * scale)
    assert profile.times_at(3008) == profile.times_at(1769)  # single-threaded: no gain past one vCPU
    with pytest.raises(ConfigError) as raised:
        HandlerProfile(t0_s=-1, t1_s=0.01)
    assert raised.value.parameter == "t0"


def test_aws_rules_for_each_source() -> None:
    sqs = Workload(rate=10)
    assert aws_rule_violations(Candidate(10, 0), sqs) == ()
    assert "BatchSize > 10 needs" in aws_rule_violations(Candidate(11, 0), sqs)[0]
    assert aws_rule_violations(Candidate(11, 1), sqs) == ()
    fifo = Workload(rate=10, source="sqs-fifo")
    assert len(aws_rule_violations(Candidate(20, 1), fifo)) == 2  # over 10, and a window
    kinesis = Workload(rate=10, source="kinesis")
    assert aws_rule_violations(Candidate(500, 0), kinesis) == ()  # no window rule for streams
    assert "whole seconds" in aws_rule_violations(Candidate(10, 0.5), kinesis)[0]
    assert (
        aws_rule_violations(Candidate(10, 0.5), Workload(rate=10, source="kinesis", platform="batchmap"))
        == ()
    )
    assert "MaximumConcurrency" in aws_rule_violations(Candidate(10, 1, maximum_concurrency=5), kinesis)[0]
    assert "outside 2-1000" in aws_rule_violations(Candidate(10, 1, maximum_concurrency=1), sqs)[0]
    assert "ParallelizationFactor" in aws_rule_violations(Candidate(10, 1, parallelization_factor=2), sqs)[0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10, "maximum_batching_window_in_seconds": 301}, "maximum_batching_window_in_seconds"),
        ({"batch_size": 10, "memory_size": 64}, "memory_size"),
        ({"batch_size": 10, "architecture": "sparc"}, "architecture"),
    ],
)
def test_bad_candidates_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Candidate(**kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"rate": 1, "source": "sns"}, "source"),
        ({"rate": 1, "producer_batch": 11}, "producer_batch"),
        ({"rate": 1, "source": "kafka", "function_timeout_s": 900}, "function_timeout_s"),
    ],
)
def test_bad_workloads_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Workload(**kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == field


def test_the_price_file_names_its_region_and_a_bad_one_is_named(tmp_path: Path) -> None:
    assert load_prices().region == "us-east-1"
    text = default_prices_path().read_text()
    custom = tmp_path / "mine.toml"
    custom.write_text(text.replace('region = "us-east-1"', 'region = "ap-south-1"'))
    assert load_prices(custom).region == "ap-south-1"
    custom.write_text(text.replace('region = "us-east-1"', ""))
    assert load_prices(custom).region == "unstated (prices from mine.toml)"
    custom.write_text(text.replace('region = "us-east-1"', "region = 7"))
    with pytest.raises(ConfigError) as raised:
        load_prices(custom)
    assert (raised.value.parameter, raised.value.value) == ("region", 7)
