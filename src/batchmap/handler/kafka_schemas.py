"""Kafka keys and values in Avro, Protobuf and JSON Schema, decoded per record with per-record failure.

    SCHEMAS = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_SCHEMA, value_output_serializer=Order)

    @batch_handler
    @decode_with(SCHEMAS)
    def handler(record: ConsumerRecord) -> None:
        save(record.value)                   # an Order

``SchemaConfig`` takes the parameters of Powertools' Kafka consumer. It is checked
and compiled once (a bad schema or a missing library fails at import time, in
Lambda's init phase). A record whose key or value does not decode raises
``SchemaDecodeError`` (field, format, schema id) before the handler sees it, so it
is reported like any failed record: never dropped, never half-processed.
"""

from __future__ import annotations

from batchmap.errors import ConfigError, HandlerError, RecordError, SchemaDecodeError
from batchmap.handler.kafka_formats import CODECS, FORMATS, WIRE_FORMATS, Undecodable, unframe
from batchmap.handler.router import is_async_callable
from batchmap.records.kafka import KafkaRecord
from batchmap.records.record import b64decode, json_loads, wrong
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from batchmap.handler.kafka_formats import AvroCodec, JsonCodec, ProtobufCodec
    from batchmap.records.wire import KafkaSchemaMetadata

_AS_TEXT: Any = object()
"""A field without a schema type: read as UTF-8 text when asked, as Powertools' consumer does."""
_NOT_DECODED = (_AS_TEXT, None)


class _FieldDecoder:
    """How one field (``key`` or ``value``) decodes: format, compiled codec, wire format, output type."""

    __slots__ = ("codec", "data_format", "field", "output", "output_name", "wire_format")

    def __init__(self, field: str, data_format: str, schema: object, output: object, wire_format: object) -> None:
        if wire_format is not None and wire_format not in WIRE_FORMATS:
            raise ConfigError(f"{field}_schema_wire_format", wire_format,
                              "'CONFLUENT' (magic byte, schema id, payload), or None: plain, or as Lambda delivers it")
        if schema is None and data_format != "JSON":
            raise ConfigError(f"{field}_schema", None, _SCHEMA_NEEDED[data_format])
        self.field = field
        self.data_format = data_format
        self.wire_format: str | None = wire_format
        self.codec: AvroCodec | ProtobufCodec | JsonCodec = CODECS[data_format](schema, f"{field}_schema")
        self.output = _output_function(output, f"{field}_output_serializer")
        self.output_name = getattr(output, "__name__", repr(output))

    def decode(self, data: bytes, metadata: KafkaSchemaMetadata | None) -> tuple[Any, str | None]:
        """``(decoded value, schema id)``; ``SchemaDecodeError`` naming the field, format and schema id."""
        schema_id = None if metadata is None else metadata["schemaId"]
        try:
            if metadata is not None and metadata["dataFormat"] != self.data_format:
                raise Undecodable(f"the record's {self.field}SchemaMetadata says dataFormat "
                                  f"{metadata['dataFormat']!r}, but {self.field}_schema_type is {self.data_format!r}")
            schema_id, payload = unframe(data, self.data_format, self.wire_format, metadata)
            value = self.codec.decode(payload)
        except Undecodable as exc:
            raise SchemaDecodeError(self.field, self.data_format, exc.schema_id or schema_id, str(exc)) from exc
        output = self.output
        if output is None:
            return value, schema_id
        try:
            return output(value), schema_id
        except Exception as exc:  # the user's type rejected the decoded value
            raise SchemaDecodeError(self.field, self.data_format, schema_id,
                                    f"{self.field}_output_serializer {self.output_name} rejected the decoded "
                                    f"value ({type(exc).__name__}: {str(exc)[:200]})") from exc


_SCHEMA_NEEDED = {
    "AVRO": "the writer's Avro schema (JSON text or a dict) when the schema type is 'AVRO'",
    "PROTOBUF": "the generated message class (my_pb2.MyMessage) when the schema type is 'PROTOBUF'",
}


