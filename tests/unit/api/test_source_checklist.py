"""The "add a source" checklist of docs/contributing.md holds for every source of the registry.

Each source module named in ``sources.registry.OPENERS`` exists, has a kit in the one
registry of kits (``contract_target.KITS``), and each kit has its row in docs/contract.md's
table of sources; the checklist itself stays at six items.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "contract"
for folder in (CONTRACT, ROOT / "tests" / "support"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import contract_fixtures  # noqa: E402, F401  (imports the kit modules: every kit registers itself)
from contract_target import KITS  # noqa: E402

from batchmap.sources.registry import OPENERS  # noqa: E402

SOURCES = ROOT / "src" / "batchmap" / "sources"


def module_of(scheme: str) -> str:
    return OPENERS[scheme].partition(":")[0]


def docs_rows() -> dict[str, str]:
    """docs/contract.md's table of sources: first column -> kind."""
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    table = text.split("| Source | Kind |", 1)[1].split("\n\n", 1)[0]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.splitlines()[2:]]
    return {row[0]: row[1] for row in cells}


def test_every_module_in_the_registry_exists() -> None:
    for scheme, target in OPENERS.items():
        module, _, function = target.partition(":")
        relative = Path(*module.split(".")[2:])
        path = SOURCES / relative.with_suffix(".py")
        if not path.exists():
            path = SOURCES / relative / "__init__.py"
        assert path.exists(), f"OPENERS[{scheme!r}] names {module}, which has no file"
        text = path.read_text(encoding="utf-8")  # defined there, or imported from where it is
        assert re.search(rf"def {function}\(|import .*\b{function}\b", text), f"{module} has no {function}"


def test_every_source_module_has_a_kit_and_every_kit_a_registered_scheme() -> None:
    for kit in KITS.values():
        assert kit.scheme in OPENERS, f"kit {kit.fixture}: scheme {kit.scheme!r} is not in OPENERS"
    covered = {module_of(kit.scheme) for kit in KITS.values()}
    missing = sorted({module_of(scheme) for scheme in OPENERS} - covered)
    assert not missing, f"source modules no kit puts under contract: {missing}"


def test_every_kit_has_its_docs_row_and_every_row_a_kit() -> None:
    rows = docs_rows()
    assert {kit.title: kit.kind for kit in KITS.values()} == rows


def test_the_checklist_has_at_most_six_items() -> None:
    text = (ROOT / "docs" / "contributing.md").read_text(encoding="utf-8")
    section = text.split("## Adding a source\n", 1)[1].split("\n## ", 1)[0]
    items = re.findall(r"^(\d+)\. ", section, flags=re.MULTILINE)
    assert items == [str(n) for n in range(1, len(items) + 1)] and 1 <= len(items) <= 6, items
