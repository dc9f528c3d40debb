"""One exception tree for batchmap.

Every error batchmap raises on purpose derives from ``BatchmapError`` and carries
its data as attributes, so callers can catch broadly or precisely::

    BatchmapError
    ├── EventError                 a Lambda event is not a valid batch event
    │   ├── UnknownEventSourceError    eventSource is missing or not one we know
    │   └── RecordError                one record is malformed (names the field; also a ValueError)
    │       └── SchemaDecodeError          a Kafka key or value does not decode as its schema says
    │                                          (names the field, the format and the schema id)
    ├── HandlerError               the handler toolkit was misused
    │   ├── UnknownRecordTypeError     the router has no route for a record's type
    │   ├── BatchFailedError           every record failed and raise_on_full_failure was asked for
    │   └── BatchAbortedError          a record handler stopped the batch: every record is reported
    ├── ConfigError                a setting is invalid (names parameter, value, allowed range)
    │   └── TemplateError              a SAM/CloudFormation template cannot be turned into mappings
    ├── SourceError                a source cannot be reached or used; ``transient`` says whether
    │   │                              waiting helps (locked, disk full, connection lost, throttled)
    │   ├── MissingExtraError          an optional library is not installed (a source's client,
    │   │                                  a Kafka schema decoder): names the extra to install
    │   ├── BrokerError                the broker refused a call (names the operation and its error code)
    │   ├── SettleError                some messages could not be deleted or released (names them)
    │   └── LeaseLostError             a shard lease is held by another owner: stop, do not checkpoint
    ├── MappingFailedError         a running mapping stopped on an error that waiting cannot fix
    ├── DestinationError           an on-failure record could not be delivered (names the destination)
    ├── FunctionLoadError          ``module:callable`` cannot be imported
    ├── MeasurementError           the tuner could not time a handler (it raised, or a plan is empty)
    └── FilterError                a FilterCriteria pattern is invalid

Outcomes of invocations (function error, timeout, partial failure) are values,
not exceptions: see ``batchmap.engine``.

This module is part of the standard-library-only toolkit: it imports nothing at import time
(``batchmap.redaction``, standard library only, only when a message needs it).
"""

from __future__ import annotations


class BatchmapError(Exception):
    """Root of every error batchmap raises on purpose.

    Its message never carries a URI's credentials: every text argument passes
    through ``batchmap.redaction.redact_text`` (the data attributes keep the
    values as given).
    """

    def __init__(self, *args: object) -> None:
        if any(isinstance(arg, str) and "://" in arg for arg in args):
            from batchmap.redaction import redact_text

            args = tuple(redact_text(arg) if isinstance(arg, str) else arg for arg in args)
        super().__init__(*args)


def _shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to a line: a malformed event's value may be a megabyte long."""
    try:
        text = repr(value)
    except RecursionError:
        return f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EventError(BatchmapError):
    """A Lambda event is not a valid batch event."""


class UnknownEventSourceError(EventError):
    """The event's ``eventSource`` is missing or not one batchmap knows."""

    def __init__(self, event_source: object, where: str = "eventSource") -> None:
        self.event_source = event_source
        self.where = where
        super().__init__(
            f"{where}: unknown event source {_shown(event_source)}; expected one of "
            "'aws:sqs', 'aws:kinesis', 'aws:dynamodb', 'aws:kafka', 'SelfManagedKafka'"
        )


class RecordError(EventError, ValueError):
    """One record of an event is malformed; ``field`` names what is wrong.

    Also a ``ValueError``: a record view raises it for a payload that does not decode (``.json()``).
    """

    def __init__(self, message: str, *, index: int | None = None, field: str | None = None) -> None:
        self.index = index
        self.field = field
        prefix = f"record {index}: " if index is not None else ""
        super().__init__(prefix + message)


class SchemaDecodeError(RecordError):
    """A Kafka record's key or value cannot be decoded with the configured schema.

    ``field`` is ``key`` or ``value``, ``data_format`` ``AVRO``, ``PROTOBUF`` or ``JSON``,
    ``schema_id`` the id the record carries (``None`` for a plain payload) and ``reason`` what failed.
    """

    def __init__(self, field: str, data_format: str, schema_id: str | None, reason: str) -> None:
        self.data_format = data_format
        self.schema_id = schema_id
        self.reason = reason
        where = f" (schema id {schema_id})" if schema_id is not None else ""
        super().__init__(f"{field}: cannot decode as {data_format}{where}: {reason}", field=field)


class HandlerError(BatchmapError):
    """The handler toolkit was used in a way it cannot honour."""


class UnknownRecordTypeError(HandlerError):
    """A router received a record whose type field has no route."""

    def __init__(self, field: str, value: object, known: list[str]) -> None:
        self.field = field
        self.value = value
        self.known = known
        super().__init__(f"no route for {field}={_shown(value)}; known types: {', '.join(known) or '(none)'}")


class BatchFailedError(HandlerError):
    """Every record of the batch failed and the caller asked for an exception."""

    def __init__(self, response: dict[str, object], errors: list[BaseException]) -> None:
        self.response = response
        self.errors = errors
        super().__init__(f"all {len(errors)} records of the batch failed; first error: {errors[0]!r}"
                         if errors else "every record of the batch failed")


