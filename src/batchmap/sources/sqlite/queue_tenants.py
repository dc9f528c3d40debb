"""Fair queues: a standard queue's ``MessageGroupId`` names a tenant, and receive takes turns among them.

SQS delivers a quiet tenant's messages before a noisy one's (one that holds a
disproportionate share of the messages in flight). batchmap's rule, which needs
no detection and no state beyond the rows themselves: each visible message of a
tenant gets a *turn*, the tenant's messages in flight plus the message's place
in its tenant's line (1 for the oldest visible); a receive takes the lowest
turns first and, on a tie, the oldest message (``visible_ms``, then ``seq``).
So tenants are served round-robin, and a tenant already holding many messages
in flight waits while the others catch up.

No message waits forever: a tenant's oldest visible message is taken before any
of its later ones, the tenant's in-flight count can only fall while it waits
(each in-flight message is deleted or becomes visible again within its
visibility timeout), and at the lowest turn only the finitely many messages
older than it come first; a message without a group is its own tenant, turn 1,
and competes once it is among the ``limit`` oldest visible messages (an index
of ungrouped messages would cost every plain queue on every receive).

Only standard queues' grouped rows are in the ``messages_tenant`` index
(``dedup_id`` is set on every FIFO message and on no standard one), so a queue
without groups keeps its plain receive (``HAS_TENANTS`` says which) and no write
of its rows touches the index. The statement walks the tenants through the index
(one seek each), reads at most ``limit`` messages per tenant, and never scans a
tenant's backlog.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_TENANT = "group_id IS NOT NULL AND dedup_id IS NULL"
"""The ``messages_tenant`` index's condition: a grouped message of a standard queue."""

HAS_TENANTS = f"SELECT EXISTS (SELECT 1 FROM messages WHERE queue_id = ? AND {_TENANT})"
"""Whether the queue holds a grouped message: one seek in ``messages_tenant``."""

FAIR_PICK = f"""
WITH RECURSIVE tenants(g) AS (
    SELECT MIN(group_id) FROM messages WHERE queue_id = :queue AND {_TENANT}
    UNION ALL
    SELECT (SELECT MIN(group_id) FROM messages WHERE queue_id = :queue AND group_id > g AND {_TENANT})
    FROM tenants WHERE g IS NOT NULL
),
lines(g, busy, head) AS MATERIALIZED (
    SELECT g,
        (SELECT COUNT(*) FROM messages WHERE queue_id = :queue AND group_id = g AND {_TENANT}
            AND visible_ms > :now AND receive_count > 0),
        (SELECT json_group_array(seq) FROM (
            SELECT seq FROM messages WHERE queue_id = :queue AND group_id = g AND {_TENANT}
            AND visible_ms <= :now AND enqueued_ms > :cutoff ORDER BY visible_ms, seq LIMIT :limit))
    FROM tenants WHERE g IS NOT NULL
),
candidates(seq, visible_ms, turn) AS (
    SELECT m.seq, m.visible_ms, l.busy + row_number() OVER (PARTITION BY l.g ORDER BY m.visible_ms, m.seq)
    FROM lines AS l, json_each(l.head) AS j, messages AS m WHERE m.seq = j.value
    UNION ALL
    SELECT seq, visible_ms, 1 FROM (
        SELECT seq, visible_ms, group_id FROM messages WHERE queue_id = :queue AND visible_ms <= :now
        AND enqueued_ms > :cutoff ORDER BY visible_ms, seq LIMIT :limit
    ) WHERE group_id IS NULL
)
SELECT seq FROM candidates ORDER BY turn, visible_ms, seq LIMIT :limit
"""
"""The ``seq`` of up to ``:limit`` visible messages, lowest turn first (see the module docstring).

``lines`` holds each tenant's in-flight count and its first ``:limit`` visible
messages (the only candidates it can have in one receive), read off the index."""

NOISY_SHARE = 0.10
NOISY_IN_FLIGHT = 30
"""AWS's documented concurrency-share rule: a tenant with more than 10 % of the queue's in-flight messages
and at least 30 of its own in flight is a noisy neighbour (``inspect`` counts them; receive needs no flag)."""

_COUNTS = (
    "SELECT group_id, COALESCE(SUM(visible_ms <= :now), 0), "
    "COALESCE(SUM(visible_ms > :now AND receive_count > 0), 0), "
    f"COALESCE(SUM(visible_ms > :now AND receive_count = 0), 0) FROM messages "
    f"WHERE queue_id = :queue AND {_TENANT} AND enqueued_ms > :cutoff GROUP BY group_id"
)


@dataclass(frozen=True, slots=True)
class TenantCounts:
    """One tenant (message group) of a standard queue: its messages by state."""

    group: str
    visible: int
    in_flight: int
    delayed: int
    noisy: bool


def tenant_counts(conn: sqlite3.Connection, queue_id: int, now_ms: int, cutoff_ms: int,
                  in_flight_total: int) -> list[TenantCounts]:
    """Every tenant of the queue with its counts, the largest backlog first.

    ``noisy`` applies AWS's concurrency-share rule against ``in_flight_total``
    (the queue's in-flight messages, with or without a group).
    """
    if not conn.execute(HAS_TENANTS, (queue_id,)).fetchone()[0]:
        return []  # a plain queue: one index seek, no second count of its messages
    rows = conn.execute(_COUNTS, {"queue": queue_id, "now": now_ms, "cutoff": cutoff_ms}).fetchall()
    tenants = [TenantCounts(group, visible, in_flight, delayed, _noisy(in_flight, in_flight_total))
               for group, visible, in_flight, delayed in rows]
    return sorted(tenants, key=lambda t: (-(t.visible + t.in_flight + t.delayed), t.group))


def _noisy(in_flight: int, in_flight_total: int) -> bool:
    return in_flight >= NOISY_IN_FLIGHT and in_flight > NOISY_SHARE * in_flight_total
