"""The DynamoDB Streams source the registry opens for ``arn:aws:dynamodb:...`` (in ``batchmap.sources.aws``)."""

from batchmap.sources.aws.dynamodb import DynamoDBStream, open_source

__all__ = ["DynamoDBStream", "open_source"]
