"""The embedded source's tables, created on first open of a database file.

One file holds any number of queues and streams, their checkpoints and shard
leases. ``messages.seq`` and ``records.seq`` are AUTOINCREMENT row ids: they
are assigned inside the single SQLite writer lock, so they grow in commit order
across every process sharing the file; that is what makes FIFO order and stream
sequence numbers safe without any other coordination.
"""

from __future__ import annotations

SCHEMA_VERSION = 3
"""1: queues, messages, streams, checkpoints, leases. 2: ``messages.dead_letter_source`` (the queue
that dead-lettered a message, for moving it back) and ``move_tasks``. 3: ``messages_tenant``, the
index of fair queues (``queue_tenants``)."""

DDL = """
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    fifo INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    md5 TEXT NOT NULL,
    message_attributes TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sent_ms INTEGER NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt TEXT,
    dead_letter_source INTEGER
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue_id, visible_ms);
CREATE INDEX IF NOT EXISTS messages_enqueued ON messages (queue_id, enqueued_ms);
CREATE INDEX IF NOT EXISTS messages_fifo_order ON messages (queue_id) WHERE group_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_tenant ON messages (queue_id, group_id, visible_ms)
    WHERE group_id IS NOT NULL AND dedup_id IS NULL;
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL,
    dedup_key TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (queue_id, dedup_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    retention_hours INTEGER NOT NULL,
    next_shard_index INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shards (
    id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    shard_id TEXT NOT NULL,
    start_hash TEXT NOT NULL,
    end_hash TEXT NOT NULL,
    parent_ids TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    UNIQUE (stream_id, shard_id)
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    shard_row INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    arrival_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_shard ON records (shard_row);
CREATE INDEX IF NOT EXISTS records_arrival ON records (shard_row, arrival_ms);
CREATE TABLE IF NOT EXISTS checkpoints (
    mapping_id TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    sequence_number TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (mapping_id, shard_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    mapping_id TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (mapping_id, shard_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS move_tasks (
    handle TEXT PRIMARY KEY,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    max_per_second INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL DEFAULT 0,
    to_move INTEGER,
    failure TEXT,
    started_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS move_tasks_source ON move_tasks (source_arn, started_ms);
"""

MIGRATIONS = (("messages", "dead_letter_source", "ALTER TABLE messages ADD COLUMN dead_letter_source INTEGER"),)
"""Columns added since version 1: (table, column, statement), run when a file's table lacks the column."""
