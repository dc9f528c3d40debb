"""Writes to a database's write-ahead log by any process, as an event on the loop (Linux inotify).

Every commit to a WAL-mode file writes its frames to ``FILE-wal`` first, so an
``IN_MODIFY`` event on that file is the sign that another process may have
committed. It is only a hint: the frames are written before the commit is
visible (the fsync and the WAL index come after), so a long poll woken by it
still checks the change counter, and polls briefly if that has not moved yet.
Between writes it costs nothing: the loop only watches the descriptor while a
long poll waits, and the kernel folds repeated events into one meanwhile.

``WalWatch.open`` returns None where inotify is missing (not Linux, or no
descriptors left); the long poll then polls as before. Running out of inotify
instances or watches (``fs.inotify.max_user_instances``, ``max_user_watches``)
is logged once per process, with the limit to raise: the engine still works,
but notices another process's writes only by polling.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
import os
import struct
import sys

log = logging.getLogger("batchmap.sources.sqlite")

_IN_MODIFY = 0x002
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_IGNORED = 0x8000
_MASK = _IN_MODIFY | _IN_DELETE_SELF | _IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - both must exist
    except (OSError, AttributeError):
        return None
    return libc


class WalWatch:
    """An inotify descriptor watching one ``-wal`` file; wakes the futures given to ``listen``."""

    def __init__(self, libc: ctypes.CDLL, fd: int, wal_path: str) -> None:
        self._libc = libc
        self._fd = fd
        self._wal = os.fsencode(wal_path)
        self._watching = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening: list[asyncio.Future[None]] = []

    @classmethod
    def open(cls, db_path: str) -> WalWatch | None:
        """A watch on ``db_path``'s WAL, or None where the platform has no inotify."""
        if db_path in ("", ":memory:") or db_path.startswith("file:"):
            return None
        libc = _libc()
        if libc is None:
            return None
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            _fell_back("an inotify instance", ctypes.get_errno(), "fs.inotify.max_user_instances")
            return None
        return cls(libc, fd, db_path + "-wal")

    def listen(self, rung: asyncio.Future[None]) -> bool:
        """Resolve ``rung`` at the next write to the WAL; false when the WAL cannot be watched now.

        Events from before this call are read first: the caller checks the
        change counter after listening, which covers them; listeners already
        waiting are woken by them (read here, the loop would not see them).
        """
        if not self._watching:
            self._watching = self._libc.inotify_add_watch(self._fd, self._wal, _MASK) >= 0
            if not self._watching:
                code = ctypes.get_errno()
                if code != errno.ENOENT:  # no WAL yet is normal: it appears with the first write
                    _fell_back("an inotify watch", code, "fs.inotify.max_user_watches")
                return False
        if self._drain() and self._listening:
            self._wake()
        if not self._watching:  # the WAL went away (its last connection closed): watch again next time
            return False
        if not self._listening:
            self._loop = rung.get_loop()
            self._loop.add_reader(self._fd, self._on_event)
        self._listening.append(rung)
        return True

    def forget(self, rung: asyncio.Future[None]) -> None:
        """Stop listening with ``rung``; the descriptor leaves the loop with the last listener."""
        if rung in self._listening:
            self._listening.remove(rung)
            if not self._listening and self._loop is not None:
                self._loop.remove_reader(self._fd)
                self._loop = None

    def _on_event(self) -> None:
        self._drain()
        self._wake()

    def _wake(self) -> None:
        """Resolve every listener's future; the descriptor leaves the loop until the next ``listen``."""
        listening, self._listening = self._listening, []
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop = None
        for rung in listening:
            if not rung.done():
                rung.set_result(None)

    def _drain(self) -> bool:
        """Read every pending event (true if there was one); a WAL deleted or moved needs a new watch."""
        seen = False
        while True:
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                return seen
            seen = seen or bool(data)
            offset = 0
            while offset + _EVENT.size <= len(data):
                _, mask, _, length = _EVENT.unpack_from(data, offset)
                if mask & (_IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF):
                    self._watching = False
                offset += _EVENT.size + length

    def close(self) -> None:
        """Close the descriptor (after the last long poll)."""
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop = None
        os.close(self._fd)


_WARNED: set[str] = set()


def _fell_back(what: str, code: int, limit: str) -> None:
    """Say once per process why writes by other processes are polled for instead of watched."""
    if what in _WARNED:
        return
    _WARNED.add(what)
    reason = os.strerror(code) if code else "unknown error"
    hint = f"; raise {limit} (sysctl)" if code in (errno.EMFILE, errno.ENOSPC) else ""
    log.warning("cannot get %s (%s)%s: the embedded queue and stream notice other processes' writes by polling "
                "every 8 ms instead", what, reason, hint)
