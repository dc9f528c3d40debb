"""``RecordFilter``: FilterCriteria compiled for one source's records, with the verdict's reason.

The engine asks ``matches(record)`` on the hot path and ``evaluate(record)``
when it wants to count ``FilteredOutEventCount`` and log why a record went.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from batchmap.errors import FilterError
from batchmap.filters.pattern import ABSENT, CompiledPattern, Payload, compile_pattern
from batchmap.filters.payload import DATA_KEYS, DOCUMENTS, JSON_ONLY, ON_MISMATCH, describe

if TYPE_CHECKING:
    from batchmap.filters.criteria import FilterCriteria
    from batchmap.records import SourceKind


class Verdict(StrEnum):
    """Why a record passed or not."""

    MATCHED = "matched"
    """A filter matched (or there are no filters): the record goes to the function."""
    FILTERED_OUT = "filtered_out"
    """No filter matched: the record is dropped (SQS: deleted; streams: skipped; Kafka: committed)."""
    FORMAT_MISMATCH = "format_mismatch"
    """No filter matched because the payload's format differs from the pattern's: dropped like above."""


@dataclass(frozen=True, slots=True)
class FilterResult:
    """A verdict, the index of the filter that matched (if any) and a reason fit for a log line."""

    verdict: Verdict
    filter_index: int | None = None
    reason: str = ""

    @property
    def matched(self) -> bool:
        """Whether the record goes to the function."""
        return self.verdict is Verdict.MATCHED


_NO_FILTERS: Final = FilterResult(Verdict.MATCHED, None, "no filter criteria")
_NONE_MATCHED: Final = FilterResult(Verdict.FILTERED_OUT, None, "no filter matched")
_FORMATS: Final = {"json": "as JSON", "text": "as a plain string"}


class RecordFilter:
    """Matches AWS-shaped records of one ``shape`` against compiled criteria."""

    __slots__ = ("_document", "_matched", "_patterns", "_used", "criteria", "shape")

    def __init__(self, criteria: FilterCriteria, shape: SourceKind) -> None:
        if shape not in DATA_KEYS:
            raise FilterError(f"shape: unknown record shape {shape!r}; expected one of {', '.join(DATA_KEYS)}")
        self.criteria = criteria
        self.shape = shape
        data = dict.fromkeys(DATA_KEYS[shape], ON_MISMATCH[shape])
        patterns: list[CompiledPattern] = []
        for index, parsed in enumerate(criteria.patterns):
            compiled = compile_pattern(parsed, data)
            _check_source_rules(index, shape, compiled)
            patterns.append(compiled)
        self._patterns = tuple(patterns)
        self._used = frozenset(key for p in patterns for key in p.data_formats)
        self._document = DOCUMENTS[shape]
        self._matched = tuple(FilterResult(Verdict.MATCHED, i, f"matched filter {i}") for i in range(len(patterns)))

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether the record passes (any filter matches, or there are none)."""
        if not self._patterns:
            return True
        document = self._document(record, self._used)
        return any(pattern.match(document) for pattern in self._patterns)

    def evaluate(self, record: dict[str, Any]) -> FilterResult:
        """The verdict with its reason (allocates only for the rarer, explained outcomes)."""
        if not self._patterns:
            return _NO_FILTERS
        document = self._document(record, self._used)
        for index, pattern in enumerate(self._patterns):
            if pattern.match(document):
                skipped = self._mismatches(index, document)
                if not skipped:
                    return self._matched[index]
                return FilterResult(Verdict.MATCHED, index, f"matched filter {index} on metadata only: {skipped}")
        mismatches = [m for i in range(len(self._patterns)) if (m := self._mismatches(i, document))]
        if not mismatches:
            return _NONE_MATCHED
        if ON_MISMATCH[self.shape]:
            return FilterResult(Verdict.FILTERED_OUT, None, "no filter matched on metadata: " + "; ".join(mismatches))
        return FilterResult(Verdict.FORMAT_MISMATCH, None, "; ".join(mismatches))

    def _mismatches(self, index: int, document: dict[str, Any]) -> str:
        found: list[str] = []
        for key, formats in self._patterns[index].data_formats.items():
            payload = document.get(key)
            if type(payload) is Payload and payload.kind != ABSENT and payload.kind not in formats:
                wanted = " and ".join(_FORMATS[f] for f in sorted(formats))
                found.append(f"filter {index} matches {key} {wanted} but {key} is {describe(payload.kind)}")
        return "; ".join(found)


def _check_source_rules(index: int, shape: SourceKind, compiled: CompiledPattern) -> None:
    """Kinesis and DynamoDB reject a data pattern that is not a JSON object when the mapping is made."""
    if shape not in JSON_ONLY:
        return
    for key, formats in compiled.data_formats.items():
        if "text" in formats:
            raise FilterError(
                f"FilterCriteria.Filters[{index}].Pattern: {key}: for {shape} sources the {key} pattern "
                f"must be a JSON object such as {{\"{key}\": {{\"field\": [\"value\"]}}}}, not a list of values"
            )
