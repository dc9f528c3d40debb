"""Shapes real templates use that need more than a folder: zipped and inline code, Kafka without a starting
position, and what is refused for what it is (schema registries, tenant isolation)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from batchmap.errors import TemplateError
from batchmap.templates import load_template, provision

FIXTURES = Path(__file__).parent / "fixtures"
LEDGER = "arn:aws:kafka:us-east-1:123456789012:cluster/ledger/0b7c1f3e-2d4a-4b8e-9c6d-5e1f2a3b4c5d-1"
Write = Callable[[str], Path]

ZIPPED_AND_INLINE = """\
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12}
    Resources:
      Jobs: {Type: AWS::SQS::Queue}
      Zipped:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: dist/zipped.zip
          Handler: worker.handle
          Events:
            Jobs: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn}}
      Inline:
        Type: AWS::Serverless::Function
        Properties:
          Handler: index.handler
          InlineCode: |
            def handler(event, context):
                return len(event["Records"])
          Events:
            Jobs: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn}}
      Plain:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: python3.12
          Handler: index.handler
          Code:
            ZipFile: !Sub |
              def handler(event, context):
                  return "${AWS::StackName}"
      PlainMapping:
        Type: AWS::Lambda::EventSourceMapping
        Properties: {EventSourceArn: !GetAtt Jobs.Arn, FunctionName: !Ref Plain}
    """


def build_zip(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("worker.py", body)


def test_kafka_events_without_a_starting_position_start_at_trim_horizon() -> None:
    app = load_template(FIXTURES / "kafka_defaults.yaml", overrides={"Sources": {LEDGER: "kafka://127.0.0.1:9092"}})
    entries = app.mappings["EntriesConsumer.Entries"].mapping
    audit = app.mappings["AuditConsumer.Audit"].mapping
    assert entries.source == f"kafka://broker-a.ledger.internal:9092/ledger-entries?group={entries.uuid}"
    assert audit.source == f"kafka://127.0.0.1:9092/ledger-audit?group={audit.uuid}"
    assert (entries.starting_position, audit.starting_position) == (None, None)  # as written
    assert entries.resolve("kafka").starting_position == "TRIM_HORIZON"  # AWS's API does not require it
    assert audit.resolve("kafka").batch_size == 50


def test_zip_and_inline_code_get_folders_named_after_their_content(write_template: Write) -> None:
    template = write_template(ZIPPED_AND_INLINE)
    build_zip(template.parent / "dist" / "zipped.zip", "def handle(event, context):\n    return 'zipped'\n")
    app = load_template(template)
    cache = template.parent / ".batchmap" / "code"
    zipped, inline, plain = (app.functions[name] for name in ("Zipped", "Inline", "Plain"))
    assert zipped.config.code_path is not None and Path(zipped.config.code_path).parent == cache
    assert Path(zipped.config.code_path).name.startswith("zipped-")
    assert Path(inline.config.code_path or "").name.startswith("inline-")
    assert inline.config.code_path != plain.config.code_path  # two inline functions, two folders
    assert not cache.exists()  # loading writes nothing
    provision(app)
    assert (Path(zipped.config.code_path) / "worker.py").read_text().startswith("def handle")
    assert "return len(event" in (Path(inline.config.code_path or "") / "index.py").read_text()
    assert 'return "app"' in (Path(plain.config.code_path or "") / "index.py").read_text()  # Fn::Sub resolved
    provision(app)  # idempotent
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        Path(f.config.code_path or "").name for f in (zipped, inline, plain))


def test_a_rebuilt_zip_gets_a_new_folder(write_template: Write) -> None:
    template = write_template(ZIPPED_AND_INLINE)
    archive = template.parent / "dist" / "zipped.zip"
    build_zip(archive, "def handle(event, context):\n    return 1\n")
    first = load_template(template).functions["Zipped"].config.code_path
    build_zip(archive, "def handle(event, context):\n    return 2\n")
    second = load_template(template)
    assert second.functions["Zipped"].config.code_path != first
    provision(second)
    assert "return 2" in (Path(second.functions["Zipped"].config.code_path or "") / "worker.py").read_text()


def test_a_missing_or_broken_zip_is_named(write_template: Write) -> None:
    template = write_template(ZIPPED_AND_INLINE)
    app = load_template(template)  # loading does not need the archive (describing the app does not)
    package = app.functions["Zipped"].package
    assert package is not None
    with pytest.raises(TemplateError, match=r"^Resources.Zipped.Properties.CodeUri: the code archive .*zipped.zip "
                                            "does not exist"):
        provision(app)
    (template.parent / "dist").mkdir()
    (template.parent / "dist" / "zipped.zip").write_text("not a zip")
    with pytest.raises(TemplateError, match=r"^Resources.Zipped.Properties.CodeUri: .*zipped.zip is not a zip "
                                            r"archive"):
        provision(load_template(template))
    assert not any((template.parent / ".batchmap" / "code").glob("zipped-*"))  # nothing half-written is left


def test_schema_registry_and_tenant_isolation_say_they_are_not_supported(write_template: Write) -> None:
    path = write_template("""\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Events:
                Orders:
                  Type: SelfManagedKafka
                  Properties:
                    KafkaBootstrapServers: [127.0.0.1:9092]
                    Topics: [orders]
                    SchemaRegistryConfig:
                      SchemaRegistryURI: !Sub arn:${AWS::Partition}:glue:${AWS::Region}:123456789012:registry/r
                      EventRecordFormat: JSON
        """)
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    message = str(caught.value)
    assert message.startswith("Resources.Fn.Properties.Events.Orders: SchemaRegistryConfig: ")
    assert "not supported: decoding Kafka records through a schema registry" in message
    assert "unknown" not in message
    tenancy = path.read_text().replace("      Events:", "      TenancyConfig: {TenantIsolationMode: PER_TENANT}\n"
                                                      "      Events:")
    path.write_text(tenancy)
    with pytest.raises(TemplateError, match=r"^Resources.Fn.Properties.TenancyConfig: a function with tenant "
                                            "isolation cannot have an event source mapping"):
        load_template(path)
