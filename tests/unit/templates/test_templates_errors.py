"""Bad templates: every error names the resource, the property path and the value that is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchmap.config import MetricsConfig, ProvisionedPollerConfig
from batchmap.errors import MissingExtraError, TemplateError
from batchmap.templates import load_template

Write = Callable[..., Path]

FUNCTION = """\
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {runtime}
      Handler: {handler}
      CodeUri: src/
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: {queue}
{extra}
  Jobs:
    Type: AWS::SQS::Queue
"""


def sqs_app(write: Write, *, runtime: str = "python3.12", handler: str = "app.handler",
            queue: str = "!GetAtt Jobs.Arn", extra: str = "", head: str = "") -> Path:
    body = FUNCTION.format(runtime=runtime, handler=handler, queue=queue, extra=extra)
    return write(f"{head}Resources:\n{body}")


def error_of(path: Path, **options: Any) -> str:
    with pytest.raises(TemplateError) as caught:
        load_template(path, **options)
    return str(caught.value)


@pytest.mark.parametrize(("runtime", "reason"), [
    ("nodejs20.x", "a nodejs runtime; batchmap runs Python handlers only"),
    ("java21", "a java runtime"),
    ("provided.al2023", "a provided runtime"),
    ("python2.7", "Python 2 is not supported"),
    ("PYTHON3_VERSION", "'PYTHON3_VERSION' is not a Lambda runtime (an unresolved placeholder?)"),
])
def test_runtimes_other_than_python3_are_refused(write_template: Write, runtime: str, reason: str) -> None:
    message = error_of(sqs_app(write_template, runtime=runtime))
    assert message.startswith("Resources.Consumer.Properties.Runtime: ")
    assert reason in message


def test_a_node_function_without_mappings_does_not_stop_the_app(write_template: Write) -> None:
    path = sqs_app(write_template, extra="""\
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Events:
        Get:
          Type: Api
          Properties: {Path: /, Method: get}""")
    app = load_template(path)
    assert list(app.mappings) == ["Consumer.Jobs"]
    assert "Api.Get: a Api event is not an event source mapping; not run" in app.skipped


def test_an_unresolvable_ref_names_the_property_and_the_name(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, queue="!GetAtt Missing.Arn"))
    assert message == ("Resources.Consumer.Properties.Events.Jobs.Properties.Queue.Fn::GetAtt: "
                       "GetAtt Missing.Arn: no resource 'Missing'")
    message = error_of(sqs_app(write_template, extra="            BatchSize: !Ref BatchSizeParam"))
    assert message == ("Resources.Consumer.Properties.Events.Jobs.Properties.BatchSize.Ref: "
                       "Ref 'BatchSizeParam': no parameter, pseudo parameter or resource of that name")


def test_an_unknown_attribute_is_named(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, queue="!GetAtt Jobs.Url"))
    assert ("Events.Jobs.Properties.Queue.Fn::GetAtt: GetAtt Jobs.Url: AWS::SQS::Queue has no attribute 'Url'"
            in message)
    assert "(attributes: Arn, QueueName, QueueUrl)" in message


def test_a_bad_setting_names_the_mapping_and_the_property(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, extra="            BatchSize: lots"))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs: BatchSize (--batch-size)")
    assert "'lots'" in message


def test_settings_are_checked_for_the_source_kind_as_aws_does_at_deploy(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, extra="            BatchSize: 100"))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs: MaximumBatchingWindowInSeconds")
    message = error_of(sqs_app(write_template, extra="            StartingPosition: LATEST"))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs: StartingPosition")


def test_a_queue_visibility_timeout_shorter_than_the_function_timeout(write_template: Write) -> None:
    path = sqs_app(write_template)
    path.write_text(path.read_text().replace("  Jobs:\n    Type: AWS::SQS::Queue\n",
                                             "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                                             "      VisibilityTimeout: 10\n")
                    .replace("CodeUri: src/", "CodeUri: src/\n      Timeout: 60"))
    message = error_of(path)
    assert message == ("Resources.Consumer.Properties.Events.Jobs: VisibilityTimeout: invalid value 10.0 "
                       "(Queue visibility timeout: 10 seconds is less than Function timeout: 60 seconds)")


def test_a_topic_is_not_an_event_source(write_template: Write) -> None:
    path = sqs_app(write_template, queue="!Ref Alerts")
    path.write_text(path.read_text() + "  Alerts:\n    Type: AWS::SNS::Topic\n")
    message = error_of(path)
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs.Properties.Queue: ")
    assert "AWS::SNS::Topic Alerts is not an event source" in message


def test_an_unknown_event_property_is_refused(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, extra="            BatchSzie: 5"))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs: ")
    assert "BatchSzie" in message and "unknown property" in message


def test_a_bad_filter_pattern_names_the_mapping(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, extra="""\
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"status": "not-a-list"}}'"""))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs: ")
    assert "not-a-list" in message