def _output_function(serializer: object, parameter: str) -> Callable[[Any], Any] | None:
    """The call that turns a decoded value into the user's type: pydantic, dataclass or any callable."""
    if serializer is None:
        return None
    if isinstance(serializer, type):
        validate = getattr(serializer, "model_validate", None)  # a pydantic v2 model
        if callable(validate):
            return validate  # type: ignore[no-any-return]
        if hasattr(serializer, "__dataclass_fields__"):
            return lambda value: serializer(**value) if type(value) is dict else serializer(value)
    if callable(serializer):
        return serializer
    raise ConfigError(parameter, serializer, "a dataclass, a pydantic model or a callable taking the decoded value")


class SchemaConfig(Value):
    """How to decode the keys and values of Kafka records; the parameters of Powertools' ``SchemaConfig``.

    ``*_schema_type``: ``"AVRO"`` (``*_schema``: the writer's schema, JSON text or a dict),
    ``"PROTOBUF"`` (``*_schema``: the generated message class; decodes to a dict with the
    .proto field names), ``"JSON"`` (``*_schema``: an optional JSON Schema, then every value
    is validated), or ``None`` (read as UTF-8 text). ``*_output_serializer``: a dataclass,
    a pydantic model or a callable given the decoded value. ``*_schema_wire_format``:
    ``"CONFLUENT"`` when every payload starts with Confluent's header (JSON and Protobuf
    payloads are recognised without it; Avro ones need it), ``None`` otherwise.
    """

    __slots__ = ("_key", "_value", "key_output_serializer", "key_schema", "key_schema_type",
                 "key_schema_wire_format", "value_output_serializer", "value_schema", "value_schema_type",
                 "value_schema_wire_format")

    _key: _FieldDecoder | None
    _value: _FieldDecoder | None

    def __init__(self, *, value_schema_type: str | None = None, value_schema: Any = None,
                 value_output_serializer: Any = None, key_schema_type: str | None = None, key_schema: Any = None,
                 key_output_serializer: Any = None, value_schema_wire_format: str | None = None,
                 key_schema_wire_format: str | None = None) -> None:
        for field, kind, schema, output, wire in (
                ("value", value_schema_type, value_schema, value_output_serializer, value_schema_wire_format),
                ("key", key_schema_type, key_schema, key_output_serializer, key_schema_wire_format)):
            set_field(self, f"_{field}", _field_decoder(field, kind, schema, output, wire))
            set_field(self, f"{field}_schema_type", kind)
            set_field(self, f"{field}_schema", schema)
            set_field(self, f"{field}_output_serializer", output)
            set_field(self, f"{field}_schema_wire_format", wire)

    def decode(self, record: KafkaRecord | dict[str, Any]) -> ConsumerRecord:
        """The record (a ``KafkaRecord`` or its dict) with its key and value decoded now.

        Raises ``SchemaDecodeError`` when either does not decode, ``RecordError`` when the record is malformed.
        """
        if isinstance(record, KafkaRecord):
            raw = record.raw
        elif type(record) is dict:
            raw = record
        else:
            raise HandlerError(f"SchemaConfig.decode: expected a Kafka record (KafkaRecord or its dict), "
                               f"got {type(record).__name__}")
        if type(raw) is not dict:
            raise wrong("record", "an object", raw)
        return ConsumerRecord(raw, self)


def _field_decoder(field: str, kind: object, schema: object, output: object, wire: object) -> _FieldDecoder | None:
    if kind is None:
        for name, given in ((f"{field}_schema", schema), (f"{field}_output_serializer", output),
                            (f"{field}_schema_wire_format", wire)):
            if given is not None:
                raise ConfigError(name, given, f"only with {field}_schema_type set ('AVRO', 'PROTOBUF' or 'JSON')")
        return None
    if kind not in FORMATS:
        raise ConfigError(f"{field}_schema_type", kind, "'AVRO', 'PROTOBUF', 'JSON', or None for UTF-8 text")
    return _FieldDecoder(field, kind, schema, output, wire)


