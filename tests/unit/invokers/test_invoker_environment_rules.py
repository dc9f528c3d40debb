"""The function's region, first found: its own (``--region``, a Lambda ARN, the source's ARN), AWS_REGION,
AWS_DEFAULT_REGION, the AWS config file, the default; and the reserved variables a function may not set."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmap.config.function import RESERVED_VARIABLES, FunctionConfig
from batchmap.engine.invokers.environment import DEFAULT_REGION, in_region, resolve_region
from batchmap.errors import ConfigError


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No region in the environment; an AWS config file the test may write."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return config


def test_the_region_is_the_first_one_found(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_region(None) == DEFAULT_REGION == "us-east-1"
    bare.write_text("[default]\nregion = ca-central-1\n[profile other]\nregion = eu-north-1\n")
    assert resolve_region(None) == "ca-central-1"
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert resolve_region(None) == "eu-north-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    assert resolve_region(None) == "sa-east-1"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert resolve_region(None) == "ap-south-1"
    assert resolve_region("me-south-1") == "me-south-1"


def test_a_run_names_the_functions_region_by_flag_or_arn() -> None:
    local = FunctionConfig("app.handler")
    assert in_region(local, None, "sqlite:///x.db?queue=q").region is None  # left to the AWS configuration
    assert in_region(local, "eu-west-1", "sqlite:///x.db?queue=q").region == "eu-west-1"  # --region
    queue = "arn:aws:sqs:eu-central-1:123456789012:orders"
    assert in_region(local, None, queue).region == "eu-central-1"  # AWS keeps a queue and its function together
    assert in_region(local, "eu-west-1", queue).region == "eu-west-1"
    remote = FunctionConfig("arn:aws:lambda:us-west-2:123456789012:function:orders")
    assert in_region(remote, "eu-west-1", queue).region == "us-west-2"  # a deployed function is where it is
    pinned = FunctionConfig("app.handler", region="af-south-1")
    assert in_region(pinned, "eu-west-1", queue) is pinned


@pytest.mark.parametrize("name", ["AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "_HANDLER", "AWS_ACCESS_KEY_ID"])
def test_a_reserved_variable_in_the_functions_environment_is_refused_as_aws_refuses_it(name: str) -> None:
    assert name in RESERVED_VARIABLES
    with pytest.raises(ConfigError) as caught:
        FunctionConfig("app.handler", environment={"STAGE": "dev", name: "x"})
    assert caught.value.parameter == "environment" and caught.value.value == {name: "x"}
    assert f"{name} is reserved: Lambda sets it itself" in str(caught.value)


def test_tz_and_path_are_not_reserved() -> None:
    assert FunctionConfig("app.handler", environment={"TZ": "Europe/Paris", "PATH": "/bin"}).environment["TZ"]
