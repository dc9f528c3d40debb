"""A Lambda function name needs a region: from the function, its ARN, ``--region`` or boto3's own settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmap.cli import build_parser
from batchmap.cli.run import _with_region
from batchmap.config import EventSourceMapping, mapping_from_args
from batchmap.config.function import FunctionConfig
from batchmap.engine.invokers.factory import lambda_function
from batchmap.errors import ConfigError


@pytest.fixture(autouse=True)
def no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def test_without_any_region_the_error_names_the_local_form() -> None:
    with pytest.raises(ConfigError) as caught:
        lambda_function(FunctionConfig("okh"))
    assert caught.value.parameter == "FunctionName (--function)" and caught.value.value == "okh"
    assert "module:callable, such as okh:handler" in caught.value.allowed


def test_the_region_comes_from_the_function_the_arn_or_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lambda_function(FunctionConfig("fn", region="eu-west-1")).region == "eu-west-1"
    arn = "arn:aws:lambda:ap-south-1:123456789012:function:fn"
    assert lambda_function(FunctionConfig(arn)).region == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert lambda_function(FunctionConfig("fn")).region == "us-west-2"


def test_a_local_handler_is_refused_for_the_lambda_invoker() -> None:
    with pytest.raises(ConfigError, match="runs locally"):
        lambda_function(FunctionConfig("app:handler", region="us-east-1"))


def test_run_gives_its_region_flag_to_a_lambda_function_that_names_none() -> None:
    args = build_parser().parse_args(["run", "--source", "sqlite:///q.db?queue=q", "--function", "fn",
                                      "--timeout", "5"])
    mapping = _with_region(mapping_from_args(args), "eu-central-1")
    assert isinstance(mapping.function, FunctionConfig)
    assert (mapping.function.region, mapping.function.timeout_s) == ("eu-central-1", 5)
    own = EventSourceMapping(source="sqlite:///q.db?queue=q", function=FunctionConfig("fn", region="us-east-1"))
    assert _with_region(own, "eu-central-1").function == own.function
