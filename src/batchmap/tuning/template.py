"""The hook for ``batchmap tune template.yaml --function-name X``: a function of a SAM template.

Reading SAM templates belongs to ``batchmap.templates``: its ``tuner`` module
registers a reader here with ``register_template_reader`` when imported, and
the tuner takes the handler, code folder, memory, timeout, architecture and the
function's current event source settings from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from batchmap.errors import ConfigError
from batchmap.records.wire import MappingKind
from batchmap.tuning.candidate import Candidate
from batchmap.tuning.prices import Architecture


@dataclass(frozen=True, slots=True)
class TemplateFunction:
    """What the tuner needs from one function of a template (``None``: the template does not say)."""

    handler: str
    code_path: str | None = None
    memory_size: int | None = None
    timeout_s: float | None = None
    architecture: Architecture | None = None
    source: MappingKind | None = None
    batch_size: int | None = None
    maximum_batching_window_in_seconds: float | None = None

    def current_candidate(self) -> Candidate | None:
        """The settings deployed today, to compare the recommendation with (None without a mapping)."""
        if self.batch_size is None:
            return None
        return Candidate(
            self.batch_size,
            self.maximum_batching_window_in_seconds or 0.0,
            self.memory_size or 512,
            self.architecture or "x86_64",
        )


TemplateReader = Callable[[str, str], TemplateFunction]
READER_MODULES = ("batchmap.templates", "batchmap.templates.tuner")
"""Where the SAM reader lives; importing it registers it here."""
_readers: list[TemplateReader] = []


def register_template_reader(reader: TemplateReader) -> None:
    """Called by ``batchmap.templates`` to let the tuner read functions from templates."""
    _readers[:] = [reader]


def function_from_template(path: str, function_name: str) -> TemplateFunction:
    """The function ``function_name`` of the template at ``path``, via the registered reader."""
    if not function_name:
        raise ConfigError("--function-name", function_name, "the logical ID of a function in the template")
    for module in READER_MODULES:  # importing the reader's module registers it
        if _readers:
            break
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
    if not _readers:
        raise ConfigError(
            "template",
            path,
            "a SAM template reader, which this build does not have yet; "
            "pass --function module:callable instead",
        )
    return _readers[0](path, function_name)
