"""What a local function finds in its environment: Lambda's defined runtime variables, and its region.

Lambda sets these before it imports the handler; code relies on them (a boto3
client made at import needs ``AWS_REGION``, Powertools reads the function's
name). The local invokers set those with a local meaning:

=================================  ==============================================
``AWS_REGION``, ``AWS_DEFAULT_REGION``  the function's region (``resolve_region``)
``AWS_EXECUTION_ENV``              ``AWS_Lambda_python3.X``, the interpreter running the code
``AWS_LAMBDA_FUNCTION_NAME``, ``..._MEMORY_SIZE``, ``..._VERSION``  name, MB, ``$LATEST``
``AWS_LAMBDA_INITIALIZATION_TYPE``  ``on-demand``
``AWS_LAMBDA_LOG_GROUP_NAME``, ``..._LOG_STREAM_NAME``  ``/aws/lambda/NAME``, the environment's stream
``LAMBDA_TASK_ROOT``, ``_HANDLER``  the code folder, the handler string
``TZ``                             ``:UTC``, in worker processes only (``WORKER_ONLY``)
=================================  ==============================================

Not set: ``_X_AMZN_TRACE_ID`` (no X-Ray), ``AWS_LAMBDA_RUNTIME_API`` (custom
runtimes), ``LAMBDA_RUNTIME_DIR``; credentials are whatever the engine's own
environment holds.

The region, first found: the function's ``region`` (``--region``, a template's
overrides file, the Lambda ARN or the source ARN, see ``in_region``),
``AWS_REGION``, ``AWS_DEFAULT_REGION``, the AWS config file's (``~/.aws/config``
and ``AWS_PROFILE``, read through botocore when it is installed), else
``DEFAULT_REGION``.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import replace
from typing import Final

from batchmap.config.function import FunctionConfig
from batchmap.engine.context import LATEST

DEFAULT_REGION: Final = "us-east-1"
"""The region a function sees when nothing names one: the one moto and LocalStack default to."""

WORKER_ONLY: Final = {"TZ": ":UTC"}
"""Set in worker processes only: in the engine's process it would change the engine's own clock display."""


def resolve_region(explicit: str | None) -> str:
    """``explicit``, else the region the AWS configuration names, else ``DEFAULT_REGION``."""
    if explicit:
        return explicit
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    return _configured_region(_config_key()) or DEFAULT_REGION


def _config_key() -> tuple[object, ...]:
    """What the configured region depends on: the config file (and when it changed) and the profile."""
    path = os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")
    try:
        changed: int | None = os.stat(path).st_mtime_ns
    except OSError:
        changed = None
    return path, changed, os.environ.get("AWS_PROFILE"), os.environ.get("AWS_DEFAULT_PROFILE")


@functools.lru_cache(maxsize=8)
def _configured_region(key: tuple[object, ...]) -> str | None:
    """The profile's region from the AWS config file, through botocore (which knows its every rule).

    Read once per file version and profile (``key``): a botocore session costs ~15 ms, paid per worker otherwise.
    Without a config file there is no region to find (the environment's was looked at first), and botocore's
    import alone (~0.15 s of CPU) is not paid by every ``batchmap run``.
    """
    if key[1] is None:  # the config file's mtime: there is none
        return None
    try:
        import botocore.session
    except ImportError:
        return None
    region = botocore.session.Session().get_config_variable("region")
    return region if isinstance(region, str) and region else None


def in_region(function: FunctionConfig, region: str | None, source: str) -> FunctionConfig:
    """``function`` with the region the run names: its Lambda ARN's, else ``region``, else the source ARN's.

    AWS keeps a mapping, its function and (for queues) its source in one region,
    so a source ARN's region is the function's too. Left unset, the local
    invokers fall back on the AWS configuration (``resolve_region``).
    """
    if function.region is not None:
        return function
    chosen = _arn_region(function.handler) or region or _arn_region(source)
    return function if chosen is None else replace(function, region=chosen)


def _arn_region(value: str) -> str | None:
    parts = value.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def lambda_variables(function: FunctionConfig, *, log_stream: str, code_dir: str) -> dict[str, str]:
    """Lambda's defined runtime variables for ``function`` (the table above, without ``WORKER_ONLY``)."""
    region = resolve_region(function.region)
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": LATEST,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": code_dir,
        "_HANDLER": function.handler,
    }
