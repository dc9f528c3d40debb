"""Which PostgreSQL errors waiting cannot cure (shared by the queue source and the checkpoint store)."""

from __future__ import annotations

_FATAL_STATES = frozenset({"28000", "28P01", "3D000", "42501", "42P01", "3F000"})
"""Bad credentials, no such database, insufficient privilege, no such table or schema."""
_FATAL_TEXT = ("password authentication failed", "no pg_hba.conf entry", "does not exist", "permission denied")
"""The same refusals as libpq words them at connection time, where psycopg gives no SQLSTATE."""


def fatal_postgres(exc: BaseException) -> bool:
    """True for a refusal that stays (credentials, a missing database, role or table, privileges)."""
    if getattr(exc, "sqlstate", None) in _FATAL_STATES:
        return True
    text = str(exc)
    return any(words in text for words in _FATAL_TEXT)
