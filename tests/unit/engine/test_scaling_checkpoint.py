"""Queue scaling steps and the out-of-order checkpoint progress of a shard."""

from __future__ import annotations

from batchmap.engine.checkpoint import Progress
from batchmap.engine.scaling import Scaler, ScalingPolicy


def test_scaler_grows_with_backlog_up_to_the_maximum_and_paces_itself() -> None:
    s = Scaler(ScalingPolicy(maximum=4, minimum=1, step_interval_s=1.0), now=0.0)
    assert s.target == 2
    assert s.saw_backlog(0.5) == 2  # too soon
    assert s.saw_backlog(1.0) == 3
    assert s.saw_backlog(2.0) == 4
    assert s.saw_backlog(3.0) == 4


def test_scaler_shrinks_when_idle_and_on_errors_but_not_below_the_minimum() -> None:
    s = Scaler(ScalingPolicy(maximum=4, minimum=1, step_interval_s=0.0), now=0.0)
    assert s.saw_idle(1.0) == 1
    assert s.saw_idle(2.0) == 1
    s.saw_backlog(3.0)
    assert s.saw_function_error(4.0) == 1


def test_no_back_off_on_errors_with_partial_responses() -> None:
    s = Scaler(ScalingPolicy(maximum=4, minimum=1, step_interval_s=0.0, back_off_on_errors=False), now=0.0)
    assert s.saw_function_error(1.0) == 2


def test_checkpoint_moves_only_past_a_fully_done_prefix() -> None:
    p = Progress()
    for seq in ("1", "2", "3", "4"):
        p.read(seq)
    p.done("2")
    assert p.advance() is None and p.checkpoint is None
    p.done("1")
    assert p.advance() == "2"
    p.done("4")
    assert p.advance() is None
    p.done("3")
    assert p.advance() == "4" and len(p) == 0


def test_a_held_count_is_the_owners_alone_within_the_bounds() -> None:
    """Adaptive batching holds the lane count: full and empty polls and errors no longer move it."""
    scaler = Scaler(ScalingPolicy(maximum=4, minimum=1, step_interval_s=0.0), now=0.0)
    assert scaler.hold(9) == 4  # clamped to the mapping's bound
    for t in range(1, 5):
        scaler.saw_backlog(float(t))
        scaler.saw_function_error(float(t) + 0.5)
    assert scaler.target == 4
    assert scaler.hold(0) == 1
    scaler.saw_idle(10.0)
    scaler.saw_backlog(11.0)
    assert scaler.target == 1
