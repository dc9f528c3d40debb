"""Turning loosely typed input (API JSON, CloudFormation, CLI text) into setting values.

CloudFormation hands parameters over as strings (``BatchSize: !Ref Size`` gives
``"10"``) and the AWS CLI shorthand has no types at all, so integers and
booleans are accepted as their string forms too. Each converter raises a
``ConfigError`` naming the parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batchmap.config.mapping import (
    DestinationConfig,
    MetricsConfig,
    OnFailure,
    ProvisionedPollerConfig,
    ScalingConfig,
)
from batchmap.config.parameters import REPORT_BATCH_ITEM_FAILURES, fail, is_int, is_real, label
from batchmap.config.shorthand import parse_shorthand

_INTEGER = re.compile(r"\s*[-+]?\d+\s*")
_ON_FAILURE_TYPES = ("SQS", "SNS", "S3", "Kafka")


def integer(name: str, value: Any) -> int:
    """An int, or the text of one."""
    if is_int(value):
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise fail(name, value, "an integer")


def number(name: str, value: Any) -> float:
    """An int or float, or the text of one."""
    if is_real(value):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            pass
        else:
            if is_real(parsed):
                return parsed
    raise fail(name, value, "a number")


def boolean(name: str, value: Any) -> bool:
    """A bool, or ``true``/``false`` in any case (as CloudFormation accepts)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise fail(name, value, "true or false")


def text(name: str, value: Any) -> str:
    """A non-empty string."""
    if isinstance(value, str) and value.strip():
        return value
    raise fail(name, value, "a non-empty string")


def timestamp(name: str, value: Any) -> float:
    """Unix seconds from a number or ISO 8601 text; a time without a zone is UTC."""
    if is_real(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise fail(name, value, "Unix seconds or an ISO 8601 time such as 2024-05-01T12:00:00Z")


def response_types(name: str, value: Any) -> tuple[str, ...]:
    """``FunctionResponseTypes``: a list of strings (checked against AWS's one value by the mapping)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise fail(name, value, f"a list holding at most {REPORT_BATCH_ITEM_FAILURES!r}")
    return tuple(value)


def destination_config(value: Any) -> DestinationConfig:
    """``{"OnFailure": {"Destination": "..."}}``; SAM's ``Type`` beside ``Destination`` is accepted."""
    name = "destination_config"
    if not isinstance(value, Mapping):
        raise fail(name, value, 'an object such as {"OnFailure": {"Destination": "..."}}')
    if "OnSuccess" in value:
        raise fail(name, value, "event source mappings take OnFailure only (OnSuccess is for async invocations)")
    _no_unknown(name, value, {"OnFailure"})
    on_failure = value.get("OnFailure")
    if on_failure is None:
        return DestinationConfig()
    if not isinstance(on_failure, Mapping):
        raise fail(name, on_failure, 'an object such as {"Destination": "..."}')
    _no_unknown(name, on_failure, {"Destination", "Type"})
    kind = on_failure.get("Type")
    if kind is not None and kind not in _ON_FAILURE_TYPES:
        raise fail(name, kind, "Type, when given (as SAM does), is one of " + ", ".join(_ON_FAILURE_TYPES))
    return DestinationConfig(OnFailure(text(name, on_failure.get("Destination"))))


def scaling_config(value: Any) -> ScalingConfig:
    """``{"MaximumConcurrency": 5}``; an empty object removes the cap, as in AWS."""
    name = "scaling_config"
    if not isinstance(value, Mapping):
        raise fail(name, value, 'an object such as {"MaximumConcurrency": 5}')
    _no_unknown(name, value, {"MaximumConcurrency"})
    maximum = value.get("MaximumConcurrency")
    return ScalingConfig(None if maximum is None else integer(name, maximum))


def provisioned_poller_config(value: Any) -> ProvisionedPollerConfig:
    """``{"MinimumPollers": 2, "MaximumPollers": 8}`` (Kafka may add ``PollerGroupName``); ``{}`` turns it off."""
    name = "provisioned_poller_config"
    if not isinstance(value, Mapping):
        raise fail(name, value, 'an object such as {"MinimumPollers": 2, "MaximumPollers": 8}')
    _no_unknown(name, value, {"MinimumPollers", "MaximumPollers", "PollerGroupName"})
    low, high, group = value.get("MinimumPollers"), value.get("MaximumPollers"), value.get("PollerGroupName")
    return ProvisionedPollerConfig(
        None if low is None else integer(name, low),
        None if high is None else integer(name, high),
        None if group is None else text(name, group),
    )


def metrics_config(value: Any) -> MetricsConfig:
    """``{"Metrics": ["EventCount", ...]}``; one group may be given as a bare string (CLI shorthand)."""
    name = "metrics_config"
    if not isinstance(value, Mapping):
        raise fail(name, value, 'an object such as {"Metrics": ["EventCount"]}')
    _no_unknown(name, value, {"Metrics"})
    metrics = value.get("Metrics")
    if metrics is None:
        return MetricsConfig()
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not all(isinstance(item, str) for item in metrics):
        raise fail(name, metrics, "Metrics: a list of group names")
    return MetricsConfig(tuple(metrics))


def environment(value: Any) -> dict[str, str]:
    """Lambda's ``{"Variables": {...}}``; values become strings, as CloudFormation makes them."""
    name = "environment"
    if not isinstance(value, Mapping) or set(value) - {"Variables"}:
        raise fail(name, value, 'an object such as {"Variables": {"KEY": "value"}}')
    variables = value.get("Variables")
    variables = {} if variables is None else variables
    if not isinstance(variables, Mapping) or any(not isinstance(key, str) or not key for key in variables):
        raise fail(name, variables, "Variables maps names to values")
    for key, item in variables.items():
        if isinstance(item, list | Mapping):  # shorthand ``KEY=a,b`` reads as a list, as in the AWS CLI
            raise fail(name, {key: item}, "a text value for each variable (quote one holding commas: KEY='a,b')")
    return {key: _env_value(item) for key, item in variables.items()}


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def structured(name: str, value: str, raw_json: frozenset[str] = frozenset()) -> Any:
    """A flag's text as the AWS CLI reads it: ``file://path``, JSON, or shorthand syntax.

    ``name`` is a mapping setting (errors then read ``ScalingConfig (--scaling-config)``) or, for
    other commands' flags, the label to put in errors as it is (``--attributes``).
    """
    if value.startswith("file://"):
        path = Path(value.removeprefix("file://")).expanduser()
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise fail(name, str(path), f"a readable file ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise fail(name, str(path), f"a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    stripped = value.strip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise fail(name, value, f"valid JSON ({exc})") from None
    return parse_shorthand(stripped, label(name), raw_json)


def _no_unknown(name: str, value: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(value) - known)
    if unknown:
        raise fail(name, value, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
