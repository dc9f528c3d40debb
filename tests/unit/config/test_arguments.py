"""The batchmap run flags: every form the AWS CLI accepts, parsed through a real argparse parser."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batchmap.config import (
    DestinationConfig,
    EventSourceMapping,
    MetricsConfig,
    OnFailure,
    ProvisionedPollerConfig,
    ScalingConfig,
    add_mapping_arguments,
    mapping_from_args,
    parse_shorthand,
    values,
)
from batchmap.config.arguments import mapping_source, source_extra
from batchmap.config.function import FunctionConfig
from batchmap.errors import ConfigError, FilterError
from batchmap.filters import FilterCriteria

QUEUE = "sqlite:///orders.db?queue=orders"
STREAM = "sqlite:///orders.db?stream=orders"
DLQ = "sqlite:///orders.db?queue=failed"


def parse(*flags: str, source: str = STREAM, function: str = "app:handler") -> EventSourceMapping:
    parser = argparse.ArgumentParser(prog="batchmap run")
    add_mapping_arguments(parser)
    return mapping_from_args(parser.parse_args(["--source", source, "--function", function, *flags]))


def refused(parameter: str, *flags: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(*flags)
    assert caught.value.parameter == parameter
    return caught.value


class TestPlainFlags:
    def test_no_flags_leave_every_default_to_resolve(self) -> None:
        assert parse(source=QUEUE) == EventSourceMapping(source=QUEUE, function="app:handler")

    def test_numbers_and_choices(self) -> None:
        mapping = parse("--batch-size", "500", "--maximum-batching-window-in-seconds", "2",
                        "--starting-position", "TRIM_HORIZON", "--parallelization-factor", "3",
                        "--maximum-retry-attempts", "-1", "--maximum-record-age-in-seconds", "3600",
                        "--tumbling-window-in-seconds", "60", "--uuid", "orders-consumer")
        assert (mapping.batch_size, mapping.maximum_batching_window_in_seconds) == (500, 2)
        assert (mapping.parallelization_factor, mapping.maximum_retry_attempts) == (3, -1)
        assert (mapping.maximum_record_age_in_seconds, mapping.tumbling_window_in_seconds) == (3600, 60)
        assert (mapping.starting_position, mapping.uuid) == ("TRIM_HORIZON", "orders-consumer")

    def test_fractional_window_for_local_use(self) -> None:
        assert parse("--maximum-batching-window-in-seconds", "0.05").maximum_batching_window_in_seconds == 0.05

    def test_aws_names_for_source_and_function(self) -> None:
        parser = argparse.ArgumentParser()
        add_mapping_arguments(parser)
        args = parser.parse_args(["--event-source-arn", "arn:aws:sqs:us-east-2:123456789012:q",
                                  "--function-name", "my-function"])
        assert mapping_from_args(args) == EventSourceMapping(source="arn:aws:sqs:us-east-2:123456789012:q",
                                                              function="my-function")

    def test_booleans(self) -> None:
        assert parse("--bisect-batch-on-function-error").bisect_batch_on_function_error
        assert not parse("--no-bisect-batch-on-function-error").bisect_batch_on_function_error
        assert not parse("--no-enabled").enabled
        assert parse("--enabled").enabled

    def test_function_response_types(self) -> None:
        assert parse("--function-response-types", "ReportBatchItemFailures").report_batch_item_failures
        assert parse("--function-response-types", '["ReportBatchItemFailures"]').report_batch_item_failures
        assert parse("--function-response-types").function_response_types == ()
        refused("FunctionResponseTypes (--function-response-types)", "--function-response-types", "Partial")

    def test_starting_position_timestamp_as_unix_seconds_or_iso_8601(self) -> None:
        at = ("--starting-position", "AT_TIMESTAMP", "--starting-position-timestamp")
        assert parse(*at, "1700000000").starting_position_timestamp == 1_700_000_000
        expected = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()
        assert parse(*at, "2024-05-01T12:00:00Z").starting_position_timestamp == expected
        assert parse(*at, "2024-05-01T12:00:00").starting_position_timestamp == expected, "no zone means UTC"
        assert parse(*at, "2024-05-01T14:00:00+02:00").starting_position_timestamp == expected
        refused("StartingPositionTimestamp (--starting-position-timestamp)", *at, "last tuesday")

    def test_bad_numbers_name_the_flag(self) -> None:
        error = refused("BatchSize (--batch-size)", "--batch-size", "many")
        assert error.value == "many"
        refused("BatchSize (--batch-size)", "--batch-size", "0")
        refused("MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds)",
                "--maximum-batching-window-in-seconds", "soon")
        refused("StartingPosition (--starting-position)", "--starting-position", "EARLIEST")

    def test_missing_source_or_function(self) -> None:
        parser = argparse.ArgumentParser()
        add_mapping_arguments(parser)
        with pytest.raises(ConfigError, match=r"EventSourceArn \(--source\): invalid value None \(required\)"):
            mapping_from_args(parser.parse_args(["--function", "app:handler"]))
        with pytest.raises(ConfigError, match=r"FunctionName \(--function\): invalid value None \(required\)"):
            mapping_from_args(parser.parse_args(["--source", QUEUE]))


class TestStructuredFlags:
    def test_destination_config_json_and_shorthand(self) -> None:
        expected = DestinationConfig(OnFailure(DLQ))
        assert parse("--destination-config", json.dumps({"OnFailure": {"Destination": DLQ}})).destination_config \
            == expected
        assert parse("--destination-config", f"OnFailure={{Destination={DLQ}}}").destination_config == expected
        arn = "arn:aws:sqs:us-east-2:123456789012:dlq"
        assert parse("--destination-config", f"OnFailure={{Destination={arn}}}").destination_config == \
            DestinationConfig(OnFailure(arn))

    def test_destination_config_errors(self) -> None:
        name = "DestinationConfig.OnFailure.Destination (--destination-config)"
        error = refused(name, "--destination-config", "OnFailure={Destination=}")
        assert "a non-empty string" in error.allowed
        error = refused(name, "--destination-config", "OnFailure={Destination=x")
        assert "shorthand syntax error" in error.allowed
        error = refused(name, "--destination-config", '{"OnFailure": ')
        assert "valid JSON" in error.allowed

    def test_filter_criteria_json(self) -> None:
        text = json.dumps({"Filters": [{"Pattern": json.dumps({"body": {"status": ["ERROR"]}})}]})
        assert parse("--filter-criteria", text).filter_criteria == FilterCriteria.of('{"body": {"status": ["ERROR"]}}')

    def test_filter_criteria_shorthand_with_quoted_and_bare_json_patterns(self) -> None:
        quoted = parse("--filter-criteria", """Filters=[{Pattern='{"data": {"a": [1]}}'},{Pattern="{\\"b\\": [2]}"}]""")
        assert quoted.filter_criteria is not None
        assert quoted.filter_criteria.patterns == ({"data": {"a": [1]}}, {"b": [2]})
        bare = parse("--filter-criteria", 'Filters=[{Pattern={"body":{"a":[1, 2]}}},{Pattern={"c":["x,y"]}}]')
        assert bare.filter_criteria is not None
        assert bare.filter_criteria.patterns == ({"body": {"a": [1, 2]}}, {"c": ["x,y"]})

    def test_filter_criteria_errors(self) -> None:
        with pytest.raises(FilterError, match=r"Filters\[0\].Pattern: a: numeric: expected a number"):
            parse("--filter-criteria", 'Filters=[{Pattern={"a":[{"numeric":[">","x"]}]}}]')
        with pytest.raises(FilterError, match=r"Filters\[0\]: expected \{Pattern=...\}"):
            parse("--filter-criteria", "Filters=[plain]")
        with pytest.raises(ConfigError, match="shorthand syntax error"):
            parse("--filter-criteria", "Filters=[{Pattern=")

    def test_filter_criteria_from_a_file(self, tmp_path: Path) -> None:
        path = tmp_path / "filters.json"
        path.write_text(json.dumps({"Filters": [{"Pattern": '{"a": [1]}'}]}))
        assert parse("--filter-criteria", f"file://{path}").filter_criteria == FilterCriteria.of('{"a": [1]}')
        error = refused("FilterCriteria (--filter-criteria)", "--filter-criteria", f"file://{tmp_path}/missing.json")
        assert "a readable file" in error.allowed

    def test_scaling_config(self) -> None:
        assert parse("--scaling-config", "MaximumConcurrency=5", source=QUEUE).scaling_config == ScalingConfig(5)
        assert parse("--scaling-config", '{"MaximumConcurrency": 7}', source=QUEUE).scaling_config == ScalingConfig(7)
        assert parse("--scaling-config", "{}", source=QUEUE).scaling_config == ScalingConfig(None)
        error = refused("ScalingConfig.MaximumConcurrency (--scaling-config)", "--scaling-config",
                        "MaximumConcurrency=1")
        assert error.value == 1
        refused("ScalingConfig.MaximumConcurrency (--scaling-config)", "--scaling-config", "MaxConcurrency=5")

    def test_function_settings(self) -> None:
        mapping = parse("--timeout", "60", "--memory-size", "512", "--environment", "Variables={STAGE=dev,NODES=1}")
        assert mapping.function == FunctionConfig(handler="app:handler", timeout_s=60, memory_mb=512,
                                                  environment={"STAGE": "dev", "NODES": "1"})
        json_env = parse("--environment", '{"Variables": {"DEBUG": true, "RETRIES": 3}}')
        assert isinstance(json_env.function, FunctionConfig)
        assert json_env.function.environment == {"DEBUG": "true", "RETRIES": "3"}
        refused("Timeout (--timeout)", "--timeout", "901")
        refused("Timeout (--timeout)", "--timeout", "0")
        refused("MemorySize (--memory-size)", "--memory-size", "64")
        refused("Environment (--environment)", "--environment", "Vars={A=1}")


class TestShorthand:
    def test_structures_lists_and_quotes(self) -> None:
        assert parse_shorthand("A=1,B={C=2,D=[x,y]},E='q,r',F=\"it\\\"s\"", "X") == {
            "A": "1", "B": {"C": "2", "D": ["x", "y"]}, "E": "q,r", "F": 'it"s',
        }

    def test_bare_items_after_a_value_make_a_list_as_in_the_aws_cli(self) -> None:
        assert parse_shorthand("Metrics=EventCount,ErrorCount,B=1", "X") == {"Metrics": ["EventCount", "ErrorCount"],
                                                                             "B": "1"}
        assert parse_shorthand("A={B=x,y}", "X") == {"A": {"B": ["x", "y"]}}

    def test_values_may_hold_equals_signs_and_colons(self) -> None:
        assert parse_shorthand("Destination=sqlite:///f.db?queue=dlq&x=1", "X") == {
            "Destination": "sqlite:///f.db?queue=dlq&x=1",
        }

    def test_empty_structures_and_lists(self) -> None:
        assert parse_shorthand("A={},B=[]", "X") == {"A": {}, "B": []}

    def test_a_value_cut_off_at_the_end_is_empty_not_an_open_quote(self) -> None:
        assert parse_shorthand("A=", "X") == {"A": ""}
        with pytest.raises(ConfigError, match="expected '}'"):
            parse_shorthand("OnFailure={Destination=", "X")

    @pytest.mark.parametrize("text", ["A", "=1", "A=1,A=2", "A={B=1", "A=[1,2", "A='open", "A=x]y", "A=1,"])
    def test_errors_name_the_parameter_and_the_position(self, text: str) -> None:
        with pytest.raises(ConfigError) as caught:
            parse_shorthand(text, "ScalingConfig (--scaling-config)")
        assert caught.value.parameter == "ScalingConfig (--scaling-config)"
        assert caught.value.value == text
        assert "shorthand syntax error at character" in caught.value.allowed


def test_structured_text_for_other_commands_flags() -> None:
    assert values.structured("--attributes", "VisibilityTimeout=30,RedrivePolicy={maxReceiveCount=5}") == {
        "VisibilityTimeout": "30", "RedrivePolicy": {"maxReceiveCount": "5"},
    }
    assert values.structured("--attributes", '{"DelaySeconds": "5"}') == {"DelaySeconds": "5"}
    with pytest.raises(ConfigError) as caught:
        values.structured("--attributes", "VisibilityTimeout")
    assert caught.value.parameter == "--attributes"


class TestNewerMappingSettings:
    def test_provisioned_poller_config_shorthand_and_json(self) -> None:
        expected = ProvisionedPollerConfig(2, 8)
        assert parse("--provisioned-poller-config", "MinimumPollers=2,MaximumPollers=8",
                     source=QUEUE).provisioned_poller_config == expected
        assert parse("--provisioned-poller-config", '{"MinimumPollers": 2, "MaximumPollers": 8}',
                     source=QUEUE).provisioned_poller_config == expected

    def test_metrics_config_shorthand_list_and_json(self) -> None:
        groups = ("EventCount", "ErrorCount", "KafkaMetrics")
        assert parse("--metrics-config", "Metrics=EventCount,ErrorCount,KafkaMetrics").metrics_config == \
            MetricsConfig(groups)
        assert parse("--metrics-config", '{"Metrics": ["EventCount"]}').metrics_config == MetricsConfig(("EventCount",))
        assert parse("--metrics-config", "Metrics=[]").metrics_config == MetricsConfig()


def parsed(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batchmap run")
    add_mapping_arguments(parser)
    return parser.parse_args(["--function", "app:handler", *flags])


class TestSourceInPieces:
    ENDPOINTS = '{"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092", "127.0.0.1:9093"]}}'

    def test_self_managed_kafka_from_endpoints_topics_and_group(self) -> None:
        args = parsed("--self-managed-event-source", self.ENDPOINTS, "--topics", "orders",
                      "--self-managed-kafka-event-source-config", "ConsumerGroupId=orders-processor")
        assert mapping_from_args(args).source == "kafka://127.0.0.1:9092,127.0.0.1:9093/orders?group=orders-processor"
        assert source_extra(args) == {}

    def test_topics_complete_a_kafka_uri_and_queues_an_amqp_one(self) -> None:
        assert mapping_source(parsed("--source", "kafka://127.0.0.1:9092", "--topics", "a", "b")) == \
            "kafka://127.0.0.1:9092/a,b"
        assert mapping_source(parsed("--source", "amqp://guest:guest@127.0.0.1:5672/", "--queues", "orders")) == \
            "amqp://guest:guest@127.0.0.1:5672/?queue=orders"

    def test_an_msk_arn_takes_topics_and_group_as_source_options(self) -> None:
        arn = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/751d2973-a626-431c-9d4e-d7975eb44dd7-2"
        args = parsed("--source", arn, "--topics", "orders", "--amazon-managed-kafka-event-source-config",
                      '{"ConsumerGroupId": "g1"}')
        assert mapping_source(args) == arn
        assert source_extra(args) == {"topics": "orders", "consumer_group_id": "g1"}

    @pytest.mark.parametrize(("flags", "parameter"), [
        (("--self-managed-event-source", ENDPOINTS), "Topics (--topics)"),
        (("--self-managed-event-source", ENDPOINTS, "--topics", "t", "--source", "kafka://h:1"),
         "SelfManagedEventSource (--self-managed-event-source)"),
        (("--source", QUEUE, "--topics", "t"), "Topics (--topics)"),
        (("--source", "kafka://h:1/t", "--topics", "u"), "Topics (--topics)"),
        (("--source", "kafka://h:1", "--topics", "a,b"), "Topics (--topics)"),
        (("--source", QUEUE, "--queues", "q"), "Queues (--queues)"),
        (("--source", "kafka://h:1/t?group=a", "--self-managed-kafka-event-source-config", "ConsumerGroupId=b"),
         "SelfManagedKafkaEventSourceConfig.ConsumerGroupId (--self-managed-kafka-event-source-config)"),
        (("--source", "kafka://h:1/t", "--self-managed-kafka-event-source-config", "GroupId=b"),
         "SelfManagedKafkaEventSourceConfig.ConsumerGroupId (--self-managed-kafka-event-source-config)"),
    ])
    def test_combinations_aws_refuses(self, flags: tuple[str, ...], parameter: str) -> None:
        with pytest.raises(ConfigError) as caught:
            mapping_from_args(parsed(*flags))
        assert caught.value.parameter == parameter
