"""The contract suite runs one set of behaviours on every source; the fixtures are in ``contract_fixtures``.

Helpers live in modules with names of their own (``contract_*``), put on
``sys.path`` here: test modules never import a conftest (several collide).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from contract_fixtures import *  # noqa: E402, F403  (every kit fixture the registry made, and the families)
