"""librdkafka's errors as batchmap's: which ones waiting cures (the engine backs off) and which stop the run."""

from __future__ import annotations

from typing import Any

from batchmap.errors import BrokerError

TRANSIENT = frozenset({
    "_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_MSG_TIMED_OUT", "_WAIT_COORD", "_RESOLVE",
    "REQUEST_TIMED_OUT", "NETWORK_EXCEPTION", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION",
    "NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE", "COORDINATOR_LOAD_IN_PROGRESS", "REBALANCE_IN_PROGRESS",
    "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "BROKER_NOT_AVAILABLE", "THROTTLING_QUOTA_EXCEEDED",
})
"""Error names a moment cures: a broker that is down or moving, a rebalance, a coordinator being found."""


def transient_kafka(error: Any) -> bool:
    """Whether a ``KafkaError`` is worth waiting out: never a fatal one; a retriable or known passing one."""
    if error is None or not callable(getattr(error, "name", None)):
        return False
    if callable(getattr(error, "fatal", None)) and error.fatal():
        return False
    retriable = getattr(error, "retriable", None)
    return error.name() in TRANSIENT or (callable(retriable) and bool(retriable()))


def kafka_error(operation: str, exc: BaseException, context: str) -> BrokerError:
    """A ``KafkaException`` (or a bare ``KafkaError``) as a ``BrokerError`` carrying its code and whether it passes."""
    error = exc.args[0] if exc.args else None
    code = error.name() if error is not None and callable(getattr(error, "name", None)) else type(exc).__name__
    return BrokerError(operation, code, f"{context}: {exc}", transient=transient_kafka(error))
