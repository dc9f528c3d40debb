"""EventBridge's ``wildcard`` operator: ``*`` stands for any run of characters, matched in linear time.

A wildcard is split once into its literal segments (``"dir/*/file.*"`` becomes
``dir/``, ``/file.``, empty). A value matches when it starts with the first
segment, ends with the last, and holds the middle ones in order between them.
Taking the leftmost place for each middle segment is always right (a later
place only leaves less room for the rest), so matching is one search per
segment, each resuming where the last one ended: no backtracking, whatever the
pattern. (A regular expression such as ``.*a.*a.*a.*b`` backtracks, and on a
long value takes minutes.) The middle segments are searched with ``re`` on the
escaped literal, which scans with an overlap table (linear in the value);
``str.find`` is quadratic on short values with long, self-similar segments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from batchmap.errors import FilterError

_Search = Callable[[str, int, int], "re.Match[str] | None"]


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A parsed wildcard: its literal ``segments``, one more than it has ``*``."""

    text: str
    segments: tuple[str, ...]
    _middle: tuple[_Search, ...] = field(init=False, repr=False, compare=False)
    _shortest: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        middle = tuple(re.compile(re.escape(segment)).search for segment in self.segments[1:-1])
        object.__setattr__(self, "_middle", middle)
        object.__setattr__(self, "_shortest", sum(len(segment) for segment in self.segments))

    def matches(self, value: str) -> bool:
        """Whether the whole of ``value`` fits the wildcard."""
        segments = self.segments
        if len(segments) == 1:
            return value == segments[0]
        if len(value) < self._shortest:
            return False
        first, last = segments[0], segments[-1]
        if not (value.startswith(first) and value.endswith(last)):
            return False
        position, end = len(first), len(value) - len(last)
        for search in self._middle:
            found = search(value, position, end)
            if found is None:
                return False
            position = found.end()
        return True


def parse_wildcard(text: str, where: str) -> Wildcard:
    """``*`` is the wildcard; ``\\*`` is a literal star and ``\\\\`` a literal backslash."""
    segments: list[str] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text) or text[index + 1] not in "*\\":
                raise FilterError(f"{where}: a backslash may only escape '*' or '\\' in {text!r}")
            literal.append(text[index + 1])
            index += 2
            continue
        if char == "*":
            if index + 1 < len(text) and text[index + 1] == "*":
                raise FilterError(
                    f"{where}: consecutive wildcard characters ('**') at position {index} are not allowed in {text!r}"
                )
            segments.append("".join(literal))
            literal = []
        else:
            literal.append(char)
        index += 1
    segments.append("".join(literal))
    return Wildcard(text, tuple(segments))
