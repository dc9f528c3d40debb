"""Fault injection: a real source (or checkpoint store) that raises at the Nth call of one method.

``Faulty(inner, method, nth, error)`` forwards everything to ``inner`` except
the ``nth`` call of ``method``, which raises ``error`` instead (``times`` calls
in a row with ``times`` > 1). ``faulty_uri`` registers a wrapped source under a
``faulty://NAME`` URI, so the engine opens it through its public registries as it
opens any source or on-failure destination; the fixture ``faulty_sources`` takes
the scheme out again.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from batchmap.engine.destinations import DESTINATION_OPENERS, open_destination, register_destination
from batchmap.errors import SourceError
from batchmap.sources.registry import OPENERS, SourceOptions, open_source

SCHEME = "faulty"


def transient_error(method: str) -> SourceError:
    return SourceError(f"injected: {method} met a locked file", transient=True)


def fatal_error(method: str) -> SourceError:
    return SourceError(f"injected: {method} was refused for good")


def bug(method: str) -> Exception:
    return OverflowError(f"injected: {method} overflowed")


ERRORS: dict[str, Callable[[str], BaseException]] = {"transient": transient_error, "fatal": fatal_error, "bug": bug}


@dataclass
class Faulty:
    """``inner`` with one method that fails at its ``nth`` call (``times`` calls in a row)."""

    inner: Any
    method: str
    nth: int
    error: BaseException
    times: int = 1
    calls: dict[str, int] = field(default_factory=dict)
    raised: int = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name != self.method or not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.nth <= self.calls[name] < self.nth + self.times:
                self.raised += 1
                raise self.error
            return await target(*args, **kwargs)

        return call


_PLANS: dict[str, tuple[str, str, int, BaseException, int]] = {}
_names = itertools.count()
OPENED: dict[str, Faulty] = {}
"""The wrapped sources the engine opened, by ``faulty://`` name (to count calls and raises)."""


def faulty_uri(inner_uri: str, method: str, nth: int, error: BaseException, times: int = 1) -> str:
    """A URI under which the registry opens ``inner_uri`` wrapped in ``Faulty`` (needs ``faulty_sources``)."""
    name = f"f{next(_names)}"
    _PLANS[name] = (inner_uri, method, nth, error, times)
    return f"{SCHEME}://{name}"


async def open_faulty(uri: str, options: SourceOptions) -> Any:
    """The source registry's opener for ``faulty://NAME``."""
    return await _wrapped(uri, options, open_source)


async def open_faulty_destination(uri: str, options: SourceOptions) -> Any:
    """The destination registry's opener for ``faulty://NAME``: an on-failure destination that fails."""
    return await _wrapped(uri, options, open_destination)


async def _wrapped(uri: str, options: SourceOptions, opener: Callable[[str, SourceOptions], Awaitable[Any]]) -> Any:
    name = uri.split("://", 1)[1]
    inner_uri, method, nth, error, times = _PLANS[name]
    wrapped = Faulty(await opener(inner_uri, options), method, nth, error, times)
    OPENED[name] = wrapped
    return wrapped


def install() -> None:
    OPENERS[SCHEME] = "faulty_source:open_faulty"
    register_destination(SCHEME, open_faulty_destination)


def uninstall() -> None:
    OPENERS.pop(SCHEME, None)
    DESTINATION_OPENERS.pop(SCHEME, None)
    _PLANS.clear()
    OPENED.clear()
