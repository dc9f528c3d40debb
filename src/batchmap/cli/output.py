"""How the command line writes logs: JSON lines off a terminal, plain lines on one, above the progress line.

Formatting only; the progress line is ``cli/progress.py``, the end summary ``cli/summary.py``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import IO, Any

from batchmap.redaction import redact_text


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log shippers (and CloudWatch-style parsing)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        message = record.getMessage()
        entry.update(_structured(message) or {"message": message})
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _structured(message: str) -> dict[str, Any] | None:
    """A message that is already a JSON object (the handler toolkit's lines) is merged, not nested."""
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class RedactingFormatter(logging.Formatter):
    """Another formatter's line with every URI's credentials masked (``batchmap.redaction``)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self.inner.format(record))


class TerminalHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one writer of the terminal: log lines scroll above a status line that stays at the bottom.

    Writing a log record clears the status line, prints the record on a line of
    its own, and draws the status line again, so a log line is never written
    into the progress line. Log records may come from any thread (handler
    threads, worker pipes); one lock orders them with the redraws.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self.status = ""
        """The status line now shown (empty: none)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._terminal():
            self.stream.write(_CLEAR + text + self.terminator + self.status if self.status else text + self.terminator)
            self.stream.flush()

    def show(self, status: str) -> None:
        """Draw ``status`` in place of the current status line."""
        with self._terminal():
            self.status = status
            self.stream.write(_CLEAR + status)
            self.stream.flush()

    def clear(self) -> None:
        """Remove the status line (the end of a run)."""
        with self._terminal():
            if self.status:
                self.stream.write(_CLEAR)
                self.stream.flush()
            self.status = ""

    def _terminal(self) -> Any:
        assert self.lock is not None  # created by logging.Handler.__init__
        return self.lock


_CLEAR = "\r\x1b[2K"
"""Carriage return, then erase the whole line."""


def configure_logging(stream: IO[str], level: str = "INFO", json_logs: bool | None = None,
                      log_file: str | None = None) -> TerminalHandler:
    """Plain lines on a terminal, JSON lines otherwise (or as forced by ``json_logs``).

    Returns the handler that owns ``stream``: draw a progress line through it
    (``TerminalHandler.show``) so log lines print above it. With ``log_file`` the
    log lines go to that file instead (JSON unless ``json_logs`` is False) and
    the terminal keeps only the progress line.
    """
    terminal = TerminalHandler(stream)
    if log_file is None:
        use_json = (not stream.isatty()) if json_logs is None else json_logs
        handler: logging.Handler = terminal
    else:
        use_json = json_logs is not False
        handler = logging.FileHandler(log_file, encoding="utf-8")
    inner = JsonFormatter() if use_json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger("batchmap")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    return terminal
