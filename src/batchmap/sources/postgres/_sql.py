"""The SQL of the PostgreSQL queue: one table per queue, leases as timestamps.

Every statement is a single autocommitted statement, so each step (claim with
dead-lettering, delete, release) is atomic without holding a transaction open
across an await. ``{q}``, ``{dlq}``, ``{index}``, ``{trigger}`` are identifiers
filled in with ``psycopg.sql``; values are always parameters.
"""

from __future__ import annotations

DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('batchmap.sources.postgres ddl'))"
"""Serialises CREATE ... IF NOT EXISTS between processes opening the same queue at once."""

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.batchmap_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], '');
  RETURN NULL;
END $$
"""

TABLE = """
CREATE TABLE IF NOT EXISTS {q} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id uuid NOT NULL DEFAULT gen_random_uuid(),
  body text NOT NULL,
  attributes jsonb NOT NULL DEFAULT '{{}}',
  sent_at timestamptz NOT NULL DEFAULT now(),
  visible_at timestamptz NOT NULL DEFAULT now(),
  receive_count integer NOT NULL DEFAULT 0,
  first_received_at timestamptz,
  lease uuid
)
"""

INDEX = "CREATE INDEX IF NOT EXISTS {index} ON {q} (visible_at, id)"

TRIGGER = """
CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT ON {q}
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.batchmap_notify({channel})
"""

_COLUMNS = "id, message_id, body, attributes, sent_at, receive_count, first_received_at"

_PICK_AND_LEASE = """
picked AS (
  SELECT id FROM {q} WHERE visible_at <= now() AND receive_count < %(max)s
  ORDER BY visible_at, id LIMIT %(n)s FOR UPDATE SKIP LOCKED
)
UPDATE {q} AS m SET visible_at = now() + %(vis)s * interval '1 second',
  receive_count = m.receive_count + 1, lease = gen_random_uuid(),
  first_received_at = coalesce(m.first_received_at, now())
FROM picked WHERE m.id = picked.id
RETURNING m.id, m.message_id, m.body, m.attributes, m.sent_at, m.receive_count, m.first_received_at, m.lease
"""

CLAIM = "WITH " + _PICK_AND_LEASE
"""Lease up to n visible messages: receive_count + 1, a fresh lease token, invisible for the timeout."""

CLAIM_WITH_DEAD_LETTER = """
WITH dead AS (
  DELETE FROM {q} WHERE id IN (
    SELECT id FROM {q} WHERE visible_at <= now() AND receive_count >= %(max)s
    ORDER BY visible_at, id LIMIT %(n)s FOR UPDATE SKIP LOCKED)
  RETURNING """ + _COLUMNS + """
), moved AS (
  INSERT INTO {dlq} (message_id, body, attributes, sent_at)
  SELECT message_id, body,
    attributes || jsonb_build_object('dlq.source_id', id::text, 'dlq.source_queue', %(queue)s::text,
                                     'dlq.receive_count', receive_count::text),
    sent_at
  FROM dead
), """ + _PICK_AND_LEASE
"""As CLAIM, but first move messages received max times to the dead-letter table, in the same statement."""

NEXT_VISIBLE = "SELECT extract(epoch FROM min(visible_at) - now()) FROM {q}"

DELETE = """
DELETE FROM {q} AS m USING unnest(%s::bigint[], %s::uuid[]) AS h(id, lease)
WHERE m.id = h.id AND m.lease = h.lease
"""

RELEASE = """
UPDATE {q} AS m SET visible_at = now() + %s * interval '1 second', lease = NULL
FROM unnest(%s::bigint[], %s::uuid[]) AS h(id, lease)
WHERE m.id = h.id AND m.lease = h.lease
"""

EXTEND = """
UPDATE {q} AS m SET visible_at = now() + %s * interval '1 second'
FROM unnest(%s::bigint[], %s::uuid[]) AS h(id, lease)
WHERE m.id = h.id AND m.lease = h.lease
RETURNING m.id
"""
"""Move the end of leases still held; the rows returned are the ones extended."""

NOTIFY = "SELECT pg_notify(%s, '')"

SEND = """
INSERT INTO {q} (message_id, body, attributes, visible_at)
SELECT i, b, a::jsonb, now() + %s * interval '1 second'
FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS u(i, b, a)
"""

BACKLOG = """
SELECT count(*) FILTER (WHERE visible_at <= now()),
       count(*) FILTER (WHERE visible_at > now() AND lease IS NOT NULL),
       count(*) FILTER (WHERE visible_at > now() AND lease IS NULL)
FROM {q}
"""

COUNT = "SELECT count(*) FROM {q}"

MOVE = """
WITH moved AS (
  DELETE FROM {q} AS m USING unnest(%s::bigint[], %s::uuid[]) AS h(id, lease)
  WHERE m.id = h.id AND m.lease = h.lease
  RETURNING m.message_id, m.body, m.attributes, m.sent_at
)
INSERT INTO {dest} (message_id, body, attributes, sent_at)
SELECT message_id, body, attributes - 'dlq.source_id' - 'dlq.source_queue' - 'dlq.receive_count', sent_at
FROM moved
"""
"""Move messages still held under their lease to another table in one statement: id, body, attributes and
send time kept, the dead-letter bookkeeping dropped, the receive count back to zero."""

TABLE_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"
