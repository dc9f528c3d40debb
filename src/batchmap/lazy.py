"""Public names that load on first use: the one helper behind every package's lazy ``__init__``.

A package lists where each public name lives; the names are imported when
first asked for and kept in the package, so ``import batchmap`` (and the
handler toolkit inside a Lambda cold start) pays only for what is used.
Standard library only, and it imports nothing itself::

    __getattr__, __dir__ = lazy_exports(globals(), {"Record": "record"}, __all__)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping


def lazy_exports(
    namespace: dict[str, object], homes: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``.

    ``homes`` maps each lazily loaded name to its module, relative to the
    package (``"record"``, ``"engine.service"``); ``public`` is the package's
    ``__all__``. An unknown name raises ``AttributeError`` naming it.
    """
    package = str(namespace["__name__"])
    names = frozenset(public)

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(__import__(f"{package}.{home}", fromlist=[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | names)

    return __getattr__, __dir__
