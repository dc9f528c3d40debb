"""FilterCriteria: EventBridge patterns compiled once, matched per record as Lambda does per source.

>>> criteria = FilterCriteria.of({"body": {"status": ["ERROR"]}})
>>> accept = criteria.for_shape("sqs")
>>> accept.matches({"messageId": "1", "body": '{"status": "ERROR"}'})
True
>>> accept.evaluate({"messageId": "2", "body": "plain text"}).verdict
<Verdict.FORMAT_MISMATCH: 'format_mismatch'>
"""

from __future__ import annotations

from batchmap.filters.complexity import MAX_WILDCARD_COMPLEXITY
from batchmap.filters.criteria import (
    DEFAULT_FILTER_QUOTA,
    MAX_FILTERS,
    MAX_PATTERN_LENGTH,
    Filter,
    FilterCriteria,
    FilterCriteriaDict,
    FilterDict,
)
from batchmap.filters.fields import MAX_PATTERN_DEPTH
from batchmap.filters.operators import OPERATORS
from batchmap.filters.payload import DATA_KEYS
from batchmap.filters.record_filter import FilterResult, RecordFilter, Verdict

__all__ = [
    "DATA_KEYS",
    "DEFAULT_FILTER_QUOTA",
    "MAX_FILTERS",
    "MAX_PATTERN_DEPTH",
    "MAX_PATTERN_LENGTH",
    "MAX_WILDCARD_COMPLEXITY",
    "OPERATORS",
    "Filter",
    "FilterCriteria",
    "FilterCriteriaDict",
    "FilterDict",
    "FilterResult",
    "RecordFilter",
    "Verdict",
]
