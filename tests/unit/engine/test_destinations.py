"""On-failure destinations: the JSON-lines file and the registry sources plug into."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import textwrap
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from batchmap.engine.destinations import (
    DESTINATION_OPENERS,
    FileDestination,
    MemoryDestination,
    destination_scheme,
    file_path,
    open_destination,
    register_destination,
    wants_payload,
)
from batchmap.errors import ConfigError, DestinationError
from batchmap.sources.base import Destination
from batchmap.sources.registry import SourceOptions

T = TypeVar("T")


def record(n: int) -> dict[str, Any]:
    return {"requestContext": {"requestId": f"r-{n}", "condition": "RetryAttemptsExhausted"},
            "version": "1.0", "KinesisBatchInfo": {"batchSize": n, "shardId": "shardId-000000000000"}}


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the file destination ----------------------------------------------------------------------

def test_file_destination_appends_one_json_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    destination = run(open_destination(path.as_uri()))
    assert isinstance(destination, Destination)
    assert destination.uri == path.as_uri()
    run(destination.send(record(1)))
    run(destination.send(record(2)))
    assert read_lines(path) == [record(1), record(2)]


def test_file_destination_keeps_existing_lines(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    path.write_text(json.dumps(record(0)) + "\n")
    destination = run(open_destination(path.as_uri()))
    run(destination.send(record(1)))
    assert read_lines(path) == [record(0), record(1)]


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    path.write_text(json.dumps(record(0)) + "\n" + '{"requestContext": {"requ')  # a crash mid-write
    destination = run(open_destination(path.as_uri()))
    run(destination.send(record(1)))
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == record(0)
    assert lines[1] == '{"requestContext": {"requ'
    assert json.loads(lines[2]) == record(1)


def test_concurrent_sends_each_land_whole(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    destination = run(open_destination(path.as_uri()))

    async def send_all() -> None:
        await asyncio.gather(*(destination.send(record(n)) for n in range(40)))

    run(send_all())
    got = read_lines(path)
    assert sorted(r["KinesisBatchInfo"]["batchSize"] for r in got) == list(range(40))


def test_a_failing_write_raises_destination_error(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    destination = run(open_destination(path.as_uri()))
    path.mkdir()  # the file's place is taken by a folder: appends must fail, loudly
    with pytest.raises(DestinationError) as caught:
        run(destination.send(record(1)))
    assert caught.value.uri == path.as_uri()
    assert str(path) in str(caught.value)


def test_a_record_that_is_not_json_raises_destination_error(tmp_path: Path) -> None:
    destination = FileDestination(tmp_path / "f.jsonl")
    with pytest.raises(DestinationError, match="not JSON-serialisable"):
        run(destination.send({"when": object()}))
    with pytest.raises(DestinationError, match="not JSON-serialisable"):
        run(destination.send({"n": float("nan")}))
    assert not (tmp_path / "f.jsonl").exists()


def test_relative_and_localhost_file_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    relative = run(open_destination("file:out/failures.jsonl"))
    run(relative.send(record(1)))
    assert read_lines(tmp_path / "out" / "failures.jsonl") == [record(1)]
    assert file_path(f"file://localhost{tmp_path}/x%20y.jsonl") == tmp_path / "x y.jsonl"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file://server/share/f.jsonl", "no host"),
        ("file:///tmp/f.jsonl?payload=0", "without '?'"),
        ("file:///tmp/folder/", "not a folder"),
        ("file:", "not a folder"),
    ],
)
def test_bad_file_uris_name_the_parameter_and_value(uri: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        run(open_destination(uri))
    assert caught.value.parameter == "DestinationConfig.OnFailure.Destination"
    assert caught.value.value == uri
    assert expected in str(caught.value)


def test_a_folder_is_not_a_file_destination(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        run(open_destination(Path(tmp_path).as_uri()))


def test_a_missing_folder_is_refused_and_not_created(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ConfigError, match="existing folder"):
        run(open_destination((blocker / "failures.jsonl").as_uri()))
    with pytest.raises(ConfigError, match="existing folder"):
        run(open_destination((tmp_path / "deep" / "er" / "failures.jsonl").as_uri()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_place_that_cannot_be_written_is_refused_before_use(tmp_path: Path) -> None:
    # /proc takes no new files, not even from root, whatever its permission bits say.
    with pytest.raises(ConfigError, match="can write to"):
        run(open_destination("file:///proc/failures.jsonl"))
    read_only = tmp_path / "kept.jsonl"
    read_only.write_text("")
    read_only.chmod(0o444)
    if os.geteuid() != 0:  # root writes to a read-only file anyway
        with pytest.raises(ConfigError, match="can write to"):
            run(open_destination(read_only.as_uri()))
    assert read_only.read_text() == "" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.jsonl"]


def test_file_and_memory_destinations_want_the_payload() -> None:
    assert wants_payload(FileDestination("x.jsonl"))
    assert wants_payload(MemoryDestination())


def test_memory_destination_keeps_a_copy() -> None:
    destination = MemoryDestination()
    sent = record(1)
    run(destination.send(sent))
    sent["version"] = "changed"
    assert destination.records == [record(1)]


# --- the registry ------------------------------------------------------------------------------

SQLITE_DESTINATION = '''
import json
import os
import sqlite3
from urllib.parse import urlsplit


class TableDestination:
    wants_payload = False

    def __init__(self, uri, path):
        self.uri = uri
        self.path = path

    async def send(self, record):
        with sqlite3.connect(self.path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS failures (body TEXT)")
            db.execute("INSERT INTO failures VALUES (?)", (json.dumps(record),))


async def open_destination(uri, options):
    return TableDestination(uri, urlsplit(uri).path)
'''


def test_a_lazily_imported_opener_registered_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "table_destination.py").write_text(textwrap.dedent(SQLITE_DESTINATION))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(DESTINATION_OPENERS, "tabledb", "placeholder:placeholder")
    register_destination("tabledb", "table_destination:open_destination")
    db = tmp_path / "failures.db"
    destination = run(open_destination(f"tabledb://{db}"))
    assert not wants_payload(destination)
    run(destination.send(record(7)))
    with sqlite3.connect(db) as conn:
        rows = [json.loads(body) for (body,) in conn.execute("SELECT body FROM failures")]
    assert rows == [record(7)]


def test_an_arn_goes_to_the_opener_of_its_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[str, SourceOptions]] = []

    async def open_queue_file(uri: str, options: SourceOptions) -> Destination:
        opened.append((uri, options))
        return FileDestination(tmp_path / "queue.jsonl", uri=uri)

    monkeypatch.setitem(DESTINATION_OPENERS, "sqs", DESTINATION_OPENERS["sqs"])
    register_destination("sqs", open_queue_file)
    arn = "arn:aws:sqs:us-east-1:000000000000:failures"
    options = SourceOptions(endpoint_url="http://127.0.0.1:5000", region="us-east-1")
    destination = run(open_destination(arn, options))
    run(destination.send(record(3)))
    assert opened == [(arn, options)]
    assert destination.uri == arn
    assert read_lines(tmp_path / "queue.jsonl") == [record(3)]


def test_destination_scheme() -> None:
    assert destination_scheme("file:///x.jsonl") == "file"
    assert destination_scheme("sqlite:///x.db?queue=failures") == "sqlite"
    assert destination_scheme("arn:aws:sqs:us-east-1:000000000000:failures") == "sqs"
    with pytest.raises(ConfigError, match="an ARN"):
        destination_scheme("arn:aws:sqs")
    with pytest.raises(ConfigError, match="with a scheme"):
        destination_scheme("/var/log/failures.jsonl")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("arn:aws:sns:us-east-1:000000000000:topic", "no destination for 'sns'; known:"),
        ("gopher://example/x", "no destination for 'gopher'"),
        ("", "a destination URI or ARN"),
    ],
)
def test_unknown_destinations_are_config_errors(uri: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        run(open_destination(uri))


def test_a_registered_module_that_is_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DESTINATION_OPENERS, "nowhere", "batchmap.sources.nowhere:open_destination")
    with pytest.raises(ConfigError, match=r"need batchmap\.sources\.nowhere, which is missing"):
        run(open_destination("nowhere://x"))
    monkeypatch.setitem(DESTINATION_OPENERS, "noattr", "batchmap.engine.destinations:no_such_opener")
    with pytest.raises(ConfigError, match="no_such_opener does not exist"):
        run(open_destination("noattr://x"))


def test_register_destination_validates_its_arguments() -> None:
    with pytest.raises(ConfigError, match="scheme"):
        register_destination("Not A Scheme", "m:f")
    with pytest.raises(ConfigError, match="opener"):
        register_destination("okay", "no-colon")
    assert "okay" not in DESTINATION_OPENERS
