"""Queue scaling steps and the out-of-order checkpoint progress of a shard."""

from __future__ import annotations

from batchmap.config import EventSourceMapping, ProvisionedPollerConfig
from batchmap.engine.checkpoint import Progress
from batchmap.engine.scaling import Scaler, ScalingPolicy
from batchmap.engine.service import run_settings


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


def test_provisioned_pollers_are_the_scalers_floor_and_ceiling() -> None:
    mapping = EventSourceMapping(source="sqlite:///q.db?queue=q", function="app:handler",
                                 provisioned_poller_config=ProvisionedPollerConfig(3, 5))
    policy = run_settings(mapping.resolve("sqs")).scaling
    s = Scaler(ScalingPolicy(policy.maximum, policy.minimum, step_interval_s=0.0), now=0.0)
    assert s.target == 3, "the pollers start at the floor and stay warm"
    assert [s.saw_idle(float(t)) for t in range(1, 4)] == [3, 3, 3]
    assert [s.saw_backlog(float(t)) for t in range(4, 8)] == [4, 5, 5, 5]
    assert s.saw_function_error(9.0) == 4 and s.saw_function_error(10.0) == 3 and s.saw_function_error(11.0) == 3


def test_provisioned_defaults_fill_a_bound_left_out() -> None:
    mapping = EventSourceMapping(source="sqlite:///q.db?queue=q", function="app:handler",
                                 provisioned_poller_config=ProvisionedPollerConfig(minimum_pollers=4))
    policy = run_settings(mapping.resolve("sqs")).scaling
    assert (policy.minimum, policy.maximum) == (4, 200)


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
