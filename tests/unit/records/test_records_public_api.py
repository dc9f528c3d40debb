"""The curated public surface: every name in __all__ resolves, and importing stays cheap."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import batchmap.handler
import batchmap.records


@pytest.mark.parametrize("module", [batchmap.records, batchmap.handler])
def test_all_names_resolve_and_are_sorted(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError):
        module.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_processing_a_batch_imports_no_heavy_module() -> None:
    """The cold-start path: no asyncio, typing, dataclasses, logging, json, threading for a clean SQS batch."""
    program = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from batchmap.handler import process_batch\n"
        "event = {'Records': [{'messageId': 'm1', 'body': 'x', 'eventSource': 'aws:sqs', 'attributes': {}}]}\n"
        "assert process_batch(event, lambda record: None) == {'batchItemFailures': []}\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    loaded = set(ast.literal_eval(out.splitlines()[-1]))
    heavy = {"asyncio", "typing", "dataclasses", "logging", "threading", "inspect", "concurrent"}
    assert not {name.split(".")[0] for name in loaded} & heavy, sorted(loaded)
