"""``FunctionConfig``: the function a mapping invokes, with Lambda's own settings and limits.

Settings, not machinery: the mapping (``EventSourceMapping.function``), the
templates and the command line build it; the engine's invokers run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from batchmap.errors import ConfigError
from batchmap.records.shapes import MAX_FUNCTION_TIMEOUT_S

MAX_TIMEOUT_S = MAX_FUNCTION_TIMEOUT_S
"""Lambda's longest function timeout (15 minutes)."""
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10_240
ENVIRONMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
"""Lambda's rule for environment variable names: a letter, then letters, digits and ``_``; 2 characters or more."""

RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
"""Variables Lambda sets itself and refuses in a function's ``Environment`` (its "defined runtime
environment variables"); ``batchmap.engine.invokers.environment`` sets the ones with a local meaning."""


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """The function a mapping invokes, with Lambda's own settings.

    ``handler`` is ``module:callable``, Lambda's ``module.callable`` or SAM's
    ``folder/module.callable`` (relative to ``code_path``) for local invokers;
    an ``http(s)://`` endpoint for the HTTP invoker; a function name or ARN for
    AWS Lambda (``endpoint_url`` and ``region`` then work as in boto3).
    ``region`` is the function's region: the local invokers give it to the
    function as ``AWS_REGION`` (when unset, from the AWS configuration or a
    default: ``batchmap.engine.invokers.environment``).
    """

    handler: str
    name: str = "batchmap-function"
    timeout_s: float = 3.0
    memory_mb: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    code_path: str | None = None  # folder added to sys.path (SAM CodeUri)
    endpoint_url: str | None = None  # Lambda API endpoint for the boto3 invoker
    region: str | None = None  # the function's AWS region (boto3 invoker's client, AWS_REGION locally)

    def __post_init__(self) -> None:
        if not isinstance(self.handler, str) or not self.handler.strip():
            raise ConfigError("handler", self.handler, "module:callable, an http(s) URL, a function name or ARN")
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("name", self.name, "a non-empty function name")
        timeout = self.timeout_s
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_S:
            raise ConfigError("timeout_s", timeout, f"seconds, greater than 0 and at most {MAX_TIMEOUT_S:g}")
        memory = self.memory_mb
        if isinstance(memory, bool) or not isinstance(memory, int) or not MIN_MEMORY_MB <= memory <= MAX_MEMORY_MB:
            raise ConfigError("memory_mb", memory, f"an integer from {MIN_MEMORY_MB} to {MAX_MEMORY_MB}")
        for key, value in self.environment.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError("environment", {key: value}, "string names and string values")
            if key in RESERVED_VARIABLES:
                raise ConfigError("environment", {key: value}, f"{key} is reserved: Lambda sets it itself and "
                                                               "refuses it in a function's environment")
            if not ENVIRONMENT_NAME.fullmatch(key):
                raise ConfigError("environment", key, "variable names of 2 or more letters, digits and '_', "
                                  "starting with a letter (Lambda's rule)")
            if "\x00" in value:
                raise ConfigError("environment", {key: value}, "values without NUL characters")
