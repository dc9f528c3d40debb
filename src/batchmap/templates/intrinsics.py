"""Intrinsic functions: ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::If``, ...

``Resolver.resolve(value, where)`` walks a property value and replaces every
intrinsic by what it stands for locally. ``where`` is the property path
(``Resources.Orders.Properties.Events.Queue.Properties.BatchSize``): every error
names it and the value that could not be resolved, so a user knows exactly
what to fix. Only the properties batchmap reads are ever resolved, so an
``Fn::ImportValue`` in an IAM policy does not stop a template from running.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from batchmap.errors import TemplateError
from batchmap.templates.conditions import Conditions
from batchmap.templates.parameters import Parameters


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
"""``Ref AWS::NoValue``: the property (or list item) is removed."""

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class ResourceValues(Protocol):
    """What ``Ref`` and ``Fn::GetAtt`` of a resource give (see ``batchmap.templates.resources``)."""

    def has(self, logical_id: str) -> bool: ...

    def ref(self, logical_id: str, where: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str, where: str) -> Any: ...


class Resolver:
    """Resolves intrinsic functions against parameters, conditions, mappings and resources."""

    def __init__(self, parameters: Parameters, resources: ResourceValues, conditions: Mapping[str, Any],
                 mappings: Mapping[str, Any], region: str) -> None:
        self.parameters = parameters
        self.resources = resources
        self.conditions = Conditions(conditions, self.resolve)
        self.mappings = mappings if isinstance(mappings, Mapping) else {}
        self.region = region
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub, "Fn::Join": self._join,
            "Fn::Select": self._select, "Fn::Split": self._split, "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map, "Fn::Base64": self._base64, "Fn::GetAZs": self._get_azs,
            "Fn::ToJsonString": self._to_json_string, "Fn::Length": self._length,
        }

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic replaced; ``NO_VALUE`` entries are dropped from maps and lists."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, argument), = value.items()
                if key == "Ref":
                    return self._ref(argument, where)
                if isinstance(key, str) and key.startswith("Fn::"):
                    return self._function(key, argument, where)
            resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def text(self, value: Any, where: str) -> str:
        """A value that must resolve to text (numbers become text, as CloudFormation does)."""
        resolved = self.resolve(value, where)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, int | float):
            return str(resolved)
        if not isinstance(resolved, str):
            raise TemplateError(where, f"expected text, got {resolved!r} (from {value!r})")
        return resolved

    def _function(self, name: str, argument: Any, where: str) -> Any:
        handler = self._functions.get(name)
        if handler is not None:
            return handler(argument, f"{where}.{name}")
        if name == "Fn::ImportValue":
            raise TemplateError(where, f"Fn::ImportValue {argument!r}: another stack's exports cannot be "
                                       "read locally; use a parameter (and --parameter-overrides) instead")
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            raise TemplateError(where, f"{name} belongs in Conditions (or the condition of Fn::If), not here")
        raise TemplateError(where, f"{name} {argument!r} is not supported locally; supported: Ref, "
                                   f"{', '.join(self._functions)}")

    def _ref(self, name: Any, where: str) -> Any:
        place = f"{where}.Ref"
        if not isinstance(name, str):
            raise TemplateError(place, f"expected a parameter or resource name, got {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters.value(name, place)
        if self.resources.has(name):
            return self.resources.ref(name, place)
        raise TemplateError(place, f"Ref {name!r}: no parameter, pseudo parameter or resource of that name")

    def _get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(where, f"expected [LogicalId, Attribute], got {argument!r}")
        logical_id = self.text(argument[0], f"{where}[0]")
        attribute = self.text(argument[1], f"{where}[1]")
        if not self.resources.has(logical_id):
            raise TemplateError(where, f"GetAtt {logical_id}.{attribute}: no resource {logical_id!r}")
        return self.resources.get_att(logical_id, attribute, where)

    def _sub(self, argument: Any, where: str) -> str:
        variables: Mapping[str, Any] = {}
        if isinstance(argument, list):
            if len(argument) != 2 or not isinstance(argument[1], Mapping):
                raise TemplateError(where, f"expected a string or [string, {{variables}}], got {argument!r}")
            argument, variables = argument
        if not isinstance(argument, str):
            raise TemplateError(where, f"expected a string to substitute into, got {argument!r}")
        values: dict[str, str] = {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name not in values:
                values[name] = self._sub_value(name, variables, where)
            return values[name]

        return _SUB_VARIABLE.sub(replace, argument)

    def _sub_value(self, name: str, variables: Mapping[str, Any], where: str) -> str:
        place = f"{where}.${{{name}}}"
        if name in variables:
            return self.text(variables[name], place)
        if name in self.parameters or self.resources.has(name):
            value = self._ref(name, place)
        elif "." in name and self.resources.has(name.split(".", 1)[0]):
            value = self._get_att(name.split(".", 1), place)
        else:
            raise TemplateError(place, f"${{{name}}}: no variable, parameter or resource of that name")
        if isinstance(value, list):
            raise TemplateError(place, f"${{{name}}} is a list ({value!r}); Fn::Sub needs text: use Fn::Join")
        return self.text(value, place)

    def _join(self, argument: Any, where: str) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(where, f"expected [delimiter, [values]], got {argument!r}")
        delimiter = self.text(argument[0], f"{where}[0]")
        items = self.resolve(argument[1], f"{where}[1]")
        if not isinstance(items, list):
            raise TemplateError(f"{where}[1]", f"expected a list of values, got {items!r}")
        return delimiter.join(self.text(item, f"{where}[1][{i}]") for i, item in enumerate(items))

    def _select(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(where, f"expected [index, [values]], got {argument!r}")
        index_text = self.text(argument[0], f"{where}[0]")
        items = self.resolve(argument[1], f"{where}[1]")
        if not index_text.strip().isdigit():
            raise TemplateError(f"{where}[0]", f"expected an index (a whole number or its text), "
                                               f"got {index_text!r}")
        if not isinstance(items, list):
            raise TemplateError(f"{where}[1]", f"expected a list of values, got {items!r}")
        index = int(index_text)
        if index >= len(items):
            raise TemplateError(where, f"index {index} is out of range for {len(items)} value(s): {items!r}")
        return items[index]

    def _split(self, argument: Any, where: str) -> list[str]:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(where, f"expected [delimiter, string], got {argument!r}")
        delimiter = self.text(argument[0], f"{where}[0]")
        if not delimiter:
            raise TemplateError(f"{where}[0]", "the delimiter must not be empty")
        return self.text(argument[1], f"{where}[1]").split(delimiter)

    def _if(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError(where, f"expected [condition, value if true, value if false], "
                                       f"got {argument!r}")
        chosen = 1 if self.conditions.is_true(argument[0], f"{where}[0]") else 2
        return self.resolve(argument[chosen], f"{where}[{chosen}]")

    def _find_in_map(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) not in (3, 4):
            raise TemplateError(where, f"expected [MapName, TopLevelKey, SecondLevelKey], got {argument!r}")
        keys = [self.text(item, f"{where}[{i}]") for i, item in enumerate(argument[:3])]
        options = argument[3] if len(argument) == 4 and isinstance(argument[3], Mapping) else {}
        default = options.get("DefaultValue")
        level: Any = self.mappings
        for depth, key in enumerate(keys):
            if not isinstance(level, Mapping) or key not in level:
                if default is not None:
                    return self.resolve(default, f"{where}[3].DefaultValue")
                path = ".".join(keys[: depth + 1])
                raise TemplateError(where, f"FindInMap {'/'.join(keys)}: Mappings has no {path!r}")
            level = level[key]
        return level

    def _base64(self, argument: Any, where: str) -> str:
        return base64.b64encode(self.text(argument, where).encode("utf-8")).decode("ascii")

    def _get_azs(self, argument: Any, where: str) -> list[str]:
        region = self.text(argument, where) if argument not in ("", None) else self.region
        return [f"{region}{zone}" for zone in "abc"]

    def _to_json_string(self, argument: Any, where: str) -> str:
        return json.dumps(self.resolve(argument, where), separators=(",", ":"))

    def _length(self, argument: Any, where: str) -> int:
        items = self.resolve(argument, where)
        if not isinstance(items, list):
            raise TemplateError(where, f"expected a list, got {items!r}")
        return len(items)
