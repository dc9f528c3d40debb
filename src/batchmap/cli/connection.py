"""The connection flags (``--endpoint-url``, ``--region``, ``--source-option``) and the sources that use them.

The embedded source (``sqlite://``) has no endpoint, region or client settings:
such a flag given for a command whose every source is embedded would be
ignored, so it is refused instead, naming the flag. Only flags the user typed
count (a template's overrides file may set an endpoint for its other sources).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from batchmap.errors import ConfigError
from batchmap.sources.registry import scheme_of

CONNECTION_FLAGS = {"endpoint_url": "--endpoint-url", "region": "--region", "source_option": "--source-option"}
"""Namespace attribute -> flag."""


def given_connection_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The connection flags given on the command line (read before a template fills any in)."""
    return {flag: getattr(args, name) for name, flag in CONNECTION_FLAGS.items() if getattr(args, name, None)}


def refuse_unused(given: dict[str, Any], sources: Iterable[str], *, region_used: bool = False) -> None:
    """Refuse connection flags when every source is embedded (``region_used``: something else takes ``--region``)."""
    if any(scheme_of(source) != "sqlite" for source in sources):
        return
    for flag, value in given.items():
        if flag == "--region" and region_used:
            continue
        raise ConfigError(flag, _shown(value), "only for sources reached over the network; the embedded "
                                               "source (sqlite://) has no endpoint, region or client settings")


def _shown(value: Any) -> Any:
    """A flag's value for an error; a source option shows its key only (its value may be a password)."""
    if isinstance(value, list):
        keys = [item.partition("=")[0] + "=..." for item in value]
        return keys[0] if len(keys) == 1 else keys
    return value


def require_embedded(uri: str, flag: str = "--source") -> None:
    """An embedded queue or stream a command reads must exist already: a typo must not create one.

    Other sources are left to their own client, which says when they are missing.
    """
    if scheme_of(uri) != "sqlite":
        return
    from batchmap.sources.sqlite import parse_uri
    from batchmap.sources.sqlite.inspection import require

    where = parse_uri(uri)  # a malformed URI is named by its own parameter (QueueName, ...)
    try:
        require(where)
    except ConfigError as exc:  # a missing file, queue or stream: named by the flag that gave it
        if exc.parameter == flag:
            raise
        raise ConfigError(flag, uri, exc.allowed) from None
