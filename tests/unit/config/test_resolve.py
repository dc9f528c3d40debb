"""resolve(kind): AWS's defaults and limits per source kind, and the checks the engine calls later."""

from __future__ import annotations

from typing import Any

import pytest

from batchmap.config import (
    DestinationConfig,
    EventSourceMapping,
    OnFailure,
    ResolvedMapping,
    ScalingConfig,
    check_visibility_timeout,
    resolve,
)
from batchmap.config.function import FunctionConfig
from batchmap.engine.batcher import BatchPolicy
from batchmap.errors import ConfigError, FilterError
from batchmap.filters import FilterCriteria

QUEUE = "sqlite:///orders.db?queue=orders"
STREAM = "sqlite:///orders.db?stream=orders"
DLQ = OnFailure("sqlite:///orders.db?queue=failed")


def mapping(**settings: Any) -> EventSourceMapping:
    return EventSourceMapping(source=settings.pop("source", QUEUE), function=settings.pop("function", "app:handler"),
                              **settings)


def stream(**settings: Any) -> EventSourceMapping:
    settings.setdefault("starting_position", "TRIM_HORIZON")
    return mapping(source=STREAM, **settings)


def refused(m: EventSourceMapping, kind: str, parameter: str, allowed: str, *, fifo: bool = False) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        m.resolve(kind, fifo=fifo)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter
    assert allowed in caught.value.allowed, caught.value.allowed
    return caught.value


class TestDefaults:
    def test_sqs(self) -> None:
        resolved = mapping().resolve("sqs")
        assert (resolved.batch_size, resolved.window_s, resolved.window_start) == (10, 0.0, "on_ready")
        assert resolved.starting_position is None
        assert resolved.maximum_retry_attempts == -1
        assert resolved.maximum_concurrency is None
        assert resolved.function == FunctionConfig(handler="app:handler")
        assert resolved.enabled

    @pytest.mark.parametrize("kind", ["kinesis", "dynamodb"])
    def test_streams(self, kind: str) -> None:
        resolved = stream().resolve(kind)  # type: ignore[arg-type]
        assert (resolved.batch_size, resolved.window_s, resolved.window_start) == (100, 0.0, "on_ready")
        assert resolved.parallelization_factor == 1
        assert resolved.maximum_retry_attempts == -1
        assert resolved.maximum_record_age_in_seconds == -1
        assert resolved.tumbling_window_in_seconds == 0
        assert not resolved.bisect_batch_on_function_error
        assert resolved.on_failure_destination is None

    def test_kafka_window_is_half_a_second_from_the_first_record(self) -> None:
        resolved = stream(starting_position="LATEST").resolve("kafka")
        assert (resolved.batch_size, resolved.window_s, resolved.window_start) == (100, 0.5, "on_first_record")

    def test_batch_policy_for_the_batcher(self) -> None:
        resolved = mapping(batch_size=50, maximum_batching_window_in_seconds=2).resolve("sqs")
        assert resolved.batch_policy() == BatchPolicy(batch_size=50, window_s=2.0, window_start="on_ready")

    def test_report_batch_item_failures(self) -> None:
        assert mapping(function_response_types=("ReportBatchItemFailures",)).resolve("sqs").report_batch_item_failures

    def test_uuid_defaults_to_a_stable_id_of_source_and_function(self) -> None:
        first = stream().resolve("kinesis").uuid
        assert first == stream().resolve("kinesis").uuid
        assert first != stream(function="app:other").resolve("kinesis").uuid
        assert stream(uuid="mine").resolve("kinesis").uuid == "mine"

    def test_resolve_is_also_a_function(self) -> None:
        assert isinstance(resolve(mapping(), "sqs"), ResolvedMapping)

    def test_an_unknown_kind(self) -> None:
        with pytest.raises(ConfigError, match="kind: invalid value 'mq'"):
            mapping().resolve("mq")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="sqs \\(optionally FIFO\\)"):
            stream().resolve("kinesis", fifo=True)


