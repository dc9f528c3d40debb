"""Reading a template file: YAML with CloudFormation's short-form tags, or JSON.

Short forms become the long forms CloudFormation itself works with, so the rest
of the package sees one shape: ``!Ref X`` is ``{"Ref": "X"}``, ``!GetAtt A.B`` is
``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub ...`` is ``{"Fn::Sub": ...}`` and so on.
Dates stay strings (``AWSTemplateFormatVersion: 2010-09-09`` is text to
CloudFormation, not a date). PyYAML is imported only here, and only when a YAML
file is read (extra ``sam``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batchmap.errors import MissingExtraError, TemplateError

SHORT_FORMS = (
    "Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "If", "ImportValue", "Join", "Select", "Split",
    "Sub", "Transform", "And", "Equals", "Not", "Or", "ToJsonString", "Length",
)
"""``!Name`` tags that stand for ``Fn::Name`` (``!Ref`` and ``!Condition`` are handled apart)."""


def read_template(path: str | Path) -> dict[str, Any]:
    """The template at ``path`` as plain data, checked to be a CloudFormation/SAM template."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(str(file), f"cannot read the template ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise TemplateError(str(file), f"not a template: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    document = parse_template(text, str(file))
    check_template(document, str(file))
    return dict(document)


def parse_template(text: str, where: str = "template") -> Any:
    """Parse JSON (text starting with ``{``) or YAML with short-form tags."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise TemplateError(where, f"not valid JSON: {exc}") from None
    return _parse_yaml(text, where)


def check_template(document: Any, where: str) -> None:
    """A template is known by ``Resources`` holding ``AWS::`` types (version and Transform are optional)."""
    if not isinstance(document, Mapping):
        raise TemplateError(where, "not a CloudFormation/SAM template: the document is not a mapping")
    resources = document.get("Resources")
    if not isinstance(resources, Mapping) or not resources:
        raise TemplateError(where, "not a CloudFormation/SAM template: no Resources section")
    types = [r.get("Type") for r in resources.values() if isinstance(r, Mapping)]
    if not any(isinstance(t, str) and t.startswith("AWS::") for t in types):
        raise TemplateError(where, "not a CloudFormation/SAM template: no resource has an AWS:: Type")


def _parse_yaml(text: str, where: str) -> Any:
    loader = _loader_class()
    import yaml

    try:
        return yaml.load(text, Loader=loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(where, f"not valid YAML: {exc}") from None


_LOADER: Any = None


def _loader_class() -> Any:
    """A ``SafeLoader`` with the CloudFormation tags and without the timestamp resolver (built once)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    try:
        import yaml
    except ImportError:
        raise MissingExtraError("sam", "yaml") from None

    class CloudFormationLoader(yaml.SafeLoader):
        """YAML as CloudFormation reads it."""

    CloudFormationLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    CloudFormationLoader.add_constructor("!Ref", _tagged(lambda value: {"Ref": value}))
    CloudFormationLoader.add_constructor("!Condition", _tagged(lambda value: {"Condition": value}))
    CloudFormationLoader.add_constructor("!GetAtt", _tagged(_get_att))
    for name in SHORT_FORMS:
        if name != "GetAtt":
            CloudFormationLoader.add_constructor(f"!{name}", _tagged(_long_form(name)))
    _LOADER = CloudFormationLoader
    return _LOADER


def _long_form(name: str) -> Any:
    return lambda value: {f"Fn::{name}": value}


def _get_att(value: Any) -> dict[str, Any]:
    """``!GetAtt Res.Attr`` (or ``Res.Attr.Sub``): the logical id is before the first dot."""
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {"Fn::GetAtt": value}


def _tagged(build: Any) -> Any:
    """A constructor taking the tagged node in any form (scalar, sequence, mapping)."""
    import yaml

    def construct(loader: Any, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return build(value)

    return construct
