"""The Kinesis source the registry opens for ``arn:aws:kinesis:...`` (implemented in ``batchmap.sources.aws``)."""

from batchmap.sources.aws.kinesis import KinesisStream, open_source

__all__ = ["KinesisStream", "open_source"]
