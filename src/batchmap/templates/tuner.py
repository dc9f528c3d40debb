"""The tuner's view of a template function (``batchmap tune template.yaml --function-name X``).

Importing this module registers ``describe_function`` with
``batchmap.tuning.template``, which then reads templates through it.
"""

from __future__ import annotations

from typing import Any

from batchmap.errors import TemplateError
from batchmap.templates.app import load_template
from batchmap.templates.mappings import source_kind


def describe_function(path: str, function_name: str) -> Any:
    """The handler, code folder, memory, timeout, architecture and first mapping's settings of a function."""
    from batchmap.tuning.template import TemplateFunction

    app = load_template(path, require_sources=False)
    mappings = [m.mapping for m in app.mappings.values() if m.function_id == function_name]
    function = app.functions.get(function_name)
    if function is None:
        known = ", ".join(sorted({m.function_id for m in app.mappings.values()})) or "none"
        raise TemplateError("--function-name", f"{function_name!r} is not a function with an event source "
                                               f"mapping in {path} (functions with mappings: {known})")
    if function.package is not None:
        function.package.unpack()  # a .zip or inline code: the tuner imports it from its folder
    first = mappings[0] if mappings else None
    window = first.maximum_batching_window_in_seconds if first else None
    return TemplateFunction(
        handler=function.config.handler, code_path=function.config.code_path,
        memory_size=function.config.memory_mb, timeout_s=function.config.timeout_s,
        architecture=function.architecture,  # type: ignore[arg-type]
        source=source_kind(first.source) if first else None,
        batch_size=first.batch_size if first else None,
        maximum_batching_window_in_seconds=float(window) if window is not None else None,
    )


def register() -> None:
    """Let the tuner read templates through ``describe_function``."""
    from batchmap.tuning.template import register_template_reader

    register_template_reader(describe_function)


register()
