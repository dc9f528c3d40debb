"""A metrics hook that raises never changes processing: logged once per hook and event, counted, ignored."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import fault_handlers
import pytest

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.outcome import Outcome
from batchmap.engine.service import Engine
from batchmap.metrics import MetricsHook
from batchmap.sources.sqlite import admin


class Broken(MetricsHook):
    """An exporter with a bug at every batch event the queue runner reports."""

    def polled(self, records: int) -> None:
        raise RuntimeError("exporter down")

    def outcome(self, records: int, outcome: Outcome) -> None:
        raise KeyError(outcome.kind)

    def deleted(self, records: int) -> None:
        raise ValueError(records)


def test_a_raising_hook_is_logged_once_per_event_counted_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"sqlite:///{tmp_path}/hooks.db?queue=q{uuid.uuid4().hex[:8]}"
    admin.send(uri, [json.dumps({"id": f"m{i:03d}"}) for i in range(40)])
    fault_handlers.SEEN.clear()
    mapping = EventSourceMapping(source=uri, function=FunctionConfig(handler="fault_handlers:record", timeout_s=1),
                                 batch_size=5)
    with caplog.at_level(logging.ERROR, logger="batchmap"):
        report = asyncio.run(asyncio.wait_for(Engine([mapping], invoker="inprocess", hooks=[Broken()])
                                              .run(until_idle=True), 10))
    assert sorted(fault_handlers.SEEN) == [f"m{i:03d}" for i in range(40)]
    assert report.total("DeletedEventCount") == 40 and report.total("InvokedEventCount") == 40
    batches = report.total("Invocations")
    assert report.total("HookErrorCount") >= 2 * batches  # every outcome and delete, and the polls
    logged = sorted(r.getMessage().split(" (")[0] for r in caplog.records)
    assert logged == [f"metrics hook Broken raised at {event}" for event in ("deleted", "outcome", "polled")]
    assert admin.inspect(uri).total == 0  # type: ignore[union-attr]
