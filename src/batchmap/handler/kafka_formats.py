"""Kafka payload formats: Avro, Protobuf and JSON, plain or in Confluent's wire format.

A codec is compiled once from the user's schema, so a bad schema or a missing
library fails when the ``SchemaConfig`` is made (the Lambda init phase), and then
decodes one payload per call. ``fastavro``, ``protobuf`` and ``jsonschema`` are
imported here only, and only when a codec that needs one is made: without the
``kafka-schemas`` extra the toolkit still imports, and plain JSON still decodes.

Framing (``unframe``) follows what producers and Lambda write:

* Confluent's wire format: magic byte ``0``, the schema id as 4 big-endian bytes,
  for Protobuf the message-index list (zigzag varints: a count, then the indexes;
  a single ``0`` means the first message), then the payload.
* A record with ``keySchemaMetadata``/``valueSchemaMetadata``: Lambda's mapping
  validated it against a registry and removed the magic byte and schema id; a
  Protobuf payload still starts with the message-index list (Confluent) or one
  byte (Glue, whose schema ids are UUIDs), as Powertools' consumer reads it.
* Plain: the payload alone.
"""

from __future__ import annotations

from batchmap.errors import ConfigError, MissingExtraError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from batchmap.records.wire import KafkaSchemaMetadata

EXTRA = "kafka-schemas"
FORMATS = ("AVRO", "PROTOBUF", "JSON")
WIRE_FORMATS = ("CONFLUENT",)
_MAGIC = 0
_HEADER = 5


class Undecodable(ValueError):
    """Why a payload does not decode; the caller turns it into a ``SchemaDecodeError``."""

    def __init__(self, reason: str, schema_id: str | None = None) -> None:
        self.schema_id = schema_id
        super().__init__(reason)


def library(module: str, needed_by: str, package: str | None = None) -> Any:
    """``import module``, or ``MissingExtraError`` naming the package and the extra that brings it."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise MissingExtraError(EXTRA, package or module, needed_by=needed_by) from exc


def schema_object(schema: object, parameter: str, what: str) -> object:
    """A schema given as JSON text, parsed; ``ConfigError`` naming ``parameter`` when it is not JSON."""
    if not isinstance(schema, str):
        return schema
    from batchmap.records.record import json_loads

    try:
        return json_loads(schema, parameter)
    except ValueError as exc:
        raise ConfigError(parameter, schema, f"{what} as JSON text or a dict: {exc}") from None


# ---------------------------------------------------------------- framing


def unframe(data: bytes, data_format: str, wire_format: str | None,
            metadata: KafkaSchemaMetadata | None) -> tuple[str | None, bytes]:
    """``(schema id or None, the payload without its header)``."""
    if metadata is not None:  # Lambda validated it and removed the magic byte and schema id
        schema_id = metadata["schemaId"]
        if data_format != "PROTOBUF":
            return schema_id, data
        if not schema_id.isdigit():  # a Glue schema version id (a UUID)
            return schema_id, data[1:]
        try:
            return schema_id, data[skip_message_indexes(data, 0):]
        except Undecodable as exc:
            raise Undecodable(str(exc), schema_id) from None
    if wire_format is None and (data_format == "AVRO" or data[:1] != b"\x00"):
        return None, data  # plain JSON and plain Protobuf never start with a 0 byte; plain Avro may
    if len(data) < _HEADER or data[0] != _MAGIC:
        raise Undecodable(f"not in Confluent wire format (magic byte 0 and a 4-byte schema id): starts {data[:5]!r}")
    schema_id = str(int.from_bytes(data[1:_HEADER], "big"))
    if data_format == "PROTOBUF":
        try:
            return schema_id, data[skip_message_indexes(data, _HEADER):]
        except Undecodable as exc:
            raise Undecodable(str(exc), schema_id) from None
    return schema_id, data[_HEADER:]


def skip_message_indexes(data: bytes, position: int) -> int:
    """Where the Protobuf message starts after Confluent's message-index list at ``position``."""
    count, position = _zigzag_varint(data, position)
    if count < 0 or count > len(data):
        raise Undecodable(f"the Protobuf message-index list has an invalid length {count}")
    for _ in range(count):
        _, position = _zigzag_varint(data, position)
    return position


