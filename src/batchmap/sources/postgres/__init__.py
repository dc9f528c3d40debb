"""PostgreSQL source: a table leased with SKIP LOCKED, read as an SQS-like queue (extra ``postgres``)."""

from batchmap.sources.postgres._source import PostgresSource, open_source

__all__ = ["PostgresSource", "open_source"]
