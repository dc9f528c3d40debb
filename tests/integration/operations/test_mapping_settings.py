"""``ProvisionedPollerConfig`` and ``MetricsConfig`` through ``batchmap run``: what the engine does with them.

The pollers' floor and ceiling are seen as the concurrency a handler observes (the in-process invoker runs
each lane's invocation on a thread of the engine, so invocations at once = lanes at work); the metric groups
as the families ``/metrics`` serves.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ops_support import environment, families, free_port, get, queue, start, stop, until

RUN = ("--function", "ops_handlers:counts_concurrency", "--batch-size", "1", "--invoker", "inprocess",
       "--log-level", "WARNING")


def run_until_idle(*args: str, log: Path, sleep_s: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "batchmap", "run", *args, "--until-idle"], capture_output=True,
                          text=True, env=environment(OPS_LOG=str(log), OPS_SLEEP_S=sleep_s), timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def concurrency(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()]


def test_the_lanes_start_at_the_floor(tmp_path: Path) -> None:
    """Four pollers from the start: the first four messages are in the function at once (the default starts at 2)."""
    uri = queue(tmp_path, 8)
    log = tmp_path / "seen.log"
    run_until_idle("--source", uri, *RUN, "--provisioned-poller-config", "MinimumPollers=4,MaximumPollers=4",
                   log=log, sleep_s="0.5")
    seen = concurrency(log)
    assert len(seen) == 8
    assert max(seen) == 4


def test_the_lanes_grow_up_to_the_ceiling_and_never_past_it(tmp_path: Path) -> None:
    """A backlog makes the scaler add lanes (up to 10 by default); MaximumPollers=3 stops it at three."""
    uri = queue(tmp_path, 60)
    log = tmp_path / "seen.log"
    run_until_idle("--source", uri, *RUN, "--provisioned-poller-config", '{"MinimumPollers": 2, "MaximumPollers": 3}',
                   log=log, sleep_s="0.1")
    seen = concurrency(log)
    assert len(seen) == 60
    assert max(seen) == 3, "grew past the floor of 2, and stopped at the ceiling of 3"


def test_provisioned_mode_and_maximum_concurrency_are_refused_together(tmp_path: Path) -> None:
    uri = queue(tmp_path, 3)
    done = subprocess.run([sys.executable, "-m", "batchmap", "run", "--source", uri, *RUN, "--until-idle",
                           "--provisioned-poller-config", "MinimumPollers=2", "--scaling-config",
                           "MaximumConcurrency=5"], capture_output=True, text=True, env=environment(), timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "batchmap: error: ScalingConfig.MaximumConcurrency (--scaling-config): invalid value 5 (not with "
        "ProvisionedPollerConfig (--provisioned-poller-config): in provisioned mode the pollers bound the "
        "concurrency, as AWS requires)"]


EVENT_COUNT = {"batchmap_polled_events_total", "batchmap_filtered_out_events_total", "batchmap_invoked_events_total",
               "batchmap_failed_invoke_events_total", "batchmap_dropped_events_total",
               "batchmap_on_failure_destination_delivered_events_total", "batchmap_deleted_events_total",
               "batchmap_committed_events_total"}
ALWAYS = {"batchmap_invocations_total", "batchmap_errors_total", "batchmap_duration_seconds",
          "batchmap_succeeded_events_total", "batchmap_polling_errors_total", "batchmap_mapping_ready"}


def served(tmp_path: Path, *flags: str) -> tuple[set[str], str]:
    """The families /metrics serves once a run with ``flags`` has invoked the function."""
    uri = queue(tmp_path, 200)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    proc = start("--source", uri, *RUN, *flags, "--metrics-address", f"127.0.0.1:{port}",
                 env=environment(OPS_LOG=str(tmp_path / "seen.log"), OPS_SLEEP_S="0.05"))
    try:
        text = until("an invocation", lambda: (t := get(url)[2]) and re.search(
            r"^batchmap_invocations_total\{.*\} [1-9]", t, re.M) and t, proc)
    finally:
        code, _, err = stop(proc)
    assert code == 0, err[-3000:]
    return families(text), text


def test_metrics_config_event_count_publishes_the_group(tmp_path: Path) -> None:
    names, _ = served(tmp_path, "--metrics-config", "Metrics=EventCount")
    assert names >= EVENT_COUNT | ALWAYS


def test_metrics_config_without_event_count_leaves_the_group_out(tmp_path: Path) -> None:
    names, text = served(tmp_path, "--metrics-config", '{"Metrics": []}')
    assert not EVENT_COUNT & names
    assert names >= ALWAYS
    assert "PolledEventCount" not in text


def test_without_metrics_config_every_group_is_served(tmp_path: Path) -> None:
    names, _ = served(tmp_path)
    assert names >= EVENT_COUNT | ALWAYS


def test_kafka_groups_are_refused_on_a_queue(tmp_path: Path) -> None:
    uri = queue(tmp_path, 1)
    done = subprocess.run([sys.executable, "-m", "batchmap", "run", "--source", uri, *RUN, "--until-idle",
                           "--metrics-config", "Metrics=EventCount,KafkaMetrics"], capture_output=True, text=True,
                          env=environment(), timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "batchmap: error: MetricsConfig.Metrics (--metrics-config): invalid value 'KafkaMetrics' (one of "
        "EventCount for SQS queues (ErrorCount and KafkaMetrics are for Kafka topics))"]
