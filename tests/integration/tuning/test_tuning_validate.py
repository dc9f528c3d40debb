"""``batchmap tune --validate``: the recommendation run on the embedded engine, measured beside the prediction."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from batchmap.errors import ConfigError
from batchmap.tuning import Candidate, HandlerProfile, Workload, load_prices
from batchmap.tuning.validate import send_tick, validate

APPS = Path(__file__).parent / "tuning_apps"


def _figures(output: str, label: str) -> tuple[float, float]:
    found = re.search(rf"{label}:\s+predicted ([0-9.]+)( s)?( \([^)]*\))?, measured ([0-9.]+)", output)
    assert found is not None, output
    return float(found.group(1)), float(found.group(4))


def test_validate_runs_the_measured_handler_on_the_embedded_queue(tmp_path: Path) -> None:
    """One short scenario: the synthetic handler (20 ms + 2 ms·n, measured), 25 records/s, p99 1 s."""
    shutil.copy(APPS / "tune_synthetic.py", tmp_path)
    shutil.copy(APPS / "sqs_order_event.json", tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "batchmap", "tune", "--function", "tune_synthetic:handler",
         "--sample-event", "sqs_order_event.json", "--measure-batch-sizes", "1,10,30", "--repeats", "2",
         "--warmup", "1", "--cold-starts", "0", "--rate", "25", "--latency-p99", "1", "--platform", "batchmap",
         "--sqs-pollers", "2", "--no-simulate", "--out", "report", "--validate", "8"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "validation on the embedded engine" in done.stdout
    assert "s (model), measured" in done.stdout  # --no-simulate: the model's prediction alone
    measured = re.search(r"\((\d+) records measured\)", done.stdout)
    assert measured is not None and int(measured.group(1)) > 100  # about 25/s for 7.2 s after the warm-up: 180
    predicted_p99, measured_p99 = _figures(done.stdout, "p99 latency")
    predicted_per, measured_per = _figures(done.stdout, "invocations per record")
    # The handler really ran the batches: latency at least its own duration, batches no bigger than BatchSize.
    assert 0.02 < measured_p99 < 3 * predicted_p99
    assert 0 < measured_per <= 1
    assert 0.5 * predicted_per < measured_per < 2 * predicted_per


def test_a_run_too_short_for_the_predicted_latency_is_refused_before_anything_runs() -> None:
    profile = HandlerProfile(t0_s=0.005, t1_s=0.0002, reference_memory_mb=512)
    workload = Workload(rate=5.0, platform="batchmap", sqs_pollers=2)
    with pytest.raises(ConfigError) as refused:
        validate(None, profile, workload, Candidate(100, 60.0), load_prices(), 30.0)
    assert refused.value.parameter == "--validate"
    assert "4 times the predicted p99" in str(refused.value)


def test_the_last_batches_of_the_measured_seconds_close_as_in_a_steady_run() -> None:
    """B = 50, W = 5 s at 100 records/s: each of the two lanes fills a batch in about a second. When the traffic
    stopped with the measured seconds, the batches open then waited out their 5 s window with nothing more to
    take: short batches, and a measured p99 of the whole window."""
    profile = HandlerProfile(t0_s=0.005, t1_s=0.0002, reference_memory_mb=512)
    workload = Workload(rate=100.0, platform="batchmap", sqs_pollers=2)
    measured = validate(None, profile, workload, Candidate(50, 5.0), load_prices(), 6.0)
    assert measured.lanes == 2 and measured.records > 400
    assert measured.measured_mean_batch > 45
    assert measured.measured_p99_s < 2.5  # half the window: the last batches did not wait it out
    low, high = measured.p99_interval_s
    assert low <= measured.measured_p99_s and (high is None or measured.measured_p99_s <= high)
    assert "95 % interval" in measured.lines()[1]
    assert measured.simulated is not None and f"model {measured.predicted.p99_latency_s:.3f} s" in measured.lines()[1]


def test_the_send_tick_keeps_records_from_bunching() -> None:
    """Records due within one tick go in one transaction, to one lane: about 1 - e^(-rate·tick) of them."""
    assert send_tick(5.0) == 0.005
    assert send_tick(50.0) == 0.001
    assert send_tick(500.0) == 0.001
    for rate in (1.0, 5.0, 10.0, 50.0):
        assert 1 - math.exp(-rate * send_tick(rate)) <= 0.05


@pytest.mark.measures_time
def test_the_engines_lanes_take_turns_with_the_traffic_sent_one_record_at_a_time() -> None:
    """50 records/s, BatchSize 20, W = 2 s on two lanes, which take turns: a record goes to the poll that has
    waited longest. The sends had waited for an fsync each (holding the file's write lock, so a receive behind
    it took two records at once), on top of a 5 ms tick: 20-32 % of the records went to the same batch as the one
    before, as good as lanes dealt records at random (the simulator: 2 % taking turns, 47 % at random), and the
    measured p99 read 10-13 % over the prediction."""
    profile = HandlerProfile(t0_s=0.005, t1_s=0.0002, reference_memory_mb=512)
    workload = Workload(rate=50.0, platform="batchmap", sqs_pollers=2)
    measured = validate(None, profile, workload, Candidate(20, 2.0), load_prices(), 5.0, simulated=False)
    assert measured.records > 180
    assert measured.same_batch < 0.15
