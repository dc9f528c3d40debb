"""The threaded HTTP server under ``batchmap serve`` and the operator's endpoints.

The standard library's server prints a traceback to stderr for any error in a
request's thread, a client that hangs up before its answer is written included
(``curl -f`` on a 503 does). A client going away is routine: one debug line.
Anything else is a bug in answering: one error line in the log, with its traceback.
"""

from __future__ import annotations

import logging
import sys
from http.server import ThreadingHTTPServer
from typing import Any

log = logging.getLogger("batchmap.http")


class QuietHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` whose request errors go to the log, never as a bare traceback on stderr."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Called inside the ``except`` of a request's thread, so the error is the one being handled."""
        error = sys.exc_info()[1]
        peer = client_address[0] if isinstance(client_address, tuple) and client_address else client_address
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("%s hung up before its answer was sent (%s)", peer, type(error).__name__)
            return
        log.error("a request from %s failed: %s: %s", peer, type(error).__name__, error, exc_info=error)
