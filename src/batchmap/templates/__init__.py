"""Run a SAM/CloudFormation app locally: templates in, event source mappings and sources out.

    from batchmap.templates import load_template, provision
    app = load_template("template.yaml", parameters={"Stage": "dev"}, overrides="local.yaml")
    provision(app)                                   # the embedded queues and streams
    report = asyncio.run(Engine(app.event_source_mappings, source_options=app.source_options).run())

See docs/templates.md for what is read, the intrinsic functions resolved, the
overrides file, and what is refused and why. YAML needs the ``sam`` extra.
"""

from __future__ import annotations

import sys

from batchmap.templates.app import DATABASE_FOLDER, App, load_template
from batchmap.templates.document import parse_template, read_template
from batchmap.templates.functions import AppFunction, check_runtime
from batchmap.templates.mappings import AppMapping
from batchmap.templates.overrides import Overrides, load_overrides
from batchmap.templates.parameters import LOCAL_ACCOUNT, LOCAL_REGION, parse_parameter_overrides
from batchmap.templates.provision import provision
from batchmap.templates.sources import DeclaredSource

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

if "batchmap.tuning.template" in sys.modules:  # the tuner asked for a template reader: give it ours
    from batchmap.templates import tuner as _tuner  # noqa: F401
