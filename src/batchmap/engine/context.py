"""The Lambda context object for local invocations, shaped as Lambda's Python runtime builds it.

Handlers read ``context.aws_request_id``, ``context.function_name`` and, above
all, ``context.get_remaining_time_in_millis()`` to stop before the timeout;
batchmap gives them the same object whichever invoker runs them. Standard
library only: users may import it in their own tests::

    ctx = LambdaContext.start("my-function", timeout_s=3.0, memory_mb=256)

``memory_limit_in_mb`` is a string, as in Lambda's Python runtime (it comes from
the ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` variable): code that works here then
works in Lambda too.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOCAL_REGION = "local"
LOCAL_ACCOUNT = "000000000000"
LATEST = "$LATEST"


def new_request_id() -> str:
    """A random (version 4) UUID as Lambda's request ids look; without importing ``uuid`` (cold starts)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def function_arn(name: str, region: str = LOCAL_REGION, account: str = LOCAL_ACCOUNT) -> str:
    """The ARN of a local function: ``arn:aws:lambda:local:000000000000:function:NAME``."""
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def log_stream_name(wall_s: float | None = None) -> str:
    """A log stream name as Lambda gives each execution environment: ``YYYY/MM/DD/[$LATEST]<hex>``."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if wall_s is None else wall_s))
    return f"{day}/[{LATEST}]{os.urandom(16).hex()}"


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """What Lambda passes as the handler's second argument.

    ``deadline`` is in the seconds of ``now`` (monotonic by default); pass a
    fake ``now`` to test deadline handling without waiting. ``shared_process``
    (not in Lambda's context) says the handler shares its process with the
    engine, so the process's memory is not the function's own.
    """

    function_name: str
    memory_limit_in_mb: str
    aws_request_id: str
    deadline: float
    invoked_function_arn: str = ""
    function_version: str = LATEST
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    shared_process: bool = False
    now: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            object.__setattr__(self, "invoked_function_arn", function_arn(self.function_name))
        if not self.log_group_name:
            object.__setattr__(self, "log_group_name", f"/aws/lambda/{self.function_name}")

    @classmethod
    def start(
        cls,
        function_name: str,
        timeout_s: float,
        memory_mb: int = 128,
        aws_request_id: str | None = None,
        *,
        log_stream: str = "",
        shared_process: bool = False,
        now: Callable[[], float] = time.monotonic,
    ) -> LambdaContext:
        """A context whose budget of ``timeout_s`` starts counting now."""
        return cls(
            function_name=function_name,
            memory_limit_in_mb=str(memory_mb),
            aws_request_id=aws_request_id or new_request_id(),
            deadline=now() + timeout_s,
            log_stream_name=log_stream,
            shared_process=shared_process,
            now=now,
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out (never negative), as Lambda counts them."""
        return max(0, int((self.deadline - self.now()) * 1000))

    def log(self, message: object) -> None:
        """Write ``message`` to the function's log (stdout, no newline added), as Lambda's runtime does."""
        sys.stdout.write(str(message))
        sys.stdout.flush()
