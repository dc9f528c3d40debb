"""The curated public API: every name in ``__all__`` resolves, and importing batchmap stays light."""

from __future__ import annotations

import subprocess
import sys

import batchmap


def test_every_public_name_resolves() -> None:
    for name in batchmap.__all__:
        assert getattr(batchmap, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    assert list(batchmap.__all__) == sorted(set(batchmap.__all__))


def test_unknown_names_raise_attribute_error() -> None:
    try:
        batchmap.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown attribute must raise")


def test_import_batchmap_loads_neither_the_engine_nor_third_party_modules() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import batchmap\n"
        "from batchmap import batch_handler, process_batch, parse_event\n"
        "new = set(sys.modules) - before\n"
        "loaded = [m for m in new if m.startswith('batchmap.')]\n"
        "third = [m.split('.')[0] for m in new if m.split('.')[0] not in sys.stdlib_module_names\n"
        "         and m.split('.')[0] != 'batchmap']\n"
        "print(sorted(set(loaded)), sorted(set(third)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded, third = out.split("] [")
    assert "batchmap.engine" not in loaded and "batchmap.sources" not in loaded
    assert third.strip("[]\n") == "", third
