"""NATS JetStream source: a durable pull consumer read as an SQS-like queue (extra ``nats``)."""

from batchmap.sources.nats._source import NatsSource, open_source

__all__ = ["NatsSource", "open_source"]
