"""URI parsing: SQLAlchemy's path convention, names, ARNs, and errors that name the value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchmap.errors import ConfigError
from batchmap.sources.sqlite import parse_uri, queue_arn, stream_arn


def test_relative_paths_resolve_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_uri("sqlite:///x.db?queue=q").path == str(tmp_path / "x.db")
    assert parse_uri("sqlite:///./data/x.db?queue=q").path == str(tmp_path / "data" / "x.db")


def test_four_slashes_make_an_absolute_path() -> None:
    parsed = parse_uri("sqlite:////var/lib/batchmap/x.db?stream=clicks")
    assert parsed.path == "/var/lib/batchmap/x.db"
    assert parsed.kind == "stream"
    assert parsed.name == "clicks"


def test_queue_uri_and_arns() -> None:
    parsed = parse_uri("sqlite:////tmp/x.db?queue=orders.fifo")
    assert parsed.kind == "queue" and parsed.fifo
    assert parsed.arn == "arn:aws:sqs:local:000000000000:orders.fifo"
    assert queue_arn("q") == "arn:aws:sqs:local:000000000000:q"
    assert stream_arn("s") == "arn:aws:kinesis:local:000000000000:stream/s"
    assert parse_uri("sqlite:////tmp/x.db?stream=s").arn == stream_arn("s")


def test_canonical_uri_round_trips(tmp_path: Path) -> None:
    parsed = parse_uri(f"sqlite:///{tmp_path}/x.db?queue=q&synchronous=normal")
    assert parsed.synchronous == "NORMAL"
    assert parse_uri(parsed.uri()) == parsed
    assert os.path.isabs(parsed.path)


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("sqlite:///x.db", "exactly one of"),
        ("sqlite:///x.db?queue=a&stream=b", "exactly one of"),
        ("sqlite://host/x.db?queue=a", "no host"),
        ("sqlite:///?queue=a", "database file path"),
        ("sqlite:///:memory:?queue=a", "in-memory"),
        ("sqlite:///x.db?queue=a&color=red", "unknown query parameter 'color'"),
        ("sqlite:///x.db?queue=a&queue=b", "given twice"),
        ("postgres:///x.db?queue=a", "embedded source URI"),
    ],
)
def test_bad_uris_name_the_value(uri: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_uri(uri)
    assert named in str(caught.value)
    assert caught.value.value == uri


@pytest.mark.parametrize("name", ["", "has space", "x" * 81, "bad!", "a.fifo.x"])
def test_bad_queue_names(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_uri(f"sqlite:///x.db?queue={name}")
    assert caught.value.parameter == "QueueName"
    assert caught.value.value == name


def test_bad_stream_name_and_synchronous() -> None:
    with pytest.raises(ConfigError, match="StreamName"):
        parse_uri("sqlite:///x.db?stream=" + "s" * 129)
    with pytest.raises(ConfigError, match="synchronous"):
        parse_uri("sqlite:///x.db?stream=s&synchronous=OFF")