def test_a_bad_handler_is_named(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, handler="handler"))
    assert message.startswith("Resources.Consumer.Properties.Handler: ")
    assert "'handler'" in message


def test_missing_runtime_and_handler_say_where_to_set_them(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Events:
                Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
          Q:
            Type: AWS::SQS::Queue
        """)
    assert error_of(path) == ("Resources.Fn.Properties.Runtime: required (set it on the function or in "
                              "Globals.Function)")


def test_code_in_s3_images_and_tenant_isolation_are_refused(write_template: Write) -> None:
    for extra, where in (
        ("CodeUri: {Bucket: my-bucket, Key: code.zip}", "CodeUri"),
        ("CodeUri: s3://my-bucket/code.zip", "CodeUri"),
        ("PackageType: Image", "PackageType"),
        ("TenancyConfig: {TenantIsolationMode: PER_TENANT}", "TenancyConfig"),
    ):
        path = write_template(f"""\
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.12
                  Handler: app.handler
                  {extra}
                  Events:
                    Q: {{Type: SQS, Properties: {{Queue: !GetAtt Q.Arn}}}}
              Q:
                Type: AWS::SQS::Queue
            """)
        assert error_of(path).startswith(f"Resources.Fn.Properties.{where}: "), extra


def test_an_unbound_dynamodb_stream_is_refused_with_the_way_out(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              StreamSpecification: {StreamViewType: NEW_IMAGE}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Changes:
                  Type: DynamoDB
                  Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}
        """)
    message = error_of(path)
    assert message.startswith("Resources.Fn.Properties.Events.Changes.Properties.Stream: ")
    assert "the embedded stream delivers Kinesis records, not DynamoDB ones" in message
    assert "Sources: {Table: arn:aws:dynamodb:" in message


def test_a_table_without_a_stream_has_no_stream_arn(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Changes:
                  Type: DynamoDB
                  Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}
        """)
    message = error_of(path)
    assert message.startswith("Resources.Table.Properties.StreamSpecification: ")
    assert "no StreamSpecification" in message


def test_an_unbound_msk_cluster_is_refused(write_template: Write) -> None:
    path = write_template("""\
        Parameters:
          Cluster: {Type: String, Default: "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc"}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Orders:
                  Type: MSK
                  Properties: {Stream: !Ref Cluster, Topics: [orders], StartingPosition: LATEST}
        """)
    message = error_of(path)
    assert message.startswith("Resources.Fn.Properties.Events.Orders.Properties.Stream: ")
    assert "an MSK cluster cannot run locally" in message and "kafka://127.0.0.1:9092" in message


def test_mq_events_are_refused(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Broker:
                  Type: MQ
                  Properties: {Broker: arn:aws:mq:us-east-1:123456789012:broker:b, Queues: [q]}
        """)
    assert error_of(path).startswith("Resources.Fn.Properties.Events.Broker.Type: MQ: Amazon MQ brokers")


def test_import_value_says_to_use_a_parameter(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, queue="!ImportValue shared-queue-arn"))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs.Properties.Queue: Fn::ImportValue")
    assert "use a parameter" in message


