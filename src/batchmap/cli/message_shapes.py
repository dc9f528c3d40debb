"""A received message as ``aws sqs receive-message`` prints it, made from the record a function gets.

Sources hand out Lambda's record shape (``messageId``, ``md5OfBody``,
``messageAttributes`` with ``stringValue``); the AWS CLI prints the API's shape
(``MessageId``, ``MD5OfBody``, ``StringValue``). ``Attributes`` and
``MessageAttributes`` appear only when asked for, by name or with ``All``, as in
the AWS CLI; message attribute names also take ``.*`` and ``prefix.*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def cli_message(record: dict[str, Any], attribute_names: Sequence[str] | None,
                message_attribute_names: Sequence[str] | None) -> dict[str, Any]:
    """One entry of ``Messages``: the fields in the AWS CLI's order, attributes only when asked for."""
    out: dict[str, Any] = {"MessageId": record["messageId"], "ReceiptHandle": record["receiptHandle"],
                           "MD5OfBody": record["md5OfBody"], "Body": record["body"]}
    if attribute_names:
        wanted = set(attribute_names)
        attributes = {name: value for name, value in record.get("attributes", {}).items()
                      if "All" in wanted or name in wanted}
        if attributes:
            out["Attributes"] = attributes
    if message_attribute_names:
        chosen = {name: _api_attribute(value) for name, value in record.get("messageAttributes", {}).items()
                  if _asked(name, message_attribute_names)}
        if chosen:
            if record.get("md5OfMessageAttributes"):
                out["MD5OfMessageAttributes"] = record["md5OfMessageAttributes"]
            out["MessageAttributes"] = chosen
    return out


def _asked(name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern in ("All", ".*") or pattern == name:
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def _api_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """Lambda's ``{"stringValue", "binaryValue", ..., "dataType"}`` as the API's ``{"StringValue", "DataType"}``."""
    out: dict[str, Any] = {}
    if value.get("stringValue") is not None:
        out["StringValue"] = value["stringValue"]
    if value.get("binaryValue") is not None:
        out["BinaryValue"] = value["binaryValue"]
    out["DataType"] = value.get("dataType", "String")
    return out
