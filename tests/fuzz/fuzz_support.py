"""Malformed events for the fuzz suite: mutations of the golden events, and how many cases to run.

``mutated_events()`` takes a golden event (``tests/events``, the malformed ones
included) and applies one to four mutations at random places of its tree:
delete a key or an item, replace a value with a nasty one (null, a wrong type,
a huge string, bad base64, a lone surrogate, JSON nested thousands deep), add a
field, list the same record twice, wrap a value in another type.

Case counts: ``make test`` runs each test's ``examples`` with a fixed seed
(``derandomize``), so CI sees the same cases every time; ``HYPOTHESIS_PROFILE=long``
multiplies them by ``LONG_FACTOR`` with fresh random cases (the 10⁶-case run of
docs/reliability.md).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
GOLDEN: dict[str, Any] = {
    p.name: json.loads(p.read_text()) for p in sorted(EVENTS_DIR.glob("*.json")) if p.name != "expected.json"
}
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
LONG_FACTOR = int(os.environ.get("BATCHMAP_FUZZ_FACTOR", "100"))
F = TypeVar("F", bound=Callable[..., Any])


def fuzz(examples: int) -> Callable[[F], F]:
    """Hypothesis settings for a fuzz test: ``examples`` cases (times ``LONG_FACTOR`` in the long run)."""
    return settings(
        max_examples=examples * LONG_FACTOR if LONG else examples,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _deep_attribute(depth: int) -> Any:
    value: Any = {"S": "bottom"}
    for _ in range(depth):
        value = {"M": {"a": value}}
    return value


def _huge() -> str:
    return "x" * 300_000


SPECIAL: list[Any] = [
    "", " ", _huge, "\ud800", "a\udfffb", "\x00", "é", "😀",
    "!!not base64!!", "YQ", "YQ=", "YQ===", "=", "aGVsbG8", "8J+YgA==", "bnVsbA==", "eyJhIjogMX0=", "/w==",
    "WzE=", "[" * 5000, "{\"a\":", "null", "1e999", "NaN", "-1", "00", "1" * 5000, "1.5", "aws:sqs",
    "aws:kinesis", "aws:dynamodb", "aws:kafka", "SelfManagedKafka", "mytopic-0", "t-0",
    0, -1, 1, 2**63, 10**400, -(2**70), 0.5, float("nan"), float("inf"), True, False, None,
    [], {}, [1, 2, 300], [-1], [104, 105], ["a"], [None], [[]], {"a": 1}, {"": None},
    {"S": "x"}, {"N": "1.5"}, {"N": "abc"}, {"N": 5}, {"B": "!!"}, {"SS": "x"}, {"NS": ["1", "x"]}, {"L": 5},
    {"M": []}, {"BOOL": "yes"}, {"X": 1}, {"S": "a", "N": "1"}, {"partition": "t-0", "offset": 1},
    _deep, _deep_attribute,
]
FIELDS = ["messageId", "body", "attributes", "MessageGroupId", "eventSource", "eventSourceARN", "kinesis",
          "dynamodb", "data", "partitionKey", "sequenceNumber", "SequenceNumber", "Keys", "NewImage", "OldImage",
          "SizeBytes", "key", "value", "headers", "offset", "partition", "topic", "timestamp", "Records",
          "records", "userIdentity", "ApproximateReceiveCount", "SentTimestamp", "approximateArrivalTimestamp"]

def _fresh(value: Any) -> Any:
    """A value of ``SPECIAL`` the mutations may change without changing ``SPECIAL``."""
    if value is _deep:
        return _deep(3000)
    if value is _deep_attribute:
        return _deep_attribute(1500)
    if value is _huge:
        return _huge()
    return copy.deepcopy(value) if isinstance(value, list | dict) else value


specials = st.sampled_from(SPECIAL).map(_fresh)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(st.characters(exclude_categories=()), max_size=12),
)
nasty = st.one_of(
    specials,
    scalars,
    st.lists(st.integers(-300, 300), max_size=4),
    st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=3),
)


def _paths(node: Any, path: tuple[Any, ...], depth: int) -> Iterator[tuple[Any, ...]]:
    yield path
    if depth == 0:
        return
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*path, key), depth - 1)
    elif isinstance(node, list):
        for index, child in enumerate(node[:12]):
            yield from _paths(child, (*path, index), depth - 1)


def _text(value: Any) -> str:
    try:
        return str(value)[:50]
    except RecursionError:
        return "deep"


def _at(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


# Strategies made once: a strategy built inside a draw (``sampled_from(a fresh list)``) is validated and labelled
# again on every call: about a fifth of the fuzz suite's CPU went to that.
PLACES = st.integers(0, 2**16)
"""An index into a tree's paths, taken modulo their number (so it shrinks to the root)."""
OPERATIONS = st.sampled_from(["delete", "replace", "replace", "add", "duplicate", "wrap"])
WRAPS = st.integers(0, 2)
NEW_KEYS = st.sampled_from(FIELDS) | st.text(max_size=4)
MUTATIONS = st.integers(1, 4)
ALL_GOLDEN = st.sampled_from(sorted(GOLDEN))


def _mutate(draw: st.DrawFn, holder: dict[str, Any]) -> None:
    paths = list(_paths(holder["event"], ("event",), 7))
    path = paths[draw(PLACES) % len(paths)]
    parent, key = _at(holder, path[:-1]), path[-1]
    operation = draw(OPERATIONS)
    if operation == "delete" and parent is not holder:
        del parent[key]
    elif operation == "add" and isinstance(parent[key], dict):
        parent[key][draw(NEW_KEYS)] = draw(nasty)
    elif operation == "add" and isinstance(parent[key], list):
        parent[key].append(draw(nasty))
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, parent[key])  # the same object twice: a record listed twice
    elif operation == "wrap":
        parent[key] = [[parent[key]], {"value": parent[key]}, _text(parent[key])][draw(WRAPS)]
    else:
        parent[key] = draw(nasty)


@st.composite
def mutated_events(draw: st.DrawFn, names: list[str] | None = None) -> Any:
    """A golden event with one to four mutations (see the module docstring)."""
    name = draw(st.sampled_from(names) if names else ALL_GOLDEN)
    holder = {"event": copy.deepcopy(GOLDEN[name])}
    for _ in range(draw(MUTATIONS)):
        _mutate(draw, holder)
    return holder["event"]


def record_dicts(event: Any) -> list[Any]:
    """What the event holds where records go: ``Records`` items, or the items of Kafka's ``records`` lists."""
    if not isinstance(event, dict):
        return []
    records = event.get("Records")
    if isinstance(records, list):
        return records
    by_partition = event.get("records")
    if isinstance(by_partition, dict):
        return [r for batch in by_partition.values() if isinstance(batch, list) for r in batch]
    return []
