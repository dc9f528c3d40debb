"""Scale-out tests reuse the contract suite's kits, fixtures and subprocess helpers (tests/contract)."""

from __future__ import annotations

import sys
from pathlib import Path

CONTRACT = Path(__file__).resolve().parents[2] / "contract"
if str(CONTRACT) not in sys.path:
    sys.path.insert(0, str(CONTRACT))

from contract_fixtures import *  # noqa: E402, F403  (every kit fixture of the registry)
