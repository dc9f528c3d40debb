"""Failures never vanish: one structured log line per failed record, one per skipped group.

Each line is a JSON object (so CloudWatch Logs Insights can query it) logged
through the standard ``logging`` module on the ``batchmap.handler`` logger
unless you pass your own. ``logging``, ``json`` and ``traceback`` are imported
at the first failure, not before: a clean batch pays nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logging import Logger
    from typing import Any

    from batchmap.handler.strategy import Analysis, Strategy
    from batchmap.records.event import Scan

LOGGER_NAME = "batchmap.handler"


def _dumps(document: dict[str, Any]) -> str:
    import json

    return json.dumps(document, default=str)


def _identifier(scan: Scan, position: int) -> object:
    try:
        return scan.identifier(position)
    except Exception as exc:  # a log line must not fail; the response will raise for it
        return f"<none: {exc}>"


class FailureLog:
    """Writes the batch's log lines; safe to call from worker threads."""

    __slots__ = ("_logger", "_scan")

    def __init__(self, logger: Logger | None, scan: Scan) -> None:
        self._logger = logger
        self._scan = scan

    @property
    def logger(self) -> Logger:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(LOGGER_NAME)  # the same object from any thread
        return self._logger

    def failed(self, position: int, error: BaseException) -> None:
        """Log one failed record with its identifier and the exception."""
        import traceback

        scan = self._scan
        self.logger.error(_dumps({
            "message": "record failed", "eventSource": scan.event_source, "position": position,
            "itemIdentifier": _identifier(scan, position), "errorType": type(error).__name__,
            "errorMessage": str(error), "stackTrace": traceback.format_exception(error)}))

    def batch_failed(self, message: str, error: BaseException) -> None:
        """Log an error that fails the whole batch (not one record)."""
        self.logger.error(_dumps({"message": message, "eventSource": self._scan.event_source,
                                  "errorType": type(error).__name__, "errorMessage": str(error)}))

    def skipped(self, reason: str, detail: str, positions: list[int]) -> None:
        """Log records that were never started, for one reason."""
        scan = self._scan
        ids = [_identifier(scan, p) for p in positions[:20]]
        self.logger.warning(_dumps({
            "message": "records not started", "reason": reason, "detail": detail,
            "eventSource": scan.event_source, "count": len(positions), "itemIdentifiers": ids,
            "truncated": len(positions) > len(ids)}))

    def strategy(self, analysis: Analysis, strategy: Strategy) -> None:
        """Log the ``concurrency="auto"`` analysis and the choice made from it."""
        self.logger.info(_dumps({"message": "batch strategy", "eventSource": self._scan.event_source,
                                 "analysis": analysis.as_dict(), "strategy": strategy.name,
                                 "concurrency": strategy.concurrency, "reason": strategy.reason}))