def test_a_parameter_without_a_value_is_an_error_only_when_used(write_template: Write) -> None:
    head = "Parameters:\n  Unused: {Type: String}\n  Size: {Type: Number}\n"
    assert load_template(sqs_app(write_template, head=head)).mappings
    path = sqs_app(write_template, head=head, extra="            BatchSize: !Ref Size")
    message = error_of(path)
    assert "BatchSize.Ref: parameter 'Size' has no Default" in message
    assert "--parameter-overrides Size=VALUE" in message
    assert load_template(path, parameters={"Size": "7"}).mappings["Consumer.Jobs"].mapping.batch_size == 7


@pytest.mark.parametrize(("spec", "value", "reason"), [
    ("{Type: Number}", "ten", "is not a number"),
    ("{Type: Number, MaxValue: 10}", "11", "above MaxValue 10"),
    ("{Type: String, AllowedValues: [a, b]}", "c", "not among AllowedValues"),
    ("{Type: String, AllowedPattern: '[a-z]+'}", "A1", "does not match AllowedPattern"),
    ("{Type: String, MaxLength: 3}", "abcd", "longer than MaxLength 3"),
])
def test_parameter_constraints(write_template: Write, spec: str, value: str, reason: str) -> None:
    path = sqs_app(write_template, head=f"Parameters:\n  P: {spec}\n", extra="            BatchSize: !Ref P")
    message = error_of(path, parameters={"P": value})
    assert message.startswith("Parameters.P: ") and reason in message and repr(value) in message


def test_an_unknown_parameter_override_is_refused(write_template: Write) -> None:
    message = error_of(sqs_app(write_template), parameters={"Nope": "1"})
    assert message == "--parameter-overrides: no parameter named 'Nope' in the template (parameters: none)"


def test_ssm_parameters_need_an_override(write_template: Write) -> None:
    head = "Parameters:\n  Size: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /app/batch-size}\n"
    path = sqs_app(write_template, head=head, extra="            BatchSize: !Ref Size")
    assert "reads SSM parameter '/app/batch-size'" in error_of(path)
    assert load_template(path, parameters={"Size": "3"}).mappings["Consumer.Jobs"].mapping.batch_size == 3


def test_a_circular_condition_is_named(write_template: Write) -> None:
    head = "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n"
    message = error_of(sqs_app(write_template, head=head, extra="            Enabled: !If [A, true, false]"))
    assert "circular condition: A -> B -> A" in message


def test_a_referenced_resource_under_a_false_condition(write_template: Write) -> None:
    path = write_template("""\
        Conditions:
          Never: !Equals [a, b]
        Resources:
          Q:
            Type: AWS::SQS::Queue
            Condition: Never
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
        """)
    assert "resource Q is not created: its Condition 'Never' is false" in error_of(path)


@pytest.mark.parametrize(("queue", "reason"), [
    ("!Select [3, [a, b]]", "index 3 is out of range for 2 value(s)"),
    ("!Select [x, [a, b]]", "expected an index"),
    ("!Join [',', notalist]", "expected a list of values"),
    ("!Sub '${Nope}'", "${Nope}: no variable, parameter or resource of that name"),
    ("!FindInMap [M, k, v]", "FindInMap M/k/v: Mappings has no 'M'"),
    ("!If [NoSuchCondition, a, b]", "unknown condition 'NoSuchCondition'"),
    ("!Equals [a, b]", "Fn::Equals belongs in Conditions"),
    ("!Cidr [10.0.0.0/16, 2, 8]", "Fn::Cidr"),
])
def test_intrinsic_errors_name_the_property(write_template: Write, queue: str, reason: str) -> None:
    message = error_of(sqs_app(write_template, queue=queue))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs.Properties.Queue")
    assert reason in message


