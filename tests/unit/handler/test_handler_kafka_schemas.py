"""Kafka keys and values in Avro, Protobuf and JSON Schema, encoded by the producers' own libraries.

Plain payloads come from fastavro and protobuf's runtime, Confluent's wire format
from Confluent's serializers (``schema_samples.Confluent``), and the shapes a
mapping with a schema registry delivers carry ``keySchemaMetadata``/``valueSchemaMetadata``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import uuid
from typing import Any

import pydantic
import pytest
from schema_samples import (
    KEY_AVRO,
    ORDER_AVRO,
    ORDER_JSON_SCHEMA,
    Confluent,
    avro_plain,
    order,
    proto_classes,
    proto_order,
)

from batchmap.errors import RecordError, SchemaDecodeError
from batchmap.handler import ConsumerRecord, SchemaConfig, arun_batch, batch_handler, decode_with, run_batch
from batchmap.records import kafka_event, kafka_record, parse_event


@pytest.fixture(scope="module")
def confluent() -> Confluent:
    return Confluent()


def one(value: bytes | None, *, key: bytes | None = None, offset: int = 0, **metadata: Any) -> dict[str, Any]:
    return dict(kafka_record("orders", 0, offset, value, key=key, **metadata))


AVRO = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO)
AVRO_CONFLUENT = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO, value_schema_wire_format="CONFLUENT")


# ---------------------------------------------------------------- Avro


def test_avro_plain_and_in_confluent_wire_format(confluent: Confluent) -> None:
    plain = AVRO.decode(one(avro_plain(order(1))))
    framed = AVRO_CONFLUENT.decode(one(confluent.avro(order(2))))

    assert (plain.value, plain.value_schema_id) == (order(1), None)
    assert framed.value == order(2)
    assert framed.value_schema_id is not None and framed.value_schema_id.isdigit()
    assert framed.value_bytes is not None and framed.value_bytes[0] == 0  # the header is still there to read


def test_avro_key_and_value_each_with_its_own_schema(confluent: Confluent) -> None:
    config = SchemaConfig(key_schema_type="AVRO", key_schema=KEY_AVRO, key_schema_wire_format="CONFLUENT",
                          value_schema_type="AVRO", value_schema=ORDER_AVRO, value_schema_wire_format="CONFLUENT")
    key = confluent.avro({"customer": "c-7"}, schema=KEY_AVRO, key=True)

    record = config.decode(one(confluent.avro(order(3)), key=key))

    assert (record.key, record.value) == ({"customer": "c-7"}, order(3))
    assert record.key_schema_id != record.value_schema_id  # two schemas, two ids
    assert record.original_key == base64.b64encode(key).decode() and record.key_bytes == key


def test_a_confluent_payload_read_as_plain_avro_fails_with_a_hint_and_the_reverse_names_the_header(
        confluent: Confluent) -> None:
    with pytest.raises(SchemaDecodeError) as framed_as_plain:
        AVRO.decode(one(confluent.avro(order(1))))
    with pytest.raises(SchemaDecodeError) as plain_as_framed:
        AVRO_CONFLUENT.decode(one(avro_plain(order(1))))

    assert "value_schema_wire_format='CONFLUENT'" in str(framed_as_plain.value)
    assert (plain_as_framed.value.field, plain_as_framed.value.data_format) == ("value", "AVRO")
    assert "not in Confluent wire format" in str(plain_as_framed.value)


def test_avro_written_with_another_schema_fails_naming_field_format_and_schema_id(confluent: Confluent) -> None:
    other = confluent.avro({"customer": "c-1"}, schema=KEY_AVRO)

    with pytest.raises(SchemaDecodeError) as caught:
        AVRO_CONFLUENT.decode(one(other))

    error = caught.value
    assert (error.field, error.data_format) == ("value", "AVRO")
    assert error.schema_id is not None
    assert str(error).startswith(f"value: cannot decode as AVRO (schema id {error.schema_id}): ")
    assert isinstance(error, RecordError) and isinstance(error, ValueError)


# ---------------------------------------------------------------- Protobuf


def test_protobuf_plain_and_confluent_with_message_indexes(confluent: Confluent) -> None:
    note_class, order_class = proto_classes()
    orders = SchemaConfig(value_schema_type="PROTOBUF", value_schema=order_class)
    notes = SchemaConfig(value_schema_type="PROTOBUF", value_schema=note_class)
    expected = {"order_id": "o-4", "quantity": 5, "price_cents": "1250"}  # int64 as text, as MessageToDict gives

    framed_second = confluent.protobuf(proto_order(4))  # Order is the file's 2nd message: indexes [1]
    framed_first = confluent.protobuf(note_class(text="hi"), topic="notes")  # the 1st: the single byte 0

    assert framed_second[5:7] == b"\x02\x02" and framed_first[5] == 0  # zigzag count 1, index 1 / shorthand
    assert orders.decode(one(proto_order(4).SerializeToString())).value == expected
    decoded = orders.decode(one(framed_second))
    assert decoded.value == expected and decoded.value_schema_id is not None
    assert notes.decode(one(framed_first)).value == {"text": "hi"}


def test_protobuf_as_a_mapping_with_a_schema_registry_delivers_it(confluent: Confluent) -> None:
    """Lambda removes the magic byte and schema id; the message indexes (Confluent) or one byte (Glue) stay."""
    _, order_class = proto_classes()
    config = SchemaConfig(value_schema_type="PROTOBUF", value_schema=order_class)
    message = proto_order(2).SerializeToString()
    glue_id = str(uuid.uuid4())

    without_header = confluent.protobuf(proto_order(2))[5:]  # what stays: the message indexes, the message

    confluent_record = config.decode(one(without_header,
                                         value_schema_metadata={"dataFormat": "PROTOBUF", "schemaId": "12"}))
    glue_record = config.decode(one(b"\x00" + message,
                                    value_schema_metadata={"dataFormat": "PROTOBUF", "schemaId": glue_id}))

    assert confluent_record.value == glue_record.value == {"order_id": "o-2", "quantity": 3, "price_cents": "750"}
    assert (confluent_record.value_schema_id, glue_record.value_schema_id) == ("12", glue_id)


def test_protobuf_garbage_fails_naming_field_and_format() -> None:
    _, order_class = proto_classes()
    config = SchemaConfig(key_schema_type="PROTOBUF", key_schema=order_class)

    with pytest.raises(SchemaDecodeError) as caught:
        config.decode(one(b"v", key=b"\x0a\xff\xff"))  # a string field whose length runs past the end

    assert (caught.value.field, caught.value.data_format, caught.value.schema_id) == ("key", "PROTOBUF", None)


def test_a_cut_message_index_list_fails_with_the_schema_id_of_the_header() -> None:
    _, order_class = proto_classes()
    config = SchemaConfig(value_schema_type="PROTOBUF", value_schema=order_class)

    with pytest.raises(SchemaDecodeError) as caught:
        config.decode(one(b"\x00\x00\x00\x00\x09\x04\x82"))  # count 2, then a varint that never ends

    assert caught.value.schema_id == "9" and "message-index list" in str(caught.value)


# ---------------------------------------------------------------- JSON and JSON Schema


def test_json_plain_confluent_and_validated(confluent: Confluent) -> None:
    plain = SchemaConfig(value_schema_type="JSON")
    validated = SchemaConfig(value_schema_type="JSON", value_schema=ORDER_JSON_SCHEMA)
    good = {"order_id": "o-1", "quantity": 2}

    assert plain.decode(one(b'{"a": [1, 2]}')).value == {"a": [1, 2]}
    framed = validated.decode(one(confluent.json(good)))
    assert framed.value == good and framed.value_schema_id is not None
    with pytest.raises(SchemaDecodeError) as caught:
        validated.decode(one(b'{"order_id": "o-1", "quantity": 0}'))
    assert "does not match the JSON Schema at $.quantity" in str(caught.value)
    with pytest.raises(SchemaDecodeError, match="not valid JSON"):
        plain.decode(one(b"{not json"))


def test_a_registry_record_whose_data_format_is_not_the_configured_one_fails() -> None:
    record = one(b'{"a": 1}', value_schema_metadata={"dataFormat": "AVRO", "schemaId": "3"})

    with pytest.raises(SchemaDecodeError) as caught:
        SchemaConfig(value_schema_type="JSON").decode(record)

    assert caught.value.schema_id == "3"
    assert "valueSchemaMetadata says dataFormat 'AVRO', but value_schema_type is 'JSON'" in str(caught.value)


def test_avro_from_a_registry_mapping_is_the_plain_datum() -> None:
    record = one(avro_plain(order(5)), value_schema_metadata={"dataFormat": "AVRO", "schemaId": "21"})

    decoded = AVRO.decode(record)

    assert (decoded.value, decoded.value_schema_id) == (order(5), "21")
    assert decoded.value_schema_metadata == {"dataFormat": "AVRO", "schemaId": "21"}


def test_malformed_schema_metadata_is_a_record_error_naming_the_field() -> None:
    record = one(b"{}", value_schema_metadata={"dataFormat": "JSON"})  # type: ignore[typeddict-item]

    with pytest.raises(RecordError, match=r"valueSchemaMetadata\.schemaId: expected a non-empty string"):
        SchemaConfig(value_schema_type="JSON").decode(record)


# ---------------------------------------------------------------- the record view


def test_fields_without_a_schema_type_read_as_text_and_tombstones_as_none() -> None:
    config = SchemaConfig(value_schema_type="JSON")

    tombstone = config.decode(one(None, key=b"user-1"))
    binary_key = config.decode(one(b"1", key=b"\xff\xfe"))

    assert (tombstone.key, tombstone.value, tombstone.value_bytes, tombstone.original_value) == (
        "user-1", None, None, None)
    assert binary_key.key_bytes == b"\xff\xfe"
    with pytest.raises(RecordError, match="key: not UTF-8 text"):
        binary_key.key  # noqa: B018
    view = config.decode(one(b'{"n": 1}', key=b"k"))
    assert (view.id, view.topic, view.offset, view.json(), view.size) == (
        {"partition": "orders-0", "offset": 0}, "orders", 0, {"n": 1}, 8)


def test_output_serializers_dataclass_pydantic_and_callable() -> None:
    @dataclasses.dataclass
    class Order:
        order_id: str
        quantity: int
        price_cents: int
        note: str | None

    class OrderModel(pydantic.BaseModel):
        order_id: str
        quantity: int

    data = one(avro_plain(order(1)))
    as_dataclass = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO, value_output_serializer=Order)
    as_model = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO, value_output_serializer=OrderModel)
    as_tuple = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO,
                            value_output_serializer=lambda v: (v["order_id"], v["quantity"]))

    assert as_dataclass.decode(data).value == Order("o-1", 2, 500, None)
    assert as_model.decode(data).value == OrderModel(order_id="o-1", quantity=2)
    assert as_tuple.decode(data).value == ("o-1", 2)


def test_an_output_type_that_rejects_the_value_fails_the_record_naming_it() -> None:
    class Strict(pydantic.BaseModel):
        order_id: int

    config = SchemaConfig(value_schema_type="AVRO", value_schema=ORDER_AVRO, value_output_serializer=Strict)

    with pytest.raises(SchemaDecodeError, match="value_output_serializer Strict rejected the decoded value"):
        config.decode(one(avro_plain(order(1))))


# ---------------------------------------------------------------- through the toolkit


def mixed_batch(confluent: Confluent) -> dict[str, Any]:
    """Partition 0: good, undecodable, good; partition 1: good, good."""
    records = [
        kafka_record("orders", 0, 10, confluent.avro(order(0))),
        kafka_record("orders", 0, 11, b"\x00\x00\x00\x00\x01garbage"),
        kafka_record("orders", 0, 12, confluent.avro(order(2))),
        kafka_record("orders", 1, 20, confluent.avro(order(3))),
        kafka_record("orders", 1, 21, confluent.avro(order(4))),
    ]
    return dict(kafka_event(records))


def test_an_undecodable_record_is_reported_like_any_failure_and_never_reaches_the_handler(
        confluent: Confluent) -> None:
    seen: list[Any] = []

    @decode_with(AVRO_CONFLUENT)
    def handle(record: ConsumerRecord) -> None:
        seen.append((record.offset, record.value["order_id"]))

    result = run_batch(mixed_batch(confluent), handle)

    assert seen == [(10, "o-0"), (20, "o-3"), (21, "o-4")]  # partition 0 stops at the failure, as Kafka rewinds
    assert result.response == {"batchItemFailures": [{"itemIdentifier": {"partition": "orders-0", "offset": 11}},
                                                     {"itemIdentifier": {"partition": "orders-0", "offset": 12}}]}
    [error] = result.errors
    assert isinstance(error, SchemaDecodeError) and (error.field, error.schema_id) == ("value", "1")


def test_batch_handler_over_decode_with_and_an_async_handler_give_the_same_response(confluent: Confluent) -> None:
    event = mixed_batch(confluent)
    got: list[Any] = []

    @batch_handler(concurrency=2)
    @decode_with(AVRO_CONFLUENT)
    def handler(record: ConsumerRecord) -> None:
        got.append(record.value["order_id"])

    @decode_with(AVRO_CONFLUENT)
    async def handle_async(record: ConsumerRecord) -> None:
        await asyncio.sleep(0)
        got.append(record.value["order_id"])

    response = handler(event, None)
    result = asyncio.run(arun_batch(event, handle_async, concurrency=2))

    assert response == result.response and len(response["batchItemFailures"]) == 2
    assert "o-1" not in got and all(got.count(name) == 2 for name in ("o-0", "o-3", "o-4"))
    assert handler.__name__ == "handler"  # type: ignore[attr-defined]


def test_decode_accepts_the_toolkits_record_views_and_rejects_other_sources() -> None:
    event = kafka_event([kafka_record("t", 0, 1, b'{"x": 1}')])
    [view] = list(parse_event(event))
    config = SchemaConfig(value_schema_type="JSON")

    assert config.decode(view).value == {"x": 1}
    assert config.decode(config.decode(view)).value == {"x": 1}
    with pytest.raises(Exception, match="expected a Kafka record"):
        config.decode("not a record")  # type: ignore[arg-type]


def test_a_malformed_record_is_a_record_error_naming_the_field() -> None:
    config = SchemaConfig(value_schema_type="JSON")

    with pytest.raises(RecordError, match="value: expected base64 text"):
        config.decode({"topic": "t", "partition": 0, "offset": 1, "value": 12})
    with pytest.raises(RecordError, match="value: not valid base64"):
        config.decode({"topic": "t", "partition": 0, "offset": 1, "value": "%%%"})
    with pytest.raises(RecordError, match="valueSchemaMetadata: expected an object"):
        config.decode({"topic": "t", "partition": 0, "offset": 1, "value": "e30=", "valueSchemaMetadata": "JSON"})