class BatchAbortedError(HandlerError):
    """Raised by a record handler to stop its batch: no record starts after it and every record
    of the batch, finished or not, is reported, so Lambda delivers them all again (for example
    when a database transaction covering the batch was rolled back)."""


class ConfigError(BatchmapError, ValueError):
    """A setting is invalid: names the parameter, the value and what is allowed."""

    def __init__(self, parameter: str, value: object, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        self.shown = shown_value(parameter, value)
        """The value as a message may show it: no URI credentials, a secret parameter's value hidden."""
        super().__init__(f"{parameter}: invalid value {self.shown} ({allowed})")


def shown_value(parameter: str, value: object) -> str:
    """``repr(value)`` fit for a message: its URIs redacted, and only its length when ``parameter``
    names a secret (``--auth-token``, ``password``). Every message that shows a setting's value uses it."""
    from batchmap.redaction import is_secret_name, redact_text

    if is_secret_name(parameter):
        return f"(hidden, {len(str(value))} characters)"
    return redact_text(repr(value))


class TemplateError(ConfigError):
    """A SAM/CloudFormation template cannot be turned into mappings."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        BatchmapError.__init__(self, f"{where}: {message}")
        self.parameter = where
        self.value = None
        self.allowed = message


class SourceError(BatchmapError):
    """A source cannot be reached, created or used.

    ``transient`` is true when the same call may succeed later (a locked file, a full disk,
    a refused or reset connection, throttling, a timeout): the engine waits it out with
    backoff. Otherwise (permission denied, bad credentials, the queue or table is gone) the
    run stops. Each source sets it where it translates its client's exceptions.
    """

    def __init__(self, message: str = "", *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class MissingExtraError(SourceError, ImportError):
    """An optional library is not installed: the client a source needs, or (``needed_by``) another feature's."""

    def __init__(self, extra: str, module: str, *, needed_by: str | None = None) -> None:
        self.extra = extra
        self.module = module
        self.needed_by = needed_by
        super().__init__(
            f"{needed_by or f'the {extra} source'} needs the {module!r} package: pip install 'batchmap[{extra}]'"
        )


class BrokerError(SourceError):
    """The broker refused a call; ``code`` is its own error code (e.g. ``QueueDoesNotExist``)."""

    def __init__(self, operation: str, code: str, message: str, *, transient: bool = False) -> None:
        self.operation = operation
        self.code = code
        super().__init__(f"{operation}: {code}: {message}", transient=transient)


class SettleError(SourceError):
    """Some messages could not be deleted or released; ``failed`` maps message id to the reason.

    The rest were settled (``settled`` of them): the failed ones come back after
    their visibility timeout, so they are redelivered, never lost.
    """

    def __init__(self, action: str, failed: dict[str, str], settled: int) -> None:
        self.action = action
        self.failed = failed
        self.settled = settled
        first = next(iter(failed.items()), ("", ""))
        super().__init__(
            f"{action}: {len(failed)} message(s) failed, {settled} settled; first: {first[0]}: {first[1]}"
        )


class LeaseLostError(SourceError):
    """The shard's lease is not held by this owner (expired or taken over): stop the shard."""

    def __init__(self, mapping_id: str, shard_id: str, owner: str) -> None:
        self.mapping_id = mapping_id
        self.shard_id = shard_id
        self.owner = owner
        super().__init__(f"lease on {mapping_id}/{shard_id} is not held by {owner!r}; checkpoint refused")


class MappingFailedError(BatchmapError):
    """A running mapping stopped on an error waiting cannot fix; the engine stopped with it.

    ``source`` is the mapping's source (URI or ARN), ``cause`` the error itself: a fatal
    ``SourceError`` (permission denied, the queue is gone) or, for a bug, any exception.
    ``batchmap run`` prints ``batchmap: error: <source>: <cause>`` and exits 1.
    """

    def __init__(self, mapping_id: str, source: str, cause: BaseException) -> None:
        self.mapping_id = mapping_id
        self.source = source
        self.cause = cause
        detail = str(cause) if isinstance(cause, BatchmapError) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"{source}: {detail}")


class DestinationError(BatchmapError):
    """An on-failure record could not be delivered; the engine counts a DestinationDeliveryFailure."""

    def __init__(self, uri: str, reason: str) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(f"on-failure destination {uri}: {reason}")


class FunctionLoadError(BatchmapError):
    """``module:callable`` could not be imported or is not callable.

    ``handler`` is the handler string as given; ``error_type`` is Lambda's name
    for the failure (``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``, ...).
    """

    def __init__(self, message: str, *, handler: str = "", error_type: str = "Runtime.ImportModuleError") -> None:
        self.handler = handler
        self.error_type = error_type
        super().__init__(message)


class MeasurementError(BatchmapError):
    """The tuner could not measure a handler: it raised on a sample batch, or nothing was measurable."""

    def __init__(self, message: str, *, batch_size: int | None = None) -> None:
        self.batch_size = batch_size
        super().__init__(message)


class FilterError(BatchmapError, ValueError):
    """A FilterCriteria pattern is invalid."""
