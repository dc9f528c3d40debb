"""A bad ``SchemaConfig`` fails when it is made, naming the parameter; a missing library names the extra;
the decoded values are those of Powertools' Kafka consumer on the same records."""

from __future__ import annotations

import ast
import base64
import subprocess
import sys
from typing import Any

import pytest
from schema_samples import ORDER_AVRO, ORDER_JSON_SCHEMA, Confluent, avro_plain, order, proto_classes, proto_order

from batchmap.errors import ConfigError, MissingExtraError
from batchmap.handler import SchemaConfig, decode_with
from batchmap.records import kafka_event, kafka_record


@pytest.mark.parametrize(("settings", "parameter", "says"), [
    ({"value_schema_type": "XML"}, "value_schema_type", "'AVRO', 'PROTOBUF', 'JSON'"),
    ({"key_schema_type": "avro", "key_schema": ORDER_AVRO}, "key_schema_type", "'AVRO'"),
    ({"value_schema_type": "AVRO"}, "value_schema", "the writer's Avro schema"),
    ({"value_schema_type": "PROTOBUF"}, "value_schema", "the generated message class"),
    ({"value_schema_type": "AVRO", "value_schema": "{not json"}, "value_schema", "JSON text or a dict"),
    ({"value_schema_type": "AVRO", "value_schema": {"type": "record", "name": "R", "fields": [{"name": "a",
                                                                                             "type": "Nope"}]}},
     "value_schema", "a valid Avro schema"),
    ({"value_schema_type": "PROTOBUF", "value_schema": dict}, "value_schema", "a generated Protobuf message class"),
    ({"value_schema_type": "JSON", "value_schema": {"type": "no-such-type"}}, "value_schema", "a valid JSON Schema"),
    ({"value_schema": ORDER_AVRO}, "value_schema", "only with value_schema_type set"),
    ({"key_output_serializer": dict}, "key_output_serializer", "only with key_schema_type set"),
    ({"value_schema_type": "JSON", "value_schema_wire_format": "GLUE"}, "value_schema_wire_format", "'CONFLUENT'"),
    ({"value_schema_type": "JSON", "value_output_serializer": 42}, "value_output_serializer", "a callable"),
])
def test_a_bad_setting_is_a_config_error_naming_it(settings: dict[str, Any], parameter: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SchemaConfig(**settings)

    assert caught.value.parameter == parameter
    assert str(caught.value).startswith(f"{parameter}: invalid value") and says in str(caught.value)


def test_decode_with_checks_its_arguments() -> None:
    with pytest.raises(ConfigError, match="schema_config: invalid value"):
        decode_with({"value_schema_type": "JSON"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="record_handler: invalid value"):
        decode_with(SchemaConfig())(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "module", "package", "feature"), [
    ({"value_schema_type": "AVRO", "value_schema": ORDER_AVRO}, "fastavro", "fastavro", "Avro decoding"),
    ({"key_schema_type": "PROTOBUF", "key_schema": object}, "google", "protobuf", "Protobuf decoding"),
    ({"value_schema_type": "JSON", "value_schema": ORDER_JSON_SCHEMA}, "jsonschema", "jsonschema",
     "JSON Schema validation"),
])
def test_a_missing_library_names_the_extra_when_the_config_is_made(
        monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], module: str, package: str, feature: str) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(f"{module}."):
            monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, module, None)  # type: ignore[arg-type]

    with pytest.raises(MissingExtraError) as caught:
        SchemaConfig(**settings)

    assert (caught.value.extra, caught.value.module) == ("kafka-schemas", package)
    assert str(caught.value) == f"{feature} needs the {package!r} package: pip install 'batchmap[kafka-schemas]'"


def test_the_toolkit_imports_and_decodes_plain_json_without_any_third_party_module() -> None:
    program = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from batchmap.handler import SchemaConfig, decode_with, process_batch\n"
        "from batchmap.records import kafka_event, kafka_record\n"
        "seen = []\n"
        "handle = decode_with(SchemaConfig(value_schema_type='JSON'))(lambda r: seen.append(r.value))\n"
        "event = kafka_event([kafka_record('t', 0, 0, b'\\x00\\x00\\x00\\x00\\x05{\"a\": 1}')])\n"
        "assert process_batch(event, handle) == {'batchItemFailures': []} and seen == [{'a': 1}], seen\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    loaded = set(ast.literal_eval(out.splitlines()[-1]))

    assert not loaded - set(sys.stdlib_module_names) - {"batchmap"}, sorted(loaded)


# ---------------------------------------------------------------- parity with Powertools' Kafka consumer


def powertools_values(event: dict[str, Any], **settings: Any) -> list[Any]:
    from aws_lambda_powertools.utilities.kafka import ConsumerRecords
    from aws_lambda_powertools.utilities.kafka import SchemaConfig as PowertoolsSchemaConfig

    return [(r.key, r.value) for r in ConsumerRecords(event, PowertoolsSchemaConfig(**settings)).records]


def ours(event: dict[str, Any], **settings: Any) -> list[Any]:
    config = SchemaConfig(**settings)
    return [(config.decode(r).key, config.decode(r).value) for rs in event["records"].values() for r in rs]


def test_the_same_records_decode_to_the_same_values_as_with_powertools() -> None:
    confluent = Confluent()
    note_class, order_class = proto_classes()
    avro = dict(kafka_event([kafka_record("o", 0, i, avro_plain(order(i)), key=f"k{i}") for i in range(3)]))
    avro_framed = dict(kafka_event([kafka_record("o", 0, i, confluent.avro(order(i))) for i in range(3)]))
    proto = dict(kafka_event([kafka_record("o", 0, i, proto_order(i).SerializeToString()) for i in range(3)]))
    registry = {"dataFormat": "PROTOBUF", "schemaId": "4"}
    notes = dict(kafka_event([kafka_record("n", 0, i, confluent.protobuf(note_class(text=f"n{i}"))[5:],
                                           value_schema_metadata=registry) for i in range(3)]))  # type: ignore[arg-type]
    json_event = dict(kafka_event([kafka_record("j", 0, i, f'{{"order_id": "o-{i}", "quantity": {i}}}')
                                   for i in range(3)]))
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (avro, {"value_schema_type": "AVRO", "value_schema": ORDER_AVRO}),
        (avro_framed, {"value_schema_type": "AVRO", "value_schema": ORDER_AVRO,
                       "value_schema_wire_format": "CONFLUENT"}),
        (proto, {"value_schema_type": "PROTOBUF", "value_schema": order_class}),
        (notes, {"value_schema_type": "PROTOBUF", "value_schema": note_class}),
        (json_event, {"value_schema_type": "JSON", "key_schema_type": None}),
    ]
    for event, settings in cases:
        assert ours(event, **settings) == powertools_values(event, **settings), settings
    assert ours(avro, value_schema_type="AVRO", value_schema=ORDER_AVRO)[0] == ("k0", order(0))
    assert base64.b64decode(notes["records"]["n-0"][0]["value"])[:1] == b"\x00"  # the index list [0]
