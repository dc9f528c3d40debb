"""The adaptive controller's latency quantile: records spread evenly over each batch's newest-to-oldest span."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmap.engine.adaptive_meters import BatchLatency, LatencyWindow


def _window(*batches: tuple[int, float, float]) -> LatencyWindow:
    window = LatencyWindow()
    for size, newest, oldest in batches:
        window.add(BatchLatency(size, newest, oldest, (newest + oldest) / 2))
    return window


def _above(batches: list[tuple[int, float, float]], x: float) -> float:
    """Records with a latency above ``x``, summed batch by batch."""
    total = 0.0
    for size, newest, oldest in batches:
        if x < newest:
            total += size
        elif x < oldest:
            total += size * (oldest - x) / (oldest - newest)
    return total


def test_one_batch_spread_over_a_second_has_its_quantiles_along_it() -> None:
    window = _window((100, 1.0, 2.0))
    assert window.quantile(0.5) == pytest.approx(1.5)
    assert window.quantile(0.99) == pytest.approx(1.99)


def test_batches_that_do_not_overlap_are_read_in_their_order_and_a_batch_of_one_latency_is_a_step() -> None:
    window = _window((50, 0.0, 1.0), (50, 3.0, 3.0))  # half the records at once at 3 s
    assert window.quantile(0.25) == pytest.approx(0.5)
    assert window.quantile(0.5) == pytest.approx(1.0)  # the first batch's oldest: half are above from here on
    assert window.quantile(0.99) == pytest.approx(3.0)


def test_where_the_share_above_is_met_exactly_between_batches_the_earliest_latency_is_read() -> None:
    """123 of 246 records are above every latency from the first batch's oldest to the next batch's newest."""
    window = _window((83, 0.9659610858188818, 1.065961085818882), (10, 0.3301913930269589, 0.552260319548813),
                     (29, 1.6462259949135853, 2.417118177686187), (30, 0.5, 0.5116287273002853),
                     (94, 1.718431779374883, 1.718431779374883))
    assert window.quantile(0.5) == pytest.approx(1.065961085818882)


def test_an_empty_window_reads_zero() -> None:
    assert LatencyWindow().quantile(0.99) == 0.0


span = st.tuples(st.integers(1, 100), st.floats(0, 5, allow_subnormal=False), st.sampled_from([0.0, 0.1, 0.7, 2.0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(span, min_size=1, max_size=40), st.sampled_from([0.5, 0.9, 0.99, 0.999]))
def test_the_quantile_is_where_the_records_above_fall_to_their_share(
    spans: list[tuple[int, float, float]], q: float
) -> None:
    batches = [(size, newest, newest + length) for size, newest, length in spans]
    x = _window(*batches).quantile(q)
    allowed = (1 - q) * sum(size for size, _, _ in batches)
    scale = max(1.0, max(oldest for _, _, oldest in batches))
    assert _above(batches, x) <= allowed * (1 + 1e-9) + 1e-9  # at x, no more than the share is above
    assert _above(batches, x - 1e-7 * scale) > allowed  # and just below x, more: x is the least such latency
