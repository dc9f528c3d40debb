"""Template parameters: defaults, overrides, CloudFormation's constraints, and the pseudo parameters.

A parameter's value is text, as CloudFormation hands it over (a ``Number``
parameter gives ``"10"``); list types give lists of text. A parameter without a
default and without an override is an error only when something refers to it,
so a template whose unused parameters point at SSM or other accounts still runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from batchmap.errors import TemplateError

LOCAL_REGION: Final = "local"
LOCAL_ACCOUNT: Final = "000000000000"
"""The region and account of the embedded source's ARNs, so ``${AWS::Region}`` builds ARNs that match it."""

_LIST_TYPES = ("CommaDelimitedList", "List<")
_SAM_FORM = re.compile(r"ParameterKey=([^,]+),ParameterValue=(.*)")
_SPLIT = re.compile(r"\s+(?=(?:ParameterKey=)?[A-Za-z0-9]+=)")
"""``"A=1 B=2"`` in one argument is two overrides, as SAM CLI reads it."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """One declared parameter: its type, default and constraints as written in the template."""

    name: str
    type: str
    default: str | None
    spec: Mapping[str, Any]

    @property
    def is_list(self) -> bool:
        return self.type.startswith(_LIST_TYPES)


class Parameters:
    """The template's parameters and the pseudo parameters, with overrides applied."""

    def __init__(self, declared: Mapping[str, Any], overrides: Mapping[str, str],
                 pseudo: Mapping[str, Any]) -> None:
        self._declared = {name: _declare(name, spec) for name, spec in declared.items()}
        unknown = sorted(set(overrides) - set(self._declared))
        if unknown:
            known = ", ".join(self._declared) or "none"
            raise TemplateError("--parameter-overrides", f"no parameter named {unknown[0]!r} in the template "
                                                         f"(parameters: {known})")
        self._overrides = dict(overrides)
        self._pseudo = dict(pseudo)
        self._cache: dict[str, Any] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._declared or name in self._pseudo

    def value(self, name: str, where: str) -> Any:
        """The value of ``Ref name``: text, or a list of text for list types."""
        if name in self._pseudo:
            return self._pseudo[name]
        if name not in self._cache:
            self._cache[name] = self._compute(self._declared[name], where)
        return self._cache[name]

    def _compute(self, parameter: Parameter, where: str) -> Any:
        text = self._overrides.get(parameter.name, parameter.default)
        if text is None:
            raise TemplateError(where, f"parameter {parameter.name!r} has no Default and no value was given; "
                                       f"pass --parameter-overrides {parameter.name}=VALUE")
        if parameter.type.startswith("AWS::SSM::Parameter::Value") and parameter.name not in self._overrides:
            raise TemplateError(where, f"parameter {parameter.name!r} reads SSM parameter {text!r}, which "
                                       "cannot be read locally; pass --parameter-overrides "
                                       f"{parameter.name}=VALUE")
        _check(parameter, text)
        if parameter.is_list:
            return [item.strip() for item in text.split(",")] if text else []
        return text


def _declare(name: str, spec: Any) -> Parameter:
    where = f"Parameters.{name}"
    if not isinstance(spec, Mapping):
        raise TemplateError(where, f"expected a mapping with a Type, got {spec!r}")
    kind = spec.get("Type", "String")
    if not isinstance(kind, str):
        raise TemplateError(f"{where}.Type", f"expected a parameter type, got {kind!r}")
    default = spec.get("Default")
    if default is not None:
        default = _text(default, f"{where}.Default")
    return Parameter(name, kind, default, spec)


def _text(value: Any, where: str) -> str:
    """CloudFormation turns scalar defaults and overrides into text; lists into comma-separated text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, int | float | str) for v in value):
        return ",".join(str(v) for v in value)
    raise TemplateError(where, f"expected text, a number or a list of them, got {value!r}")


def _check(parameter: Parameter, text: str) -> None:
    where, spec = f"Parameters.{parameter.name}", parameter.spec
    items = [item.strip() for item in text.split(",")] if parameter.is_list else [text]
    allowed = spec.get("AllowedValues")
    for item in items:
        if isinstance(allowed, list) and item not in [_text(a, where) for a in allowed]:
            raise TemplateError(where, f"value {item!r} is not among AllowedValues {allowed!r}")
        if "Number" in parameter.type:
            _check_number(where, spec, item)
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str) and not re.fullmatch(pattern, text):
        raise TemplateError(where, f"value {text!r} does not match AllowedPattern {pattern!r}")
    low, high = spec.get("MinLength"), spec.get("MaxLength")
    if low is not None and len(text) < int(low):
        raise TemplateError(where, f"value {text!r} is shorter than MinLength {low}")
    if high is not None and len(text) > int(high):
        raise TemplateError(where, f"value {text!r} is longer than MaxLength {high}")


def _check_number(where: str, spec: Mapping[str, Any], item: str) -> None:
    try:
        number = float(item)
    except ValueError:
        raise TemplateError(where, f"value {item!r} is not a number (Type Number)") from None
    low, high = spec.get("MinValue"), spec.get("MaxValue")
    if low is not None and number < float(low):
        raise TemplateError(where, f"value {item!r} is below MinValue {low}")
    if high is not None and number > float(high):
        raise TemplateError(where, f"value {item!r} is above MaxValue {high}")


def pseudo_parameters(stack_name: str, region: str = LOCAL_REGION,
                      account: str = LOCAL_ACCOUNT) -> dict[str, Any]:
    """``AWS::Region`` and friends, with local values (``AWS::NoValue`` is handled by the resolver)."""
    import uuid

    stack_id = uuid.uuid5(uuid.NAMESPACE_URL, f"batchmap:stack:{stack_name}")
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{stack_id}",
        "AWS::NotificationARNs": [],
    }


def parse_parameter_overrides(items: Iterable[str]) -> dict[str, str]:
    """``Key=Value`` items (``sam deploy --parameter-overrides``) or ``ParameterKey=K,ParameterValue=V``."""
    values: dict[str, str] = {}
    for item in (part for given in items for part in _SPLIT.split(given.strip()) if part):
        match = _SAM_FORM.fullmatch(item)
        if match:
            key, value = match.group(1), match.group(2)
        else:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise TemplateError("--parameter-overrides", f"expected Key=Value, got {item!r}")
        values[key.strip()] = value
    return values
