"""batch_handler, option validation, BatchAbortedError, and every golden event end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from handler_support import reported, sqs_event

from batchmap.errors import BatchAbortedError, ConfigError, EventError, RecordError
from batchmap.handler import EmfMetrics, batch_handler, process_batch, run_batch
from batchmap.records import read_partial_response

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, Any] = json.loads((EVENTS / "expected.json").read_text())
GOLDEN = sorted(n for n, e in EXPECTED.items() if not n.startswith("_") and "error" not in e)
# Stream responses with concurrency depend on interleaving: the property tests cover those.
GOLDEN_RUNS = [(name, mode) for name in GOLDEN for mode in ("sync", "async", "threads")
               if mode != "threads" or EXPECTED[name]["kind"] == "sqs"]


def test_batch_handler_bare_and_with_options() -> None:
    @batch_handler
    def plain(record: Any) -> None:
        """Docstring kept."""
        if record.id == "m1":
            raise ValueError("x")

    @batch_handler(concurrency=2, fifo_strict=True)
    async def fancy(record: Any) -> None:
        await asyncio.sleep(0)
        if record.id == "m1":
            raise ValueError("x")

    assert reported(plain(sqs_event(3), None)) == ["m1"]
    assert reported(fancy(sqs_event(3, groups=["a", "a", "b"]), object())) == ["m1"]
    assert plain.__name__ == "plain" and plain.__doc__ == "Docstring kept."
    assert plain.record_handler is plain.__wrapped__  # type: ignore[attr-defined]


@pytest.mark.parametrize(("options", "parameter"), [
    ({"concurrency": 0}, "concurrency"), ({"concurrency": "fast"}, "concurrency"),
    ({"concurrency": True}, "concurrency"),
    ({"fifo_strict": 1}, "fifo_strict"), ({"deadline_margin_ms": -5}, "deadline_margin_ms"),
    ({"memory": 512}, "memory"), ({"metrics": "yes"}, "metrics"), ({"logger": "root"}, "logger"),
])
def test_bad_options_name_the_parameter_at_decoration_time(options: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ConfigError) as caught:
        batch_handler(**options)
    assert caught.value.parameter == parameter and repr(options[parameter]) in str(caught.value)
    with pytest.raises(ConfigError):
        process_batch(sqs_event(1), lambda r: None, **options)


def test_bad_handler_and_emf_config() -> None:
    with pytest.raises(ConfigError, match="record_handler"):
        process_batch(sqs_event(1), "not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="namespace"):
        EmfMetrics("")


@pytest.mark.parametrize("concurrency", [1, 3])
def test_batch_aborted_reports_every_record(concurrency: int) -> None:
    ran: list[str] = []

    def handle(record: Any) -> None:
        ran.append(record.id)
        if record.id == "m2":
            raise BatchAbortedError("downstream is gone")

    result = run_batch(sqs_event(8), handle, concurrency=concurrency)
    assert reported(result.response) == [f"m{i}" for i in range(8)]
    assert "m7" not in ran or concurrency > 1
    assert {r.reason for r in result.results if r.status == "skipped"} <= {"aborted"}
    assert result.all_failed


@pytest.mark.parametrize("concurrency", [1, 4, "auto"])
def test_an_unidentifiable_record_fails_the_call_before_any_record_runs(concurrency: Any) -> None:
    event = sqs_event(3)
    del event["Records"][1]["messageId"]
    ran: list[str] = []
    for handler in (lambda r: ran.append(r.id), lambda r: 1 / 0):
        with pytest.raises(RecordError) as caught:
            process_batch(event, handler, concurrency=concurrency)
        assert (caught.value.index, caught.value.field) == (1, "messageId")
        assert "missing" in str(caught.value) and "itemIdentifier" in str(caught.value)
    assert ran == []
    with pytest.raises(EventError):
        process_batch({"Records": "nope"}, lambda r: None)


@pytest.mark.parametrize("concurrency", [1, 4, "auto"])
def test_a_malformed_field_fails_the_record_that_reads_it(concurrency: Any) -> None:
    event = sqs_event(4)
    event["Records"][2]["body"] = None
    ran: list[str] = []
    assert reported(process_batch(event, lambda r: ran.append(r.id), concurrency=concurrency)) == []
    assert sorted(ran) == ["m0", "m1", "m2", "m3"]  # nobody read the body: every record ran
    result = run_batch(event, lambda r: r.json(), concurrency=concurrency)
    assert reported(result.response) == ["m2"]
    (failure,) = result.failures
    assert isinstance(failure.error, RecordError) and failure.error.field == "body"


@pytest.mark.parametrize(("name", "mode"), GOLDEN_RUNS)
def test_golden_events(name: str, mode: str) -> None:
    expect = EXPECTED[name]
    event = json.loads((EVENTS / name).read_text())
    doomed = {json.dumps(i, sort_keys=True) for i in expect["fail"]}

    def handle(record: Any) -> None:
        if json.dumps(record.id, sort_keys=True) in doomed:
            raise ValueError("fail")

    async def handle_async(record: Any) -> None:
        await asyncio.sleep(0)
        handle(record)

    response = process_batch(event, handle_async if mode == "async" else handle,
                             concurrency=3 if mode == "threads" else 1)
    assert reported(response) == expect["response"]
    assert read_partial_response(event, response).status == ("partial" if expect["response"] else "success")
