"""``batchmap run`` on Kafka with AWS's flags: a source named in pieces, the pollers' ceiling, a missing topic.

Each run is a real ``batchmap run`` process against the Tansu broker; its function (written into the test's
folder) appends each value it gets, and how many invocations were running when it started, to files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kafka_support import GROUP_SETTINGS, committed, produce, values

FUNCTION = '''
import base64, os, threading, time

_lock = threading.Lock()
_running = 0


def handler(event, context):
    global _running
    with _lock:
        _running += 1
        seen = _running
    try:
        with open(os.environ["SEEN_FILE"], "a") as out:
            out.write(f"{seen}\\n")
        time.sleep(float(os.environ.get("SLEEP_S", "0")))
        with open(os.environ["OUT_FILE"], "a") as out:
            for records in event["records"].values():
                for record in records:
                    out.write(base64.b64decode(record["value"]).decode() + "\\n")
    finally:
        with _lock:
            _running -= 1
'''


def batchmap_run(tmp_path: Path, *flags: str, sleep_s: float = 0.0) -> subprocess.CompletedProcess[str]:
    """``batchmap run`` with the counting function; its consumer takes the tests' short group timings even
    where no URI carries them (``--self-managed-event-source``): else Tansu answers its join after 5 s."""
    (tmp_path / "kafka_counting.py").write_text(FUNCTION)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "OUT_FILE": str(tmp_path / "out.txt"), "SEEN_FILE": str(tmp_path / "seen.txt"), "SLEEP_S": str(sleep_s),
           "BATCHMAP_KAFKA_CLIENT_CONFIG": GROUP_SETTINGS}
    return subprocess.run(
        [sys.executable, "-m", "batchmap", "run", *flags, "--function", "kafka_counting:handler", "--batch-size", "1",
         "--maximum-batching-window-in-seconds", "0", "--invoker", "inprocess", "--until-idle",
         "--log-level", "ERROR"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)


def delivered(tmp_path: Path) -> list[str]:
    return sorted((tmp_path / "out.txt").read_text().split())


def concurrency(tmp_path: Path) -> int:
    return max(int(line) for line in (tmp_path / "seen.txt").read_text().split())


def spread(broker: str, topic: str, partitions: int, per_partition: int) -> list[str]:
    sent: list[str] = []
    for partition in range(partitions):
        batch = values(per_partition, prefix=f"p{partition}-")
        produce(broker, topic, batch, partition=partition)
        sent += [value.decode() for _, value in batch if value is not None]
    return sorted(sent)


def test_self_managed_event_source_topics_and_consumer_group_make_the_source(
        kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path) -> None:
    topic = new_topic()
    sent = spread(kafka_broker, topic, 1, 5)
    endpoints = json.dumps({"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka_broker]}})
    ran = batchmap_run(tmp_path, "--self-managed-event-source", endpoints, "--topics", topic,
                       "--self-managed-kafka-event-source-config", f"ConsumerGroupId={group}")
    assert ran.returncode == 0, ran.stderr
    assert delivered(tmp_path) == sent
    assert committed(kafka_broker, group, topic, 1) == {0: 5}, "the offsets are the named group's"


def test_topics_complete_a_kafka_uri(kafka_broker: str, new_topic: Callable[..., str], group: str,
                                     tmp_path: Path) -> None:
    topic = new_topic()
    sent = spread(kafka_broker, topic, 1, 3)
    ran = batchmap_run(tmp_path, "--source", f"kafka://{kafka_broker}?{GROUP_SETTINGS}", "--topics", topic,
                       "--self-managed-kafka-event-source-config", json.dumps({"ConsumerGroupId": group}))
    assert ran.returncode == 0, ran.stderr
    assert delivered(tmp_path) == sent


def test_maximum_pollers_caps_the_batches_in_flight_across_partitions(
        kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path) -> None:
    """Four partitions, each with its worker: MaximumPollers=2 lets two batches run at once, never three."""
    topic = new_topic(partitions=4)
    sent = spread(kafka_broker, topic, 4, 4)
    ran = batchmap_run(tmp_path, "--source", f"kafka://{kafka_broker}/{topic}?group={group}&{GROUP_SETTINGS}",
                       "--provisioned-poller-config", "MinimumPollers=1,MaximumPollers=2", sleep_s=0.2)
    assert ran.returncode == 0, ran.stderr
    assert delivered(tmp_path) == sent
    assert concurrency(tmp_path) == 2


def test_a_missing_topic_stops_the_run_with_one_line_naming_it(kafka_broker: str, group: str,
                                                               tmp_path: Path) -> None:
    missing = f"no-such-topic-{group}"
    ran = batchmap_run(tmp_path, "--source", f"kafka://{kafka_broker}/{missing}?group={group}&{GROUP_SETTINGS}")
    assert ran.returncode == 1
    errors = [line for line in ran.stderr.splitlines() if line.startswith("batchmap: error:")]
    assert errors == [f"batchmap: error: kafka://{kafka_broker}/{missing}: Subscribe: UNKNOWN_TOPIC_OR_PART: "
                      f"topic '{missing}' does not exist on {kafka_broker}"], ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "out.txt").exists()

