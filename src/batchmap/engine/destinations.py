"""On-failure destinations: where discarded stream and Kafka batches are recorded.

``open_destination(uri)`` turns a ``DestinationConfig.OnFailure.Destination``
value into a ``Destination`` (see ``batchmap.sources.base``):

* ``file:///path/to/failures.jsonl`` (or ``file:relative/path.jsonl``): a
  JSON-lines file, built in. Each record is appended and fsynced before
  ``send`` returns, so an acknowledged record survives a crash. A new file
  is created with mode 0600 (its owner only), whatever the umask.
* every other scheme, and AWS ARNs (``arn:aws:sqs:...`` is looked up as
  ``sqs``), goes through ``DESTINATION_OPENERS``: a table from scheme to an
  async opener, or to ``"module:function"`` imported on first use so that no
  broker client is imported before it is needed. Sources plug in with
  ``register_destination``; the embedded queue is expected at
  ``batchmap.sources.sqlite:open_destination`` and SQS at
  ``batchmap.sources.sqs:open_destination``.

A send that fails raises (``DestinationError`` for the file destination), so
the engine can count a ``DestinationDeliveryFailure`` and the records as dropped.

Like S3, the file destination keeps the whole event (``payload``) in each record,
because a file outlives the stream's retention; queues get metadata only, as
AWS's SQS and SNS destinations do. ``wants_payload`` tells the engine which.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from batchmap.errors import ConfigError, DestinationError
from batchmap.sources.base import Destination, destination_traits
from batchmap.sources.registry import SourceOptions

PARAMETER = "DestinationConfig.OnFailure.Destination"

DestinationOpener = Callable[[str, SourceOptions], Awaitable[Destination]]
"""``async def open_destination(uri, options) -> Destination``."""

FILE_MODE = 0o600
"""A new on-failure file holds whole events: readable by its owner only, whatever the umask."""

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


class FileDestination:
    """Appends each on-failure record as one JSON line, fsynced before ``send`` returns.

    A line torn by a crash mid-write is closed off before the next record, so
    one torn write never corrupts the record after it.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, uri: str | None = None, wants_payload: bool = True
    ) -> None:
        self.path = Path(path)
        self.uri = uri or self.path.absolute().as_uri()
        self.wants_payload = wants_payload
        self._lock = threading.Lock()

    async def send(self, record: dict[str, Any]) -> None:
        """Append ``record``; raise ``DestinationError`` when it cannot be stored."""
        try:
            line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
        except (TypeError, ValueError) as error:
            raise DestinationError(self.uri, f"record is not JSON-serialisable: {error}") from error
        try:
            await asyncio.to_thread(self._append, line.encode())
        except OSError as error:
            raise DestinationError(self.uri, f"cannot append to {self.path}: {error}") from error

    def _append(self, data: bytes) -> None:
        with self._lock:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                if not created and _torn_tail(fd):
                    data = b"\n" + data
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.path.parent)


def _torn_tail(fd: int) -> bool:
    """Whether the file's last byte is not a newline (a write cut short by a crash)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class MemoryDestination:
    """Keeps records in a list: the in-memory twin for tests and the tuner's simulator."""

    wants_payload = True

    def __init__(self, uri: str = "memory://") -> None:
        self.uri = uri
        self.records: list[dict[str, Any]] = []

    async def send(self, record: dict[str, Any]) -> None:
        """Store a JSON copy of ``record`` (so later changes by the caller do not leak in)."""
        self.records.append(json.loads(json.dumps(record)))


