"""Helpers for the template tests: the fixture folder and a writer for small inline templates."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def write_template(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text (dedented) to ``tmp_path/app/template.yaml`` and return the path."""

    def write(text: str, name: str = "template.yaml") -> Path:
        folder = tmp_path / "app"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write

