"""One database connection per Lambda execution environment, reused across warm invocations.

Opening a connection costs a network round trip or three (plus TLS and
authentication); a warm Lambda should pay that once. ``ConnectionCache`` keeps
the connection between invocations and opens a new one only when the old one is
closed, which DB-API drivers report after the server or the network dropped it
(psycopg's ``closed``, PyMySQL's ``open``). No driver is imported here: any
DB-API 2 connection works.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Generic, TypeVar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

C = TypeVar("C")


def connection_closed(connection: object) -> bool:
    """Whether a DB-API connection says it is closed (psycopg ``closed``, PyMySQL ``open``)."""
    closed = getattr(connection, "closed", None)
    if closed is not None and not callable(closed):
        return bool(closed)
    is_open = getattr(connection, "open", None)
    if isinstance(is_open, bool):
        return not is_open
    return False


class ConnectionCache(Generic[C]):
    """Hands out one connection made by ``connect()``, reconnecting once it is closed.

    Create it at module level (the Lambda init phase) and call ``get()`` in the
    handler; ``connects`` counts the connections opened so far. Some drivers
    cannot tell that the server dropped a connection (PyMySQL keeps ``open``
    true): give ``validate`` (e.g. ``lambda c: c.ping(reconnect=False)``), called
    on every ``get()``; a ``False`` result or an exception means reconnect, so a
    dead connection never costs a batch.
    """

    def __init__(self, connect: Callable[[], C], *, validate: Callable[[C], object] | None = None) -> None:
        if not callable(connect):
            from batchmap.errors import ConfigError

            raise ConfigError("connect", connect, "a callable returning a new DB-API connection")
        if validate is not None and not callable(validate):
            from batchmap.errors import ConfigError

            raise ConfigError("validate", validate, "a callable taking the connection")
        self._connect = connect
        self._validate = validate
        self._connection: C | None = None
        self.connects = 0

    def get(self) -> C:
        """The cached connection, or a new one if there is none, it is closed, or it fails ``validate``."""
        connection = self._connection
        if connection is None or connection_closed(connection) or not self._alive(connection):
            if connection is not None:
                self._close_quietly(connection)
            connection = self._connection = self._connect()
            self.connects += 1
        return connection

    def _alive(self, connection: C) -> bool:
        if self._validate is None:
            return True
        try:
            return self._validate(connection) is not False
        except Exception:  # the check itself failing is the clearest sign of a dead connection
            return False

    def close(self) -> None:
        """Close the cached connection (the next ``get()`` opens a new one)."""
        if self._connection is not None:
            self._close_quietly(self._connection)
            self._connection = None

    @staticmethod
    def _close_quietly(connection: object) -> None:
        close = getattr(connection, "close", None)
        if callable(close):
            with suppress(Exception):  # a dead connection may fail to close; it is being replaced anyway
                close()
