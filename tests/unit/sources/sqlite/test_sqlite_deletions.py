"""Receipt handles parsed for a delete: the one-receive shortcut agrees with parsing each handle."""

from __future__ import annotations

import pytest

from batchmap.errors import ConfigError
from batchmap.sources.sqlite.queue_records import parse_handle
from batchmap.sources.sqlite.queue_store import deletions


def parsed_one_by_one(handles: list[str]) -> dict[str, str]:
    """What a delete must get: each handle's (sequence, token), grouped by token, in order."""
    by_token: dict[str, list[int]] = {}
    for handle in handles:
        seq, token = parse_handle(handle)
        by_token.setdefault(token, []).append(seq)
    return {token: "[" + ",".join(map(str, seqs)) + "]" for token, seqs in by_token.items()}


@pytest.mark.parametrize("handles", [
    ["12.00ab", "13.00ab", "9.00ab"],  # one receive: the shortcut
    ["12.00ab"],
    ["12.00ab", "12.00ab"],
    ["12.00ab", "13.ff01", "14.00ab"],  # two receives
    ["007.00ab", "8.00ab"],  # a leading zero: parsed, "007" is 7
    ["1.00ab", "2.00ab.00ab"],  # a token with a dot in the second handle
    ["1.00ab", "2,3.00ab"],  # a comma inside a handle
    ["1.00ab", "3.00ab,4.00ab"],
    ["5.00ab.00ab", "6.00ab"],
    ["1.x-y", "2.x-y"],  # a token that is not letters and digits
    ["1.00ab", "\u0661.00ab"],  # a digit that is not ASCII: parsed, as int() reads it
], ids=repr)
def test_handles_group_by_receive_token(handles: list[str]) -> None:
    try:
        expected: dict[str, str] | type[ConfigError] = parsed_one_by_one(handles)
    except ConfigError:
        expected = ConfigError
    if expected is ConfigError:
        with pytest.raises(ConfigError):
            deletions(handles)
    else:
        assert deletions(handles) == expected


@pytest.mark.parametrize("handles", [[".00ab"], ["1.00ab", ".00ab"], ["1.00ab", "x.00ab"], ["1.00ab", "2"]],
                         ids=repr)
def test_a_malformed_handle_is_refused(handles: list[str]) -> None:
    with pytest.raises(ConfigError):
        deletions(handles)
