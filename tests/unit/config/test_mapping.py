"""EventSourceMapping: the limits that hold for every source, checked when the value is built."""

from __future__ import annotations

import time
from typing import Any

import pytest

from batchmap.config import DestinationConfig, EventSourceMapping, OnFailure, ScalingConfig
from batchmap.config.function import FunctionConfig
from batchmap.errors import ConfigError
from batchmap.filters import FilterCriteria

SOURCE = "sqlite:///orders.db?stream=orders"


def build(**settings: Any) -> EventSourceMapping:
    return EventSourceMapping(source=settings.pop("source", SOURCE), function=settings.pop("function", "app:handler"),
                              **settings)


def refused(parameter: str, value: object, allowed: str, **settings: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build(**settings)
    error = caught.value
    assert error.parameter == parameter
    assert error.value == value
    assert allowed in error.allowed, error.allowed
    assert str(error).startswith(f"{parameter}: invalid value {value!r} (")


class TestLimitsForEverySource:
    @pytest.mark.parametrize("size", [0, -1, 10_001, 2.5, True, "10"])
    def test_batch_size(self, size: object) -> None:
        refused("BatchSize (--batch-size)", size, "an integer from 1 to 10,000", batch_size=size)

    @pytest.mark.parametrize("size", [1, 10_000])
    def test_batch_size_bounds_are_inclusive(self, size: int) -> None:
        assert build(batch_size=size).batch_size == size

    @pytest.mark.parametrize("window", [-1, 300.5, 301, float("nan"), False])
    def test_window(self, window: object) -> None:
        name = "MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds)"
        with pytest.raises(ConfigError) as caught:
            build(maximum_batching_window_in_seconds=window)
        assert caught.value.parameter == name
        assert "seconds from 0 to 300" in caught.value.allowed

    @pytest.mark.parametrize("window", [0, 0.5, 1, 300])
    def test_window_accepts_fractions_for_local_use(self, window: float) -> None:
        assert build(maximum_batching_window_in_seconds=window).maximum_batching_window_in_seconds == window

    def test_function_response_types(self) -> None:
        assert build(function_response_types=["ReportBatchItemFailures"]).report_batch_item_failures
        assert not build().report_batch_item_failures
        name = "FunctionResponseTypes (--function-response-types)"
        refused(name, ("Partial",), "empty, or the one item 'ReportBatchItemFailures'",
                function_response_types=("Partial",))
        both = ("ReportBatchItemFailures", "ReportBatchItemFailures")
        refused(name, both, "empty, or the one item", function_response_types=both)

    def test_starting_position(self) -> None:
        refused("StartingPosition (--starting-position)", "latest", "one of TRIM_HORIZON, LATEST, AT_TIMESTAMP",
                starting_position="latest")

    def test_at_timestamp_needs_the_timestamp_and_the_timestamp_needs_at_timestamp(self) -> None:
        name = "StartingPositionTimestamp (--starting-position-timestamp)"
        refused(name, None, "required with StartingPosition AT_TIMESTAMP", starting_position="AT_TIMESTAMP")
        refused(name, 1_700_000_000, "only with StartingPosition AT_TIMESTAMP",
                starting_position="LATEST", starting_position_timestamp=1_700_000_000)
        refused(name, -5, "from 0 to now", starting_position="AT_TIMESTAMP", starting_position_timestamp=-5)
        ok = build(starting_position="AT_TIMESTAMP", starting_position_timestamp=1_700_000_000.5)
        assert ok.starting_position_timestamp == 1_700_000_000.5

    @pytest.mark.parametrize("ahead", [3600.0, 1e30, float("inf")], ids=["an hour ahead", "1e30", "infinity"])
    def test_a_timestamp_in_the_future_or_out_of_range_is_refused_as_aws_does(self, ahead: float) -> None:
        stamp = time.time() + ahead
        refused("StartingPositionTimestamp (--starting-position-timestamp)", stamp,
                "AWS refuses a time in the future", starting_position="AT_TIMESTAMP", starting_position_timestamp=stamp)

    @pytest.mark.parametrize("factor", [0, 11])
    def test_parallelization_factor(self, factor: int) -> None:
        refused("ParallelizationFactor (--parallelization-factor)", factor, "an integer from 1 to 10",
                parallelization_factor=factor)

    @pytest.mark.parametrize("attempts", [-2, 10_001])
    def test_maximum_retry_attempts(self, attempts: int) -> None:
        refused("MaximumRetryAttempts (--maximum-retry-attempts)", attempts, "an integer from -1 to 10,000",
                maximum_retry_attempts=attempts)

    @pytest.mark.parametrize("age", [-2, 0, 59, 604_801])
    def test_maximum_record_age(self, age: int) -> None:
        refused("MaximumRecordAgeInSeconds (--maximum-record-age-in-seconds)", age,
                "-1, or an integer from 60 to 604,800", maximum_record_age_in_seconds=age)

    @pytest.mark.parametrize("age", [-1, 60, 604_800])
    def test_maximum_record_age_accepts_minus_one_and_the_range(self, age: int) -> None:
        assert build(maximum_record_age_in_seconds=age).maximum_record_age_in_seconds == age

    @pytest.mark.parametrize("seconds", [-1, 901])
    def test_tumbling_window(self, seconds: int) -> None:
        refused("TumblingWindowInSeconds (--tumbling-window-in-seconds)", seconds, "an integer from 0 to 900",
                tumbling_window_in_seconds=seconds)

    @pytest.mark.parametrize("concurrency", [1, 1_001, 0])
    def test_maximum_concurrency(self, concurrency: int) -> None:
        with pytest.raises(ConfigError) as caught:
            ScalingConfig(maximum_concurrency=concurrency)
        assert caught.value.parameter == "ScalingConfig.MaximumConcurrency (--scaling-config)"
        assert caught.value.value == concurrency
        assert "an integer from 2 to 1,000" in caught.value.allowed

    def test_booleans_are_booleans(self) -> None:
        refused("BisectBatchOnFunctionError (--bisect-batch-on-function-error)", 1, "true or false",
                bisect_batch_on_function_error=1)
        refused("Enabled (--enabled)", "yes", "true or false", enabled="yes")


class TestIdentity:
    def test_source_and_function_are_required_text(self) -> None:
        refused("EventSourceArn (--source)", "", "a source URI", source="")
        refused("FunctionName (--function)", " ", "module:callable", function=" ")
        refused("FunctionName (--function)", 42, "module:callable", function=42)

    def test_function_may_carry_its_own_settings(self) -> None:
        function = FunctionConfig(handler="app:handler", timeout_s=60, memory_mb=512, environment={"AB": "1"})
        assert build(function=function).function == function

    def test_uuid(self) -> None:
        refused("UUID (--uuid)", "", "a non-empty identifier", uuid="")

    def test_destination(self) -> None:
        with pytest.raises(ConfigError) as caught:
            OnFailure(destination="")
        assert caught.value.parameter == "DestinationConfig.OnFailure.Destination (--destination-config)"
        refused("DestinationConfig.OnFailure.Destination (--destination-config)", "arn:aws:sqs:x",
                "a DestinationConfig", destination_config="arn:aws:sqs:x")

    def test_nested_values_must_have_their_types(self) -> None:
        refused("FilterCriteria (--filter-criteria)", {"Filters": []}, "a FilterCriteria",
                filter_criteria={"Filters": []})
        refused("ScalingConfig.MaximumConcurrency (--scaling-config)", 5, "a ScalingConfig", scaling_config=5)

    def test_the_mapping_is_an_immutable_value(self) -> None:
        mapping = build(batch_size=5, filter_criteria=FilterCriteria.of({"a": [1]}))
        assert mapping == build(batch_size=5, filter_criteria=FilterCriteria.of({"a": [1]}))
        with pytest.raises(AttributeError):
            mapping.batch_size = 6  # type: ignore[misc]
        assert build(destination_config=DestinationConfig()).destination_config == DestinationConfig(None)
