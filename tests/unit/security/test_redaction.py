"""``batchmap.redaction``: what of a URI may be shown, and the error tree's use of it."""

from __future__ import annotations

import pytest

from batchmap.errors import BrokerError, ConfigError, DestinationError, SourceError
from batchmap.redaction import is_secret_name, redact_text, redact_uri, without_credentials


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("redis://user:hunter2@127.0.0.1:6379/0?stream=s", "redis://***@127.0.0.1:6379/0?stream=s"),
        ("redis://:hunter2@127.0.0.1/0", "redis://***@127.0.0.1/0"),
        ("https://hunter2@example.test/x", "https://***@example.test/x"),
        ("amqp://u:hun@ter2@[::1]:5672/%2F?queue=q", "amqp://***@[::1]:5672/%2F?queue=q"),
        ("postgresql://127.0.0.1/test?queue=q&password=hunter2", "postgresql://127.0.0.1/test?queue=q&password=***"),
        ("kafka://h:9092/?topic=t&sasl_plain_password=hunter2", "kafka://h:9092/?topic=t&sasl_plain_password=***"),
        ("file:relative/failures.jsonl", "file:relative/failures.jsonl"),
        ("sqlite:///var/q.db?queue=jobs&visibility_timeout=5", "sqlite:///var/q.db?queue=jobs&visibility_timeout=5"),
        ("arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sqs:us-east-1:123456789012:q"),
    ],
)
def test_redact_uri_masks_the_user_part_and_secret_options_only(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    assert "hunter2" not in redact_uri(uri)


def test_redact_text_finds_every_uri_in_a_message() -> None:
    text = "bad 'redis://u:hunter2@h:1/0?stream=x' then http://a:hunter2@[::1]:9/x, and http://h/p@x stays"
    assert redact_text(text) == "bad 'redis://***@h:1/0?stream=x' then http://***@[::1]:9/x, and http://h/p@x stays"
    assert redact_text("no uri here: user@host") == "no uri here: user@host"


def test_secret_names() -> None:
    assert all(map(is_secret_name, ["password", "--auth-token", "sasl.password", "SecretKey", "X-Amz-Signature"]))
    assert not any(map(is_secret_name, ["queue", "partition_key", "--source", "stream"]))


def test_without_credentials_keeps_scheme_host_and_port() -> None:
    assert without_credentials("amqp://u:hunter2@[::1]:5672/%2F?queue=q") == "amqp://[::1]:5672"
    assert without_credentials("redis://:hunter2@localhost/0") == "redis://localhost"


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("--source", "redis://u:hunter2@h/0", "a reachable broker"),
        ConfigError("--checkpoint-store", {"uri": "postgresql://u:hunter2@h/db"}, "x"),
        DestinationError("sqs://u:hunter2@h/q", "refused"),
        SourceError("redis://u:hunter2@h/0/s: cannot connect"),
        BrokerError("get_queue_url", "Endpoint", 'Could not connect to "http://u:hunter2@h:1/"'),
    ],
)
def test_error_messages_and_reprs_never_carry_a_uri_password(error: Exception) -> None:
    assert "hunter2" not in str(error) and "hunter2" not in repr(error)
    assert "***@h" in str(error)


def test_a_secret_parameter_value_is_hidden_but_kept_as_data() -> None:
    error = ConfigError("--auth-token", "hunter2", "1 to 512 printable characters")
    assert "hunter2" not in str(error) and "--auth-token" in str(error) and "hidden" in str(error)
    assert error.value == "hunter2"


def test_shown_is_the_value_as_any_message_may_print_it() -> None:
    """Code that words its own message (the command line's error line) prints ``shown``, never ``value``."""
    assert ConfigError("handler", "http://u:hunter2@h/x", "a URL").shown == "'http://***@h/x'"
    assert ConfigError("password", "hunter2", "x").shown == "(hidden, 7 characters)"
    assert ConfigError("batch_size", 0, "1 to 10").shown == "0"