class TestBatching:
    def test_sqs_batch_over_ten_needs_a_window_with_aws_message(self) -> None:
        aws = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        window = "MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds)"
        error = refused(mapping(batch_size=11), "sqs", window, aws)
        assert error.value == 0
        refused(mapping(batch_size=100, maximum_batching_window_in_seconds=0.5), "sqs",
                "MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds)", "set at least 1 second")
        assert mapping(batch_size=10_000, maximum_batching_window_in_seconds=1).resolve("sqs").batch_size == 10_000

    def test_streams_take_large_batches_without_a_window(self) -> None:
        assert stream(batch_size=500).resolve("kinesis").batch_size == 500

    def test_fifo_batches_at_most_ten_and_no_window(self) -> None:
        assert mapping().resolve("sqs", fifo=True).batch_size == 10
        refused(mapping(batch_size=11, maximum_batching_window_in_seconds=1), "sqs", "BatchSize (--batch-size)",
                "an integer from 1 to 10 for SQS FIFO queues", fifo=True)
        refused(mapping(maximum_batching_window_in_seconds=1), "sqs",
                "MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds)",
                "not supported for SQS FIFO queues", fifo=True)
        assert mapping(maximum_batching_window_in_seconds=0).resolve("sqs", fifo=True).window_s == 0


class TestStartingPosition:
    def test_forbidden_for_sqs(self) -> None:
        refused(mapping(starting_position="LATEST"), "sqs", "StartingPosition (--starting-position)",
                "not supported for SQS queues")

    @pytest.mark.parametrize("kind", ["kinesis", "dynamodb"])
    def test_required_for_kinesis_and_dynamodb_streams(self, kind: str) -> None:
        error = refused(mapping(source=STREAM), kind, "StartingPosition (--starting-position)", "required for")
        assert error.value is None

    def test_kafka_defaults_to_trim_horizon(self) -> None:
        assert mapping(source=STREAM).resolve("kafka").starting_position == "TRIM_HORIZON"
        assert stream(starting_position="LATEST").resolve("kafka").starting_position == "LATEST"

    def test_at_timestamp_is_kinesis_and_kafka_only(self) -> None:
        at = stream(starting_position="AT_TIMESTAMP", starting_position_timestamp=1_700_000_000)
        assert at.resolve("kinesis").starting_position_timestamp == 1_700_000_000
        assert at.resolve("kafka").starting_position == "AT_TIMESTAMP"
        refused(at, "dynamodb", "StartingPosition (--starting-position)",
                "one of TRIM_HORIZON, LATEST for DynamoDB streams")


class TestSettingsThatApplyToSomeSources:
    @pytest.mark.parametrize(
        ("settings", "parameter", "allowed"),
        [
            ({"parallelization_factor": 2}, "ParallelizationFactor (--parallelization-factor)",
             "only for Kinesis and DynamoDB streams, not SQS queues"),
            ({"tumbling_window_in_seconds": 60}, "TumblingWindowInSeconds (--tumbling-window-in-seconds)",
             "only for Kinesis and DynamoDB streams"),
            ({"bisect_batch_on_function_error": True},
             "BisectBatchOnFunctionError (--bisect-batch-on-function-error)", "only for Kinesis, DynamoDB and Kafka"),
            ({"maximum_retry_attempts": 3}, "MaximumRetryAttempts (--maximum-retry-attempts)", "maxReceiveCount"),
            ({"maximum_record_age_in_seconds": 60},
             "MaximumRecordAgeInSeconds (--maximum-record-age-in-seconds)", "only for Kinesis, DynamoDB and Kafka"),
            ({"destination_config": DestinationConfig(DLQ)},
             "DestinationConfig.OnFailure.Destination (--destination-config)", "dead-letter queue"),
        ],
    )
    def test_stream_settings_on_a_queue(self, settings: dict[str, Any], parameter: str, allowed: str) -> None:
        refused(mapping(**settings), "sqs", parameter, allowed)

    def test_stream_only_settings_on_kafka(self) -> None:
        refused(stream(parallelization_factor=2), "kafka", "ParallelizationFactor (--parallelization-factor)",
                "not Kafka topics")
        refused(stream(tumbling_window_in_seconds=60), "kafka",
                "TumblingWindowInSeconds (--tumbling-window-in-seconds)", "not Kafka topics")

    def test_scaling_config_is_sqs_only(self) -> None:
        assert mapping(scaling_config=ScalingConfig(5)).resolve("sqs").maximum_concurrency == 5
        refused(stream(scaling_config=ScalingConfig(5)), "kinesis", "ScalingConfig.MaximumConcurrency "
                "(--scaling-config)", "only for SQS queues, not Kinesis streams")

    def test_unset_or_off_values_are_not_errors(self) -> None:
        resolved = mapping(bisect_batch_on_function_error=False, destination_config=DestinationConfig(),
                           scaling_config=ScalingConfig()).resolve("sqs")
        assert resolved.on_failure_destination is None
        assert resolved.maximum_concurrency is None

    def test_stream_settings_resolve_on_streams(self) -> None:
        resolved = stream(parallelization_factor=10, tumbling_window_in_seconds=900, maximum_retry_attempts=0,
                          maximum_record_age_in_seconds=60, bisect_batch_on_function_error=True,
                          destination_config=DestinationConfig(DLQ)).resolve("dynamodb")
        assert (resolved.parallelization_factor, resolved.tumbling_window_in_seconds) == (10, 900)
        assert (resolved.maximum_retry_attempts, resolved.maximum_record_age_in_seconds) == (0, 60)
        assert resolved.bisect_batch_on_function_error
        assert resolved.on_failure_destination == DLQ.destination


