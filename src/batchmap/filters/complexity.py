"""AWS's "rule is too complex" check for wildcards, measured as EventBridge measures it.

EventBridge matches a field's values with one byte automaton, and refuses a
rule whose wildcards could leave too many partial matches alive at once. Its
measure (Event Ruler's ``MachineComplexityEvaluator``): run the wildcards of a
field, as the bytes of the quoted JSON string, over every input at once (the
subset construction), and take the largest number of live states, counting
the ``*`` state a state could slip into. ``*:*:*:*:*:event-bus/*`` reaches 11
and AWS refuses it; ``arn:aws:events:us-east-1:*:event-bus/*`` reaches 3.

batchmap's own matching is linear whatever the pattern (``wildcard``): the
limit is kept so a pattern that works here also deploys on AWS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from batchmap.filters.wildcard import Wildcard

MAX_WILDCARD_COMPLEXITY: Final = 10
"""The most live partial matches EventBridge lets one field's wildcards have (above 7 AWS still
accepts, at 11 it refuses: recorded outcomes; AWS does not publish the number)."""

_STAR: Final = -1
_START: Final = -2
_OTHER: Final = 256
_QUOTE: Final = ord('"')


def wildcard_complexity(wildcards: Iterable[Wildcard], limit: int = MAX_WILDCARD_COMPLEXITY) -> int:
    """The most states the wildcards keep alive at once; stops counting once past ``limit``."""
    tokens: list[int] = []
    starts: list[int] = []
    for wildcard in wildcards:
        starts.append(len(tokens))
        tokens.append(_START)
        tokens.extend(_units(wildcard))
    if not starts:
        return 0
    tokens.append(_START)  # a sentinel: the last unit of each wildcard is followed by a start
    initial = frozenset(starts)
    seen = {initial}
    pending = [initial]
    worst = 0
    while pending:
        active = pending.pop()
        for byte in _bytes_after(active, tokens):
            reached = frozenset(_step(active, byte, tokens))
            if not reached:
                continue
            worst = max(worst, _live(reached, tokens))
            if worst > limit:
                return worst
            if reached not in seen:
                seen.add(reached)
                pending.append(reached)
    return worst


def _units(wildcard: Wildcard) -> list[int]:
    """The bytes of the quoted string, with ``_STAR`` for each ``*`` (EventBridge works on UTF-8 bytes)."""
    units = [_QUOTE]
    for index, segment in enumerate(wildcard.segments):
        if index:
            units.append(_STAR)
        units.extend(segment.encode("utf-8", "surrogatepass"))
    units.append(_QUOTE)
    return units


def _bytes_after(active: frozenset[int], tokens: list[int]) -> set[int]:
    """The bytes that move some state forward, plus one byte that moves none (only ``*`` takes it)."""
    found = {_OTHER}
    for state in active:
        following = tokens[state + 1]
        if following == _STAR:
            following = tokens[state + 2]
        if following >= 0:
            found.add(following)
    return found


def _step(active: frozenset[int], byte: int, tokens: list[int]) -> list[int]:
    reached: list[int] = []
    for state in active:
        if tokens[state] == _STAR:
            reached.append(state)
        following = state + 1
        if tokens[following] == _STAR:
            reached.append(following)
            following += 1
        if tokens[following] == byte:
            reached.append(following)
    return reached


def _live(reached: frozenset[int], tokens: list[int]) -> int:
    """The states reached, plus each ``*`` state one of them could slip into without a byte."""
    slips = sum(1 for state in reached if tokens[state + 1] == _STAR and state + 1 not in reached)
    return len(reached) + slips
