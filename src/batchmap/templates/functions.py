"""A template's functions: ``Handler``, ``CodeUri``, ``Runtime``, ``Timeout``, ``MemorySize``, environment.

``AWS::Serverless::Function`` takes ``Globals.Function`` first (the function's
own values win; maps such as ``Environment.Variables`` are merged, as SAM does);
``AWS::Lambda::Function`` takes its code from ``Code`` when that is a local
path. Code may be a folder, a local ``.zip`` or inline (``InlineCode``,
``Code.ZipFile``): see ``batchmap.templates.code``. Only Python runtimes run:
anything else is refused with the reason. A function is read only when a
mapping uses it, so a Node.js API function beside a Python consumer does not
stop the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from batchmap.config import values
from batchmap.config.function import FunctionConfig
from batchmap.engine.loader import parse_handler
from batchmap.errors import BatchmapError, TemplateError
from batchmap.templates.code import CODE_FOLDER, CodePackage, archive_package, inline_package
from batchmap.templates.intrinsics import Resolver
from batchmap.templates.resources import FUNCTION_TYPES, Resources

DEFAULT_TIMEOUT_S: Final = 3
DEFAULT_MEMORY_MB: Final = 128

_PYTHON = re.compile(r"python3\.\d+")
_OTHER_LANGUAGES = ("nodejs", "java", "dotnet", "go", "ruby", "provided")


@dataclass(frozen=True, slots=True)
class AppFunction:
    """A function of the template as batchmap runs it: its ``FunctionConfig`` plus what Lambda records.

    ``package`` is set when the code must be written to ``config.code_path`` first (a ``.zip``, inline code).
    """

    logical_id: str
    config: FunctionConfig
    runtime: str
    architecture: str
    package: CodePackage | None = None


class Functions:
    """Reads functions on first use, with the template's globals applied."""

    def __init__(self, resources: Resources, resolver: Resolver, globals_: Mapping[str, Any],
                 base: Path) -> None:
        section = globals_.get("Function") if isinstance(globals_, Mapping) else None
        self._globals: Mapping[str, Any] = section if isinstance(section, Mapping) else {}
        self._resources = resources
        self._resolver = resolver
        self._base = base
        self._read: dict[str, AppFunction] = {}

    def get(self, logical_id: str, where: str) -> AppFunction:
        """The function ``logical_id``; ``where`` names the mapping that asked, for errors."""
        if not self._resources.has(logical_id) or self._resources.type_of(logical_id) not in FUNCTION_TYPES:
            raise TemplateError(where, f"{logical_id!r} is not a function of this template")
        if logical_id not in self._read:
            self._read[logical_id] = self._function(logical_id)
        return self._read[logical_id]

    def by_name(self, name: str) -> str | None:
        """The logical id of the function whose name (``FunctionName`` or logical id) is ``name``."""
        resources = self._resources
        for logical_id in resources.ids():
            if resources.type_of(logical_id) in FUNCTION_TYPES and resources.name(logical_id) == name:
                return logical_id
        return None

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        """The function's properties with ``Globals.Function`` merged in (serverless functions only)."""
        props = self._resources.properties(logical_id)
        if self._resources.type_of(logical_id) != "AWS::Serverless::Function":
            return props
        return merge_globals(self._globals, props)

    def _function(self, logical_id: str) -> AppFunction:
        where = f"Resources.{logical_id}.Properties"
        props = self.properties(logical_id)
        text = self._resolver.text
        serverless = self._resources.type_of(logical_id) == "AWS::Serverless::Function"
        _refuse_packaging(props, where, serverless)
        runtime = text(_required(props, "Runtime", where), f"{where}.Runtime")
        check_runtime(runtime, f"{where}.Runtime")
        handler = text(_required(props, "Handler", where), f"{where}.Handler")
        try:
            parse_handler(handler)
        except BatchmapError as exc:
            raise TemplateError(f"{where}.Handler", str(exc)) from None
        code, package = self._code(props, where, serverless)
        settings: dict[str, Any] = {"handler": handler, "name": self._resources.name(logical_id),
                                    "code_path": code}
        settings.update(self._limits(props, where))
        if props.get("Environment") is not None:
            settings["environment"] = _environment(self._resolver.resolve(props["Environment"],
                                                                          f"{where}.Environment"), where)
        try:
            config = FunctionConfig(**settings)
        except BatchmapError as exc:
            raise TemplateError(where, str(exc)) from None
        return AppFunction(logical_id, config, runtime, self._architecture(props, where), package)

    def _code(self, props: Mapping[str, Any], where: str, serverless: bool) -> tuple[str, CodePackage | None]:
        """The folder the code is imported from, and the package to write there first (if any)."""
        key = "CodeUri" if serverless else "Code"
        inline = props.get("InlineCode") if serverless else _zip_file(props.get(key))
        cache = self._resources.database.parent / CODE_FOLDER
        if inline is not None:
            place = f"{where}.InlineCode" if serverless else f"{where}.Code.ZipFile"
            package = inline_package(self._resolver.text(inline, place), cache, place)
            return str(package.folder), package
        raw = props.get(key)
        if raw is None:
            return str(self._base), None
        value = self._resolver.resolve(raw, f"{where}.{key}")
        if not isinstance(value, str):
            raise TemplateError(f"{where}.{key}", f"{value!r}: the code is in S3; batchmap runs code from a "
                                                  "local folder or .zip: give its path")
        if value.startswith("s3://"):
            raise TemplateError(f"{where}.{key}", f"{value!r}: the code is in S3; give the local folder or .zip")
        path = (self._base / value).resolve()
        if path.suffix.lower() == ".zip":
            package = archive_package(path, cache, f"{where}.{key}")
            return str(package.folder), package
        return str(path), None

    def _limits(self, props: Mapping[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if props.get("Timeout") is not None:
            seconds = self._resolver.text(props["Timeout"], f"{where}.Timeout")
            out["timeout_s"] = _convert(lambda: values.number("timeout", seconds), f"{where}.Timeout")
        if props.get("MemorySize") is not None:
            megabytes = self._resolver.text(props["MemorySize"], f"{where}.MemorySize")
            out["memory_mb"] = _convert(lambda: values.integer("memory_size", megabytes),
                                        f"{where}.MemorySize")
        return out

    def _architecture(self, props: Mapping[str, Any], where: str) -> str:
        raw = props.get("Architectures")
        if raw is None:
            return "x86_64"
        resolved = self._resolver.resolve(raw, f"{where}.Architectures")
        if resolved not in (["x86_64"], ["arm64"]):
            raise TemplateError(f"{where}.Architectures", f"{resolved!r}: expected [x86_64] or [arm64]")
        return str(resolved[0])


def merge_globals(globals_: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's rule: the function's value wins; two plain maps are merged key by key."""
    merged = dict(globals_)
    for key, value in props.items():
        mine = merged.get(key)
        if isinstance(mine, Mapping) and _plain_map(mine) and _plain_map(value):
            merged[key] = merge_globals(mine, value)
        else:
            merged[key] = value
    return merged


def _plain_map(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    return not (len(value) == 1 and any(k == "Ref" or str(k).startswith("Fn::") for k in value))


def check_runtime(runtime: str, where: str) -> None:
    """Python 3 runtimes only; a refusal says why (another language, Python 2, an unresolved placeholder)."""
    if _PYTHON.fullmatch(runtime):
        return
    if runtime.startswith("python2"):
        raise TemplateError(where, f"{runtime!r}: Python 2 is not supported (handlers run on Python 3)")
    language = next((name for name in _OTHER_LANGUAGES if runtime.startswith(name)), None)
    if language is not None:
        raise TemplateError(where, f"{runtime!r}: a {language} runtime; batchmap runs Python handlers only")
    raise TemplateError(where, f"{runtime!r} is not a Lambda runtime (an unresolved placeholder?); "
                               "expected python3.X, e.g. python3.12")


def _refuse_packaging(props: Mapping[str, Any], where: str, serverless: bool) -> None:
    if props.get("TenancyConfig") is not None:
        raise TemplateError(f"{where}.TenancyConfig", "a function with tenant isolation cannot have an event "
                                                      "source mapping (Lambda takes only Api and HttpApi events "
                                                      "for it, and SAM refuses the template); remove TenancyConfig "
                                                      "or the mapping")
    if props.get("PackageType") == "Image" or props.get("ImageUri") is not None:
        raise TemplateError(f"{where}.PackageType", "container image functions cannot run here; batchmap "
                                                    "imports Python code from a folder (a Zip package)")
    code = props.get("Code")
    if not serverless and isinstance(code, Mapping) and not _intrinsic(code) and _zip_file(code) is None:
        raise TemplateError(f"{where}.Code", f"{dict(code)!r}: the code is in S3 or an image; give Code as "
                                             "the local folder's or .zip's path, or the code as ZipFile")


def _zip_file(code: Any) -> Any:
    """``Code.ZipFile`` of an ``AWS::Lambda::Function``: its inline code, else ``None``."""
    return code.get("ZipFile") if isinstance(code, Mapping) and len(code) == 1 else None


def _intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and any(k == "Ref" or str(k).startswith("Fn::") for k in value)


def _required(props: Mapping[str, Any], key: str, where: str) -> Any:
    value = props.get(key)
    if value is None:
        raise TemplateError(f"{where}.{key}", "required (set it on the function or in Globals.Function)")
    return value


def _environment(value: Any, where: str) -> dict[str, str]:
    environment: dict[str, str] = _convert(lambda: values.environment(value), f"{where}.Environment")
    return environment


def _convert(build: Any, where: str) -> Any:
    try:
        return build()
    except BatchmapError as exc:
        raise TemplateError(where, str(exc)) from None