def _zigzag_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7
    raise Undecodable("the Protobuf message-index list is cut short or not a varint")


# ---------------------------------------------------------------- codecs


class AvroCodec:
    """An Avro datum read with its writer schema (``fastavro``)."""

    __slots__ = ("_bytes_io", "_read", "_schema", "_wire_hint")

    def __init__(self, schema: object, parameter: str) -> None:
        fastavro = library("fastavro", "Avro decoding")
        from io import BytesIO

        schema = schema_object(schema, parameter, "an Avro schema")
        try:
            self._schema = fastavro.parse_schema(schema)
        except Exception as exc:  # fastavro raises SchemaParseException, KeyError, TypeError, ...
            raise ConfigError(parameter, schema, f"a valid Avro schema: {type(exc).__name__}: {exc}") from None
        self._read = fastavro.schemaless_reader
        self._bytes_io = BytesIO
        self._wire_hint = f"{parameter.removesuffix('_schema')}_schema_wire_format='CONFLUENT'"

    def decode(self, payload: bytes) -> Any:
        stream = self._bytes_io(payload)
        try:
            value = self._read(stream, self._schema, None)
        except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError, ... on bytes of another shape
            raise Undecodable(f"{type(exc).__name__}: {exc}") from exc
        left = len(payload) - stream.tell()
        if left:
            raise Undecodable(f"{left} byte(s) left after the Avro datum: written with another schema, or "
                              f"with a header (Confluent's wire format: set {self._wire_hint})")
        return value


class ProtobufCodec:
    """A Protobuf message parsed with its generated class, as a dict with the .proto field names."""

    __slots__ = ("_message_class", "_to_dict")

    def __init__(self, message_class: object, parameter: str) -> None:
        message = library("google.protobuf.message", "Protobuf decoding", "protobuf")
        json_format = library("google.protobuf.json_format", "Protobuf decoding", "protobuf")
        if not (isinstance(message_class, type) and issubclass(message_class, message.Message)):
            raise ConfigError(parameter, message_class, "a generated Protobuf message class (my_pb2.MyMessage)")
        self._message_class = message_class
        self._to_dict = json_format.MessageToDict

    def decode(self, payload: bytes) -> Any:
        try:
            parsed = self._message_class.FromString(payload)  # type: ignore[attr-defined]
        except Exception as exc:  # google.protobuf.message.DecodeError and friends
            raise Undecodable(f"{type(exc).__name__}: {exc}") from exc
        return self._to_dict(parsed, preserving_proto_field_name=True)


class JsonCodec:
    """JSON text; checked against a JSON Schema (``jsonschema``) when one is given."""

    __slots__ = ("_best_match", "_decode_text", "_loads", "_validator")

    def __init__(self, schema: object, parameter: str) -> None:
        import json

        self._decode_text = json.JSONDecoder().decode  # skips loads()'s argument checks and encoding sniffing
        self._loads = json.loads
        self._validator: Any = None
        if schema is None:
            return
        jsonschema = library("jsonschema", "JSON Schema validation")
        schema = schema_object(schema, parameter, "a JSON Schema")
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            raise ConfigError(parameter, schema, f"a valid JSON Schema: {exc.message}") from None
        self._validator = validator_class(schema)
        self._best_match = jsonschema.exceptions.best_match

    def decode(self, payload: bytes) -> Any:
        try:
            try:
                value = self._decode_text(payload.decode())
            except UnicodeDecodeError:  # UTF-16 or UTF-32 JSON, or not text at all
                value = self._loads(payload)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise Undecodable(f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from exc
        validator = self._validator
        if validator is not None and not validator.is_valid(value):
            error = self._best_match(validator.iter_errors(value))
            raise Undecodable(f"does not match the JSON Schema at {error.json_path}: {error.message[:200]}")
        return value


CODECS: dict[str, type[AvroCodec] | type[ProtobufCodec] | type[JsonCodec]] = {
    "AVRO": AvroCodec, "PROTOBUF": ProtobufCodec, "JSON": JsonCodec,
}
