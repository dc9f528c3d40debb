"""RabbitMQ source: a quorum queue read as an SQS-like queue (extra ``rabbitmq``)."""

from batchmap.sources.rabbitmq._source import RabbitMQSource, open_source

__all__ = ["RabbitMQSource", "open_source"]