class ConsumerRecord(KafkaRecord):
    """A Kafka record whose ``.key`` and ``.value`` are decoded by a ``SchemaConfig``.

    Everything else is a ``KafkaRecord``'s (``.id``, ``.topic``, ``.offset``, ``.headers``, ...);
    ``.original_key``/``.original_value``/``.original_headers`` are the fields as Lambda
    delivered them, ``.key_bytes``/``.value_bytes`` the payloads, and
    ``.key_schema_id``/``.value_schema_id`` the schema id each carried (``None`` when plain).
    """

    __slots__ = ("_key_id", "_key_value", "_value_id", "_value_value")

    def __init__(self, raw: dict[str, Any], schema_config: SchemaConfig) -> None:
        self._raw = raw
        key, value = schema_config._key, schema_config._value
        self._key_value, self._key_id = _NOT_DECODED if key is None else self._decode_field(key, "keySchemaMetadata")
        self._value_value, self._value_id = (
            _NOT_DECODED if value is None else self._decode_field(value, "valueSchemaMetadata"))

    def _decode_field(self, decoder: _FieldDecoder, metadata_name: str) -> tuple[Any, str | None]:
        raw = self._raw
        field = decoder.field
        encoded = raw.get(field)
        if encoded is None:
            return None, None
        metadata = raw.get(metadata_name)
        if metadata is not None:
            metadata = self._schema_metadata(metadata_name)
        return decoder.decode(b64decode(encoded, field), metadata)

    @property
    def key_schema_id(self) -> str | None:
        """The schema id the key carried (its metadata or its Confluent header); ``None`` when plain."""
        return self._key_id

    @property
    def value_schema_id(self) -> str | None:
        """The schema id the value carried (its metadata or its Confluent header); ``None`` when plain."""
        return self._value_id

    @property
    def value(self) -> Any:
        """The decoded value (``None`` for a tombstone); UTF-8 text when the value has no schema type."""
        value = self._value_value
        return _text(self.value_bytes, "value") if value is _AS_TEXT else value

    @property
    def key(self) -> Any:
        """The decoded key (``None`` when the record has none); UTF-8 text when the key has no schema type."""
        key = self._key_value
        return _text(self.key_bytes, "key") if key is _AS_TEXT else key

    @property
    def value_bytes(self) -> bytes | None:
        """The value's bytes as produced (header included)."""
        return super().value

    @property
    def key_bytes(self) -> bytes | None:
        key = self.original_key
        return None if key is None else b64decode(key, "key")

    @property
    def original_value(self) -> str | None:
        """The value as Lambda delivered it (base64)."""
        return self._value_text()

    @property
    def original_key(self) -> str | None:
        """The key as Lambda delivered it (base64), ``None`` when absent."""
        return super().key

    @property
    def original_headers(self) -> list[dict[str, list[int]]]:
        """The headers as Lambda delivered them (a list of ``{name: [byte, ...]}``)."""
        headers: list[dict[str, list[int]]] = self._raw.get("headers") or []
        return headers

    def _decode(self) -> Any:
        data = self.value_bytes
        return None if data is None else json_loads(data, "value")


def _text(data: bytes | None, field: str) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise RecordError(f"{field}: not UTF-8 text ({exc}); give {field}_schema_type to decode it",
                          field=field) from exc


def decode_with(schema_config: SchemaConfig) -> Callable[[Callable[[ConsumerRecord], Any]], Callable[[Any], Any]]:
    """Wrap a record handler so it gets a ``ConsumerRecord``: ``@batch_handler`` over ``@decode_with(config)``.

    The wrapper stays sync or ``async def`` like the handler. A record that does not
    decode fails with ``SchemaDecodeError`` before the handler runs, and is reported.
    """
    if not isinstance(schema_config, SchemaConfig):
        raise ConfigError("schema_config", schema_config, "a SchemaConfig")
    decode = schema_config.decode

    def decorate(function: Callable[[ConsumerRecord], Any]) -> Callable[[Any], Any]:
        if not callable(function):
            raise ConfigError("record_handler", function, "a callable taking one record")
        if is_async_callable(function):
            async def handler(record: Any) -> Any:
                return await function(decode(record))
        else:
            def handler(record: Any) -> Any:  # type: ignore[misc]
                return function(decode(record))

        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            if hasattr(function, name):
                setattr(handler, name, getattr(function, name))
        handler.__wrapped__ = function  # type: ignore[attr-defined]
        return handler

    return decorate
