"""from_api: CamelCase properties as the API, CloudFormation and SAM write them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchmap.config import (
    IGNORED_PROPERTIES,
    DestinationConfig,
    EventSourceMapping,
    MetricsConfig,
    OnFailure,
    ProvisionedPollerConfig,
    ScalingConfig,
    from_api,
    to_api,
)
from batchmap.errors import ConfigError, FilterError
from batchmap.filters import FilterCriteria

ARN = "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"


def test_every_property_of_the_api() -> None:
    mapping = from_api({
        "EventSourceArn": ARN,
        "FunctionName": "orders.handler",
        "BatchSize": 500,
        "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "StartingPosition": "AT_TIMESTAMP",
        "StartingPositionTimestamp": 1_700_000_000,
        "ParallelizationFactor": 4,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-2:123456789012:dlq"}},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["order"]}})}]},
        "TumblingWindowInSeconds": 120,
        "Enabled": False,
        "UUID": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
    })
    assert mapping == EventSourceMapping(
        source=ARN,
        function="orders.handler",
        batch_size=500,
        maximum_batching_window_in_seconds=5,
        function_response_types=("ReportBatchItemFailures",),
        starting_position="AT_TIMESTAMP",
        starting_position_timestamp=1_700_000_000,
        parallelization_factor=4,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=3,
        maximum_record_age_in_seconds=3600,
        destination_config=DestinationConfig(OnFailure("arn:aws:sqs:us-east-2:123456789012:dlq")),
        filter_criteria=FilterCriteria.of(json.dumps({"data": {"kind": ["order"]}})),
        tumbling_window_in_seconds=120,
        enabled=False,
        uuid="a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
    )
    assert mapping.resolve("kinesis").tumbling_window_in_seconds == 120


def test_cloudformation_parameters_arrive_as_strings() -> None:
    mapping = from_api({"EventSourceArn": ARN, "FunctionName": "f", "BatchSize": "25", "Enabled": "FALSE",
                        "BisectBatchOnFunctionError": "true", "StartingPosition": "LATEST",
                        "MaximumBatchingWindowInSeconds": "2"})
    assert (mapping.batch_size, mapping.enabled, mapping.bisect_batch_on_function_error) == (25, False, True)
    assert mapping.maximum_batching_window_in_seconds == 2


def test_sam_event_properties() -> None:
    mapping = from_api(
        {
            "Queue": "arn:aws:sqs:us-east-2:123456789012:orders",
            "BatchSize": 10,
            "FilterCriteria": {"Filters": {"Pattern": '{"body": {"a": [1]}}'}},
            "ScalingConfig": {"MaximumConcurrency": 5},
            "KmsKeyArn": "arn:aws:kms:us-east-2:123456789012:key/x",
        },
        function="app:handler",
    )
    assert mapping.source == "arn:aws:sqs:us-east-2:123456789012:orders"
    assert mapping.scaling_config == ScalingConfig(5)
    assert mapping.filter_criteria is not None and mapping.filter_criteria.patterns == ({"body": {"a": [1]}},)
    stream = from_api({"Stream": ARN, "StartingPosition": "LATEST",
                       "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": "arn:aws:sqs:r:1:dlq"}}},
                      function="app:handler")
    assert stream.destination_config == DestinationConfig(OnFailure("arn:aws:sqs:r:1:dlq"))


def test_source_and_function_overrides() -> None:
    mapping = from_api({"Topics": ["orders"], "StartingPosition": "LATEST", "FunctionName": "ignored"},
                       source="kafka://127.0.0.1:9092/orders", function="app:handler")
    assert (mapping.source, mapping.function) == ("kafka://127.0.0.1:9092/orders", "app:handler")


def test_get_event_source_mapping_output_loads() -> None:
    output = {
        "UUID": "14e0db71-xmpl-4eb5-b481-8945cf9d10c2", "BatchSize": 10, "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": "arn:aws:sqs:us-east-2:123456789012:my-queue",
        "FunctionArn": "arn:aws:lambda:us-east-2:123456789012:function:my-function",
        "LastModified": 1569284520.333, "State": "Enabled", "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [], "EventSourceMappingArn": "arn:aws:lambda:us-east-2:123456789012:esm:1",
    }
    mapping = from_api(output)
    assert mapping.function == "arn:aws:lambda:us-east-2:123456789012:function:my-function"
    assert mapping.resolve("sqs").uuid == "14e0db71-xmpl-4eb5-b481-8945cf9d10c2"


def test_unknown_properties_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        from_api({"EventSourceArn": ARN, "FunctionName": "f", "BatchSzie": 5, "Parallelization": 2})
    assert caught.value.value == ["BatchSzie", "Parallelization"]
    assert "unknown properties; known: BatchSize" in str(caught.value)


def test_a_known_but_unsupported_property_says_what_is_missing() -> None:
    registry = {"SchemaRegistryURI": "arn:aws:glue:us-east-1:123456789012:registry/r", "EventRecordFormat": "JSON"}
    with pytest.raises(ConfigError) as caught:
        from_api({"EventSourceArn": ARN, "FunctionName": "f", "SchemaRegistryConfig": registry})
    assert (caught.value.parameter, caught.value.value) == ("SchemaRegistryConfig", registry)
    assert "not supported: decoding Kafka records through a schema registry" in str(caught.value)
    assert "unknown" not in str(caught.value)


def test_ignored_properties_are_listed() -> None:
    assert {"KMSKeyArn", "Tags", "Topics"} <= IGNORED_PROPERTIES
    assert not {"MetricsConfig", "ProvisionedPollerConfig"} & IGNORED_PROPERTIES
    mapping = from_api({"EventSourceArn": ARN, "FunctionName": "f", "Tags": {"team": "a"},
                        "StartingPosition": "LATEST"})
    assert mapping.source == ARN


def test_metrics_and_provisioned_pollers_round_trip() -> None:
    queue = "arn:aws:sqs:us-east-2:123456789012:orders"
    properties = {"EventSourceArn": queue, "FunctionName": "f", "MetricsConfig": {"Metrics": ["EventCount"]},
                  "ProvisionedPollerConfig": {"MinimumPollers": "3", "MaximumPollers": 8}}
    mapping = from_api(properties)
    assert mapping.metrics_config == MetricsConfig(("EventCount",))
    assert mapping.provisioned_poller_config == ProvisionedPollerConfig(3, 8)
    assert to_api(mapping)["ProvisionedPollerConfig"] == {"MinimumPollers": 3, "MaximumPollers": 8}
    assert from_api(to_api(mapping)) == mapping
    resolved = mapping.resolve("sqs")
    assert (resolved.pollers, resolved.metric_groups) == ((3, 8), frozenset({"EventCount"}))


@pytest.mark.parametrize(
    ("properties", "value", "allowed"),
    [
        ({"ProvisionedPollerConfig": {"MinimumPollers": 9, "MaximumPollers": 4}},
         "MinimumPollers=9, MaximumPollers=4", "MinimumPollers at most MaximumPollers"),
        ({"ProvisionedPollerConfig": {"MinimumPollers": 201}}, 201, "MinimumPollers: an integer from 1 to 200"),
        ({"ProvisionedPollerConfig": {"MaxPollers": 4}}, {"MaxPollers": 4}, "unknown key(s) MaxPollers"),
        ({"MetricsConfig": {"Metrics": ["Everything"]}}, "Everything", "one of EventCount, ErrorCount"),
        ({"MetricsConfig": {"Metrics": ["EventCount", "EventCount"]}}, ["EventCount", "EventCount"],
         "each group once"),
        ({"ProvisionedPollerConfig": {"MinimumPollers": 2}, "ScalingConfig": {"MaximumConcurrency": 5}}, 5,
         "not with ProvisionedPollerConfig"),
    ],
)
def test_metrics_and_provisioned_pollers_refused(properties: dict[str, Any], value: Any, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_api({"EventSourceArn": ARN, "FunctionName": "f", **properties})
    assert caught.value.value == value
    assert allowed in str(caught.value)


@pytest.mark.parametrize(
    ("properties", "parameter", "value", "allowed"),
    [
        ({"BatchSize": "ten"}, "BatchSize (--batch-size)", "ten", "an integer"),
        ({"BatchSize": 0}, "BatchSize (--batch-size)", 0, "an integer from 1 to 10,000"),
        ({"MaximumBatchingWindowInSeconds": 0.5},
         "MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds)", 0.5, "an integer"),
        ({"Enabled": "yes"}, "Enabled (--enabled)", "yes", "true or false"),
        ({"FunctionResponseTypes": "ReportBatchItemFailure"}, "FunctionResponseTypes (--function-response-types)",
         ("ReportBatchItemFailure",), "the one item 'ReportBatchItemFailures'"),
        ({"DestinationConfig": {"OnSuccess": {"Destination": "x"}}},
         "DestinationConfig.OnFailure.Destination (--destination-config)", {"OnSuccess": {"Destination": "x"}},
         "OnFailure only"),
        ({"DestinationConfig": {"OnFailure": {"Destination": "x", "Kind": "SQS"}}},
         "DestinationConfig.OnFailure.Destination (--destination-config)",
         {"Destination": "x", "Kind": "SQS"}, "unknown key(s) Kind"),
        ({"DestinationConfig": {"OnFailure": {"Destination": "x", "Type": "Lambda"}}},
         "DestinationConfig.OnFailure.Destination (--destination-config)", "Lambda", "Type, when given"),
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, "ScalingConfig.MaximumConcurrency (--scaling-config)", 1,
         "from 2 to 1,000"),
        ({"StartingPositionTimestamp": "yesterday", "StartingPosition": "AT_TIMESTAMP"},
         "StartingPositionTimestamp (--starting-position-timestamp)", "yesterday", "ISO 8601"),
    ],
)
def test_bad_values_name_the_parameter(properties: dict[str, Any], parameter: str, value: Any, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_api({"EventSourceArn": ARN, "FunctionName": "f", **properties})
    assert (caught.value.parameter, caught.value.value) == (parameter, value)
    assert allowed in caught.value.allowed


def test_missing_source_or_function() -> None:
    with pytest.raises(ConfigError, match=r"EventSourceArn \(--source\): invalid value None \(required: give "
                                          r"EventSourceArn or Queue or Stream"):
        from_api({"FunctionName": "f"})
    with pytest.raises(ConfigError, match=r"FunctionName \(--function\).*FunctionName or FunctionArn"):
        from_api({"EventSourceArn": ARN})
    with pytest.raises(ConfigError, match="resolve intrinsic functions first"):
        from_api({"EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}, "FunctionName": "f"})


def test_bad_filter_criteria_is_a_filter_error() -> None:
    with pytest.raises(FilterError, match=r"Filters\[0\].Pattern: a: empty lists"):
        criteria = {"Filters": [{"Pattern": '{"a": []}'}]}
        from_api({"EventSourceArn": ARN, "FunctionName": "f", "FilterCriteria": criteria})


def test_to_api_round_trips() -> None:
    mapping = EventSourceMapping(
        source=ARN, function="app:handler", batch_size=50, starting_position="LATEST",
        destination_config=DestinationConfig(OnFailure("arn:aws:sqs:r:1:dlq")),
        filter_criteria=FilterCriteria.of({"data": {"a": [1]}}), function_response_types=("ReportBatchItemFailures",),
        scaling_config=None, maximum_retry_attempts=5,
    )
    properties = to_api(mapping)
    assert properties["BatchSize"] == 50
    assert properties["FilterCriteria"] == {"Filters": [{"Pattern": '{"data": {"a": [1]}}'}]}
    assert from_api(properties) == mapping
    scaled = EventSourceMapping(source=ARN, function="f", scaling_config=ScalingConfig(3))
    assert from_api(to_api(scaled)).scaling_config == ScalingConfig(3)
