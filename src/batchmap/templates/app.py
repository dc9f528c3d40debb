"""``load_template``: a SAM/CloudFormation template in, the mappings and sources to run out.

    app = load_template("template.yaml", parameters={"BatchSize": "50"})
    provision(app)                      # create the embedded queues and streams
    Engine(app.event_source_mappings, source_options=app.source_options).run()

Nothing is contacted and no file is written while loading; ``provision``
creates the embedded queues and streams. Everything that cannot be turned
into a mapping is a ``TemplateError`` naming the resource, the property and
the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchmap.config import EventSourceMapping
from batchmap.engine.loader import parse_handler
from batchmap.errors import TemplateError
from batchmap.sources.registry import SourceOptions
from batchmap.templates.document import read_template
from batchmap.templates.functions import AppFunction, Functions
from batchmap.templates.intrinsics import Resolver
from batchmap.templates.locate import Locator
from batchmap.templates.mappings import AppMapping, MappingReader
from batchmap.templates.overrides import Overrides, load_overrides
from batchmap.templates.parameters import LOCAL_ACCOUNT, LOCAL_REGION, Parameters, pseudo_parameters
from batchmap.templates.resources import Resources
from batchmap.templates.sources import DeclaredSource

DATABASE_FOLDER = ".batchmap"
"""The embedded file lives at ``<template folder>/.batchmap/<stack name>.db`` unless overridden."""


@dataclass(frozen=True, slots=True)
class App:
    """A template, read: its mappings (by id), functions, sources (by logical id) and where they live.

    ``sources`` holds every declared queue, stream, table, topic and bucket,
    plus stand-ins for ARNs the mappings use without declaring them (keyed by
    the ARN). ``skipped`` lists function events that are not mappings.
    """

    path: Path
    stack_name: str
    database: Path
    mappings: Mapping[str, AppMapping]
    functions: Mapping[str, AppFunction]
    sources: Mapping[str, DeclaredSource]
    skipped: tuple[str, ...] = ()
    endpoint_url: str | None = None
    region: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def event_source_mappings(self) -> list[EventSourceMapping]:
        """The mappings, ready for ``Engine``."""
        return [m.mapping for m in self.mappings.values()]

    @property
    def source_options(self) -> SourceOptions:
        """The AWS endpoint and region the overrides file gives (for bound AWS sources)."""
        return SourceOptions(endpoint_url=self.endpoint_url, region=self.region)

    @property
    def checkpoint_store_uri(self) -> str:
        """Where stream positions are kept: the stack's own file, for bound streams too, so they survive
        restarts and two stacks never share them (the mapping ids differ per stack as well).

        The ``stream`` parameter only satisfies the engine's URI parser, which wants a queue or stream
        name; the store uses the file alone.
        """
        return f"sqlite:///{self.database.resolve()}?stream=checkpoints"

    def source_uri(self, logical_id: str) -> str:
        """The URI of a queue or stream by its logical id (or an ARN the mappings use)."""
        source = self.sources.get(logical_id)
        if source is None:
            known = ", ".join(self.sources) or "none"
            raise TemplateError("--source", f"no queue or stream {logical_id!r} in {self.path} "
                                            f"(sources: {known})")
        return source.require_uri(f"Resources.{logical_id}")

    def in_process_conflicts(self) -> list[str]:
        """Why the functions cannot share one process: one module name from two code folders (Python imports a
        module once), or one environment variable with two values (the environment is per process)."""
        problems: list[str] = []
        modules: dict[str, AppFunction] = {}
        variables: dict[str, tuple[str, AppFunction]] = {}
        for function in self.functions.values():
            config = function.config
            top = parse_handler(config.handler).module.split(".")[0]
            other = modules.setdefault(top, function)
            if other.config.code_path != config.code_path:
                problems.append(f"module {top!r} of {function.logical_id} ({config.code_path}) and of "
                                f"{other.logical_id} ({other.config.code_path})")
            for name, value in config.environment.items():
                seen = variables.setdefault(name, (value, function))
                if seen[0] != value:
                    problems.append(f"environment variable {name} is {value!r} for {function.logical_id} and "
                                    f"{seen[0]!r} for {seen[1].logical_id}")
        return problems


def load_template(path: str | Path, *, parameters: Mapping[str, str] | None = None,
                  overrides: str | Path | Mapping[str, Any] | Overrides | None = None,
                  stack_name: str | None = None, require_sources: bool = True) -> App:
    """Read the template at ``path`` into an ``App``.

    ``parameters`` override parameter defaults (``--parameter-overrides``);
    ``overrides`` (a file or a mapping, see ``batchmap.templates.overrides``)
    binds sources to real endpoints. The stack name defaults to the template's
    folder name. With ``require_sources=False`` a source that has no local
    stand-in keeps its ARN instead of failing (to describe an app, not run it).
    """
    file = Path(path).resolve()
    document = read_template(file)
    _refuse_transforms(document)
    bindings = load_overrides(overrides)
    stack = stack_name or bindings.stack_name or file.parent.name or "stack"
    database = _database(file.parent, stack, bindings)
    resources = Resources(document["Resources"], database=database, region=LOCAL_REGION,
                          account=LOCAL_ACCOUNT, bindings=bindings.sources,
                          endpoint_url=bindings.endpoint_url)
    given = {str(k): str(v) for k, v in (parameters or {}).items()}
    params = Parameters(_section(document, "Parameters"), given, pseudo_parameters(stack))
    resolver = Resolver(params, resources, _section(document, "Conditions"), _section(document, "Mappings"),
                        LOCAL_REGION)
    resources.attach(resolver)
    declared = resources.declared_sources()
    locator = Locator(declared, bindings.sources, database, strict=require_sources)
    functions = Functions(resources, resolver, _section(document, "Globals"), file.parent)
    reader = MappingReader(resolver, functions, locator, bindings.sources, stack)
    mappings = _read_mappings(resources, reader)
    used = {m.function_id: functions.get(m.function_id, m.id) for m in mappings.values()}
    return App(path=file, stack_name=stack, database=database, mappings=mappings, functions=used,
               sources={**declared, **locator.stand_ins}, skipped=tuple(reader.skipped),
               endpoint_url=bindings.endpoint_url, region=bindings.region, parameters=given)


def _read_mappings(resources: Resources, reader: MappingReader) -> dict[str, AppMapping]:
    found: list[AppMapping] = []
    for logical_id in resources.ids():
        kind = resources.type_of(logical_id)
        if kind not in ("AWS::Serverless::Function", "AWS::Lambda::EventSourceMapping"):
            continue
        if not resources.exists(logical_id):
            reader.skipped.append(f"{logical_id}: its Condition is false; not created")
            continue
        if kind == "AWS::Serverless::Function":
            found.extend(reader.from_function(logical_id))
        else:
            found.append(reader.from_resource(logical_id, resources.properties(logical_id)))
    return {m.id: m for m in found}


def _section(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document.get(name) or {}
    if not isinstance(value, Mapping):
        raise TemplateError(name, f"expected a mapping, got {value!r}")
    return value


def _database(folder: Path, stack: str, overrides: Overrides) -> Path:
    if overrides.database is None:
        return folder / DATABASE_FOLDER / f"{stack}.db"
    base = overrides.base or folder
    return (base / overrides.database).resolve()


def _refuse_transforms(document: Mapping[str, Any]) -> None:
    transform = document.get("Transform")
    names = transform if isinstance(transform, list) else [transform] if transform is not None else []
    for name in names:
        if isinstance(name, str) and name.startswith("AWS::Serverless"):
            continue
        if name == "AWS::LanguageExtensions":
            continue  # Fn::ToJsonString, Fn::Length, FindInMap defaults work; Fn::ForEach is refused
        raise TemplateError("Transform", f"{name!r}: only the AWS::Serverless transform (SAM) and "
                                         "AWS::LanguageExtensions are supported locally")
    resources = document.get("Resources") or {}
    loops = [key for key in resources if isinstance(key, str) and key.startswith("Fn::ForEach")]
    if loops:
        raise TemplateError(f"Resources.{loops[0]}",
                            "Fn::ForEach is not supported locally; write the resources out")
