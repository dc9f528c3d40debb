"""The SQS source the registry opens for ``arn:aws:sqs:...``, and the SQS on-failure destination
(implemented in ``batchmap.sources.aws``)."""

from batchmap.sources.aws.sqs import SqsQueue, open_source
from batchmap.sources.aws.sqs_destination import SqsDestination, open_destination

__all__ = ["SqsDestination", "SqsQueue", "open_destination", "open_source"]
