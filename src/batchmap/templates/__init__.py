"""Run a SAM/CloudFormation app locally: templates in, event source mappings and sources out.

    from batchmap.templates import load_template, provision
    app = load_template("template.yaml", parameters={"Stage": "dev"}, overrides="local.yaml")
    provision(app)                                   # the embedded queues and streams
    report = asyncio.run(Engine(app.event_source_mappings, source_options=app.source_options).run())

See docs/templates.md for what is read, the intrinsic functions resolved, the
overrides file, and what is refused and why. YAML needs the ``sam`` extra.
Names load on first use, so the ``batchmap`` command pays for templates only
when it reads one.
"""

from __future__ import annotations

import importlib
import sys

from batchmap.lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.templates.app import DATABASE_FOLDER, App, load_template
    from batchmap.templates.document import parse_template, read_template
    from batchmap.templates.functions import AppFunction, check_runtime
    from batchmap.templates.mappings import AppMapping
    from batchmap.templates.overrides import Overrides, load_overrides
    from batchmap.templates.parameters import LOCAL_ACCOUNT, LOCAL_REGION, parse_parameter_overrides
    from batchmap.templates.provision import provision
    from batchmap.templates.sources import DeclaredSource

_HOME = {
    "DATABASE_FOLDER": "app", "App": "app", "load_template": "app",
    "parse_template": "document", "read_template": "document",
    "AppFunction": "functions", "check_runtime": "functions", "AppMapping": "mappings",
    "Overrides": "overrides", "load_overrides": "overrides",
    "LOCAL_ACCOUNT": "parameters", "LOCAL_REGION": "parameters", "parse_parameter_overrides": "parameters",
    "provision": "provision", "DeclaredSource": "sources",
}

__all__ = [
    "DATABASE_FOLDER",
    "LOCAL_ACCOUNT",
    "LOCAL_REGION",
    "App",
    "AppFunction",
    "AppMapping",
    "DeclaredSource",
    "Overrides",
    "check_runtime",
    "load_overrides",
    "load_template",
    "parse_parameter_overrides",
    "parse_template",
    "provision",
    "read_template",
]

__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)


def _describe_function(path: str, function_name: str) -> object:
    """The tuner's reader, loading the template machinery only when the tuner reads a template."""
    return importlib.import_module("batchmap.templates.tuner").describe_function(path, function_name)


if "batchmap.tuning.template" in sys.modules:  # the tuner is loaded: give it our reader
    sys.modules["batchmap.tuning.template"].register_template_reader(_describe_function)