def test_a_queue_name_sqs_would_refuse(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Q:
            Type: AWS::SQS::Queue
            Properties: {QueueName: "has spaces", VisibilityTimeout: 999999}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
        """)
    assert re.match(r"Resources\.Q\.Properties\.QueueName: .*'has spaces'", error_of(path))


def test_a_queue_attribute_sqs_would_refuse(write_template: Write) -> None:
    path = sqs_app(write_template)
    path.write_text(path.read_text().replace("  Jobs:\n    Type: AWS::SQS::Queue\n",
                                             "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                                             "      VisibilityTimeout: 999999\n"))
    message = error_of(path)
    assert message.startswith("Resources.Jobs.Properties: VisibilityTimeout: invalid value '999999'")


def test_an_embedded_queue_cannot_redrive_to_a_remote_one(write_template: Write) -> None:
    path = sqs_app(write_template)
    path.write_text(path.read_text().replace("  Jobs:\n    Type: AWS::SQS::Queue\n", """\
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:dlq", maxReceiveCount: 3}
"""))
    message = error_of(path)
    assert message.startswith("Resources.Jobs.Properties.RedrivePolicy.deadLetterTargetArn: ")
    assert "must be embedded too" in message


def test_not_a_template(write_template: Write) -> None:
    assert "no Resources section" in error_of(write_template("just: text\n"))
    assert "no resource has an AWS:: Type" in error_of(write_template("Resources:\n  X: {Type: Custom::Y}\n"))
    assert "not valid YAML" in error_of(write_template("Resources: [\n"))
    assert "not valid JSON" in error_of(write_template('{"Resources": ', name="t.json"))
    assert "cannot read the template" in error_of(write_template("x: 1\n").with_name("missing.yaml"))


def test_transforms_other_than_sam_are_refused(write_template: Write) -> None:
    path = sqs_app(write_template, head="Transform: [AWS::Serverless-2016-10-31, MyMacro]\n")
    assert error_of(path) == ("Transform: 'MyMacro': only the AWS::Serverless transform (SAM) and "
                              "AWS::LanguageExtensions are supported locally")


def test_a_mapping_resource_must_name_a_function_of_the_template(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Q:
            Type: AWS::SQS::Queue
          Mapping:
            Type: AWS::Lambda::EventSourceMapping
            Properties:
              EventSourceArn: !GetAtt Q.Arn
              FunctionName: someone-elses-function
        """)
    assert error_of(path) == ("Resources.Mapping.Properties.FunctionName: 'someone-elses-function' is not a "
                              "function of this template (batchmap runs the template's own functions)")


def test_yaml_needs_the_sam_extra(write_template: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from batchmap.templates import document

    real_import = builtins.__import__

    def no_yaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(document, "_LOADER", None)
    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(MissingExtraError) as caught:
        load_template(sqs_app(write_template))
    assert "pip install 'batchmap[sam]'" in str(caught.value)


def test_a_reserved_lambda_variable_in_a_functions_environment_is_refused(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Q: {Type: AWS::SQS::Queue}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Environment: {Variables: {AWS_REGION: eu-west-1}}
              Events:
                Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
        """)
    message = error_of(path)
    assert message.startswith("Resources.Fn.Properties: environment: invalid value {'AWS_REGION': 'eu-west-1'}")
    assert "AWS_REGION is reserved: Lambda sets it itself and refuses it in a function's environment" in message


def test_provisioned_pollers_and_metric_groups_are_read_with_their_references(write_template: Write) -> None:
    head = "Parameters:\n  Floor:\n    Type: Number\n    Default: 3\n"
    path = sqs_app(write_template, head=head, extra="""\
            ProvisionedPollerConfig:
              MinimumPollers: !Ref Floor
              MaximumPollers: 6
            MetricsConfig:
              Metrics: [EventCount]""")
    mapping = load_template(path).mappings["Consumer.Jobs"].mapping
    assert mapping.provisioned_poller_config == ProvisionedPollerConfig(3, 6)
    assert mapping.metrics_config == MetricsConfig(("EventCount",))


def test_provisioned_pollers_are_checked_for_the_source_kind(write_template: Write) -> None:
    message = error_of(sqs_app(write_template, extra="""\
            ProvisionedPollerConfig:
              MinimumPollers: 1"""))
    assert message.startswith("Resources.Consumer.Properties.Events.Jobs: ProvisionedPollerConfig "
                              "(--provisioned-poller-config): invalid value 1 (MinimumPollers: an integer from 2")
    message = error_of(sqs_app(write_template, extra="""\
            MetricsConfig:
              Metrics: [KafkaMetrics]"""))
    assert "MetricsConfig.Metrics (--metrics-config): invalid value 'KafkaMetrics'" in message
