"""The overrides file: bind a template's sources to real endpoints instead of the embedded file.

YAML or JSON, every key optional::

    Sources:                        # logical id, ARN or mapping id -> source URI or ARN
      OrdersQueue: arn:aws:sqs:us-east-1:123456789012:orders
      OrdersTable: arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000
      arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc: kafka://127.0.0.1:9092
      Consumer.Orders: redis://127.0.0.1:6379/0?stream=orders&group=consumer
    EndpointUrl: http://127.0.0.1:5055   # for the AWS ARNs above (a local emulator)
    Region: us-east-1
    Database: .batchmap/orders.db        # the embedded file (relative to the template's folder)
    StackName: orders                    # AWS::StackName, and the default database's name

A mapping id is ``Function.Event`` for SAM events and the logical id of an
``AWS::Lambda::EventSourceMapping``; binding it replaces that mapping's source only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from batchmap.errors import TemplateError
from batchmap.templates.document import parse_template

KEYS: Final = ("Sources", "EndpointUrl", "Region", "Database", "StackName")


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the overrides file says; ``sources`` maps a logical id, ARN or mapping id to a URI or ARN."""

    sources: Mapping[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None
    region: str | None = None
    database: str | None = None
    stack_name: str | None = None
    base: Path | None = None
    """The folder relative paths in the file are read from (the file's own folder)."""


def load_overrides(value: str | Path | Mapping[str, Any] | Overrides | None) -> Overrides:
    """An ``Overrides`` from a file path, a mapping with the file's keys, or nothing."""
    if value is None:
        return Overrides()
    if isinstance(value, Overrides):
        return value
    if isinstance(value, Mapping):
        return from_mapping(value, "overrides", None)
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(str(path), f"cannot read the overrides file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise TemplateError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    document = parse_template(text, str(path)) if text.strip() else {}
    return from_mapping(document or {}, str(path), path.resolve().parent)


def from_mapping(document: Any, where: str, base: Path | None) -> Overrides:
    """Check the keys and value types; every problem names the key and the value."""
    if not isinstance(document, Mapping):
        raise TemplateError(where, f"expected a mapping with {', '.join(KEYS)}, got {document!r}")
    unknown = sorted(set(document) - set(KEYS))
    if unknown:
        raise TemplateError(f"{where}.{unknown[0]}", f"unknown key; expected {', '.join(KEYS)} (bindings go "
                                                     "under Sources)")
    raw_sources = document.get("Sources") or {}
    if not isinstance(raw_sources, Mapping):
        raise TemplateError(f"{where}.Sources", f"expected a mapping of logical ids or ARNs to URIs, got "
                                                f"{raw_sources!r}")
    sources: dict[str, str] = {}
    for key, target in raw_sources.items():
        if not isinstance(key, str) or not isinstance(target, str) or not target.strip():
            raise TemplateError(f"{where}.Sources.{key}", f"expected a source URI or ARN, got {target!r}")
        sources[key] = target.strip()
    settings = {name: _text(document, name, where) for name in KEYS[1:]}
    return Overrides(sources, settings["EndpointUrl"], settings["Region"], settings["Database"],
                     settings["StackName"], base)


def _text(document: Mapping[str, Any], key: str, where: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TemplateError(f"{where}.{key}", f"expected text, got {value!r}")
    return value.strip()
