"""Local ARNs for every resource type that has one, so ``!GetAtt ExecutionRole.Arn`` resolves as on AWS.

A template hands ARNs around that batchmap never uses (a role for the
function, a state machine for an environment variable); refusing them would
stop the whole app over a value nobody reads locally. Each ARN follows its
service's own format (IAM is global, S3 has neither region nor account) with
the local region and account, and is deterministic: the same template gives
the same ARNs on every run. A type not in the table gets the common shape
``arn:aws:SERVICE:REGION:ACCOUNT:TYPE/NAME``. Custom resources have no ARN.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Final

_FORMATS: Final[dict[str, str]] = {
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::IAM::User": "arn:aws:iam::{account}:user/{name}",
    "AWS::IAM::Group": "arn:aws:iam::{account}:group/{name}",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::{account}:policy/{name}",
    "AWS::IAM::InstanceProfile": "arn:aws:iam::{account}:instance-profile/{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::LayerVersion": "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    "AWS::Serverless::LayerVersion": "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::Serverless::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::StepFunctions::Activity": "arn:aws:states:{region}:{account}:activity:{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{uuid}",
    "AWS::SSM::Parameter": "arn:aws:ssm:{region}:{account}:parameter/{path}",
    "AWS::Scheduler::Schedule": "arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
    "AWS::Scheduler::ScheduleGroup": "arn:aws:scheduler:{region}:{account}:schedule-group/{name}",
    "AWS::Pipes::Pipe": "arn:aws:pipes:{region}:{account}:pipe/{name}",
    "AWS::KinesisFirehose::DeliveryStream": "arn:aws:firehose:{region}:{account}:deliverystream/{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Serverless::SimpleTable": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::Kinesis::Stream": "arn:aws:kinesis:{region}:{account}:stream/{name}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "AWS::Cognito::UserPool": "arn:aws:cognito-idp:{region}:{account}:userpool/{region}_{suffix}",
    "AWS::AppSync::GraphQLApi": "arn:aws:appsync:{region}:{account}:apis/{suffix}",
}
"""The ARN of each common type; ``{suffix}`` and ``{uuid}`` are derived from the name."""

_SERVICES: Final[dict[str, str]] = {
    "StepFunctions": "states", "Cognito": "cognito-idp", "KinesisFirehose": "firehose",
    "ElasticLoadBalancingV2": "elasticloadbalancing", "CertificateManager": "acm", "ApiGatewayV2": "apigateway",
    "OpenSearchService": "es", "Elasticsearch": "es", "AmazonMQ": "mq", "KinesisAnalyticsV2": "kinesisanalytics",
}
"""CloudFormation's service names whose ARN prefix differs from the name in lower case."""

REF_IS_ARN: Final = frozenset({
    "AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine", "AWS::StepFunctions::Activity",
    "AWS::IAM::ManagedPolicy", "AWS::SecretsManager::Secret", "AWS::Lambda::LayerVersion",
    "AWS::Serverless::LayerVersion",
})
"""Types whose ``Ref`` is their ARN rather than their name (topics are handled with the sources)."""

_WORD_START: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

_NO_ARN_PREFIXES: Final = ("AWS::Serverless::", "AWS::CloudFormation::")
"""SAM's other types (Api, HttpApi, Application, Connector) and stacks' own plumbing have no ``Arn``."""


def local_arn(resource_type: str, name: str, region: str, account: str) -> str | None:
    """The ARN of a resource of ``resource_type`` named ``name``; ``None`` when the type has none."""
    template = _FORMATS.get(resource_type)
    if template is None:
        template = _generic(resource_type)
        if template is None:
            return None
    digest = hashlib.sha256(f"{resource_type}:{name}".encode()).hexdigest()
    return template.format(account=account, region=region, name=name, path=name.lstrip("/"),
                           suffix=digest[:6], uuid=uuid.UUID(digest[:32]))


def has_arn(resource_type: str) -> bool:
    """Whether ``Fn::GetAtt X.Arn`` of this type has a local value."""
    return resource_type in _FORMATS or _generic(resource_type) is not None


def _generic(resource_type: str) -> str | None:
    parts = resource_type.split("::")
    if len(parts) != 3 or parts[0] != "AWS" or resource_type.startswith(_NO_ARN_PREFIXES):
        return None
    service = _SERVICES.get(parts[1], parts[1].lower())
    kind = _WORD_START.sub("-", parts[2]).lower()  # DeliveryStream -> delivery-stream, DBCluster -> db-cluster
    return f"arn:aws:{service}:{{region}}:{{account}}:{kind}/{{name}}"
