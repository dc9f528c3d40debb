"""batchmap: Lambda-grade batch processing for Python, anywhere."""

from __future__ import annotations

from batchmap.errors import BatchmapError

__all__ = ["BatchmapError"]
