"""``FilterCriteria``: AWS's ``{"Filters": [{"Pattern": "<json>"}]}``, validated when built.

Every pattern is parsed and compiled once here, so a bad one is a ``FilterError``
naming its index before any record is consumed. ``for_shape`` then gives the
matcher for one source's records (``RecordFilter``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypedDict

from batchmap.errors import FilterError
from batchmap.filters.fields import MAX_PATTERN_DEPTH
from batchmap.filters.pattern import compile_pattern
from batchmap.filters.values import NestingError, brief, loads

if TYPE_CHECKING:
    from batchmap.filters.record_filter import RecordFilter
    from batchmap.records import SourceKind

MAX_FILTERS: Final = 10
"""Filters per mapping: AWS's default quota is 5, raisable to 10 on request; we accept up to 10."""

DEFAULT_FILTER_QUOTA: Final = 5
"""AWS's default quota of filters per mapping (documented; not enforced here)."""

MAX_PATTERN_LENGTH: Final = 4096
"""Characters in one ``Pattern`` string (AWS's API limit)."""


class FilterDict(TypedDict):
    """One filter on the wire."""

    Pattern: str


class FilterCriteriaDict(TypedDict):
    """``FilterCriteria`` on the wire (API, CloudFormation, ``--filter-criteria`` JSON)."""

    Filters: list[FilterDict]


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter: ``pattern`` is the JSON text of an EventBridge pattern, as AWS stores it."""

    pattern: str


@dataclass(frozen=True, slots=True)
class FilterCriteria:
    """Up to ten filters, ORed: a record passes when any pattern matches it.

    Build it from the wire form with ``from_dict`` / ``from_json``, or from
    patterns with ``of``. An empty ``FilterCriteria`` lets every record through.
    """

    filters: tuple[Filter, ...] = ()
    _parsed: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.filters) is not tuple:
            object.__setattr__(self, "filters", tuple(self.filters))
        if len(self.filters) > MAX_FILTERS:
            raise FilterError(
                f"FilterCriteria.Filters: {len(self.filters)} filters given; at most {MAX_FILTERS} are "
                f"allowed (AWS's quota is {DEFAULT_FILTER_QUOTA} by default, raisable to {MAX_FILTERS})"
            )
        object.__setattr__(self, "_parsed", tuple(_parse(index, f) for index, f in enumerate(self.filters)))

    @classmethod
    def of(cls, *patterns: str | Mapping[str, Any]) -> FilterCriteria:
        """Criteria from patterns given as JSON text or as dicts (dumped to JSON)."""
        return cls(tuple(Filter(p if isinstance(p, str) else json.dumps(p)) for p in patterns))

    @classmethod
    def from_dict(cls, value: Any) -> FilterCriteria:
        """From the wire form ``{"Filters": [{"Pattern": "..."}]}``; ``{}`` means no filters.

        As CloudFormation does, a single filter object is accepted where the list should be.
        """
        if not isinstance(value, Mapping):
            raise FilterError(f"FilterCriteria: expected an object with a Filters list, got {brief(value)}")
        unknown = sorted(set(value) - {"Filters"})
        if unknown:
            raise FilterError(f"FilterCriteria: unknown key(s) {', '.join(unknown)}; only Filters is allowed")
        filters = value.get("Filters", [])
        if isinstance(filters, Mapping):
            filters = [filters]
        if not isinstance(filters, list):
            raise FilterError(f"FilterCriteria.Filters: expected a list of {{\"Pattern\": ...}}, got {brief(filters)}")
        return cls(tuple(_filter_from_dict(index, item) for index, item in enumerate(filters)))

    @classmethod
    def from_json(cls, text: str) -> FilterCriteria:
        """From the JSON text of the wire form (as ``--filter-criteria`` takes it)."""
        try:
            value = json.loads(text)
        except RecursionError:
            raise FilterError("FilterCriteria: nested too deeply to parse") from None
        except ValueError as exc:
            raise FilterError(f"FilterCriteria: not valid JSON ({exc}): {brief(text)}") from None
        return cls.from_dict(value)

    def to_dict(self) -> FilterCriteriaDict:
        """The wire form."""
        return {"Filters": [{"Pattern": f.pattern} for f in self.filters]}

    @property
    def patterns(self) -> tuple[Any, ...]:
        """The parsed patterns, in filter order."""
        return self._parsed

    def for_shape(self, shape: SourceKind) -> RecordFilter:
        """The matcher for records of one source shape; checks the source's own pattern rules."""
        from batchmap.filters.record_filter import RecordFilter

        return RecordFilter(self, shape)


def _filter_from_dict(index: int, item: Any) -> Filter:
    where = f"FilterCriteria.Filters[{index}]"
    if not isinstance(item, Mapping) or set(item) != {"Pattern"}:
        raise FilterError(f"{where}: expected {{\"Pattern\": \"<JSON text>\"}}, got {brief(item)}")
    pattern = item["Pattern"]
    if not isinstance(pattern, str):
        raise FilterError(f"{where}.Pattern: must be a string holding JSON, got {brief(pattern)}")
    return Filter(pattern)


def _parse(index: int, item: Filter) -> Any:
    where = f"FilterCriteria.Filters[{index}].Pattern"
    if not isinstance(item, Filter):
        raise FilterError(f"FilterCriteria.Filters[{index}]: expected a Filter, got {brief(item)}")
    text = item.pattern
    if not isinstance(text, str) or not text.strip():
        raise FilterError(f"{where}: must be a non-empty string holding a JSON object, got {brief(text)}")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterError(f"{where}: {len(text)} characters; at most {MAX_PATTERN_LENGTH} are allowed")
    try:
        parsed = loads(text)
    except NestingError:
        raise FilterError(f"{where}: nested deeper than {MAX_PATTERN_DEPTH} levels") from None
    except ValueError as exc:
        raise FilterError(f"{where}: not valid JSON ({exc}): {brief(text)}") from None
    try:
        compile_pattern(parsed)
    except FilterError as exc:
        raise FilterError(f"{where}: {exc}") from None
    return parsed
