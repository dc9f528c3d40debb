"""Lambda's error documents: the words Lambda uses for exits, signals, timeouts."""

from __future__ import annotations

import pytest

from batchmap.engine.invokers.faults import (
    MAX_MESSAGE_CHARS,
    error_document,
    exit_reason,
    is_timeout,
    timeout_invocation,
)


@pytest.mark.parametrize(
    ("returncode", "reason"),
    [
        (0, "Runtime exited without providing a reason"),
        (1, "Runtime exited with error: exit status 1"),
        (-11, "Runtime exited with error: signal: segmentation fault"),
        (-9, "Runtime exited with error: signal: killed"),
        (-6, "Runtime exited with error: signal: aborted"),
    ],
)
def test_exit_reasons_read_as_lambdas(returncode: int, reason: str) -> None:
    assert exit_reason(returncode) == reason


def test_timeouts_are_recognised_in_both_wordings() -> None:
    assert is_timeout({"errorType": "Sandbox.Timedout", "errorMessage": "x"})
    assert is_timeout({"errorMessage": "2024-01-01T00:00:00.000Z abc Task timed out after 3.00 seconds"})
    assert not is_timeout({"errorType": "ValueError", "errorMessage": "bad"})
    invocation = timeout_invocation("r", 3.0, 3000.0)
    assert invocation.status == "timeout" and is_timeout(invocation.error or {})


def test_enormous_messages_are_cut() -> None:
    document = error_document("E", "x" * (MAX_MESSAGE_CHARS + 10), "r")
    assert len(document["errorMessage"]) < MAX_MESSAGE_CHARS + 100
    assert document["errorMessage"].endswith("[10 characters cut]")
