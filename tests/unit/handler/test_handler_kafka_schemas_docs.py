"""The code blocks of docs/handler.md's Kafka schemas section run as printed: what they print is what their
comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "handler.md"
SECTION = "## Kafka schemas: Avro, Protobuf, JSON Schema"


def section_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def printed_by_comments(block: str) -> list[str]:
    """The output a block promises: ``print(...)  # out``, and comment lines right after a ``print`` line."""
    out: list[str] = []
    after_print = False
    for line in block.splitlines():
        stripped = line.strip()
        if "print(" in line:
            after_print = "# " not in line.split("print(", 1)[1]
            if not after_print:
                out.append(line.rsplit("# ", 1)[1])
        elif after_print and stripped.startswith("# "):
            out.append(stripped[2:])
        else:
            after_print = False
    return out


def test_the_kafka_schemas_examples_print_what_they_say() -> None:
    blocks = section_blocks()
    namespace: dict[str, object] = {"__name__": "docs_example"}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        for block in blocks:
            exec(compile(block, str(DOC), "exec", dont_inherit=True), namespace)

    expected = [line for block in blocks for line in printed_by_comments(block)]
    assert len(blocks) == 2 and len(expected) == 3
    assert stdout.getvalue().splitlines() == expected
