"""AWS CLI shorthand syntax: ``OnFailure={Destination=arn:...}``, ``Filters=[{Pattern='{...}'}]``.

The grammar is the AWS CLI's: comma-separated ``key=value`` pairs; a value is a
structure ``{k=v,...}``, a list ``[v,...]``, a quoted string (``'...'`` or
``"..."``, where a backslash escapes the quote or itself) or a bare string that
runs to the next ``,``, ``]`` or ``}``. Values stay strings: the caller knows
which are numbers. For keys named in ``raw_json``, a value that starts as a JSON
object or array is taken verbatim (so ``Pattern={"a":[1]}`` needs no quoting).
"""

from __future__ import annotations

import json
from typing import Any

from batchmap.errors import ConfigError


def parse_shorthand(text: str, parameter: str, raw_json: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Parse ``text``; errors are ``ConfigError`` naming ``parameter`` and the position."""
    parser = _Parser(text, parameter, raw_json)
    result = parser.structure(end="")
    if parser.pos != len(text):
        parser.fail("unexpected text")
    return result


class _Parser:
    def __init__(self, text: str, parameter: str, raw_json: frozenset[str]) -> None:
        self.text = text
        self.pos = 0
        self.parameter = parameter
        self.raw_json = raw_json

    def fail(self, message: str) -> None:
        raise ConfigError(
            self.parameter, self.text, f"shorthand syntax error at character {self.pos + 1}: {message}; "
            "expected Key=Value pairs such as Key={Nested=Value},List=[a,b], or JSON"
        )

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def structure(self, end: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if end and self.peek() == end:
            return result
        while True:
            key = self.key()
            if key in result:
                self.fail(f"{key} is given twice")
            stops = ",}" if end else ","
            result[key] = self.value(key, stops=stops)
            if isinstance(result[key], str) and self.continues_list(stops):
                items = [result[key]]  # ``Key=a,b``: the AWS CLI reads bare items without ``=`` as a list
                while self.continues_list(stops):
                    self.pos += 1
                    items.append(self.bare(stops))
                result[key] = items
            if self.peek() != ",":
                return result
            self.pos += 1

    def continues_list(self, stops: str) -> bool:
        """After ``Key=a``: whether ``,b`` follows, an item with no ``=`` before the next stop."""
        if self.peek() != ",":
            return False
        at = self.pos + 1
        while at < len(self.text) and self.text[at] not in stops and self.text[at] not in "=[]{}":
            at += 1
        return (at == len(self.text) or self.text[at] in stops) and bool(self.text[self.pos + 1:at].strip())

    def key(self) -> str:
        start = self.pos
        while self.peek() and self.peek() not in "=,[]{}":
            self.pos += 1
        key = self.text[start:self.pos].strip()
        if not key or self.peek() != "=":
            self.pos = start
            self.fail("expected Key=Value")
        self.pos += 1
        return key

    def value(self, key: str | None, stops: str) -> Any:
        self.skip_spaces()
        char = self.peek()
        if not char:  # the text ends where a value starts: an empty value (``"" in "'"`` would be true)
            return ""
        if key in self.raw_json and char in "{[":
            raw = self.raw_json_value()
            if raw is not None:
                return raw
        if char == "{":
            self.pos += 1
            nested = self.structure(end="}")
            self.expect("}")
            return nested
        if char == "[":
            return self.list()
        if char in "'\"":
            return self.quoted(char)
        return self.bare(stops)

    def raw_json_value(self) -> str | None:
        try:
            _, end = json.JSONDecoder().raw_decode(self.text, self.pos)
        except ValueError:
            return None
        raw = self.text[self.pos:end]
        self.pos = end
        return raw

    def list(self) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        self.skip_spaces()
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            items.append(self.value(None, stops=",]"))
            self.skip_spaces()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return items

    def quoted(self, quote: str) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in (quote, "\\"):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                self.skip_spaces()
                return "".join(out)
            out.append(char)
            self.pos += 1
        self.fail(f"unterminated {quote}-quoted string")
        return ""  # pragma: no cover - fail() raises

    def bare(self, stops: str) -> str:
        start = self.pos
        while self.peek() and self.peek() not in stops and self.peek() not in "[]{}":
            self.pos += 1
        if self.peek() and self.peek() not in stops:
            self.fail(f"unexpected {self.peek()!r} in a value (quote values that contain brackets)")
        return self.text[start:self.pos].strip()

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if self.peek() != char:
            self.fail(f"expected {char!r}")
        self.pos += 1
        self.skip_spaces()

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1
