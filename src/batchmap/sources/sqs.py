"""The SQS source the registry opens for ``arn:aws:sqs:...`` (implemented in ``batchmap.sources.aws``)."""

from batchmap.sources.aws.sqs import SqsQueue, open_source

__all__ = ["SqsQueue", "open_source"]
