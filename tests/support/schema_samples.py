"""Schemas and real encoders for the Kafka schema tests and benchmark.

The payloads come from the libraries producers use, never from batchmap:
``fastavro`` (plain Avro), protobuf's runtime (plain Protobuf) and Confluent's
own serializers (``confluent_kafka.schema_registry``, on its in-memory
``mock://`` registry) for the Confluent wire format. The Protobuf classes are
built at run time from a ``FileDescriptorProto`` (no protoc, no generated file).
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

ORDER_AVRO = json.dumps({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price_cents", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
})
ORDER_JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
    "required": ["order_id", "quantity"],
}
KEY_AVRO = json.dumps({"type": "record", "name": "OrderKey", "namespace": "shop",
                       "fields": [{"name": "customer", "type": "string"}]})


def order(i: int) -> dict[str, Any]:
    return {"order_id": f"o-{i}", "quantity": 1 + i % 5, "price_cents": 250 * (i + 1), "note": None}


def avro_plain(value: dict[str, Any], schema: str = ORDER_AVRO) -> bytes:
    import fastavro

    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(json.loads(schema)), value)
    return out.getvalue()


_PROTO: dict[str, Any] = {}


def proto_classes() -> tuple[type[Any], type[Any]]:
    """``(Note, Order)``: two messages of one file ``shop.proto``; ``Order`` is the second (index 1)."""
    if not _PROTO:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        field = descriptor_pb2.FieldDescriptorProto
        file = descriptor_pb2.FileDescriptorProto(name=f"shop_{uuid.uuid4().hex[:8]}.proto", package="shop",
                                                  syntax="proto3")
        note = file.message_type.add(name="Note")
        note.field.add(name="text", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
        message = file.message_type.add(name="Order")
        for number, (name, kind) in enumerate((("order_id", field.TYPE_STRING), ("quantity", field.TYPE_INT32),
                                               ("price_cents", field.TYPE_INT64)), start=1):
            message.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL)
        pool = descriptor_pool.DescriptorPool()
        pool.Add(file)
        for name in ("Note", "Order"):
            _PROTO[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"shop.{name}"))
    return _PROTO["Note"], _PROTO["Order"]


def proto_order(i: int) -> Any:
    _, order_class = proto_classes()
    fields = order(i)
    return order_class(order_id=fields["order_id"], quantity=fields["quantity"], price_cents=fields["price_cents"])


class Confluent:
    """Confluent's serializers on an in-memory registry: what a Confluent producer writes."""

    def __init__(self) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex[:8]}"})
        self._serializers: dict[tuple[str, str], Any] = {}

    def avro(self, value: dict[str, Any], topic: str = "orders", schema: str = ORDER_AVRO, key: bool = False) -> bytes:
        from confluent_kafka.schema_registry.avro import AvroSerializer

        serializer = self._serializer(("avro", schema), lambda: AvroSerializer(self.registry, schema))
        return self._call(serializer, value, topic, key)

    def protobuf(self, message: Any, topic: str = "orders", key: bool = False) -> bytes:
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

        serializer = self._serializer(("protobuf", type(message).DESCRIPTOR.full_name), lambda: ProtobufSerializer(
            type(message), self.registry, {"use.deprecated.format": False}))
        return self._call(serializer, message, topic, key)

    def json(self, value: Any, topic: str = "orders", schema: dict[str, Any] = ORDER_JSON_SCHEMA,
             key: bool = False) -> bytes:
        from confluent_kafka.schema_registry.json_schema import JSONSerializer

        text = json.dumps(schema)
        serializer = self._serializer(("json", text), lambda: JSONSerializer(text, self.registry))
        return self._call(serializer, value, topic, key)

    def _serializer(self, name: tuple[str, str], make: Any) -> Any:
        if name not in self._serializers:
            self._serializers[name] = make()
        return self._serializers[name]

    @staticmethod
    def _call(serializer: Any, value: Any, topic: str, key: bool) -> bytes:
        from confluent_kafka.serialization import MessageField, SerializationContext

        data: bytes = serializer(value, SerializationContext(topic, MessageField.KEY if key else MessageField.VALUE))
        return data
