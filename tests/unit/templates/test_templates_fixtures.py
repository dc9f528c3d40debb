"""Realistic SAM / CloudFormation templates turned into the mappings, functions and sources they describe."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from batchmap.config import DestinationConfig, EventSourceMapping, OnFailure, ScalingConfig
from batchmap.config.function import FunctionConfig
from batchmap.errors import TemplateError
from batchmap.filters import FilterCriteria
from batchmap.templates import App, load_template

FIXTURES = Path(__file__).parent / "fixtures"
DATABASE = FIXTURES / ".batchmap" / "fixtures.db"
TABLE_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/staging-orders/stream/2024-01-01T00:00:00.000"
MSK_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster/751d2973-a626-431c-9d4e-d7975eb44dd7-2"


def uri(kind: str, name: str) -> str:
    return f"sqlite:///{DATABASE.resolve()}?{kind}={name}"


def without_uuid(mapping: EventSourceMapping) -> EventSourceMapping:
    return dataclasses.replace(mapping, uuid=None)


def test_sqs_queue_with_dead_letter_queue_globals_and_parameters() -> None:
    app = load_template(FIXTURES / "orders_sqs.yaml")
    queue = uri("queue", "fixtures-orders-dev")
    function = FunctionConfig(
        handler="orders.handler", name="OrdersFunction", timeout_s=20, memory_mb=256,
        environment={"STAGE": "dev", "LOG_LEVEL": "DEBUG", "RETRIES": "3", "DRY_RUN": "false",
                     "QUEUE_URL": queue},
        code_path=str((FIXTURES / "src").resolve()),
    )
    assert list(app.mappings) == ["OrdersFunction.Orders"]
    assert without_uuid(app.mappings["OrdersFunction.Orders"].mapping) == EventSourceMapping(
        source=queue, function=function, batch_size=25, maximum_batching_window_in_seconds=1,
        function_response_types=("ReportBatchItemFailures",), scaling_config=ScalingConfig(5),
        filter_criteria=FilterCriteria.of('{"body": {"type": ["order.created", "order.cancelled"]}}'),
    )
    assert app.functions["OrdersFunction"].runtime == "python3.12"
    assert app.functions["OrdersFunction"].architecture == "arm64"
    assert app.stack_name == "fixtures" and app.database == DATABASE.resolve()
    assert app.skipped == (
        "OrdersFunction.Nightly: a Schedule event is not an event source mapping; not run",)


def test_redrive_policy_names_the_embedded_dead_letter_queue() -> None:
    app = load_template(FIXTURES / "orders_sqs.yaml")
    dlq, queue = app.sources["OrdersDeadLetterQueue"], app.sources["OrdersQueue"]
    assert dlq.name == "fixtures-orders-dlq-dev" and dlq.uri == uri("queue", "fixtures-orders-dlq-dev")
    assert dlq.queue_attributes == {"MessageRetentionPeriod": "1209600"}
    assert queue.queue_attributes["VisibilityTimeout"] == "120"
    assert json.loads(queue.queue_attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:local:000000000000:fixtures-orders-dlq-dev",
        "maxReceiveCount": "3"}
    assert "Tags" not in queue.queue_attributes


def test_parameter_overrides_change_names_conditions_and_settings() -> None:
    app = load_template(FIXTURES / "orders_sqs.yaml",
                        parameters={"Stage": "prod", "OrdersBatchSize": "100", "MaxReceives": "5"})
    mapping = app.mappings["OrdersFunction.Orders"].mapping
    assert mapping.source == uri("queue", "fixtures-orders-prod")
    assert (mapping.batch_size, mapping.maximum_batching_window_in_seconds) == (100, 5)
    assert json.loads(app.sources["OrdersQueue"].queue_attributes["RedrivePolicy"])["maxReceiveCount"] == "5"
    assert app.parameters == {"Stage": "prod", "OrdersBatchSize": "100", "MaxReceives": "5"}


def test_kinesis_and_dynamodb_mappings_with_a_failure_queue() -> None:
    app = load_template(FIXTURES / "streams.yaml", overrides={"Sources": {"OrdersTable": TABLE_STREAM}})
    clicks = app.mappings["ClickFunction.Clicks"].mapping
    assert without_uuid(clicks) == EventSourceMapping(
        source=uri("stream", "fixtures-staging-clicks"),
        function=FunctionConfig(handler="app.lambda_handler", name="ClickFunction", timeout_s=60,
                                memory_mb=512, environment={"POWERTOOLS_SERVICE_NAME": "clicks-staging"},
                                code_path=str((FIXTURES / "clicks").resolve())),
        batch_size=500, maximum_batching_window_in_seconds=2, starting_position="TRIM_HORIZON",
        parallelization_factor=4, bisect_batch_on_function_error=True, maximum_retry_attempts=3,
        maximum_record_age_in_seconds=3600, tumbling_window_in_seconds=60,
        function_response_types=("ReportBatchItemFailures",),
        destination_config=DestinationConfig(OnFailure(uri("queue", "StreamFailures"))),
    )
    changes = app.mappings["OrderChangesFunction.OrderChanges"].mapping
    assert changes.source == TABLE_STREAM
    assert changes.function == FunctionConfig(
        handler="changes.handler", name="OrderChangesFunction", timeout_s=60,
        environment={"POWERTOOLS_SERVICE_NAME": "clicks-staging"},
        code_path=str((FIXTURES / "orders").resolve()))
    assert (changes.starting_position, changes.batch_size) == ("LATEST", 100)
    assert changes.filter_criteria == FilterCriteria.of('{"eventName": ["INSERT", "MODIFY"]}')
    stream = app.sources["ClickStream"]
    assert (stream.shard_count, stream.retention_hours, stream.embedded) == (2, 24, True)
    assert app.sources["OrdersTable"].embedded is False


def test_find_in_map_follows_a_parameter() -> None:
    app = load_template(FIXTURES / "streams.yaml", parameters={"Environment": "production"},
                        overrides={"Sources": {"OrdersTable": TABLE_STREAM}})
    assert app.sources["ClickStream"].retention_hours == 168
    assert app.sources["ClickStream"].name == "fixtures-production-clicks"


def test_self_managed_kafka_and_msk_become_kafka_uris() -> None:
    app = load_template(FIXTURES / "kafka.yaml", overrides={"Sources": {MSK_ARN: "kafka://127.0.0.1:9092"}})
    payments = app.mappings["SelfManagedConsumer.Payments"].mapping
    assert payments.source == ("kafka://broker-1.example.internal:9092,broker-2.example.internal:9092/payments"
                               "?group=payments-consumer")
    assert (payments.batch_size, payments.starting_position) == (200, "TRIM_HORIZON")
    orders = app.mappings["MskConsumer.Orders"].mapping
    assert orders.uuid is not None
    assert orders.source == f"kafka://127.0.0.1:9092/orders?group={orders.uuid}"  # AWS's default group
    assert (orders.starting_position, orders.maximum_batching_window_in_seconds) == ("LATEST", 1)
    assert orders.function == FunctionConfig(handler="consumer.msk_handler", name="MskConsumer",
                                             code_path=str((FIXTURES / "kafka").resolve()))


def test_plain_cloudformation_json_with_event_source_mapping_resources() -> None:
    app = load_template(FIXTURES / "plain_cloudformation.json")
    function = FunctionConfig(handler="ingest.handler", name="ingest", timeout_s=30,
                              code_path=str((FIXTURES / "functions" / "ingest").resolve()))
    assert list(app.mappings) == ["IngestMapping", "EventsMapping"]
    assert without_uuid(app.mappings["IngestMapping"].mapping) == EventSourceMapping(
        source=uri("queue", "ingest.fifo"), function=function, batch_size=10, enabled=True)
    assert without_uuid(app.mappings["EventsMapping"].mapping) == EventSourceMapping(
        source=uri("stream", "EventsStream"), function=function, batch_size=50,
        starting_position="TRIM_HORIZON", maximum_retry_attempts=2,
        filter_criteria=FilterCriteria.of('{"data": {"kind": ["click"]}}'))
    queue = app.sources["IngestQueue"]
    assert queue.queue_attributes == {"FifoQueue": "true", "ContentBasedDeduplication": "true",
                                      "VisibilityTimeout": "90"}
    assert app.sources["EventsStream"].shard_count == 4  # on-demand streams start with four shards
    assert [m.function_id for m in app.mappings.values()] == ["IngestFunction", "IngestFunction"]


def test_every_intrinsic_in_short_and_long_form() -> None:
    app = load_template(FIXTURES / "intrinsics.yaml")
    mapping = app.mappings["WorkFunction.Work"].mapping
    assert mapping.source == uri("queue", "work-dev-local")
    assert (mapping.batch_size, mapping.maximum_batching_window_in_seconds) == (5, 1)
    assert mapping.scaling_config == ScalingConfig(3)
    assert mapping.filter_criteria == FilterCriteria.of('{"body": {"stage": ["dev"]}}')
    assert mapping.enabled is True
    function = app.functions["WorkFunction"].config
    assert function.timeout_s == 10
    assert function.handler == "worker/main.handle" and function.code_path == str(FIXTURES.resolve())
    assert function.environment == {
        "QUEUE_NAME": "work-dev-local", "QUEUE_ARN": "arn:aws:sqs:local:000000000000:work-dev-local",
        "GREETING": "hello ${Literal} from fixtures in local/aws", "ENCODED": "YmF0Y2htYXA=",
        "ZONE": "locala", "ACCOUNT": "000000000000.amazonaws.com",
    }
    assert app.sources["WorkQueue"].queue_attributes == {"VisibilityTimeout": "60"}
    assert "ProdOnlyQueue" not in app.sources  # its Condition is false


def test_conditions_flip_with_parameters() -> None:
    app = load_template(FIXTURES / "intrinsics.yaml",
                        parameters={"Stage": "prod", "Critical": "true", "Features": "none,scaling"})
    mapping = app.mappings["WorkFunction.Work"].mapping
    assert mapping.batch_size == 100
    assert mapping.maximum_batching_window_in_seconds == 5
    assert mapping.scaling_config is None  # NotProd is false: AWS::NoValue removed the property
    assert mapping.enabled is False  # the first feature is not "filters"
    assert app.functions["WorkFunction"].config.environment["OPTIONAL"] == "prod-only"
    assert app.sources["WorkQueue"].queue_attributes == {"VisibilityTimeout": "300"}
    assert "ProdOnlyQueue" in app.sources


def test_mapping_ids_are_stable_and_distinct() -> None:
    first = load_template(FIXTURES / "plain_cloudformation.json")
    second = load_template(FIXTURES / "plain_cloudformation.json")
    ids = [m.mapping.uuid for m in first.mappings.values()]
    assert ids == [m.mapping.uuid for m in second.mappings.values()]
    assert len(set(ids)) == 2
    other_stack = load_template(FIXTURES / "plain_cloudformation.json", stack_name="other")
    assert not set(ids) & {m.mapping.uuid for m in other_stack.mappings.values()}


def test_event_source_mappings_and_source_uri() -> None:
    app: App = load_template(FIXTURES / "orders_sqs.yaml")
    assert app.event_source_mappings == [app.mappings["OrdersFunction.Orders"].mapping]
    assert app.source_uri("OrdersDeadLetterQueue") == uri("queue", "fixtures-orders-dlq-dev")
    with pytest.raises(TemplateError, match=r"no queue or stream 'Nope'.*OrdersDeadLetterQueue, OrdersQueue"):
        app.source_uri("Nope")
