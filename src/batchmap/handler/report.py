"""Failures never vanish, and never flood the logs: one line per batch that had any.

At the end of a batch that reports records, one JSON line (so CloudWatch Logs
Insights can query it) says what happened: how many records failed, counted
per error type with one stack trace per type (the first record's), the failed
identifiers (the first ``IDENTIFIERS_SHOWN`` and the count), and the records
that never started, per reason. It is an ERROR when a record failed, a WARNING
when records were only held back (deadline, memory, a stopped group). Each
failure also gets its own line at DEBUG, written as it happens, when the logger
is enabled for DEBUG; otherwise a failure costs a dictionary lookup.

Lines go through the standard ``logging`` module on the ``batchmap.handler``
logger unless you pass your own. ``logging``, ``json`` and ``traceback`` are
imported at the first failure, not before: a clean batch pays nothing.
"""

from __future__ import annotations

from batchmap.handler.result import OK, Skip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logging import Logger
    from traceback import TracebackException
    from types import TracebackType
    from typing import Any

    from batchmap.handler.strategy import Analysis, Strategy
    from batchmap.records.event import Scan

LOGGER_NAME = "batchmap.handler"
IDENTIFIERS_SHOWN = 100
"""Failed identifiers the batch line lists; past that it gives the count."""
SKIPPED_SHOWN = 20
"""Identifiers of records not started the batch line lists per reason."""
MESSAGE_CLIP = 1000
"""Characters of an error message the lines keep."""
_DEBUG = 10  # logging.DEBUG, without importing logging for a clean batch


def _dumps(document: dict[str, Any]) -> str:
    import json

    return json.dumps(document, default=str)


def _identifier(scan: Scan, position: int) -> object:
    try:
        return scan.identifier(position)
    except Exception as exc:  # a log line must not fail; the response will raise for it
        return f"<none: {exc}>"


def _message(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # a user's exception whose __str__ fails
        return f"<{type(error).__name__} whose str() failed>"
    return text if len(text) <= MESSAGE_CLIP else text[:MESSAGE_CLIP] + "..."


_TRACES: dict[tuple[object, ...], list[str]] = {}
"""Formatted frames by failure site: in a warm function the same site fails batch after batch."""
_TRACES_KEPT = 256


def _trace(error: BaseException) -> list[str]:
    """The stack trace of ``error``, without the ``^^^^`` markers (they cost a compile per frame).

    The frames of an exception without a chained cause are formatted once per failure site (its type
    and the code and line of each frame) and reused; the exception's own line is formatted each time.
    """
    import traceback

    tb = error.__traceback__
    chained = error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__)
    if chained:
        exception = traceback.TracebackException.from_exception(error)
        _drop_markers(exception)
        lines = list(exception.format())
    else:
        lines = ["Traceback (most recent call last):\n", *_frames(tb)] if tb is not None else []
        lines += traceback.format_exception_only(type(error), error)
    return [line if len(line) <= MESSAGE_CLIP else line[:MESSAGE_CLIP] + "...\n" for line in lines]


def _frames(tb: TracebackType) -> list[str]:
    import traceback

    site: list[object] = []
    walk: TracebackType | None = tb
    while walk is not None:
        site += (walk.tb_frame.f_code, walk.tb_lineno)
        walk = walk.tb_next
    key = tuple(site)
    frames = _TRACES.get(key)
    if frames is None:
        stack = traceback.extract_tb(tb)
        for frame in stack:
            frame.colno = None
        frames = stack.format()
        if len(_TRACES) >= _TRACES_KEPT:
            _TRACES.clear()
        _TRACES[key] = frames
    return frames


def _drop_markers(exception: TracebackException) -> None:
    pending = [exception]
    while pending:
        node = pending.pop()
        for frame in node.stack:
            frame.colno = None
        pending += [e for e in (node.__cause__, node.__context__) if e is not None]


class FailureLog:
    """Writes the batch's log lines; ``failed`` is safe to call from worker threads."""

    __slots__ = ("_debug", "_first", "_logger", "_scan")

    def __init__(self, logger: Logger | None, scan: Scan) -> None:
        self._logger = logger
        self._scan = scan
        self._first: dict[type, tuple[int, list[str]]] = {}
        self._debug: bool | None = None

    @property
    def logger(self) -> Logger:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(LOGGER_NAME)  # the same object from any thread
        return self._logger

    def failed(self, position: int, error: BaseException) -> None:
        """One record raised: keep the stack trace if it is the first of its type; a DEBUG line if enabled."""
        kind = type(error)
        if kind not in self._first:  # two threads may both format it: either result is kept, both are right
            self._first[kind] = (position, _trace(error))
        if self._debug is None:
            self._debug = self.logger.isEnabledFor(_DEBUG)
        if self._debug:
            scan = self._scan
            self.logger.debug(_dumps({
                "message": "record failed", "eventSource": scan.event_source, "position": position,
                "itemIdentifier": _identifier(scan, position), "errorType": kind.__name__,
                "errorMessage": _message(error), "stackTrace": _trace(error)}))

    def batch_failed(self, message: str, error: BaseException) -> None:
        """Log an error that fails the whole batch (not one record)."""
        self.logger.error(_dumps({"message": message, "eventSource": self._scan.event_source,
                                  "errorType": type(error).__name__, "errorMessage": _message(error)}))

    def summary(self, outcomes: list[object], reported: list[int]) -> None:
        """The batch's one line: failures per error type, failed identifiers, records not started per reason."""
        failed: list[int] = []
        by_type: dict[type, int] = {}
        skipped: dict[Skip, list[int]] = {}
        for position, outcome in enumerate(outcomes):
            if outcome is OK:
                continue
            if isinstance(outcome, BaseException):
                failed.append(position)
                by_type[type(outcome)] = by_type.get(type(outcome), 0) + 1
            elif isinstance(outcome, Skip):
                skipped.setdefault(outcome, []).append(position)
        scan = self._scan
        document: dict[str, Any] = {
            "message": "records failed" if failed else "records not started",
            "eventSource": scan.event_source, "records": len(outcomes), "reported": len(reported),
            "failed": len(failed), "failedIdentifiers": [_identifier(scan, p) for p in failed[:IDENTIFIERS_SHOWN]],
            "errors": [self._error(kind, count, outcomes) for kind, count in by_type.items()],
            "notStarted": [self._skipped(skip, positions) for skip, positions in skipped.items()],
        }
        if failed:
            self.logger.error(_dumps(document))
        else:
            self.logger.warning(_dumps(document))

    def _error(self, kind: type, count: int, outcomes: list[object]) -> dict[str, Any]:
        position, trace = self._first[kind]  # every failure went through failed()
        error = outcomes[position]
        assert isinstance(error, BaseException)
        return {"errorType": kind.__name__, "count": count, "errorMessage": _message(error),
                "itemIdentifier": _identifier(self._scan, position), "position": position, "stackTrace": trace}

    def _skipped(self, skip: Skip, positions: list[int]) -> dict[str, Any]:
        return {"reason": skip.reason, "detail": skip.detail, "count": len(positions),
                "itemIdentifiers": [_identifier(self._scan, p) for p in positions[:SKIPPED_SHOWN]]}

    def strategy(self, analysis: Analysis, strategy: Strategy) -> None:
        """Log the ``concurrency="auto"`` analysis and the choice made from it."""
        self.logger.info(_dumps({"message": "batch strategy", "eventSource": self._scan.event_source,
                                 "analysis": analysis.as_dict(), "strategy": strategy.name,
                                 "concurrency": strategy.concurrency, "reason": strategy.reason}))
