"""The operator's view, through ``batchmap run``: the endpoints, the status page in a real browser, the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
TUNING = HERE.parent / "tuning"  # the project's headless-Chromium driver lives beside the tuner's tests
for folder in (HERE, TUNING):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
