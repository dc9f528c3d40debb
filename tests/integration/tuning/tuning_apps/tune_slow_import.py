"""A handler whose module takes 200 ms to import (a heavy SDK client created at import time)."""

from __future__ import annotations

import time
from typing import Any

time.sleep(0.2)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"batchItemFailures": []}
