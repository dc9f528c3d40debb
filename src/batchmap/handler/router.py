"""Type routing: one handler per value of a payload field, and a loud failure for the rest.

    router = Router("type")

    @router.route("order.created")
    def created(record): ...

    process_batch(event, router)

A record whose type has no route (or whose payload has no such field) fails
with ``UnknownRecordTypeError`` naming the field, the value and the known
types, and is reported like any other failure: never silently dropped.
"""

from __future__ import annotations

from batchmap.errors import ConfigError, HandlerError, UnknownRecordTypeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from batchmap.records.record import Record

    H = TypeVar("H", bound=Callable[..., Any])

_MISSING = object()


def is_async_callable(function: object) -> bool:
    """Whether calling ``function`` returns a coroutine (``async def``, also through partial/methods)."""
    if isinstance(function, Router):
        return function.is_async
    for _ in range(8):  # unwrap functools.partial and friends
        inner = getattr(function, "func", None)
        if inner is None or getattr(function, "__code__", None) is not None:
            break
        function = inner
    code = getattr(function, "__code__", None)
    if code is None:  # an object with a __call__ method
        for klass in type(function).__mro__:
            if "__call__" in klass.__dict__:
                code = getattr(klass.__dict__["__call__"], "__code__", None)
                break
    return code is not None and bool(code.co_flags & 0x80)  # CO_COROUTINE


class Router:
    """Dispatch each record to the handler registered for ``record.json()[field]``.

    ``field`` may be a dotted path (``"detail.type"``). Routes must be all sync
    or all ``async def``; ``default`` handles types without a route.
    """

    __slots__ = ("_default", "_field", "_is_async", "_path", "_routes")

    def __init__(self, field: str = "type", *, default: Callable[[Any], Any] | None = None) -> None:
        if not isinstance(field, str) or not field or "" in field.split("."):
            raise ConfigError("field", field, "a payload field name or dotted path such as 'detail.type'")
        self._field = field
        self._path = tuple(field.split("."))
        self._routes: dict[object, Callable[[Any], Any]] = {}
        self._is_async: bool | None = None
        self._default = None
        if default is not None:
            self._check(default, "default")
            self._default = default

    @property
    def field(self) -> str:
        return self._field

    @property
    def is_async(self) -> bool:
        """Whether the routes are ``async def`` (the processor then runs them on an event loop)."""
        return bool(self._is_async)

    @property
    def types(self) -> list[object]:
        """The type values with a route, in registration order."""
        return list(self._routes)

    def add(self, type_value: object, handler: Callable[[Any], Any]) -> None:
        """Route records whose type is ``type_value`` to ``handler``."""
        if type_value in self._routes:
            raise ConfigError("type_value", type_value, "already routed; one handler per type")
        self._check(handler, f"route {type_value!r}")
        self._routes[type_value] = handler

    def route(self, *type_values: object) -> Callable[[H], H]:
        """Decorator: ``@router.route("a", "b")`` routes both types to the function."""
        if not type_values:
            raise ConfigError("type_values", type_values, "at least one type value")

        def register(handler: H) -> H:
            for type_value in type_values:
                self.add(type_value, handler)
            return handler

        return register

    def _check(self, handler: object, what: str) -> None:
        if not callable(handler):
            raise ConfigError(what, handler, "a callable taking one record")
        is_async = is_async_callable(handler)
        if self._is_async is not None and is_async != self._is_async:
            raise HandlerError(f"{what}: routes must be all 'async def' or all plain functions, not a mix")
        self._is_async = is_async

    def type_of(self, record: Record) -> object:
        """The record's type value (``None`` when the payload has no such field)."""
        value: object = record.json()
        for part in self._path:
            if not isinstance(value, dict):
                return None
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return None
        return value

    def __call__(self, record: Record) -> Any:
        type_value = self.type_of(record)
        try:
            handler = self._routes[type_value]
        except (KeyError, TypeError):
            if self._default is None:
                known = [str(t) for t in self._routes]
                raise UnknownRecordTypeError(self._field, type_value, known) from None
            handler = self._default
        return handler(record)

    def __repr__(self) -> str:
        return f"Router(field={self._field!r}, types={self.types!r})"
