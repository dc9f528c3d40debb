"""The tuner reads a template's function through ``batchmap.templates`` (``batchmap tune template.yaml``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmap.errors import ConfigError
from batchmap.tuning.template import TemplateFunction, function_from_template

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_tuner_gets_the_function_and_its_first_mapping() -> None:
    described = function_from_template(str(FIXTURES / "orders_sqs.yaml"), "OrdersFunction")
    assert described == TemplateFunction(
        handler="orders.handler", code_path=str((FIXTURES / "src").resolve()), memory_size=256,
        timeout_s=20.0, architecture="arm64", source="sqs", batch_size=25,
        maximum_batching_window_in_seconds=1.0)


def test_a_dynamodb_function_is_described_without_a_binding() -> None:
    described = function_from_template(str(FIXTURES / "streams.yaml"), "OrderChangesFunction")
    assert (described.source, described.batch_size, described.handler) == ("dynamodb", 100, "changes.handler")
    fifo = function_from_template(str(FIXTURES / "plain_cloudformation.json"), "IngestFunction")
    assert fifo.source == "sqs-fifo" and fifo.architecture == "x86_64"


def test_an_unknown_function_is_named() -> None:
    with pytest.raises(ConfigError, match="'Nope' is not a function with an event source mapping"):
        function_from_template(str(FIXTURES / "orders_sqs.yaml"), "Nope")
