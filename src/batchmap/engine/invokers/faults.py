"""Lambda's error documents, so a failing local invocation reads exactly like a failing Lambda one.

Every invoker reports failures with these shapes (``errorMessage``,
``errorType``, ``requestId``, ``stackTrace``), using the error types Lambda
itself uses: the exception's class name for a raised exception,
``Runtime.MarshalError`` for a return value that is not JSON,
``Runtime.ExitError`` for a runtime that exited or crashed,
``Runtime.OutOfMemory``, and ``Sandbox.Timedout`` for a timeout.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Iterable
from typing import Any

from batchmap.engine.invocation import Invocation

MAX_MESSAGE_CHARS = 256 * 1024
"""Longer error messages are cut, so one enormous exception cannot flood the engine."""

TIMEOUT_TYPE = "Sandbox.Timedout"
EXIT_TYPE = "Runtime.ExitError"
OOM_TYPE = "Runtime.OutOfMemory"
MARSHAL_TYPE = "Runtime.MarshalError"
TOO_LARGE_TYPE = "Function.ResponseSizeTooLarge"
INIT_TIMEOUT_TYPE = "Runtime.InitTimeout"


def error_document(error_type: str, message: str, request_id: str, stack: list[str] | None = None) -> dict[str, Any]:
    """The JSON document Lambda returns for a function error."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + f"... [{len(message) - MAX_MESSAGE_CHARS} characters cut]"
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


def exception_document(exc: BaseException, request_id: str, hide: Iterable[str] = ()) -> dict[str, Any]:
    """A raised exception as Lambda's Python runtime reports it; frames from files in ``hide`` are left out."""
    hidden = set(hide)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename not in hidden]
    return error_document(type(exc).__name__, str(exc), request_id, traceback.format_list(frames))


def marshal_document(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The handler returned something JSON cannot encode."""
    return error_document(MARSHAL_TYPE, f"Unable to marshal response: {exc}", request_id)


def too_large_document(size: int, limit: int, request_id: str) -> dict[str, Any]:
    """The handler's response is over Lambda's synchronous response limit."""
    return error_document(
        TOO_LARGE_TYPE,
        f"Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes).",
        request_id,
    )


def timeout_message(request_id: str, timeout_s: float) -> str:
    """Lambda's words for a timeout."""
    return f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"


def timeout_invocation(request_id: str, timeout_s: float, duration_ms: float, **extra: Any) -> Invocation:
    """A ``timeout`` outcome carrying Lambda's ``Sandbox.Timedout`` document."""
    document = error_document(TIMEOUT_TYPE, timeout_message(request_id, timeout_s), request_id)
    return Invocation("timeout", error=document, duration_ms=duration_ms, request_id=request_id, **extra)


def exit_reason(returncode: int | None) -> str:
    """How Lambda words a runtime process's end: ``exit status 3``, ``signal: segmentation fault``."""
    if returncode is None:
        return "Runtime exited with error: unknown status"
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            name = (signal.strsignal(-returncode) or f"signal {-returncode}").lower()
        except ValueError:
            name = f"signal {-returncode}"
        return f"Runtime exited with error: signal: {name}"
    return f"Runtime exited with error: exit status {returncode}"


def exit_document(returncode: int | None, request_id: str) -> dict[str, Any]:
    """The function's runtime process exited or crashed during the invocation."""
    return error_document(EXIT_TYPE, f"RequestId: {request_id} Error: {exit_reason(returncode)}", request_id)


def init_exit_document(returncode: int | None, clue: str = "") -> dict[str, Any]:
    """The runtime process ended during init, before it could report a load error of its own."""
    message = f"Error: {exit_reason(returncode)} during init (its traceback, if any, is in the log above)"
    return error_document(EXIT_TYPE, f"{message}: {clue}" if clue else message, "")


def oom_document(request_id: str) -> dict[str, Any]:
    """The function ran out of its memory size."""
    return error_document(
        OOM_TYPE, f"RequestId: {request_id} Error: Runtime exited with error: signal: killed", request_id
    )


def is_timeout(document: dict[str, Any]) -> bool:
    """Whether a remote error document reports a timeout (Lambda and the emulator word it differently)."""
    if document.get("errorType") == TIMEOUT_TYPE:
        return True
    message = document.get("errorMessage")
    return isinstance(message, str) and "Task timed out after" in message
