"""The order make test hands units to its workers in (tests/support/scheduling.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import scheduling

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Item:
    nodeid: str


def test_every_module_named_exists() -> None:
    named = set(scheduling.SPLIT) | {unit.split("::")[0] for unit in scheduling.LONGEST}
    assert [name for name in sorted(named) if not (ROOT / name).is_file()] == []


def test_a_split_modules_tests_are_units_of_their_own_and_other_modules_go_whole() -> None:
    split = scheduling.SPLIT[0]
    assert scheduling.unit_of(f"{split}::test_a[x]") == f"{split}::test_a[x]"
    assert scheduling.unit_of("tests/unit/x/test_y.py::test_z[1]") == "tests/unit/x/test_y.py"


def test_the_longest_units_lead_and_each_module_stays_together() -> None:
    longest = next(unit for unit in scheduling.LONGEST if "::" not in unit)
    names = ["tests/unit/a/test_one.py::t1", "tests/integration/b/test_two.py::t1", "tests/unit/a/test_one.py::t2",
             f"{longest}::t1", "tests/integration/b/test_two.py::t2", f"{longest}::t2"]
    items = [Item(name) for name in names]
    scheduling.order(items)  # type: ignore[arg-type]
    ids = [item.nodeid for item in items]
    assert ids[:2] == [f"{longest}::t1", f"{longest}::t2"]
    assert sorted(ids) == sorted(names)
    for module in ("tests/unit/a/test_one.py", "tests/integration/b/test_two.py"):
        at = [i for i, nodeid in enumerate(ids) if nodeid.startswith(module)]
        assert at == list(range(at[0], at[0] + 2)), ids
