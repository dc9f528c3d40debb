"""Dollars per million records: Lambda (requests + GB-seconds) and the source's own bill.

The same functions price the model's prediction (one "average" batch of n̄
records) and a simulation's tally (every batch it ran), so the two can only
disagree about batches, never about arithmetic (reference §2.6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchmap.tuning.prices import Architecture, Prices
from batchmap.tuning.workload import Workload

PER_MILLION = 1_000_000
SECONDS_PER_MONTH = 30 * 24 * 3600
RECEIVE_MAX_MESSAGES = 10  # ReceiveMessage and DeleteMessageBatch carry at most 10
LONG_POLL_S = 20.0
GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Cost:
    """Cost per million records, split by who bills it."""

    lambda_usd: float
    source_usd: float
    lambda_floor_usd: float  # what Lambda would cost with infinitely large batches

    @property
    def total_usd(self) -> float:
        return self.lambda_usd + self.source_usd


def monthly_usd(usd_per_million: float, rate: float) -> float:
    """What ``usd_per_million`` comes to over a month (30 days, as the tiers count) at ``rate`` records/s."""
    return usd_per_million * rate * SECONDS_PER_MONTH / PER_MILLION


def billed_seconds(duration_s: float) -> float:
    """Lambda bills duration rounded up to the next millisecond."""
    return math.ceil(round(duration_s * 1000.0, 6)) / 1000.0


def lambda_cost(
    *,
    records: float,
    invocations: float,
    billed_s: float,
    memory_mb: int,
    architecture: Architecture,
    prices: Prices,
    rate: float,
) -> float:
    """Lambda's $ per million records for ``invocations`` that billed ``billed_s`` seconds in total.

    The duration price is the month's blended tier price for the GB-seconds
    this rate would bill.
    """
    gb = memory_mb / 1024.0
    gb_s_per_record = gb * billed_s / records
    gb_second = prices.gb_second(architecture, rate * SECONDS_PER_MONTH * gb_s_per_record)
    return PER_MILLION * (prices.request * invocations / records + gb_second * gb_s_per_record)


def lambda_floor(*, t1_s: float, memory_mb: int, architecture: Architecture, prices: Prices) -> float:
    """1e6 · P_GBs · M · t1/S(c): the part of the cost batching can never remove."""
    return PER_MILLION * prices.gb_second(architecture) * (memory_mb / 1024.0) * t1_s


def sqs_batch_requests(n: float, record_bytes: int, chunk_bytes: int) -> float:
    """ReceiveMessage + DeleteMessageBatch requests for a batch of ``n`` (64 KB chunks billed apart)."""
    calls = math.ceil(n / RECEIVE_MAX_MESSAGES)
    receives = calls * math.ceil(min(RECEIVE_MAX_MESSAGES, n) * record_bytes / chunk_bytes)
    return receives + calls


def sqs_cost(
    *, records: float, batch_requests: float, lanes: int, workload: Workload, prices: Prices
) -> float:
    """SQS $ per million records: producer sends, the pollers' receives and deletes, empty receives."""
    price = prices.sqs.fifo_request if workload.source == "sqs-fifo" else prices.sqs.standard_request
    size, send = workload.record_bytes, workload.producer_batch
    producer = math.ceil(send * size / prices.sqs.chunk_bytes) / send
    lane_rate = workload.rate / lanes
    idle_share = math.exp(-LONG_POLL_S * lane_rate)
    empty = lanes * idle_share * prices.sqs.empty_receives_per_minute / 60.0 / workload.rate
    return PER_MILLION * price * (producer + batch_requests / records + empty)


def kinesis_shards(workload: Workload, prices: Prices) -> int:
    """Shards the rate needs (1,000 rec/s and 1 MB/s in, 2 MB/s out per shard), or more if given."""
    k = prices.kinesis
    rate, size = workload.rate, workload.record_bytes
    needed = max(
        math.ceil(rate / k.shard_ingest_records_per_s),
        math.ceil(rate * size / k.shard_ingest_bytes_per_s),
        math.ceil(rate * size / k.shard_egress_bytes_per_s),
        1,
    )
    return max(needed, workload.shards or 0)


def kinesis_cost(workload: Workload, prices: Prices) -> float:
    """Kinesis $ per million records: shard-hours, PUT payload units and enhanced fan-out."""
    k = prices.kinesis
    shards, consumers = kinesis_shards(workload, prices), workload.efo_consumers
    hourly = k.shard_hour * shards + k.efo_consumer_shard_hour * shards * consumers
    per_record = hourly / (3600.0 * workload.rate)
    per_record += k.put_payload_unit * math.ceil(workload.record_bytes / k.put_unit_bytes)
    per_record += consumers * k.efo_gb * workload.record_bytes / GIB
    return PER_MILLION * per_record


def source_cost(
    *, records: float, batch_requests: float, lanes: int, workload: Workload, prices: Prices
) -> float:
    """The source's $ per million records (DynamoDB Streams and Kafka bill nothing per record)."""
    if workload.is_sqs:
        return sqs_cost(
            records=records, batch_requests=batch_requests, lanes=lanes, workload=workload, prices=prices
        )
    if workload.source == "kinesis":
        return kinesis_cost(workload, prices)
    return 0.0