class TestKafka:
    def test_infinite_retries_with_a_destination_are_capped_at_ten(self) -> None:
        capped = stream(destination_config=DestinationConfig(DLQ)).resolve("kafka")
        assert capped.maximum_retry_attempts == 10
        explicit = stream(destination_config=DestinationConfig(DLQ), maximum_retry_attempts=-1).resolve("kafka")
        assert explicit.maximum_retry_attempts == 10
        assert stream(destination_config=DestinationConfig(DLQ), maximum_retry_attempts=50).resolve(
            "kafka").maximum_retry_attempts == 50
        assert stream().resolve("kafka").maximum_retry_attempts == -1
        assert stream(destination_config=DestinationConfig(DLQ)).resolve("kinesis").maximum_retry_attempts == -1

    def test_function_timeout_at_most_fourteen_minutes(self) -> None:
        long = stream(function=FunctionConfig(handler="app:handler", timeout_s=900))
        refused(long, "kafka", "Timeout (--timeout)", "at most 840 seconds for Kafka topics")
        assert long.resolve("kinesis").function.timeout_s == 900


class TestFilters:
    def test_the_compiled_filter_comes_with_the_mapping(self) -> None:
        resolved = mapping(filter_criteria=FilterCriteria.of({"body": {"a": [1]}})).resolve("sqs")
        assert resolved.record_filter.matches({"body": '{"a": 1}'})
        assert not resolved.record_filter.matches({"body": '{"a": 2}'})
        assert mapping().resolve("sqs").record_filter.matches({"body": "x"})

    def test_source_pattern_rules_are_checked_when_resolving(self) -> None:
        criteria = FilterCriteria.of({"data": ["text"]})
        with pytest.raises(FilterError, match="for kinesis sources the data pattern must be a JSON object"):
            stream(filter_criteria=criteria).resolve("kinesis")


class TestVisibilityTimeout:
    def test_aws_message(self) -> None:
        with pytest.raises(ConfigError) as caught:
            check_visibility_timeout(30, 300)
        assert "Queue visibility timeout: 30 seconds is less than Function timeout: 300 seconds" in str(caught.value)
        assert caught.value.value == 30

    def test_equal_or_longer_is_fine(self) -> None:
        check_visibility_timeout(300, 300)
        check_visibility_timeout(43_200, 900)

    def test_through_the_resolved_mapping(self) -> None:
        resolved = mapping(function=FunctionConfig(handler="app:handler", timeout_s=60)).resolve("sqs")
        resolved.check_visibility_timeout(60)
        with pytest.raises(ConfigError, match="Queue visibility timeout: 30 seconds is less than Function timeout: 60"):
            resolved.check_visibility_timeout(30)
