"""The contract suite's queue kits, fixtures, handlers and engine helpers, for tests outside tests/contract.

A test module imports what it needs from here (fixtures included: pytest finds
them in the module), so no conftest has to repeat the contract suite's set-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
if str(CONTRACT) not in sys.path:
    sys.path.insert(0, str(CONTRACT))

import contract_fixtures  # noqa: E402
import contract_handlers as handlers  # noqa: E402
from contract_fixtures import *  # noqa: E402, F403  (every kit fixture of the registry)
from contract_fixtures import QUEUES, STREAMS  # noqa: E402
from contract_support import drain, engine_for, logged, mapping, messages, start, wait_until  # noqa: E402
from contract_target import Kit, Target  # noqa: E402


def kit_for(request: pytest.FixtureRequest) -> Kit:
    """The kit a parametrised fixture names (``request.param`` is ``sqs``, ``redis``, ...)."""
    kit: Kit = request.getfixturevalue(f"{request.param}_kit")
    return kit


__all__ = [
    *contract_fixtures.__all__, "QUEUES", "STREAMS", "Kit", "Target", "drain", "engine_for", "handlers", "kit_for",
    "logged", "mapping", "messages", "start", "wait_until",
]
