"""Redis Streams source: a consumer group read as an SQS-like queue (extra ``redis``)."""

from batchmap.sources.redis_streams._source import RedisStreamsSource, open_source

__all__ = ["RedisStreamsSource", "open_source"]
