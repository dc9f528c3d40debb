"""A module whose import fails, as a missing dependency or a bad setting would make it."""

from __future__ import annotations

raise RuntimeError("the database URL is not set")
