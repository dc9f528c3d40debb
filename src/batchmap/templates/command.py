"""The template entry points of the command line: ``batchmap run TEMPLATE`` and ``--template`` on ``send``.

``batchmap run template.yaml`` runs every mapping of the template in one engine
process: the embedded queues and streams are created first, the code folders
checked, and the mapping flags of a single mapping refused (the settings live
in the template; ``--parameter-overrides`` changes them). Functions that
cannot share a process (one module name in two code folders, one environment
variable with two values) make ``--invoker auto`` pick worker processes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from batchmap.config import EventSourceMapping, add_mapping_arguments
from batchmap.errors import TemplateError
from batchmap.redaction import redact_uri

if TYPE_CHECKING:
    from batchmap.templates.app import App

log = logging.getLogger("batchmap.templates")


def add_template_arguments(parser: argparse.ArgumentParser, *, with_flag: bool) -> None:
    """``--parameter-overrides`` and ``--overrides`` (and ``--template`` when ``with_flag``)."""
    group = parser.add_argument_group("SAM/CloudFormation template")
    if with_flag:
        group.add_argument("--template", "--template-file", dest="template", metavar="TEMPLATE",
                           help="a SAM/CloudFormation template: --source is then a logical id (OrdersQueue)")
    group.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
                       help="template parameters, as sam deploy takes them (Key=Value ...)")
    group.add_argument("--overrides", metavar="FILE",
                       help="YAML/JSON file binding the template's sources to real ones (docs/templates.md)")


def load_app(args: argparse.Namespace) -> App:
    """The app that ``TEMPLATE`` (or ``--template``), ``--parameter-overrides`` and ``--overrides`` name."""
    from batchmap.templates.app import load_template  # the command line pays for templates only here
    from batchmap.templates.parameters import parse_parameter_overrides

    parameters = parse_parameter_overrides(getattr(args, "parameter_overrides", None) or [])
    return load_template(args.template, parameters=parameters, overrides=getattr(args, "overrides", None))


def template_mappings(args: argparse.Namespace) -> list[EventSourceMapping]:
    """Load, check and provision the template for ``batchmap run``; adjusts ``args`` (endpoint, invoker)."""
    _refuse_mapping_flags(args)
    app = load_app(args)
    if not app.mappings:
        raise TemplateError(str(app.path), "no event source mapping to run (SQS, Kinesis, DynamoDB, MSK or "
                                           "SelfManagedKafka events, or AWS::Lambda::EventSourceMapping "
                                           "resources)")
    for note in app.skipped:
        log.info("%s", note)
    _check_code(app)
    if getattr(args, "checkpoint_store", None) is None:
        args.checkpoint_store = app.checkpoint_store_uri
    provision_app(app, args.checkpoint_store)
    args.endpoint_url = args.endpoint_url or app.endpoint_url
    args.region = args.region or app.region
    args.invoker = choose_invoker(app, args.invoker)
    for mapping in app.mappings.values():
        function = mapping.mapping.function
        handler = function.handler if not isinstance(function, str) else function
        log.info("mapping %s: %s -> %s", mapping.id, redact_uri(mapping.mapping.source), redact_uri(handler))
    return app.event_source_mappings


def choose_invoker(app: App, requested: str) -> str:
    """``auto`` becomes ``subprocess`` when the functions cannot share one process; ``inprocess`` fails."""
    conflicts = app.in_process_conflicts()
    if not conflicts:
        return requested
    if requested == "inprocess":
        raise TemplateError("--invoker", "these functions cannot share one process: " + "; ".join(conflicts))
    if requested == "auto":
        log.info("functions run in worker processes: %s", "; ".join(conflicts))
        return "subprocess"
    return requested


def source_from_template(args: argparse.Namespace) -> App | None:
    """For ``send``, ``inspect``, ``purge``: with ``--template``, turn the logical id ``--source`` into a URI.

    Returns the app (``None`` without ``--template``); nothing is created here: ``send`` provisions
    the app (``provision_app``) once the rest of its flags are checked.
    """
    if not getattr(args, "template", None):
        if getattr(args, "parameter_overrides", None) or getattr(args, "overrides", None):
            raise TemplateError("--template", "--parameter-overrides and --overrides need --template")
        return None
    app = load_app(args)
    args.source = app.source_uri(args.source)
    if hasattr(args, "endpoint_url"):
        args.endpoint_url = args.endpoint_url or app.endpoint_url
        args.region = args.region or app.region
    return app


def provision_app(app: App, checkpoint_store_uri: str | None = None) -> None:
    """Create the app's embedded queues and streams, with their attributes, and fix its LATEST positions."""
    from batchmap.templates.provision import provision

    provision(app, checkpoint_store_uri=checkpoint_store_uri)


def _refuse_mapping_flags(args: argparse.Namespace) -> None:
    probe = argparse.ArgumentParser(add_help=False)
    add_mapping_arguments(probe)
    defaults = vars(probe.parse_args([]))
    given = [name for name, default in defaults.items() if getattr(args, name, default) != default]
    if given:
        flag = "--" + given[0].removeprefix("function_").replace("_", "-")
        raise TemplateError(flag, "a template's mappings take their settings from the template; change them "
                                  "there or through --parameter-overrides")


def _check_code(app: App) -> None:
    for function in app.functions.values():
        if function.package is not None:
            function.package.check()  # provision writes its folder
            continue
        folder = function.config.code_path
        if folder is not None and not Path(folder).is_dir():
            raise TemplateError(f"Resources.{function.logical_id}.Properties.CodeUri",
                                f"the code folder {folder} does not exist")

