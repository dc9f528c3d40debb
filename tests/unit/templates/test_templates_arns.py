"""Every resource type with an ARN gets a deterministic local one, through Fn::GetAtt and (where CloudFormation
gives it) Ref, wherever the template uses it: a function's environment, a queue's attributes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from batchmap.errors import TemplateError
from batchmap.templates import load_template
from batchmap.templates.arns import has_arn, local_arn

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "000000000000"


def test_getatt_arn_and_ref_give_each_services_own_arn_format() -> None:
    app = load_template(FIXTURES / "resource_arns.yaml")
    env = app.functions["InvoiceConsumer"].config.environment
    key = env["KEY_ARN"]
    assert env == {
        "ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/invoice-consumer-role",  # IAM is global: no region
        "POLICY_ARN": f"arn:aws:iam::{ACCOUNT}:policy/ReadPolicy",  # a managed policy's Ref is its ARN
        "APPROVAL_ARN": f"arn:aws:states:local:{ACCOUNT}:stateMachine:invoice-approval",
        "APPROVAL_GETATT": f"arn:aws:states:local:{ACCOUNT}:stateMachine:invoice-approval",
        "BUS_ARN": f"arn:aws:events:local:{ACCOUNT}:event-bus/invoices",
        "BUS_NAME": "invoices",  # an event bus's Ref is its name
        "RULE_ARN": f"arn:aws:events:local:{ACCOUNT}:rule/Nightly",
        "KEY_ARN": key,
        "TOKEN_ARN": env["TOKEN_ARN"],
        "PARAMETER_ARN": f"arn:aws:ssm:local:{ACCOUNT}:parameter/invoices/threshold",
        "LOGS_ARN": f"arn:aws:logs:local:{ACCOUNT}:log-group:/invoices/consumer:*",
        "DASHBOARD_ARN": env["DASHBOARD_ARN"],
        "SELF_ARN": f"arn:aws:lambda:local:{ACCOUNT}:function:InvoiceConsumer",
    }
    assert key.startswith(f"arn:aws:kms:local:{ACCOUNT}:key/") and len(key.rsplit("/", 1)[1]) == 36
    assert env["TOKEN_ARN"].startswith(f"arn:aws:secretsmanager:local:{ACCOUNT}:secret:invoice/api-token-")
    assert env["DASHBOARD_ARN"].startswith(f"arn:aws:appsync:local:{ACCOUNT}:apis/")
    assert app.sources["InvoiceQueue"].queue_attributes == {"KmsMasterKeyId": key}


def test_local_arns_are_the_same_on_every_load() -> None:
    first = load_template(FIXTURES / "resource_arns.yaml").functions["InvoiceConsumer"].config.environment
    second = load_template(FIXTURES / "resource_arns.yaml").functions["InvoiceConsumer"].config.environment
    assert first == second


@pytest.mark.parametrize(
    ("resource_type", "expected"),
    [
        ("AWS::KinesisFirehose::DeliveryStream", "arn:aws:firehose:local:000000000000:deliverystream/x"),
        ("AWS::RDS::DBCluster", "arn:aws:rds:local:000000000000:db-cluster/x"),
        ("AWS::ECS::Cluster", "arn:aws:ecs:local:000000000000:cluster/x"),
        ("AWS::S3::Bucket", "arn:aws:s3:::x"),
        ("AWS::Serverless::Api", None),
        ("Custom::Seed", None),
        ("AWS::CloudFormation::WaitConditionHandle", None),
    ],
)
def test_types_outside_the_table_get_the_common_shape_and_custom_resources_none(
    resource_type: str, expected: str | None
) -> None:
    assert local_arn(resource_type, "x", "local", ACCOUNT) == expected
    assert has_arn(resource_type) is (expected is not None)


def test_attributes_other_than_arn_are_refused_with_the_ones_known(write_template: Callable[[str], Path]) -> None:
    path = write_template("""\
        Resources:
          Role: {Type: AWS::IAM::Role}
          Seed: {Type: Custom::Seed}
          Q: {Type: AWS::SQS::Queue}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Environment: {Variables: {ROLE_ID: !GetAtt Role.RoleId}}
              Events:
                Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
        """)
    with pytest.raises(TemplateError, match=r"GetAtt Role.RoleId: AWS::IAM::Role has no attribute 'RoleId' "
                                            r"batchmap can give locally \(attributes: Arn\)"):
        load_template(path)
    path.write_text(path.read_text().replace("!GetAtt Role.RoleId", "!GetAtt Seed.Arn"))
    with pytest.raises(TemplateError, match=r"Custom::Seed has no attribute 'Arn' .*none known locally"):
        load_template(path)
