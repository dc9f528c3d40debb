"""Loading the user's function from a handler string, the way Lambda and SAM name handlers.

Three spellings are accepted:

* ``package.module:callable`` (the Python entry-point style);
* ``package.module.callable`` (Lambda's ``Handler``: the last dot separates the function);
* ``folder/module.callable`` (SAM's ``Handler`` relative to ``CodeUri``: slashes become dots).

Module and folder names are file names, not Python identifiers: Lambda's
runtime imports ``kinesis-consumer-fn.lambda_handler`` by name, and so does
``importlib``, so hyphens (and names starting with a digit) are accepted there.
The callable's name must be an identifier.

The code folder (``code_path``, else the current directory, as Lambda's task
root) is put first on ``sys.path``. Every failure is a ``FunctionLoadError``
naming the handler string and the cause, with Lambda's own error type, so the
engine can refuse to start before it consumes a single record.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from batchmap.config.function import FunctionConfig
from batchmap.errors import FunctionLoadError

_MODULE_PART = re.compile(r"[\w-]+")
"""A folder or module name as a file name: letters, digits, ``_`` and ``-``."""


@dataclass(frozen=True, slots=True)
class HandlerRef:
    """A parsed handler string: the module to import and the attribute path inside it."""

    handler: str
    module: str
    attribute: str


@dataclass(frozen=True, slots=True)
class LoadedFunction:
    """The user's callable, ready to call, and what loading it cost."""

    ref: HandlerRef
    function: Callable[..., Any]
    is_async: bool
    init_duration_ms: float


def parse_handler(handler: str) -> HandlerRef:
    """Split a handler string into module and attribute; a malformed one is a ``FunctionLoadError``."""
    text = handler.strip()
    if ":" in text:
        module, _, attribute = text.partition(":")
    else:
        module, _, attribute = text.rpartition(".")
    module = module.replace("/", ".").strip(".")
    if module.endswith(".py") and ":" in text:
        module = module[:-3]
    parts, names = module.split("."), attribute.split(".")
    if (not module or not attribute or not all(_MODULE_PART.fullmatch(part) for part in parts)
            or not all(name.isidentifier() for name in names)):
        raise FunctionLoadError(
            f"handler {handler!r}: bad handler name; expected 'module:function', 'module.function' "
            "or 'folder/module.function'",
            handler=handler,
            error_type="Runtime.MalformedHandlerName",
        )
    return HandlerRef(handler, module, attribute)


def code_root(code_path: str | None) -> str:
    """The absolute folder the function's code lives in (``code_path``, else the current directory)."""
    root = os.path.abspath(code_path if code_path else os.getcwd())
    if not os.path.isdir(root):
        raise FunctionLoadError(
            f"code_path {code_path!r}: not a folder", handler="", error_type="Runtime.ImportModuleError"
        )
    return root


def prepend_sys_path(entries: list[str]) -> None:
    """Put ``entries`` first on ``sys.path`` in order, moving them if already present."""
    for entry in reversed(entries):
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def apply_environment(environment: Mapping[str, str]) -> None:
    """Set the function's environment variables in this process (process-wide)."""
    os.environ.update(environment)


def load_function(function: FunctionConfig, *, set_environment: bool = True) -> LoadedFunction:
    """Import the handler's module and return its callable; ``FunctionLoadError`` if that fails.

    With ``set_environment`` the function's variables are applied to this
    process first, so module-level code sees them at import time.
    """
    ref = parse_handler(function.handler)
    root = code_root(function.code_path)
    if root not in sys.path:
        prepend_sys_path([root])
    if set_environment:
        apply_environment(function.environment)
    started = time.perf_counter()
    module = _import(ref)
    target = _resolve(ref, module)
    init_ms = (time.perf_counter() - started) * 1000.0
    return LoadedFunction(ref, target, _is_async(target), init_ms)


def _import(ref: HandlerRef) -> Any:
    try:
        return importlib.import_module(ref.module)
    except SyntaxError as exc:
        raise FunctionLoadError(
            f"handler {ref.handler!r}: syntax error in module {ref.module!r}: {exc}",
            handler=ref.handler,
            error_type="Runtime.UserCodeSyntaxError",
        ) from exc
    except BaseException as exc:  # import-time code may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise FunctionLoadError(
            f"handler {ref.handler!r}: unable to import module {ref.module!r}: {type(exc).__name__}: {exc}",
            handler=ref.handler,
            error_type="Runtime.ImportModuleError",
        ) from exc


def _resolve(ref: HandlerRef, module: Any) -> Callable[..., Any]:
    target: Any = module
    for name in ref.attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError as exc:
            raise FunctionLoadError(
                f"handler {ref.handler!r}: handler {ref.attribute!r} missing on module {ref.module!r}",
                handler=ref.handler,
                error_type="Runtime.HandlerNotFound",
            ) from exc
    if not callable(target):
        raise FunctionLoadError(
            f"handler {ref.handler!r}: {ref.module}.{ref.attribute} is a {type(target).__name__}, not a callable",
            handler=ref.handler,
            error_type="Runtime.HandlerNotFound",
        )
    return target  # type: ignore[no-any-return]


def _is_async(target: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)
