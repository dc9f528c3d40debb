"""Imports run downward only: every import in src/batchmap obeys the layer table below.

The table is the one place the layering is written in code; docs/contributing.md
shows it (a test here keeps the two equal). Each top-level package (or module)
of ``batchmap`` has a rank; a module may import its own package and packages of
lower rank only. Imports inside functions and under ``TYPE_CHECKING`` count too:
a lazy import that runs upward is a cycle in disguise. The few that must stay
are listed in ``ALLOWED`` with the reason, and an entry that no longer occurs
fails the test, so the list only shrinks.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "batchmap"
CONTRIBUTING = Path(__file__).resolve().parents[3] / "docs" / "contributing.md"

LAYERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("foundation", ("lazy", "redaction", "errors", "clock", "records"),
     "the handler toolkit's base: standard library only; records owns each shape's rules (records.shapes)"),
    ("policy", ("filters", "metrics"), "pure matching and counting, no I/O of their own"),
    ("settings and brokers", ("config", "sources"),
     "validated settings (no engine types); one adapter per broker, declaring its traits"),
    ("runtime", ("handler", "engine"), "the in-Lambda toolkit; the engine that polls, batches, invokes and settles"),
    ("tools", ("tuning", "templates", "observe"), "the tuner, SAM templates, the operator's endpoints"),
    ("entry points", ("cli", "__main__", "batchmap"), "the command, and the curated public API (lazy)"),
)
"""Bottom up: (layer, its packages from lower to higher rank, what it holds)."""

TOOLKIT = frozenset({"lazy", "redaction", "errors", "clock", "records", "handler"})
"""Shipped inside users' Lambda bundles: these import only each other."""

ALLOWED: dict[tuple[str, str], str] = {}
"""(importing module, imported module) -> why this upward import stays for now."""

RANK: dict[str, int] = {
    package: rank for rank, package in enumerate(p for _, packages, _ in LAYERS for p in packages)
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """The top-level package (or module) of ``batchmap`` that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every batchmap module that ``path`` imports, anywhere in it, with the line."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base]
        else:
            continue
        for target in targets:
            if target == "batchmap" or target.startswith("batchmap."):
                yield target, node.lineno


@functools.cache
def all_imports() -> tuple[tuple[str, str, int], ...]:
    """Parsed once per process: four tests read it, and parsing every module of src was most of their time."""
    return tuple((module_name(path), target, line)
                 for path in sorted(SRC.rglob("*.py")) for target, line in imports(path))


def test_every_package_has_a_layer() -> None:
    packages = {package_of(module_name(path)) for path in SRC.rglob("*.py")}
    assert packages == set(RANK), f"add to LAYERS: {sorted(packages - set(RANK))}; gone: {sorted(set(RANK) - packages)}"


def test_imports_run_downward_only() -> None:
    wrong = []
    for module, target, line in all_imports():
        low, high = package_of(target), package_of(module)
        if RANK[low] > RANK[high] and (module, target) not in ALLOWED:
            wrong.append(f"{module}:{line} imports {target} ({high} may not import {low})")
    assert not wrong, "\n".join(wrong)


def test_every_allowed_exception_still_occurs() -> None:
    found = {(module, target) for module, target, _ in all_imports()}
    assert not set(ALLOWED) - found, f"no longer needed, remove from ALLOWED: {sorted(set(ALLOWED) - found)}"


def test_no_module_imports_another_packages_private_module() -> None:
    wrong = [f"{module}:{line} imports {target}" for module, target, line in all_imports()
             if package_of(target) != package_of(module)
             and any(part.startswith("_") for part in target.split(".")[1:])]
    assert not wrong, "\n".join(wrong)


def test_the_toolkit_imports_only_the_toolkit() -> None:
    wrong = [f"{module}:{line} imports {target}" for module, target, line in all_imports()
             if package_of(module) in TOOLKIT and package_of(target) not in TOOLKIT]
    assert not wrong, "\n".join(wrong)


def render_table() -> str:
    """The layer table as docs/contributing.md shows it (top layer first)."""
    rows = ["| layer | packages (lower rank first) | holds |", "|---|---|---|"]
    for name, packages, holds in reversed(LAYERS):
        rows.append(f"| {name} | {', '.join(f'`{p}`' for p in packages)} | {holds} |")
    return "\n".join(rows)


def test_contributing_shows_this_table() -> None:
    assert render_table() in CONTRIBUTING.read_text(encoding="utf-8"), (
        "docs/contributing.md must show the layer table exactly as render_table() prints it:\n" + render_table()
    )