def file_path(uri: str) -> Path:
    """The path a ``file:`` URI names: ``file:///abs/path``, ``file://localhost/abs``, ``file:rel/path``."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise ConfigError(PARAMETER, uri, "a file: URI such as file:///var/log/failures.jsonl")
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(PARAMETER, uri, "file:///absolute/path or file:relative/path (no host)")
    if parts.query or parts.fragment:
        raise ConfigError(PARAMETER, uri, "a file: URI without '?' or '#' parts")
    path = unquote(parts.path)
    if not path or path.endswith("/"):
        raise ConfigError(PARAMETER, uri, "a path to a file, not a folder")
    if "\x00" in path:
        raise ConfigError(PARAMETER, uri, "a path without NUL characters (%00)")
    return Path(path)


async def open_file_destination(uri: str, options: SourceOptions | None = None) -> FileDestination:
    """A ``FileDestination`` for a ``file:`` URI in an existing folder, checked writable before use.

    Nothing is created here (a typo in the path must not leave folders behind): the
    file appears with the first record that fails.
    """
    path = file_path(uri)
    if path.is_dir():
        raise ConfigError(PARAMETER, uri, "a path to a file, not a folder")
    if not path.parent.is_dir():
        raise ConfigError(PARAMETER, uri, f"a path in an existing folder ({path.parent} is not one)")
    problem = await asyncio.to_thread(_unwritable, path)
    if problem:
        raise ConfigError(PARAMETER, uri, f"a path batchmap can write to ({problem})")
    return FileDestination(path, uri=uri)


def _unwritable(path: Path) -> str | None:
    """Why records could not be appended to ``path``, found without changing anything; ``None`` if they can.

    An existing file is opened for appending (which writes nothing); for a new one, an unnamed
    file is made in the folder (``O_TMPFILE``, gone when closed), which fails where creating the
    file would: permissions, a read-only or pseudo file system. Where ``O_TMPFILE`` is missing,
    the folder's permission bits are asked instead.
    """
    try:
        if path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        elif hasattr(os, "O_TMPFILE"):
            os.close(os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o600))
        elif not os.access(path.parent, os.W_OK):
            return f"{path.parent} is not writable"
    except OSError as error:
        return f"{error.filename or path}: {error.strerror}"
    return None


DESTINATION_OPENERS: dict[str, DestinationOpener | str] = {
    "file": open_file_destination,
    "sqlite": "batchmap.sources.sqlite:open_destination",
    "sqs": "batchmap.sources.sqs:open_destination",
    "s3": "batchmap.sources.aws.s3:open_destination",
}
"""Scheme (or ARN service) -> opener, or ``module:function`` of an opener imported on first use."""


def register_destination(scheme: str, opener: DestinationOpener | str) -> None:
    """Make ``open_destination`` hand URIs of ``scheme`` to ``opener`` (replacing any earlier one)."""
    if not _SCHEME.fullmatch(scheme):
        raise ConfigError("scheme", scheme, "a lower-case URI scheme such as 'sqlite' or 'sqs'")
    if isinstance(opener, str) and opener.count(":") != 1:
        raise ConfigError("opener", opener, "an async callable or 'module:function'")
    DESTINATION_OPENERS[scheme] = opener


def destination_scheme(uri: str) -> str:
    """The registry key of a destination: the URI scheme, or the service of ``arn:aws:SERVICE:...``."""
    if uri.startswith("arn:"):
        parts = uri.split(":", 5)
        if len(parts) < 6 or not parts[2]:
            raise ConfigError(PARAMETER, uri, "an ARN: arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE")
        return parts[2]
    scheme = urlsplit(uri).scheme
    if not scheme:
        known = ", ".join(sorted(DESTINATION_OPENERS))
        raise ConfigError(PARAMETER, uri, f"a URI or ARN with a scheme among: {known}")
    return scheme


def _resolve(scheme: str, uri: str) -> DestinationOpener:
    target = DESTINATION_OPENERS.get(scheme)
    if target is None:
        known = ", ".join(sorted(DESTINATION_OPENERS))
        raise ConfigError(PARAMETER, uri, f"no destination for {scheme!r}; known: {known}")
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise
        missing = f"{scheme!r} destinations need {module_name}, which is missing"
        raise ConfigError(PARAMETER, uri, missing) from error
    opener: DestinationOpener | None = getattr(module, attr, None)
    if opener is None:
        raise ConfigError(PARAMETER, uri, f"{target} does not exist: {scheme!r} cannot be a destination yet")
    return opener


async def open_destination(uri: str, options: SourceOptions | None = None) -> Destination:
    """Open the destination ``uri`` names (a ``file:`` path, a registered scheme, or an ARN)."""
    if not isinstance(uri, str) or not uri:
        raise ConfigError(PARAMETER, uri, "a destination URI or ARN")
    opener = _resolve(destination_scheme(uri), uri)
    return await opener(uri, options or SourceOptions())


def wants_payload(destination: Destination) -> bool:
    """Whether on-failure records for ``destination`` should carry the whole event (``payload``)."""
    return destination_traits(destination).wants_payload
