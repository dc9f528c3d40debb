"""The AWS sources: SQS, Kinesis Data Streams and DynamoDB Streams, through boto3 (imported lazily).

Open them by ARN through ``batchmap.sources.registry.open_source`` (or each
module's ``open_source``); ``SourceOptions.endpoint_url`` points them at a
local endpoint such as moto. Credentials and configuration are found the boto3
way; the region is the ARN's.
"""

from batchmap.sources.aws.dynamodb import DynamoDBStream
from batchmap.sources.aws.kinesis import KinesisStream
from batchmap.sources.aws.sqs import QueueInfo, SqsQueue

__all__ = ["DynamoDBStream", "KinesisStream", "QueueInfo", "SqsQueue"]
